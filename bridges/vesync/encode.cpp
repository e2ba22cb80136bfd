// Encoding messages (codec.h): the server's replies, the simulator's and the proxy's frames;
// §N: docs/protocols/vesync.md.
#include "bridges/vesync/codec.h"

#include <charconv>

namespace lc::vesync {

namespace {

constexpr auto kDump = nlohmann::detail::error_handler_t::replace;

std::string dump(const Members& value) { return value.dump(-1, ' ', true, kDump); }

void put_time(Members& out, const TimeFields& t) {
  out["wd"] = t.wd;
  out["year"] = t.year;
  out["month"] = t.month;
  out["day"] = t.day;
  out["ms"] = t.ms;
}

template <class T> void put(Members& out, const char* key, const std::optional<T>& value) {
  if (value) out[key] = *value;
}
void put(Members& out, const char* key, const std::optional<Relay>& value) {
  if (value) out[key] = relay_text(*value);
}

std::string hex_text(uint64_t value) {
  char buf[17];
  auto result = std::to_chars(buf, buf + sizeof buf, value, 16);
  return std::string(buf, result.ptr);
}

void append_extra(Members& out, const Members& extra) {
  if (!extra.is_object()) return;
  for (const auto& [key, value] : extra.items()) {
    if (!out.contains(key)) out[key] = value;
  }
}

struct ToMembers {
  Members out = Members::object();

  void operator()(const Login& m) {
    put(out, "account", m.account);
    out["id"] = m.id;
    put(out, "deviceName", m.device_name);
    put(out, "deviceVersion", m.device_version);
    put(out, "deviceVersionCode", m.device_version_code);
    put(out, "type", m.type);
    put(out, "apptype", m.apptype);
    put(out, "firmName", m.firm_name);
    put(out, "firmVersion", m.firm_version);
    put(out, "firmVersionCode", m.firm_version_code);
    put(out, "key", m.key);
    put(out, "relay", m.relay);
    append_extra(out, m.extra);
  }
  void operator()(const LoginReply& m) {
    out["uri"] = "/loginReply";
    out["error"] = m.error;
    put_time(out, m.time);
    out["hh"] = m.hh;
    out["hl"] = m.hl;
    out["lh"] = m.lh;
    out["ll"] = m.ll;
    append_extra(out, m.extra);
  }
  void operator()(const KeepAlive& m) {
    out["uri"] = "/ka";
    put(out, "rssi", m.rssi);
    append_extra(out, m.extra);
  }
  void operator()(const KeepAliveReply& m) {
    out["uri"] = "/kr";
    put(out, "error", m.error);
    if (m.time) put_time(out, *m.time);
    append_extra(out, m.extra);
  }
  void operator()(const Report& m) {
    out["uri"] = "/report";
    out["e"] = hex_text(m.energy_ws);
    out["t"] = hex_text(m.seconds);
    append_extra(out, m.extra);
  }
  void operator()(const RelayCommand& m) {
    put(out, "cid", m.cid);
    out["uri"] = "/relay";
    out["action"] = relay_text(m.action);
    append_extra(out, m.extra);
  }
  void operator()(const GetRuntime& m) {
    put(out, "cid", m.cid);
    out["uri"] = "/getRuntime";
    append_extra(out, m.extra);
  }
  void operator()(const RuntimeInfo& m) {
    out["uri"] = "/runtimeInfo";
    put(out, "relay", m.relay);
    put(out, "meastate", m.meastate);
    put(out, "power", m.power);
    put(out, "voltage", m.voltage);
    put(out, "current", m.current);
    append_extra(out, m.extra);
  }
  void operator()(const StateReport& m) {
    out["uri"] = "/state";
    out["relay"] = relay_text(m.relay);
    append_extra(out, m.extra);
  }
  void operator()(const SetCtlFlags& m) {
    out["uri"] = "/setCtlFlags";
    put(out, "flag", m.flag);
    put(out, "set", m.set);
    append_extra(out, m.extra);
  }
  void operator()(const EvTimer& m) {
    out["uri"] = "/evtimer";
    put(out, "aname", m.aname);
    put(out, "relay", m.relay);
    put(out, "id", m.timer_id);
    append_extra(out, m.extra);
  }
  void operator()(const Trigger& m) {
    out["uri"] = "/trigger";
    put(out, "type", m.type);
    append_extra(out, m.extra);
  }
  void operator()(const Timer& m) {
    out["uri"] = "/timer";
    put(out, "action", m.action);
    put(out, "error", m.error);
    append_extra(out, m.extra);
  }
  void operator()(const Upgrade& m) {
    out["uri"] = "/upgrade";
    put(out, "url", m.url);
    put(out, "newVersion", m.new_version);
    append_extra(out, m.extra);
  }
  void operator()(const OtherMessage& m) {
    out["uri"] = m.uri;
    append_extra(out, m.extra);
  }
};

Members to_members(const Message& message) {
  ToMembers visitor;
  std::visit(visitor, message);
  return std::move(visitor.out);
}

void append_number(std::string& out, int64_t value) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  out.append(digits, end);
}

// A reply with the time fields in the cloud's order (§4.2), formatted without a JSON library
// or printf: it answers every keepalive.
std::string time_reply(std::string_view head, const TimeFields& t, std::string_view tail) {
  std::string out;
  out.reserve(128);
  out += head;
  append_number(out, t.wd);
  out += R"(,"year":)";
  append_number(out, t.year);
  out += R"(,"month":)";
  append_number(out, t.month);
  out += R"(,"day":)";
  append_number(out, t.day);
  out += R"(,"ms":)";
  append_number(out, t.ms);
  out += tail;
  return out;
}

}  // namespace

TimeFields utc_time_fields(std::chrono::system_clock::time_point now) {
  using namespace std::chrono;
  const auto day_start = floor<days>(now);
  const year_month_day date{day_start};
  TimeFields t;
  t.year = int(date.year());
  t.month = int(unsigned(date.month()));
  t.day = int(unsigned(date.day()));
  t.wd = int(weekday{day_start}.c_encoding());
  t.ms = duration_cast<milliseconds>(now - day_start).count();
  return t;
}

std::string_view relay_text(Relay relay) { return relay == Relay::open ? "open" : "break"; }

std::string encode(const Message& message) { return dump(to_members(message)); }

std::string encode_pretty(const Message& message) {
  Members members = to_members(message);
  std::string out = "{\n";
  bool first = true;
  for (const auto& [key, value] : members.items()) {
    if (!first) out += ",\n";
    first = false;
    out += dump(Members(key));
    out += ':';
    out += dump(value);
  }
  out += "\n}";
  return out;
}

std::string encode_login_reply(const TimeFields& t) {
  return time_reply(R"({"uri":"/loginReply","error":0,"wd":)", t, R"(,"hh":0,"hl":0,"lh":0,"ll":0})");
}

std::string encode_keepalive_reply(const TimeFields& t) { return time_reply(R"({"uri":"/kr","error":0,"wd":)", t, "}"); }

std::optional<std::string> encode_provisioning_frame(std::string_view json) {
  if (json.size() > 255) return std::nullopt;
  std::string out(1, char(static_cast<unsigned char>(json.size())));
  out.append(json);
  return out;
}

}  // namespace lc::vesync
