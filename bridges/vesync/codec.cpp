// Decoding the outlets' messages (codec.h); §N: docs/protocols/vesync.md.
#include "bridges/vesync/codec.h"

#include "core/hex.h"
#include "core/json_limits.h"

namespace lc::vesync {

namespace {


// Reads members out of a parsed object; each take_* removes the member it reads, so what
// is left at the end is the message's unknown members.
class Reader {
 public:
  explicit Reader(Members& object) : object_(object) {}

  bool failed() const { return !error_.empty(); }
  DecodeError error() const { return code_; }
  const std::string& detail() const { return error_; }

  std::optional<std::string> string(const char* key, bool required = false) {
    auto it = object_.find(key);
    if (it == object_.end()) return missing(key, required), std::nullopt;
    if (!it->is_string()) return fail(DecodeError::bad_field, key, "must be a string"), std::nullopt;
    std::string value = it->get<std::string>();
    object_.erase(it);
    return value;
  }

  std::optional<int64_t> integer(const char* key, bool required = false) {
    auto it = object_.find(key);
    if (it == object_.end()) return missing(key, required), std::nullopt;
    int64_t value = 0;
    if (it->is_number_integer() && !(it->is_number_unsigned() &&
                                     it->get<uint64_t>() > uint64_t(INT64_MAX))) {
      value = it->get<int64_t>();
    } else {
      return fail(DecodeError::bad_field, key, "must be an integer"), std::nullopt;
    }
    object_.erase(it);
    return value;
  }

  std::optional<Relay> relay(const char* key, bool required = false) {
    auto text = string(key, required);
    if (!text) return std::nullopt;
    auto relay = parse_relay(*text);
    if (!relay) fail(DecodeError::bad_field, key, "must be \"open\" or \"break\"");
    return relay;
  }

  std::optional<uint64_t> hex(const char* key, bool required = false) {
    auto text = string(key, required);
    if (!text) return std::nullopt;
    auto value = number_from_hex(*text);
    if (!value) fail(DecodeError::bad_field, key, "must be hex digits");
    return value;
  }

  std::optional<TimeFields> time(bool required) {
    static constexpr const char* kKeys[] = {"year", "month", "day", "wd", "ms"};
    int present = 0;
    for (const char* key : kKeys) present += object_.contains(key) ? 1 : 0;
    if (present == 0 && !required) return std::nullopt;
    TimeFields t;
    auto year = integer("year", true), month = integer("month", true), day = integer("day", true),
         wd = integer("wd", true), ms = integer("ms", true);
    if (failed()) return std::nullopt;
    t.year = int(*year), t.month = int(*month), t.day = int(*day), t.wd = int(*wd), t.ms = *ms;
    return t;
  }

  void fail(DecodeError code, std::string_view key, std::string_view what) {
    if (failed()) return;
    code_ = code;
    error_ = "member \"" + std::string(key) + "\" " + std::string(what);
  }

 private:
  void missing(const char* key, bool required) {
    if (required) fail(DecodeError::missing_field, key, "is missing");
  }

