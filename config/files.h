// Reading the files a config names (the config itself, password_file, the TLS material)
// without following them into trouble: size-bounded, regular files only.
#pragma once

#include <cstddef>
#include <string>

namespace lc::config {

// Why the file cannot be opened for reading, or "".
std::string unreadable(const std::string& path);

// Reads at most `limit` bytes into `out` (`truncated` when there was more). Returns an error
// text, or "".
std::string read_bounded(const std::string& path, size_t limit, std::string& out, bool& truncated);

std::string errno_text(int err);

}  // namespace lc::config
