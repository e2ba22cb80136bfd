// What waits on one outlet connection: relay commands until the outlet reports the relay they
// asked for (docs/protocols/vesync.md §4.5: the acknowledgement is a /runtimeInfo, or a /state,
// with that relay), and power requests until the next /runtimeInfo. Several may wait at once,
// each with its own deadline, on one timer that exists only while something waits (an idle
// connection holds none). Nothing is retried: the outlet answers every command it gets.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "bridges/vesync/codec.h"

namespace lc::vesync {

class PendingRequests {
 public:
  using CommandDone = std::function<void(std::string error)>;  // empty: acknowledged
  using RuntimeAnswer = std::function<void(const RuntimeInfo* info)>;  // nullptr: none in time

  static constexpr std::size_t kMaxCommands = 8;
  static constexpr std::size_t kMaxWaiters = 8;

  explicit PendingRequests(boost::asio::io_context& io) : io_(io) {}
  PendingRequests(const PendingRequests&) = delete;
  PendingRequests& operator=(const PendingRequests&) = delete;

  // False when kMaxCommands wait already: `done` has been told so.
  bool add_command(Relay relay, CommandDone done, std::chrono::milliseconds timeout);
  // False when kMaxWaiters wait already: `answer` has had nullptr.
  bool add_waiter(RuntimeAnswer answer, std::chrono::milliseconds timeout);

  // Completes the commands that asked for `relay`; true when there was one.
  bool acknowledge(Relay relay);
  // Answers every power request with `info`.
  void answer_waiters(const RuntimeInfo& info);
  bool has_waiters() const { return !waiters_.empty(); }

  // The connection ended: commands fail with `why`, power requests get no answer.
  void fail_all(const std::string& why);
  // The bridge stops: the commands go without their done (bridges/bridge.h).
  void drop_commands();

 private:
  struct Command {
    Relay relay;
    CommandDone done;
    std::chrono::steady_clock::time_point deadline;
    std::chrono::milliseconds timeout;
  };
  struct Waiter {
    RuntimeAnswer answer;
    std::chrono::steady_clock::time_point deadline;
  };

  void arm();
  void expire();

  boost::asio::io_context& io_;
  std::vector<Command> commands_;
  std::vector<Waiter> waiters_;
  // Only while something waits; its handler holds it weakly, so that a wait that completed
  // just before the timer went away does nothing.
  std::shared_ptr<boost::asio::steady_timer> timer_;
};

}  // namespace lc::vesync
