// Frames as log.trace shows them: control characters escaped, at most 1 KB, the outlet's id
// masked (log.mask_ids) and the login's account and key redacted. Formatted only when trace is
// on.
#pragma once

#include <string>
#include <string_view>

#include "bridges/vesync/codec.h"

namespace lc::vesync {

struct Outlet;

// A frame's text, printable and bounded, with `outlet`'s ids (as sent and lower-case) masked.
std::string trace_text(std::string_view text, const Outlet* outlet);

// A decoded frame: a login re-encoded with its secrets redacted and its id masked, anything
// else as trace_text().
std::string trace_frame(std::string_view text, const Decoded& decoded, const Outlet* outlet);

}  // namespace lc::vesync
