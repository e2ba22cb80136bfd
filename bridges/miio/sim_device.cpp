// The simulated device's local protocol (docs/protocols/miio.md §3): handshake replies,
// requests decrypted with its token and answered in the v1 strip's shape.
#include "bridges/miio/sim_device.h"

#include <algorithm>
#include <cstdio>

#include "bridges/miio/catalog.h"
#include "bridges/miio/trace.h"
#include "core/sim_harness.h"

namespace lc::miio {

namespace asio = boost::asio;
using asio::ip::udp;

namespace {

Token derived_token(uint32_t did) {
  const std::string seed = "sim-token-" + did_text(did);
  return md5({std::span(reinterpret_cast<const uint8_t*>(seed.data()), seed.size())});
}

std::string derived_cloud_key(uint32_t did) { return "simkey" + did_text(did) + "xy"; }

// The properties each simulated model starts with (values from docs/protocols/miio.md §4).
Json initial_state(const std::string& model) {
  if (model == "qmi.powerstrip.v1")
    return {{"power", "on"},          {"temperature", 38.5}, {"current", 215},    {"mode", "normal"},
            {"power_consume_rate", 29}, {"voltage", 23057},  {"power_factor", 12}, {"elec_leakage", 8}};
  if (model == "zimi.powerstrip.v2")
    return {{"power", "on"}, {"temperature", 48.7}, {"current", 0.05}, {"mode", nullptr},
            {"power_consume_rate", 4.09}, {"wifi_led", "on"}, {"power_price", 49}};
  if (model == "chuangmi.plug.v1") return {{"on", true}, {"usb_on", true}, {"temperature", 32}};
  if (model == "chuangmi.plug.v3")
    return {{"on", true}, {"usb_on", false}, {"temperature", 33}, {"wifi_led", "on"}, {"get_power", 300}};
  if (model == "chuangmi.plug.hmi208") return {{"power", "on"}, {"usb_on", true}, {"temperature", 31}};
  return {{"power", "on"}, {"temperature", 30}};
}

}  // namespace

DeviceSpec parse_device_spec(const std::string& text) {
  DeviceSpec spec;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = std::min(text.find(',', start), text.size());
    const std::string pair = text.substr(start, end - start);
    const size_t equals = pair.find('=');
    if (equals == std::string::npos) throw sim::UsageError("--device: expected key=value, got \"" + pair + "\"");
    spec[pair.substr(0, equals)] = pair.substr(equals + 1);
    start = end + 1;
  }
  return spec;
}

SimDevice::SimDevice(asio::io_context& io, const DeviceSpec& spec, const SimOptions& options)
    : options_(options),
      cipher_(Token{}),
      cloud_cipher_(Token{}),
      local_(io),
      cloud_udp_(io),
      cloud_tcp_(io),
      hello_timer_(io),
      ping_timer_(io) {
  auto get = [&](const char* key, const std::string& fallback) {
    const auto it = spec.find(key);
    return it == spec.end() ? fallback : it->second;
  };
  model_ = get("model", "qmi.powerstrip.v1");
  const auto did = number_from_hex(get("did", "01020304"));
  if (!did || *did > 0xffffffff) throw sim::UsageError("--device did= must be up to 8 hex digits");
  did_ = static_cast<uint32_t>(*did);
  did_hex_ = did_text(did_);
  const std::string token_text = get("token", "");
  if (!token_text.empty()) {
    const auto token = token_from_hex(token_text);
    if (!token) throw sim::UsageError("--device token= must be 32 hex digits");
    cipher_ = Cipher(*token);
  } else {
    cipher_ = Cipher(derived_token(did_));
  }
  const auto cloud_key = token_from_cloud_key(get("cloud_key", derived_cloud_key(did_)));
  if (!cloud_key) throw sim::UsageError("--device cloud_key= must be 16 printable characters");
  cloud_cipher_ = Cipher(*cloud_key);
  const ModelDef* def = find_model(options.models, model_);
  if (def && def->protocol == Protocol::miot) {
    def_ = def;
  } else if (!def && get("protocol", "miio") == "miot") {
    // An unknown MIoT model: the common outlet's switch at siid 2 piid 1 only.
    probed_def_ = std::make_unique<ModelDef>();
    probed_def_->model = model_;
    probed_def_->protocol = Protocol::miot;
    PropDef power;
    power.property.key = "power";
    power.property.writable = true;
    power.kind = Kind::switch_;
    power.siid = 2, power.piid = 1, power.format = Format::bool_;
    probed_def_->props.push_back(std::move(power));
    def_ = probed_def_.get();
  }
  for (const auto& [key, value] : spec) {
    if (key.rfind("code.", 0) != 0) continue;
    try {
      error_codes_[key.substr(5)] = std::stoll(value);
    } catch (const std::exception&) {
      throw sim::UsageError("--device " + key + "= must be an integer");
    }
  }
  state_ = def_ ? initial_miot_state() : initial_state(model_);
  const auto port = static_cast<uint16_t>(std::stoul(get("port", "0")));
  const udp::endpoint bind(asio::ip::make_address(options.host), port);
  local_.open(bind.protocol());
  local_.bind(bind);
}

