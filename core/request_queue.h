// The requests the daemon makes of one device, one in flight at a time: the retry timer, the
// give-up, the bound on what may wait, and the exactly-once completion, written once for every
// bridge (the owner knows the protocol: how to send a try and what an answer is).
//
//   * push(): queued behind the others (`urgent` ones, i.e. commands, go before the automatic
//     reads but behind earlier commands). Beyond max_waiting it fails at once.
//   * The owner's send(request, attempt) sends try `attempt` (0 first). Without an answer
//     within `retry` it is asked again, until `tries` tries are made; then the request fails.
//     With a `give_up` time it also fails that long after its first try (the wait before
//     then is cut short), whatever tries are left.
//   * The owner calls complete(result) when the answer of the request in flight arrives, or
//     retry_now() when that answer asks for another try.
//   * Every `done` runs exactly once, posted to the io_context (never inside a call into the
//     queue), unless clear() or the destructor drops it first.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

namespace lc {

enum class RequestFailure { queue_full, not_sent, timeout };

template <class Request, class Result>
class RequestQueue {
 public:
  using Done = std::function<void(Result)>;
  struct Options {
    std::chrono::milliseconds retry{5000};  // between tries
    int tries = 4;                          // at most; then the request fails (timeout)
    std::chrono::milliseconds give_up{0};   // > 0: fails this long after the first try (timeout)
    size_t max_waiting = 8;                 // the one in flight included
  };
  struct Handlers {
    // Sends try `attempt` of `request`; false when it could not be sent (it fails: not_sent).
    // It may call complete() itself (a request that expects no answer).
    std::function<bool(Request& request, int attempt)> send;
    // The result of a request that ends without an answer after `tries` tries.
    std::function<Result(const Request& request, RequestFailure why, int tries)> failed;
  };

  RequestQueue(boost::asio::io_context& io, Options options, Handlers handlers)
      : io_(io), options_(options), handlers_(std::move(handlers)), timer_(io) {}
  ~RequestQueue() { clear(); }
  RequestQueue(const RequestQueue&) = delete;
  RequestQueue& operator=(const RequestQueue&) = delete;

  void push(Request request, Done done, bool urgent = false) {
    if (entries_.size() >= options_.max_waiting) {
      post(std::move(done), handlers_.failed(request, RequestFailure::queue_full, 0));
      return;
    }
    auto position = entries_.end();
    if (urgent) {
      position = entries_.begin();
      if (in_flight_ && position != entries_.end()) ++position;
      while (position != entries_.end() && position->urgent) ++position;
    }
    entries_.insert(position, Entry{std::move(request), std::move(done), urgent});
    pump();
  }

  // The request in flight, or nullptr.
  Request* current() { return in_flight_ ? &entries_.front().request : nullptr; }
  // Calls `visit(request)` for every request queued (in flight first).
  template <class Visit> void for_each(Visit visit) const {
    for (const auto& entry : entries_) visit(entry.request);
  }

  // The answer of the request in flight.
  void complete(Result result) {
    if (!in_flight_) return;
    finish(std::move(result));
    pump();
  }

  // Restarts the retry timer of the try in flight (e.g. a handshake succeeded and the owner
  // sent the request itself).
  void rearm() {
    if (in_flight_) arm();
  }

  // Ends the try in flight now, as if its time had run out: the next try is sent at once, or
  // the request fails after the last (e.g. the device answered with an error worth retrying).
  // Not from within send().
  void retry_now() {
    if (!in_flight_) return;
    timer_.cancel();
    ++generation_;  // a timer that expired already but has not run yet
    on_timeout();
  }

  // Drops every request without calling its done.
  void clear() {
    entries_.clear();
    in_flight_ = false;
    timer_.cancel();
    ++generation_;
  }

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  int attempt() const { return attempt_; }

 private:
  struct Entry {
    Request request;
    Done done;
    bool urgent = false;
  };

  void post(Done done, Result result) {
    if (!done) return;
    boost::asio::post(io_, [done = std::move(done), result = std::move(result)]() mutable { done(std::move(result)); });
  }

  void finish(Result result) {
    timer_.cancel();
    ++generation_;
    in_flight_ = false;
    Entry entry = std::move(entries_.front());
    entries_.pop_front();
    post(std::move(entry.done), std::move(result));
  }

  void pump() {
    if (pumping_) return;
    pumping_ = true;
    while (!in_flight_ && !entries_.empty()) {
      in_flight_ = true;
      attempt_ = 0;
      first_try_ = std::chrono::steady_clock::now();
      const uint64_t generation = ++generation_;
      arm();
      if (!handlers_.send(entries_.front().request, 0) && in_flight_ && generation == generation_)
        finish(handlers_.failed(entries_.front().request, RequestFailure::not_sent, 1));
    }
    pumping_ = false;
  }

  bool given_up() const {
    return options_.give_up.count() > 0 && std::chrono::steady_clock::now() >= first_try_ + options_.give_up;
  }

  void arm() {
    auto wait = std::chrono::steady_clock::duration(options_.retry);
    if (options_.give_up.count() > 0)
      wait = std::min(wait, first_try_ + options_.give_up - std::chrono::steady_clock::now());
    timer_.expires_after(wait);
    timer_.async_wait([this, alive = std::weak_ptr<char>(alive_), generation = generation_](
                          const boost::system::error_code& ec) {
      if (ec || alive.expired() || generation != generation_ || !in_flight_) return;
      on_timeout();
    });
  }

  void on_timeout() {
    if (++attempt_ >= options_.tries || given_up()) {
      finish(handlers_.failed(entries_.front().request, RequestFailure::timeout, attempt_));
      pump();
      return;
    }
    const uint64_t generation = generation_;
    arm();
    if (!handlers_.send(entries_.front().request, attempt_) && in_flight_ && generation == generation_) {
      finish(handlers_.failed(entries_.front().request, RequestFailure::not_sent, attempt_ + 1));
      pump();
    }
  }

  boost::asio::io_context& io_;
  Options options_;
  Handlers handlers_;
  boost::asio::steady_timer timer_;
  std::deque<Entry> entries_;
  bool in_flight_ = false;
  bool pumping_ = false;
  int attempt_ = 0;
  std::chrono::steady_clock::time_point first_try_{};
  uint64_t generation_ = 0;
  std::shared_ptr<char> alive_ = std::make_shared<char>();
};

}  // namespace lc
