// Where a value stands in the config file, and a problem found there.
#pragma once

#include <string>

namespace lc::config {

struct Mark {
  int line = 0;    // 1-based; 0 = not from the file (a default)
  int column = 0;  // 1-based
};

struct Diagnostic {
  std::string file;
  int line = 0;  // 1-based
  int column = 0;
  std::string message;
  bool warning = false;
  // "FILE:LINE:COL: message" or "FILE:LINE:COL: warning: message"
  std::string text() const;
};

}  // namespace lc::config
