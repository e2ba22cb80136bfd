#include "core/sim_harness.h"

#include <unistd.h>

#include <cstdio>
#include <istream>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>

#include "core/duration.h"

namespace lc::sim {

namespace asio = boost::asio;

bool Arguments::next(std::string& option) {
  if (++index_ >= argc_) return false;
  option_ = argv_[index_];
  option = option_;
  return true;
}

std::string Arguments::text() {
  if (index_ + 1 >= argc_) throw UsageError(option_ + " needs a value");
  return argv_[++index_];
}

std::chrono::milliseconds Arguments::duration() {
  const std::string value = text();
  const auto parsed = parse_duration(value);
  if (!parsed) throw UsageError(option_ + " takes a duration (250ms, 30s, 5m), not '" + value + "'");
  return *parsed;
}

Endpoint Arguments::endpoint(bool loopback_only) {
  const std::string value = text();
  const auto parsed = parse_endpoint(value);
  if (!parsed) throw UsageError(option_ + " takes HOST:PORT, not '" + value + "'");
  if (loopback_only && parsed->host != "localhost" && parsed->host.rfind("127.", 0) != 0 && parsed->host != "::1")
    throw UsageError(option_ + ": only loopback addresses are allowed");
  return *parsed;
}

long Arguments::integer(long min, long max) {
  const std::string value = text();
  size_t used = 0;
  long parsed = 0;
  try {
    parsed = std::stol(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != value.size() || value.empty() || parsed < min || parsed > max)
    throw UsageError(option_ + " takes a whole number from " + std::to_string(min) + " to " + std::to_string(max));
  return parsed;
}

double Arguments::number(double min, double max) {
  const std::string value = text();
  size_t used = 0;
  double parsed = 0;
  try {
    parsed = std::stod(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != value.size() || value.empty() || !(parsed >= min && parsed <= max))
    throw UsageError(option_ + " takes a number from " + std::to_string(min) + " to " + std::to_string(max));
  return parsed;
}

void emit(const nlohmann::json& event) {
  const std::string line = event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

struct CommandReader::State : std::enable_shared_from_this<State> {
  State(asio::io_context& io, std::function<void(std::string_view)> handle)
      : input(io, ::dup(STDIN_FILENO)), handle(std::move(handle)) {}
  void read() {
    asio::async_read_until(input, buffer, '\n', [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
      if (ec) return;
      std::istream stream(&self->buffer);
      std::string line;
      std::getline(stream, line);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      try {
        self->handle(line);
      } catch (const std::exception& error) {
        emit({{"event", "error"}, {"message", error.what()}});
      }
      self->read();
    });
  }
  asio::posix::stream_descriptor input;
  asio::streambuf buffer{64 * 1024};
  std::function<void(std::string_view)> handle;
};

CommandReader::CommandReader(asio::io_context& io, std::function<void(std::string_view line)> handle)
    : state_(std::make_shared<State>(io, std::move(handle))) {
  state_->read();
}

CommandReader::~CommandReader() {
  boost::system::error_code ignored;
  state_->input.close(ignored);
}

void run(asio::io_context& io, std::optional<std::chrono::milliseconds> duration, std::function<void()> at_end) {
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (!ec) io.stop();
  });
  asio::steady_timer stop_timer(io);
  if (duration) {
    stop_timer.expires_after(*duration);
    stop_timer.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      if (at_end) at_end();
      io.stop();
    });
  }
  io.run();
}

int main_guard(std::string_view program, const std::function<int()>& body) {
  try {
    return body();
  } catch (const UsageError& error) {
    std::fprintf(stderr, "%.*s: %s (see --help)\n", static_cast<int>(program.size()), program.data(), error.what());
    return 2;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "%.*s: %s\n", static_cast<int>(program.size()), program.data(), error.what());
    return 1;
  }
}

}  // namespace lc::sim
