// Deadlines of many sessions on one timer: every entry of a queue has the same delay, so a FIFO
// is in due order, and one armed timer per idle connection (which would cost more than the rest
// of its state) is avoided. Entries whose session is gone are skipped.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

namespace lc::vesync {

template <class Session>
class DueQueue {
 public:
  using Fire = std::function<void(const std::shared_ptr<Session>&)>;
  DueQueue(boost::asio::io_context& io, Fire fire) : timer_(io), fire_(std::move(fire)) {}

  void push(std::chrono::steady_clock::time_point due, const std::shared_ptr<Session>& session) {
    queue_.push_back({due, session});
    if (queue_.size() == 1) arm();
  }

  void clear() {
    queue_.clear();
    timer_.cancel();
    token_ = std::make_shared<int>(0);
  }

 private:
  struct Entry {
    std::chrono::steady_clock::time_point due;
    std::weak_ptr<Session> session;
  };

  void arm() {
    if (queue_.empty()) return;
    timer_.expires_at(queue_.front().due);
    timer_.async_wait([this, token = std::weak_ptr<int>(token_)](boost::system::error_code ec) {
      if (!ec && !token.expired()) run();
    });
  }

  void run() {
    const auto now = std::chrono::steady_clock::now();
    std::weak_ptr<int> token = token_;
    while (!queue_.empty() && queue_.front().due <= now) {
      auto session = queue_.front().session.lock();
      queue_.pop_front();
      if (session) fire_(session);  // may push() again (due later than now)
      if (token.expired()) return;  // cleared meanwhile
    }
    arm();
  }

  std::deque<Entry> queue_;
  boost::asio::steady_timer timer_;
  Fire fire_;
  std::shared_ptr<int> token_ = std::make_shared<int>(0);
};

}  // namespace lc::vesync