uint32_t SimDevice::stamp() const {
  const auto now = Clock::now();
  if (time_synced_)
    return synced_time_ + static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::seconds>(now - synced_at_).count());
  // Not synced: seconds since boot (a 1970 date, home-assistant/core#131647).
  return 1000 + static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::seconds>(now - boot_).count());
}

void SimDevice::start() {
  sim::emit({{"event", "ready"}, {"device", did_hex_}, {"model", model_}, {"port", local_.local_endpoint().port()}});
  receive_local();
  if (options_.cloud) {
    cloud_enabled_ = true;
    hello_timer_.expires_after(options_.cloud_delay);
    hello_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) restart_cloud();
    });
  }
}

void SimDevice::silence(bool silent) {
  silent_ = silent;
  if (!silent && cloud_enabled_) restart_cloud();
}

void SimDevice::receive_local() {
  local_.async_receive_from(asio::buffer(local_in_), local_peer_, [this](const boost::system::error_code& ec, size_t n) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec && !silent_) {
      try {
        on_local(n);
      } catch (const std::exception& error) {
        std::fprintf(stderr, "sim %s: %s\n", did_hex_.c_str(), error.what());
      }
    }
    receive_local();
  });
}

void SimDevice::on_local(size_t size) {
  const std::span<const uint8_t> packet(local_in_.data(), size);
  Header header;
  if (parse_header(packet, header) != Error::none) return;
  if (is_hello(packet)) {
    const auto reply = hello_reply_packet(did_, stamp());
    local_.send_to(asio::buffer(reply), local_peer_);
    sim::emit({{"event", "handshake"}, {"device", did_hex_}});
    return;
  }
  if (packet.size() == kHeaderSize) return;
  Message message;
  const Error error = decode_message(packet, cipher_, message);
  if (error == Error::bad_checksum) {
    sim::emit({{"event", "bad_checksum"}, {"device", did_hex_}});
    return;  // devices ignore requests they cannot verify
  }
  if (error != Error::none) return;
  const auto json = parse_json(message.plaintext);
  if (!json || !json->is_object() || !json->contains("id") || !(*json)["id"].is_number_unsigned()) return;
  const uint64_t id = (*json)["id"].get<uint64_t>();
  // Devices drop ids they saw recently ("look like a repeated msg", §3.3).
  if (std::find(recent_ids_.begin(), recent_ids_.end(), id) != recent_ids_.end()) {
    sim::emit({{"event", "repeated_id"}, {"device", did_hex_}, {"id", id}});
    return;
  }
  recent_ids_.push_back(id);
  if (recent_ids_.size() > 32) recent_ids_.pop_front();
  const std::string method = json->value("method", "");
  const Json params = json->value("params", Json::array());
  sim::emit({{"event", "received"}, {"device", did_hex_}, {"method", method}, {"params", params}, {"id", id}});
  bool ok = true;
  const std::string body = def_ ? answer_miot(method, params, ok) : answer(method, params, ok);
  // Result first, id last: the shape of the v1 strip's answers (home-assistant/core#13749).
  const std::string text = ok ? "{\"result\":" + body + ",\"id\":" + std::to_string(id) + "}"
                              : "{\"id\":" + std::to_string(id) + ",\"error\":" + body + "}";
  Header reply_header;
  reply_header.did = did_;
  reply_header.stamp = stamp();
  const auto reply = encode_message(cipher_, reply_header, text, kMaxReceivePacket);
  if (reply) local_.send_to(asio::buffer(*reply), local_peer_);
}

void SimDevice::set(const std::string& name, const Json& value) {
  state_[name] = value;
  sim::emit({{"event", "state"}, {"device", did_hex_}, {"name", name}, {"value", value}});
  if (!options_.otc_info || !synced_) return;
  if (!def_) send_cloud_message("props", {{name, value}});
  else if (const PropDef* prop = find_prop(*def_, name)) push_miot_change(*prop, value);
}

void SimDevice::push_props() {
  Json props = Json::object();
  for (const auto& [name, value] : state_.items())
    if (name != "get_power") props[name] = value;
  send_cloud_message("props", props);
}

}  // namespace lc::miio
