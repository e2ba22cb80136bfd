#include "core/durable_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/log.h"

namespace lc {
namespace {

const Logger& store_log() {
  static const Logger log("store");
  return log;
}

bool write_all(int fd, const std::string& content) {
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

DurableStore::DurableStore(boost::asio::io_context& io, std::filesystem::path dir)
    : io_(io), dir_(std::move(dir)), writer_([this] { run(); }) {}

DurableStore::~DurableStore() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  writer_.join();
}

bool DurableStore::valid_name(std::string_view name) {
  if (name.empty() || name.size() > 100 || name == "." || name == "..") return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::optional<std::string> DurableStore::load(std::string_view name) const {
  if (!valid_name(name)) return std::nullopt;
  std::ifstream in(dir_ / std::string(name), std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return content.str();
}

std::vector<std::string> DurableStore::list(std::string_view prefix) const {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    std::string name = entry.path().filename().string();
    std::error_code type_ec;
    if (name.rfind(prefix, 0) != 0 || !valid_name(name) || !entry.is_regular_file(type_ec)) continue;
    names.push_back(std::move(name));
  }
  std::sort(names.begin(), names.end());
  return names;
}

void DurableStore::store(std::string name, std::string content, Done done) {
  queue(std::move(name), std::move(content), false, std::move(done));
}

void DurableStore::remove(std::string name, Done done) { queue(std::move(name), {}, true, std::move(done)); }

void DurableStore::queue(std::string name, std::string content, bool remove, Done done) {
  if (!valid_name(name)) {
    if (done) boost::asio::post(io_, [done = std::move(done)] { done(false); });
    return;
  }
  {
    std::lock_guard lock(mutex_);
    for (auto& job : queue_) {
      if (job.name == name) {  // collapse into the newest content (or the removal)
        job.content = std::move(content);
        job.remove = remove;
        if (done) job.done.push_back(std::move(done));
        return;
      }
    }
    Job job{std::move(name), std::move(content), {}, remove};
    if (done) job.done.push_back(std::move(done));
    queue_.push_back(std::move(job));
  }
  wake_.notify_one();
}

void DurableStore::flush() {
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [this] { return queue_.empty() && !busy_; });
}

void DurableStore::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) {
      if (stopping_) return;
      continue;
    }
    Job job = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    lock.unlock();
    const bool ok = job.remove ? remove_durably(job.name) : write_atomically(job.name, job.content);
    for (auto& done : job.done) boost::asio::post(io_, [done = std::move(done), ok] { done(ok); });
    lock.lock();
    busy_ = false;
    if (queue_.empty()) idle_.notify_all();
  }
}

bool DurableStore::write_atomically(const std::string& name, const std::string& content) const {
  const std::filesystem::path final_path = dir_ / name;
  const std::filesystem::path temp_path = dir_ / ("." + name + ".tmp");
  const int fd = ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    store_log().error("cannot write ", temp_path.string(), ": ", std::strerror(errno));
    return false;
  }
  bool ok = write_all(fd, content) && ::fsync(fd) == 0;
  ok = (::close(fd) == 0) && ok;
  if (ok && ::rename(temp_path.c_str(), final_path.c_str()) != 0) ok = false;
  if (ok) {
    sync_directory();  // the rename is durable only once the directory entry is
  } else {
    store_log().error("cannot store ", name, " in ", dir_.string(), ": ", std::strerror(errno));
    ::unlink(temp_path.c_str());
  }
  return ok;
}

bool DurableStore::remove_durably(const std::string& name) const {
  const std::filesystem::path path = dir_ / name;
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    store_log().error("cannot remove ", name, " from ", dir_.string(), ": ", std::strerror(errno));
    return false;
  }
  sync_directory();
  return true;
}

void DurableStore::sync_directory() const {
  const int dir_fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
}

}  // namespace lc
