#include "bridges/vesync/pending.h"

#include <algorithm>

namespace lc::vesync {

using Clock = std::chrono::steady_clock;

bool PendingRequests::add_command(Relay relay, CommandDone done, std::chrono::milliseconds timeout) {
  if (commands_.size() >= kMaxCommands) {
    done("too many commands waiting for the device");
    return false;
  }
  commands_.push_back({relay, std::move(done), Clock::now() + timeout, timeout});
  arm();
  return true;
}

bool PendingRequests::add_waiter(RuntimeAnswer answer, std::chrono::milliseconds timeout) {
  if (waiters_.size() >= kMaxWaiters) {
    answer(nullptr);
    return false;
  }
  waiters_.push_back({std::move(answer), Clock::now() + timeout});
  arm();
  return true;
}

bool PendingRequests::acknowledge(Relay relay) {
  // Collected first: a completion may queue another command.
  std::vector<CommandDone> done;
  std::erase_if(commands_, [&](Command& command) {
    if (command.relay != relay) return false;
    done.push_back(std::move(command.done));
    return true;
  });
  if (done.empty()) return false;
  arm();
  for (auto& complete : done) complete("");
  return true;
}

void PendingRequests::answer_waiters(const RuntimeInfo& info) {
  auto waiters = std::move(waiters_);
  waiters_.clear();
  arm();
  for (auto& waiter : waiters) waiter.answer(&info);
}

void PendingRequests::fail_all(const std::string& why) {
  auto commands = std::move(commands_);
  auto waiters = std::move(waiters_);
  commands_.clear();
  waiters_.clear();
  timer_.reset();
  for (auto& command : commands) command.done(why);
  for (auto& waiter : waiters) waiter.answer(nullptr);
}

void PendingRequests::drop_commands() {
  commands_.clear();
  arm();
}

void PendingRequests::arm() {
  auto earliest = Clock::time_point::max();
  for (const auto& command : commands_) earliest = std::min(earliest, command.deadline);
  for (const auto& waiter : waiters_) earliest = std::min(earliest, waiter.deadline);
  if (earliest == Clock::time_point::max()) {
    timer_.reset();
    return;
  }
  if (!timer_) timer_ = std::make_shared<boost::asio::steady_timer>(io_);
  timer_->expires_at(earliest);
  timer_->async_wait([this, timer = std::weak_ptr<boost::asio::steady_timer>(timer_)](boost::system::error_code ec) {
    if (!ec && !timer.expired()) expire();
  });
}

void PendingRequests::expire() {
  const auto now = Clock::now();
  std::vector<Command> late_commands;
  std::vector<RuntimeAnswer> late_waiters;
  std::erase_if(commands_, [&](Command& command) {
    if (command.deadline > now) return false;
    late_commands.push_back(std::move(command));
    return true;
  });
  std::erase_if(waiters_, [&](Waiter& waiter) {
    if (waiter.deadline > now) return false;
    late_waiters.push_back(std::move(waiter.answer));
    return true;
  });
  arm();
  for (auto& command : late_commands)
    command.done("no acknowledgement from the device within " + std::to_string(command.timeout.count()) + " ms");
  for (auto& answer : late_waiters) answer(nullptr);
}

}  // namespace lc::vesync
