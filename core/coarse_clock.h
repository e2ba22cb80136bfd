#pragma once
// The steady clock at the kernel tick's resolution (CLOCK_MONOTONIC_COARSE, 1-4 ms behind
// CLOCK_MONOTONIC, which std::chrono::steady_clock reads on Linux: same origin, so the two
// compare). The coarse read is a plain load from the vDSO page; the precise one reads and scales
// the TSC, which cost 1.6 % of the daemon's CPU at saturation when every ping read it twice for
// its once-a-second limits (bench/RESULTS.md, 2026-12-05). For rate limits on per-packet paths.
#include <chrono>
#include <ctime>

namespace lc {

inline std::chrono::steady_clock::time_point coarse_steady_now() noexcept {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
  return std::chrono::steady_clock::time_point(
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::seconds(now.tv_sec) +
                                                                        std::chrono::nanoseconds(now.tv_nsec)));
}

// The at-most-once-per-interval limits of the per-packet paths: true when `interval` has passed
// since `last` or `last` was never set (a default time_point), and then `last` becomes `now`.
inline bool once_every(std::chrono::steady_clock::time_point& last, std::chrono::steady_clock::duration interval,
                       std::chrono::steady_clock::time_point now = coarse_steady_now()) noexcept {
  if (last != std::chrono::steady_clock::time_point{} && now - last < interval) return false;
  last = now;
  return true;
}

}  // namespace lc
