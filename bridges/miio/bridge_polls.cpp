// The miio Bridge (miio_bridge.h): the poll cycle (the device id, then its model, then its
// values, every poll_interval) and what the answers of legacy get_prop and MIoT get_properties
// reads become. § are sections of docs/protocols/miio.md.
#include "bridges/miio/miio_bridge.h"
#include "bridges/miio/model_values.h"
#include "bridges/miio/trace.h"

namespace lc::miio {

using Clock = std::chrono::steady_clock;

namespace {

// miIO.info attempts for the firmware version of a device whose model is configured.
constexpr int kFirmwareInfoTries = 3;
// A device without a usable definition is tried again this long after it was reported.
constexpr auto kUnusableRetry = std::chrono::minutes(10);

}  // namespace

void MiioBridge::schedule(Device& d, std::chrono::milliseconds delay) {
  d.timer.expires_after(delay);
  d.timer.async_wait([this, &d](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    guarded(d, [this, &d] { advance(d); });
    schedule(d, config_.poll_interval);
  });
}

// One step of what is due for the device: learn its id, then its model, then poll it.
void MiioBridge::advance(Device& d) {
  if (stopped_) return;
  if (!d.did) {
    if (d.handshaking) return;
    d.handshaking = true;
    d.client->handshake([this, &d](Reply reply) {
      d.handshaking = false;
      if (reply.ok() && d.did) {
        advance(d);
      } else if (!reply.ok()) {
        log_.debug(log_name(d), ": no handshake reply");
      }
    });
    return;
  }
  if (!d.def) {
    // miIO.info is unreliable until the device's cloud session is up (§4.4, §5 item 16);
    // past offline_after without one it is tried anyway.
    if (d.cloud_session || Clock::now() - d.started >= config_.offline_after)
      ask_info(d);
    else
      log_.debug(log_name(d), ": model unknown; waiting for its cloud session before asking miIO.info");
    return;
  }
  if (d.unusable) {
    if (Clock::now() - d.unusable_since < kUnusableRetry) return;
    d.unusable = false;
  }
  if (d.firmware.empty() && d.cloud_session && d.info_tries < kFirmwareInfoTries) ask_info(d);
  poll(d);
}

void MiioBridge::poll(Device& d) {
  if (!d.def) return;
  if (d.polling) {
    d.poll_again = true;
    return;
  }
  const size_t requests = d.miot() ? d.miot_reads.size() : d.legacy_reads.size();
  if (requests == 0) return;  // nothing readable (a definition of buttons only)
  d.polling = true;
  d.poll_again = false;
  auto remaining = std::make_shared<size_t>(requests);
  for (size_t index = 0; index < requests; ++index) {
    const Call& call = d.miot() ? d.miot_reads[index].call : d.legacy_reads[index].call;
    d.client->request(call.method, call.params,
                      [this, &d, index, remaining, generation = d.def_generation](Reply reply) {
                        if (generation == d.def_generation && !stopped_) {
                          guarded(d, [&] {
                            if (d.miot()) on_miot_answer(d, d.miot_reads[index], reply);
                            else on_legacy_answer(d, d.legacy_reads[index], reply);
                          });
                        }
                        if (--*remaining == 0) {
                          d.polling = false;
                          if (d.poll_again && !stopped_) poll(d);
                        }
                      });
  }
}

void MiioBridge::on_legacy_answer(Device& d, const LegacyRead& read, const Reply& reply) {
  const bool fallback = d.source == ModelSource::fallback;
  if (!reply.ok()) {
    log_.debug(log_name(d), ": ", read.call.method, " failed: ", reply.describe());
    // A device error to the fallback read: the model is not a legacy plug (MIoT firmware
    // answers get_prop with -9999, python-miio#1265, #1865).
    if (fallback && reply.status == Reply::Status::device_error) probe(d);
    return;
  }
  if (d.forgotten) {
    d.forgotten = false;  // bridge/request/remove: registered afresh
    announce(d);
  }
  heard(d);
  if (read.call.method != "get_prop") {
    const Json raw = reply.result.is_array() ? (reply.result.empty() ? Json() : reply.result[0]) : reply.result;
    report_raw(d, *read.props.front(), raw);
    return;
  }
  if (!reply.result.is_array()) {
    log_.debug(log_name(d), ": get_prop answered with a non-list: ", redact(reply.result).dump());
    if (fallback) probe(d);
    return;
  }
  // Positionally aligned; missing or empty slots are unknown (§4.4).
  bool all_empty = true, any_understood = false;
  for (size_t i = 0; i < read.props.size(); ++i) {
    const Json raw = i < reply.result.size() ? reply.result[i] : Json();
    if (!raw.is_null()) all_empty = false;
    if (!decode_value(*read.props[i], raw).is_null()) any_understood = true;
    report_raw(d, *read.props[i], raw);
  }
  if (fallback && !any_understood) {
    probe(d);
  } else if (fallback && d.unusable_reported) {
    d.unusable_reported = false;
    log_.info(log_name(d), " answers the fallback read (", d.def->model, ") now");
  }
  if (all_empty && !d.empty_reported) {
    d.empty_reported = true;
    log_.info(log_name(d), " answers get_prop with empty values: its cloud session is probably "
              "not established yet (the device needs hello and ping answers from localcloud on ",
              config_.listen.text(), ")");
  } else if (!all_empty && d.empty_reported) {
    d.empty_reported = false;
    log_.info(log_name(d), " reports values now");
  }
}

// docs/protocols/miio.md "MIoT over the local protocol": entries matched by did, else
// siid/piid; a non-zero code makes that property unknown, the others still publish.
void MiioBridge::on_miot_answer(Device& d, const miot::PropertyRead& read, const Reply& reply) {
  if (!reply.ok()) {
    log_.debug(log_name(d), ": get_properties failed: ", reply.describe());
    return;
  }
  if (d.forgotten) {
    d.forgotten = false;
    announce(d);
  }
  heard(d);
  auto result = miot::read_properties_result(read, reply.result);
  for (const PropDef* prop : read.props) report_value(d, *prop, result.values[prop->property.key]);
  for (const auto& error : result.errors) {
    const std::string what = error.prop->property.key + " (" + std::to_string(error.prop->siid) + "/" +
                             std::to_string(error.prop->piid) + ") answered code " + std::to_string(error.code);
    stats_.dropped("miot_property_error").inc();
    const size_t index = d.index_of(*error.prop);
    log_.at(d.code_logged[index] ? Level::debug : Level::info, log_name(d), ": ", what, ": unknown until it answers");
    d.code_logged[index] = true;
  }
  for (const PropDef* prop : result.not_understood) {
    stats_.dropped("miot_bad_value").inc();
    log_.debug(log_name(d), ": ", prop->property.key, ": a value its definition does not describe");
  }
  if (result.unexpected > 0) stats_.dropped("miot_unexpected_entry").inc(result.unexpected);
}

}  // namespace lc::miio