  Members& object_;
  DecodeError code_ = DecodeError::bad_field;
  std::string error_;
};

template <class T> Decoded finish(Reader& reader, T message, Members& rest) {
  Decoded out;
  if (reader.failed()) {
    out.error = reader.error();
    out.detail = reader.detail();
    return out;
  }
  message.extra = std::move(rest);
  out.message = std::move(message);
  return out;
}

Decoded decode_login(Members& object) {
  Reader r(object);
  Login m;
  auto id = r.string("id", true);
  if (id) {
    if (id->empty() || id->size() > 64) r.fail(DecodeError::bad_field, "id", "must be 1..64 characters");
    else m.id = *id;
  }
  m.account = r.string("account");
  m.device_name = r.string("deviceName");
  m.device_version = r.string("deviceVersion");
  m.device_version_code = r.integer("deviceVersionCode");
  m.type = r.string("type");
  m.apptype = r.string("apptype");
  m.firm_name = r.string("firmName");
  m.firm_version = r.string("firmVersion");
  m.firm_version_code = r.integer("firmVersionCode");
  m.key = r.integer("key");
  m.relay = r.relay("relay");
  return finish(r, std::move(m), object);
}

Decoded decode_with_uri(const std::string& uri, Members& object) {
  Reader r(object);
  if (uri == "/loginReply") {
    LoginReply m;
    m.error = r.integer("error", true).value_or(0);
    if (auto t = r.time(true)) m.time = *t;
    m.hh = r.integer("hh").value_or(0);
    m.hl = r.integer("hl").value_or(0);
    m.lh = r.integer("lh").value_or(0);
    m.ll = r.integer("ll").value_or(0);
    return finish(r, std::move(m), object);
  }
  if (uri == "/ka") {
    KeepAlive m;
    m.rssi = r.integer("rssi");
    return finish(r, std::move(m), object);
  }
  if (uri == "/kr") {
    KeepAliveReply m;
    m.error = r.integer("error");
    m.time = r.time(false);
    return finish(r, std::move(m), object);
  }
  if (uri == "/report") {
    Report m;
    m.energy_ws = r.hex("e", true).value_or(0);
    m.seconds = r.hex("t", true).value_or(0);
    return finish(r, std::move(m), object);
  }
  if (uri == "/relay") {
    RelayCommand m;
    m.cid = r.string("cid");
    m.action = r.relay("action", true).value_or(Relay::open);
    return finish(r, std::move(m), object);
  }
  if (uri == "/getRuntime") {
    GetRuntime m;
    m.cid = r.string("cid");
    return finish(r, std::move(m), object);
  }
  if (uri == "/runtimeInfo") {
    RuntimeInfo m;
    m.relay = r.relay("relay");
    m.meastate = r.string("meastate");
    m.power = r.string("power");
    m.voltage = r.string("voltage");
    m.current = r.string("current");
    return finish(r, std::move(m), object);
  }
  if (uri == "/state") {
    StateReport m;
    m.relay = r.relay("relay", true).value_or(Relay::open);
    return finish(r, std::move(m), object);
  }
  if (uri == "/setCtlFlags") {
    SetCtlFlags m;
    m.flag = r.integer("flag");
    m.set = r.integer("set");
    return finish(r, std::move(m), object);
  }
  if (uri == "/evtimer") {
    EvTimer m;
    m.aname = r.string("aname");
    m.relay = r.relay("relay");
    m.timer_id = r.integer("id");
    return finish(r, std::move(m), object);
  }
  if (uri == "/trigger") {
    Trigger m;
    m.type = r.integer("type");
    return finish(r, std::move(m), object);
  }
  if (uri == "/timer") {
    Timer m;
    m.action = r.string("action");
    m.error = r.integer("error");
    return finish(r, std::move(m), object);
  }
  if (uri == "/upgrade") {
    Upgrade m;
    m.url = r.string("url");
    m.new_version = r.string("newVersion");
    return finish(r, std::move(m), object);
  }
  OtherMessage m;
  m.uri = uri;
  return finish(r, std::move(m), object);
}

}  // namespace

std::optional<Relay> parse_relay(std::string_view text) {
  if (text == "open") return Relay::open;
  if (text == "break") return Relay::break_;
  return std::nullopt;
}

std::string message_uri(const Message& message) {
  static constexpr const char* kUris[] = {
      "login",        "/loginReply", "/ka",     "/kr",       "/report",  "/relay",
      "/getRuntime",  "/runtimeInfo", "/state", "/setCtlFlags", "/evtimer", "/trigger",
      "/timer",       "/upgrade"};
  static_assert(std::size(kUris) + 1 == std::variant_size_v<Message>);
  if (const auto* other = std::get_if<OtherMessage>(&message)) return other->uri;
  return kUris[message.index()];
}

std::string_view error_name(DecodeError error) {
  switch (error) {
    case DecodeError::too_large: return "frame_too_large";
    case DecodeError::bad_json: return "bad_json";
    case DecodeError::bad_uri: return "bad_uri";
    case DecodeError::bad_field: return "bad_field";
    case DecodeError::missing_field: return "missing_field";
  }
  return "bad_message";
}

Decoded decode(std::string_view text) {
  Decoded out;
  if (text.size() > kMaxFrameBytes) {
    out.error = DecodeError::too_large;
    out.detail = "frame of " + std::to_string(text.size()) + " bytes";
    return out;
  }
  JsonRefusal refusal = JsonRefusal::none;
  Members object = parse_json_bounded<Members>(text, {kMaxFrameBytes, kMaxJsonDepth}, &refusal);
  if (object.is_discarded() || !object.is_object()) {
    out.error = DecodeError::bad_json;
    out.detail = refusal == JsonRefusal::too_deep ? "nested deeper than " + std::to_string(kMaxJsonDepth) + " levels"
                 : object.is_discarded()         ? "not JSON"
                                                 : "not a JSON object";
    return out;
  }
  auto uri = object.find("uri");
  if (uri == object.end()) return decode_login(object);
  if (!uri->is_string() || uri->get_ref<const std::string&>().empty() ||
      uri->get_ref<const std::string&>()[0] != '/') {
    out.error = DecodeError::bad_uri;
    out.detail = "member \"uri\" must be a string starting with '/'";
    return out;
  }
  std::string name = uri->get<std::string>();
  object.erase(uri);
  return decode_with_uri(name, object);
}

std::optional<ScannedKeepAlive> scan_keepalive(std::string_view text) {
  constexpr std::string_view kBare = R"({"uri":"/ka"})";
  constexpr std::string_view kWithRssi = R"({"uri":"/ka","rssi":)";
  if (text == kBare) return ScannedKeepAlive{};
  if (text.size() < kWithRssi.size() + 2 || text.substr(0, kWithRssi.size()) != kWithRssi || text.back() != '}')
    return std::nullopt;
  std::string_view number = text.substr(kWithRssi.size(), text.size() - kWithRssi.size() - 1);
  const bool negative = number.front() == '-';
  if (negative) number.remove_prefix(1);
  // A plain JSON integer of at most 9 digits; "-0", a leading zero and the rest go to decode().
  if (number.empty() || number.size() > 9 || (number.front() == '0' && (negative || number.size() > 1)))
    return std::nullopt;
  int64_t value = 0;
  for (char c : number) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return ScannedKeepAlive{negative ? -value : value};
}

std::optional<RawPair> parse_pair(std::string_view text) {
  auto colon = text.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  auto a = text.substr(0, colon), b = text.substr(colon + 1);
  if (a.size() > 8 || b.size() > 8) return std::nullopt;
  auto va = number_from_hex(a), vb = number_from_hex(b);
  if (!va || !vb) return std::nullopt;
  return RawPair{uint32_t(*va), uint32_t(*vb)};
}

const char* power_decoding_name(PowerDecoding decoding) {
  switch (decoding) {
    case PowerDecoding::app: return "app";
    case PowerDecoding::q12: return "q12";
    case PowerDecoding::mean: return "mean";
  }
  return "app";
}

std::optional<PowerDecoding> parse_power_decoding(std::string_view name) {
  for (auto decoding : {PowerDecoding::app, PowerDecoding::q12, PowerDecoding::mean})
    if (name == power_decoding_name(decoding)) return decoding;
  return std::nullopt;
}

double decode_half(uint32_t v, PowerDecoding decoding) {
  if (decoding == PowerDecoding::app) return double(v >> 12) + double(v & 0xFFF) / 1000.0;
  return double(v) / 4096.0;
}

double decode_pair(const RawPair& pair, PowerDecoding decoding) {
  if (decoding == PowerDecoding::mean) return (double(pair.a) + double(pair.b)) / 8192.0;
  return decode_half(pair.a, decoding);
}

std::optional<std::string> normalise_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return std::nullopt;
  std::string out;
  out.reserve(id.size());
  for (char c : id) {
    if (c >= 'A' && c <= 'Z') out += char(c - 'A' + 'a');
    else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') out += c;
    else return std::nullopt;
  }
  return out;
}

std::optional<std::string> decode_provisioning_frame(std::string_view bytes) {
  if (bytes.empty()) return std::nullopt;
  const size_t length = static_cast<unsigned char>(bytes[0]);
  const auto rest = bytes.substr(1);
  // The JSON, then nothing or one NUL (fw 2.123, §2.5).
  if (rest.size() != length && !(rest.size() == length + 1 && rest.back() == '\0')) return std::nullopt;
  return std::string(rest.substr(0, length));
}
}  // namespace lc::vesync
