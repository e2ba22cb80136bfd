// Small records under data_dir, written atomically (write to a temporary file, fsync, rename,
// fsync the directory) on one writer thread, so that an fsync on an SD card never stalls a
// keepalive. The callback runs on the io_context once the record is durable.
#pragma once

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>

namespace lc {

class DurableStore {
 public:
  using Done = std::function<void(bool ok)>;

  DurableStore(boost::asio::io_context& io, std::filesystem::path dir);
  ~DurableStore();  // finishes queued writes, then joins the writer thread
  DurableStore(const DurableStore&) = delete;
  DurableStore& operator=(const DurableStore&) = delete;

  // Record names are [a-z0-9_.-]{1,100}; anything else is refused (load: nullopt, store: ok=false).
  static bool valid_name(std::string_view name);

  // Reads a record synchronously (start-up only); nullopt when absent or unreadable.
  std::optional<std::string> load(std::string_view name) const;

  // The names of the records that start with `prefix`, sorted (start-up only: reads the
  // directory synchronously). Only valid names of regular files; nothing being written.
  std::vector<std::string> list(std::string_view prefix) const;

  // Queues an atomic write. Several writes of the same name queued at once collapse into the
  // newest; every caller's `done` still runs, after the newest content is durable.
  void store(std::string name, std::string content, Done done = {});

  // Queues the removal of a record (a forgotten device), ordered with the writes of that name:
  // a write queued before it is dropped. `done` as for store().
  void remove(std::string name, Done done = {});

  // Blocks until every queued write is durable (shutdown and tests).
  void flush();

  const std::filesystem::path& dir() const { return dir_; }

 private:
  struct Job {
    std::string name;
    std::string content;
    std::vector<Done> done;
    bool remove = false;
  };
  void queue(std::string name, std::string content, bool remove, Done done);
  void run();
  bool write_atomically(const std::string& name, const std::string& content) const;
  bool remove_durably(const std::string& name) const;
  void sync_directory() const;

  boost::asio::io_context& io_;
  std::filesystem::path dir_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::deque<Job> queue_;
  bool busy_ = false;
  bool stopping_ = false;
  std::thread writer_;
};

}  // namespace lc
