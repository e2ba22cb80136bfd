// localcloud-sim <vendor> [options]: simulated devices that speak the real wire protocol,
// for the integration tests and the benchmarks. Each vendor's simulator lives beside its
// bridge and reuses its codec; `localcloud-sim <vendor> --help` lists its options.
#include <cstdio>
#include <cstring>
#include <string>

#include "bridges/vendors.h"

int main(int argc, char** argv) {
  struct Entry {
    const char* vendor;
    int (*run)(int, char**);
  };
  static const Entry simulators[] = {
#define LC_VENDOR(vendor) {#vendor, &lc::vendor::run_simulator},
#include "bridges/vendors.def"
#undef LC_VENDOR
  };
  if (argc >= 2) {
    for (const auto& sim : simulators) {
      if (std::strcmp(argv[1], sim.vendor) == 0) return sim.run(argc - 1, argv + 1);
    }
  }
  std::string vendors;
  for (const auto& sim : simulators) vendors += (vendors.empty() ? "" : "|") + std::string(sim.vendor);
  std::fprintf(stderr, "usage: localcloud-sim %s [options]  (--help per vendor)\n", vendors.c_str());
  return 2;
}
