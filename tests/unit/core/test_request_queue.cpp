#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core/request_queue.h"

using namespace lc;
using namespace std::chrono_literals;

namespace {

struct Fixture {
  boost::asio::io_context io;
  std::vector<std::pair<std::string, int>> sent;  // request, attempt
  bool refuse_send = false;
  RequestQueue<std::string, std::string> queue{
      io,
      {.retry = 20ms, .tries = 3, .max_waiting = 4},
      {.send =
           [this](std::string& request, int attempt) {
             sent.emplace_back(request, attempt);
             return !refuse_send;
           },
       .failed =
           [](const std::string& request, RequestFailure why, int tries) {
             return request + (why == RequestFailure::timeout     ? " timeout after " + std::to_string(tries)
                               : why == RequestFailure::queue_full ? " queue full"
                                                                   : " not sent");
           }}};
  std::vector<std::string> results;
  RequestQueue<std::string, std::string>::Done collect() {
    return [this](std::string result) { results.push_back(std::move(result)); };
  }
};

}  // namespace

TEST_CASE("one in flight; answers complete it; done is posted, never called inside") {
  Fixture f;
  f.queue.push("a", f.collect());
  f.queue.push("b", f.collect());
  REQUIRE(f.sent.size() == 1);
  CHECK(*f.queue.current() == "a");
  f.queue.complete("a ok");
  CHECK(f.results.empty());  // posted
  CHECK(f.sent.size() == 2);
  f.io.poll();
  CHECK(f.results == std::vector<std::string>{"a ok"});
  f.queue.complete("b ok");
  f.io.poll();
  CHECK(f.results == std::vector<std::string>{"a ok", "b ok"});
  CHECK(f.queue.empty());
  f.queue.complete("nothing in flight");  // ignored
  f.io.poll();
  CHECK(f.results.size() == 2);
}

TEST_CASE("unanswered: re-sent every retry, then failed after the last try") {
  Fixture f;
  f.queue.push("a", f.collect());
  f.io.run_for(200ms);
  CHECK(f.sent == std::vector<std::pair<std::string, int>>{{"a", 0}, {"a", 1}, {"a", 2}});
  CHECK(f.results == std::vector<std::string>{"a timeout after 3"});
}

TEST_CASE("give_up: failed that long after the first try, the last wait cut short, whatever tries are left") {
  boost::asio::io_context io;
  std::vector<std::pair<std::string, int>> sent;
  std::vector<std::string> results;
  auto handlers = [&] {
    return RequestQueue<std::string, std::string>::Handlers{
        .send = [&](std::string& request, int attempt) { return sent.emplace_back(request, attempt), true; },
        .failed = [](const std::string& request, RequestFailure why, int tries) {
          return request + (why == RequestFailure::timeout ? " timeout after " : " ?") + std::to_string(tries);
        }};
  };
  auto collect = [&](std::string result) { results.push_back(std::move(result)); };
  // Tries at 0, 40 and 80 ms; none at 120 ms: given up at 100 ms with 97 tries left.
  RequestQueue<std::string, std::string> retried(io, {.retry = 40ms, .tries = 100, .give_up = 100ms}, handlers());
  retried.push("a", collect);
  io.run_for(400ms);
  CHECK(sent == std::vector<std::pair<std::string, int>>{{"a", 0}, {"a", 1}, {"a", 2}});
  CHECK(results == std::vector<std::string>{"a timeout after 3"});
  // A give-up before the first retry is due: failed at 100 ms, not at the retry's 2 s.
  io.restart();
  RequestQueue<std::string, std::string> slow(io, {.retry = 2000ms, .tries = 2, .give_up = 100ms}, handlers());
  slow.push("b", collect);
  io.run_for(600ms);
  CHECK(results == std::vector<std::string>{"a timeout after 3", "b timeout after 1"});
}

TEST_CASE("bounded: beyond max_waiting a request fails at once; urgent ones go first") {
  Fixture f;
  for (const char* name : {"r1", "r2", "r3"}) f.queue.push(name, f.collect());
  f.queue.push("c1", f.collect(), true);
  f.queue.push("c2", f.collect(), true);  // the fifth: refused
  f.io.poll();
  CHECK(f.results == std::vector<std::string>{"c2 queue full"});
  std::vector<std::string> order;
  f.queue.for_each([&](const std::string& r) { order.push_back(r); });
  CHECK(order == std::vector<std::string>{"r1", "c1", "r2", "r3"});
}

TEST_CASE("a request that cannot be sent fails; one completed inside send moves on") {
  Fixture f;
  f.refuse_send = true;
  f.queue.push("a", f.collect());
  f.refuse_send = false;
  f.io.poll();
  CHECK(f.results == std::vector<std::string>{"a not sent"});
  // A request that expects no answer: the owner completes it from send().
  f.io.restart();
  RequestQueue<std::string, std::string> fire_and_forget(
      f.io, {}, {.send = [&](std::string& r, int) {
                   fire_and_forget.complete(r + " sent");
                   return true;
                 },
                 .failed = [](const std::string& r, RequestFailure, int) { return r; }});
  fire_and_forget.push("x", f.collect());
  fire_and_forget.push("y", f.collect());
  f.io.poll();
  CHECK(f.results == std::vector<std::string>{"a not sent", "x sent", "y sent"});
  CHECK(fire_and_forget.empty());
}

TEST_CASE("clear and destruction drop what waits without calling it") {
  Fixture f;
  f.queue.push("a", f.collect());
  f.queue.push("b", f.collect());
  f.queue.clear();
  f.io.run_for(100ms);
  CHECK(f.results.empty());
  CHECK(f.sent.size() == 1);
  {
    RequestQueue<std::string, std::string> short_lived(f.io, {.retry = 10ms}, {.send = [](std::string&, int) { return true; },
                                                                              .failed = [](const std::string& r, RequestFailure, int) { return r; }});
    short_lived.push("z", f.collect());
  }
  f.io.run_for(50ms);
  CHECK(f.results.empty());
}

TEST_CASE("retry_now: the next try goes out at once and counts; after the last the request fails") {
  Fixture f;
  f.queue.push("a", f.collect());
  f.queue.retry_now();
  CHECK(f.sent == std::vector<std::pair<std::string, int>>{{"a", 0}, {"a", 1}});
  CHECK(f.queue.attempt() == 1);
  f.queue.retry_now();
  CHECK(f.sent.size() == 3);
  f.queue.retry_now();  // after the third and last try
  CHECK(f.sent.size() == 3);
  f.io.poll();
  CHECK(f.results == std::vector<std::string>{"a timeout after 3"});
  CHECK(f.queue.empty());
  f.queue.retry_now();  // nothing in flight: nothing happens
  f.io.run_for(60ms);
  CHECK(f.sent.size() == 3);
}
