// Regression tests from the hardening work on core/: records removed from data_dir in order
// with their writes (bridge/request/remove left energy records behind), and connection caps
// that keep every listener together within the open-files limit (the vesync websocket server
// ignored the limit; miio took all of it but 128).
#include <doctest/doctest.h>

#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <thread>

#include "core/durable_store.h"
#include "core/http_server.h"
#include "core/metrics.h"
#include "core/net.h"

using namespace lc;

namespace {

struct TempDir {
  std::filesystem::path path = std::filesystem::temp_directory_path() /
                               ("lc-hardening-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
  static inline int counter = 0;
  TempDir() { std::filesystem::create_directories(path); }
  ~TempDir() { std::filesystem::remove_all(path); }
};

// Sets the open-files soft limit for the life of the object.
struct SoftLimit {
  rlimit saved{};
  explicit SoftLimit(rlim_t soft) {
    REQUIRE(getrlimit(RLIMIT_NOFILE, &saved) == 0);
    rlimit lowered = saved;
    lowered.rlim_cur = soft;
    REQUIRE(setrlimit(RLIMIT_NOFILE, &lowered) == 0);
  }
  ~SoftLimit() { setrlimit(RLIMIT_NOFILE, &saved); }
};

}  // namespace

TEST_CASE("a removed record is gone from data_dir, in order with the writes of its name") {
  TempDir dir;
  boost::asio::io_context io;
  DurableStore store(io, dir.path);
  std::vector<bool> results;
  auto record = [&](bool ok) { results.push_back(ok); };

  store.store("vesync-energy-a", R"({"energy_kwh":1.5})", record);
  store.flush();
  CHECK(std::filesystem::exists(dir.path / "vesync-energy-a"));

  store.remove("vesync-energy-a", record);
  store.flush();
  CHECK_FALSE(std::filesystem::exists(dir.path / "vesync-energy-a"));

  // Removing what is not there is fine; a store queued after a removal wins, and a removal
  // queued after a store wins.
  store.remove("vesync-energy-b", record);
  store.remove("vesync-energy-c", record);
  store.store("vesync-energy-c", "{}", record);
  store.store("vesync-energy-d", "{}", record);
  store.remove("vesync-energy-d", record);
  store.flush();
  CHECK_FALSE(std::filesystem::exists(dir.path / "vesync-energy-b"));
  CHECK(std::filesystem::exists(dir.path / "vesync-energy-c"));
  CHECK_FALSE(std::filesystem::exists(dir.path / "vesync-energy-d"));

  // Names outside [a-z0-9_.-] are refused for removal too (no path escapes).
  store.remove("../outside", record);
  io.run();
  REQUIRE(results.size() == 8);
  CHECK(results.back() == false);
  for (size_t i = 0; i + 1 < results.size(); ++i) CHECK(results[i]);
  // No temporary file is left behind.
  for (const auto& entry : std::filesystem::directory_iterator(dir.path))
    CHECK(entry.path().filename().string().rfind(".", 0) != 0);
}

TEST_CASE("connection caps leave room for the broker and data_dir under a low open-files limit") {
  {
    SoftLimit limit(256);
    CHECK(open_files_limit() == 256);
    // (256 - 192) / 2 for each of the two device listeners.
    CHECK(connection_cap(20000) == 32);
    CHECK(connection_cap(16384) == 32);
    CHECK(connection_cap(20000, 2) == 16);  // a proxied outlet costs two descriptors
    CHECK(connection_cap(10) == 10);
    // Both device listeners at their caps plus the API (32) and the service API (64) still
    // leave descriptors for the broker, data_dir and the UDP sockets.
    CHECK(2 * connection_cap(20000) + 32 + 64 <= 256 - 64);
  }
  {
    SoftLimit limit(100);
    CHECK(connection_cap(20000) == 8);  // never nothing at all
  }
  rlimit current{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &current) == 0);
  // A soft limit can only be raised up to the hard one (a CI container may have 1024 or so).
  if (current.rlim_max == RLIM_INFINITY || current.rlim_max >= 65536) {
    SoftLimit limit(65536);
    CHECK(connection_cap(20000) == 20000);
    CHECK(connection_cap(16384) == 16384);
  } else {
    MESSAGE("hard open-files limit " << current.rlim_max << " < 65536: the unconstrained case is not checked");
  }
}

TEST_CASE("a listener at its cap says so once, not once per refused connection") {
  // Capture stderr (the log) through a pipe.
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  const int saved = ::dup(STDERR_FILENO);
  ::dup2(pipe_fds[1], STDERR_FILENO);
  {
    const Logger log("vesync");
    CapWarning warning;
    for (int i = 0; i < 500; ++i) warning.refused(log, "websocket server", 32);
  }
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  ::close(pipe_fds[1]);
  std::string text;
  char buffer[4096];
  for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0;) text.append(buffer, size_t(n));
  ::close(pipe_fds[0]);
  std::istringstream lines(text);
  int count = 0;
  for (std::string line; std::getline(lines, line);) {
    ++count;
    CHECK(line.find("warn") != std::string::npos);
    CHECK(line.find("[vesync] websocket server: connection cap of 32 reached (open files limit") != std::string::npos);
  }
  CHECK(count == 1);
}

TEST_CASE("the HTTP server takes request heads up to its 8 KB limit and answers 431 beyond") {
  // Issue 15 part 0: the read buffer held 1 KB, so any head over about 1 KB got 400.
  boost::asio::io_context io;
  Metrics metrics;
  HttpServer server(io, "test", [](const HttpRequest& r) { return HttpResponse{200, "text/plain", r.target}; }, metrics);
  server.start({"127.0.0.1", 0});
  const auto port = static_cast<uint16_t>(std::stoi(server.address().substr(server.address().rfind(':') + 1)));
  auto work = boost::asio::make_work_guard(io);
  std::thread serving([&] { io.run(); });
  auto status_of = [&](size_t header_bytes) {
    const std::string request = "GET /x HTTP/1.1\r\nHost: a\r\nX-Pad: " + std::string(header_bytes, 'p') + "\r\n\r\n";
    boost::asio::io_context client_io;
    boost::asio::ip::tcp::socket socket(client_io);
    socket.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    boost::system::error_code ec;
    boost::asio::write(socket, boost::asio::buffer(request), ec);
    std::string answer;
    std::array<char, 1024> buffer{};
    for (size_t n; (n = socket.read_some(boost::asio::buffer(buffer), ec)) > 0 && !ec;) answer.append(buffer.data(), n);
    return answer.size() >= 12 ? answer.substr(9, 3) : answer;
  };
  CHECK(status_of(2000) == "200");
  CHECK(status_of(7000) == "200");
  CHECK(status_of(9000) == "431");
  boost::asio::post(io, [&] { server.stop(); });
  work.reset();
  serving.join();
}
