#include <doctest/doctest.h>

#include <unistd.h>

#include <string>
#include <vector>

#include "core/log.h"

using namespace lc;

namespace {

// Runs `body` with stderr going nowhere (the lines are not what this test reads).
template <class Body> void quietly(Body body) {
  const int saved = ::dup(STDERR_FILENO);
  FILE* null = std::fopen("/dev/null", "w");
  ::dup2(::fileno(null), STDERR_FILENO);
  body();
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  std::fclose(null);
}

}  // namespace

TEST_CASE("log observers: their own threshold, masked text, no recursion, removal") {
  log_settings::configure(Level::warn, false, true);
  std::vector<std::string> seen;
  const Logger log("test");
  int id = 0;
  id = add_log_observer(Level::info, [&](const LogRecord& record) {
    seen.push_back(std::string(level_name(record.level)) + " " + std::string(record.component) + " " +
                   std::string(record.text));
    log.error("logged by the observer");  // stderr only: no recursion
  });
  CHECK(log_settings::lowest() == Level::info);
  quietly([&] {
    log.debug("not wanted");
    log.info("device ", mask_id("a1b2c3d4"), " line\nbreak");
    log.warn("a warning");
    set_log_observer_threshold(id, Level::warn);
    log.info("below the new threshold");
    log.error("an error");
  });
  REQUIRE(seen.size() == 3);
  CHECK(seen[0].rfind("info test device id#", 0) == 0);
  CHECK(seen[0].find("a1b2c3d4") == std::string::npos);
  CHECK(seen[0].find("line\\nbreak") != std::string::npos);
  CHECK(seen[1] == "warn test a warning");
  CHECK(seen[2] == "error test an error");
  remove_log_observer(id);
  CHECK(log_settings::lowest() == Level::warn);
  quietly([&] { log.error("after removal"); });
  CHECK(seen.size() == 3);
  log_settings::configure(Level::info, false, true);
}
