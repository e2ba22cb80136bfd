#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "core/coarse_clock.h"

using namespace std::chrono_literals;

TEST_CASE("the coarse clock compares with steady_clock: a little behind, never ahead, and moving") {
  const auto before = std::chrono::steady_clock::now();
  const auto coarse = lc::coarse_steady_now();
  const auto after = std::chrono::steady_clock::now();
  CHECK(coarse <= after);
  CHECK(before - coarse < 100ms);  // the kernel tick is 1-4 ms; generous for a loaded machine
  std::this_thread::sleep_for(30ms);
  CHECK(lc::coarse_steady_now() - coarse >= 20ms);
}
