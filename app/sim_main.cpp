// localcloud-sim <vendor> [options]: simulated devices that speak the real wire protocol,
// for the integration tests and the benchmarks. Each vendor's simulator lives beside its
// bridge and reuses its codec; `localcloud-sim <vendor> --help` lists its options.
#include <cstdio>
#include <cstring>

namespace lc {
namespace miio { int run_simulator(int argc, char** argv); }
namespace vesync { int run_simulator(int argc, char** argv); }
namespace timeguard { int run_simulator(int argc, char** argv); }
}  // namespace lc

int main(int argc, char** argv) {
  struct Entry {
    const char* vendor;
    int (*run)(int, char**);
  };
  static const Entry simulators[] = {
      {"miio", &lc::miio::run_simulator},
      {"vesync", &lc::vesync::run_simulator},
      {"timeguard", &lc::timeguard::run_simulator},
  };
  if (argc >= 2) {
    for (const auto& sim : simulators) {
      if (std::strcmp(argv[1], sim.vendor) == 0) return sim.run(argc - 1, argv + 1);
    }
  }
  std::fprintf(stderr, "usage: localcloud-sim miio|vesync|timeguard [options]  (--help per vendor)\n");
  return 2;
}
