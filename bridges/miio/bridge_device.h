// What the miio bridge (miio_bridge.h) keeps of one configured device: its identity, the
// definition it runs from and the requests a poll makes of it, its local client, what the Hub
// was last told, and its cloud side.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "bridges/miio/config.h"
#include "bridges/miio/legacy_requests.h"
#include "bridges/miio/local_client.h"
#include "bridges/miio/miot.h"
#include "bridges/miio/model_def.h"

namespace lc::miio {

// Where a device's definition comes from.
enum class ModelSource {
  none,      // the model is not known yet (none configured, miIO.info not answered)
  defined,   // the model's definition (shipped or miio.models)
  fallback,  // no definition: tried as chuangmi.plug.m1, python-miio's fallback (legacy get_prop)
  probed,    // no definition and no usable fallback read; MIoT 2/1 answered a boolean: a power switch
};

// What the Hub was last told of one property.
struct ReportedValue {
  // Legacy: the raw value the device sent; MIoT: the value as the MIoT codec decoded it.
  Json last;
  bool read = false;      // `last` holds an answer
  bool reported = false;  // the Hub has it
};

struct BridgeDevice {
  using Clock = std::chrono::steady_clock;
  explicit BridgeDevice(boost::asio::io_context& io) : timer(io) {}

  ConfiguredDevice config;

  // Identity.
  std::optional<uint32_t> did;
  std::string id;  // did_text(did), empty until the did is known
  std::string model;
  std::string firmware;
  bool did_mismatch_reported = false;

  // The definition and the requests of a poll (they point into *def, which outlives them).
  const ModelDef* def = nullptr;
  ModelSource source = ModelSource::none;
  std::unique_ptr<ModelDef> probed;  // owns *def when source is probed
  uint64_t def_generation = 0;       // answers to requests of an earlier definition are dropped
  std::vector<LegacyRead> legacy_reads;
  std::vector<miot::PropertyRead> miot_reads;
  bool probing = false;
  bool unusable = false;  // neither the fallback nor the probe gave a usable answer (reported once)
  Clock::time_point unusable_since{};
  bool unusable_reported = false;

  // The Hub.
  bool registered = false;
  bool forgotten = false;  // bridge/request/remove: registered afresh with the next answer
  std::vector<ReportedValue> values;  // one per property of *def, in its order
  std::vector<bool> code_logged;      // MIoT: a property's error code was logged at info
  Clock::time_point last_heard{};     // last hub.heard(): at most one a second
  Clock::time_point last_exchange{};  // last hub.cloud_exchange() of a ping: at most one a second

  // Local client and polls.
  std::unique_ptr<LocalClient> client;
  boost::asio::steady_timer timer;
  Clock::time_point started;
  bool handshaking = false;
  bool polling = false;
  bool poll_again = false;
  bool info_in_flight = false;
  int info_tries = 0;
  bool empty_reported = false;

  // Cloud side.
  bool cloud_session = false;
  std::optional<Cipher> cloud_cipher;

  bool miot() const { return def && def->protocol == Protocol::miot; }
  size_t index_of(const PropDef& prop) const { return static_cast<size_t>(&prop - def->props.data()); }
};

}  // namespace lc::miio
