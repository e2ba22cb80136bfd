// What the simulators (localcloud-sim <vendor>) share: reading "--name value" options with
// typed values, one JSON event per line on stdout, commands read line by line from stdin, and
// running until a signal, a --duration or a "quit" command.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "core/net.h"

namespace lc::sim {

// A bad command line: its message is printed as "<program>: <message> (see --help)", exit 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Arguments {
 public:
  Arguments(int argc, char** argv) : argc_(argc), argv_(argv) {}
  // The next option ("--device"), or false after the last one.
  bool next(std::string& option);
  // The value of the option just read; UsageError when it is missing or malformed.
  std::string text();
  std::chrono::milliseconds duration();  // 250ms, 30s, 5m, 1h or seconds
  Endpoint endpoint(bool loopback_only = false);
  long integer(long min, long max);
  double number(double min, double max);

 private:
  int argc_;
  char** argv_;
  int index_ = 0;
  std::string option_;
};

// One JSON event per line on stdout, flushed at once: tests and benchmarks read them live.
void emit(const nlohmann::json& event);

// Lines from stdin, each handed to `handle` on the io_context; at end of input the simulator
// goes on running.
class CommandReader {
 public:
  CommandReader(boost::asio::io_context& io, std::function<void(std::string_view line)> handle);
  ~CommandReader();

 private:
  struct State;
  std::shared_ptr<State> state_;
};

// Runs `io` until SIGINT/SIGTERM, io.stop(), or `duration` (then `at_end` runs first).
void run(boost::asio::io_context& io, std::optional<std::chrono::milliseconds> duration = std::nullopt,
         std::function<void()> at_end = {});

// The simulator's main: `body` parses its arguments and runs; a UsageError becomes the usage
// line and exit code 2, any other exception "<program>: <message>" and exit code 1.
int main_guard(std::string_view program, const std::function<int()>& body);

}  // namespace lc::sim
