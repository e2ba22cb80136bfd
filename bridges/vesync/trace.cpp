#include "bridges/vesync/trace.h"

#include "bridges/vesync/outlet.h"
#include "core/log.h"

namespace lc::vesync {

namespace {

constexpr size_t kMaxTraced = 1024;

std::string printable(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, kMaxTraced)) {
    if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) out += '.';
    else out += c;
  }
  if (text.size() > kMaxTraced) out += "...";
  return out;
}

void replace_all(std::string& text, std::string_view what, std::string_view with) {
  if (what.empty()) return;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + with.size()))
    text.replace(at, what.size(), with);
}

}  // namespace

std::string trace_text(std::string_view text, const Outlet* outlet) {
  std::string out = printable(text);
  if (outlet && log_settings::mask_ids()) {
    const std::string tag = mask_id(outlet->id);
    replace_all(out, outlet->cid, tag);
    replace_all(out, outlet->id, tag);
  }
  return out;
}

std::string trace_frame(std::string_view text, const Decoded& decoded, const Outlet* outlet) {
  if (decoded.ok()) {
    if (const auto* login = std::get_if<Login>(&*decoded.message)) {
      Login copy = *login;
      if (copy.account) copy.account = "<redacted>";
      if (copy.key) {
        copy.key.reset();
        copy.extra["key"] = "<redacted>";
      }
      if (log_settings::mask_ids()) {
        auto id = normalise_id(copy.id);
        copy.id = mask_id(id ? *id : copy.id);
      }
      return printable(encode_pretty(copy));
    }
  }
  return trace_text(text, outlet);
}

}  // namespace lc::vesync
