// The miio Bridge (miio_bridge.h): who a device is (its id from the handshake or the config,
// its model and firmware from the config, miIO.info or _otc.info) and which definition it runs
// from: its model's, else python-miio's fallback (chuangmi.plug.m1), else what a MIoT probe of
// siid 2 piid 1 finds. § are sections of docs/protocols/miio.md.
#include "bridges/miio/catalog.h"
#include "bridges/miio/miio_bridge.h"
#include "bridges/miio/model_values.h"
#include "bridges/miio/trace.h"

namespace lc::miio {

using Clock = std::chrono::steady_clock;

namespace {

// python-miio's class for unknown chuangmi plugs: get_prop power and temperature (§4.5).
constexpr const char* kFallbackModel = "chuangmi.plug.m1";

// The definition a probed device runs from: the common MIoT outlet's switch (service switch,
// property on), docs/protocols/miio.md "MIoT over the local protocol".
ModelDef probed_definition(const std::string& model) {
  ModelDef def;
  def.model = model;
  def.protocol = Protocol::miot;
  def.description = "probed: MIoT siid 2 piid 1 answered a boolean";
  def.source = "the probe of an unknown model";
  PropDef power;
  power.property.key = "power";
  power.property.component = Component::switch_;
  power.property.writable = true;
  power.property.main = true;
  power.property.device_class = "outlet";
  power.kind = Kind::switch_;
  power.decoding = Decoding::on_off;
  power.siid = 2;
  power.piid = 1;
  power.format = Format::bool_;
  def.props.push_back(std::move(power));
  return def;
}

// The probe's definition as an entry of miio.models, for the user to start from.
std::string probed_snippet(const std::string& model) {
  return "- { model: " + model +
         ", protocol: miot, properties: [ { key: power, component: switch, siid: 2, piid: 1, format: bool, "
         "main: true, device_class: outlet } ] }";
}

// The boolean value of the entry for siid 2 piid 1 in a get_properties result, if there is one.
const Json* probed_power(const Json& result) {
  if (!result.is_array()) return nullptr;
  for (const auto& entry : result) {
    if (!entry.is_object()) continue;
    const auto siid = entry.find("siid"), piid = entry.find("piid"), code = entry.find("code"), value = entry.find("value");
    if (siid == entry.end() || piid == entry.end() || *siid != 2 || *piid != 1) continue;
    if (code != entry.end() && *code != 0) continue;
    if (value != entry.end() && value->is_boolean()) return &*value;
  }
  return nullptr;
}

}  // namespace

void MiioBridge::learn_did(Device& d, uint32_t did) {
  if (d.did) {
    if (*d.did != did && !d.did_mismatch_reported) {
      d.did_mismatch_reported = true;
      log_.warn(log_name(d), ": the device reports another device id than `did:` in the config; "
                "keeping the configured one for its identity");
    }
    return;
  }
  if (const auto taken = by_did_.find(did); taken != by_did_.end()) {
    if (!d.did_mismatch_reported)
      log_.error(log_name(d), " has the same device id as ", log_name(*taken->second), "; ignoring it");
    d.did_mismatch_reported = true;
    return;
  }
  d.did = did;
  d.id = did_text(did);
  by_did_[did] = &d;
  announce(d);
}

void MiioBridge::learn_model(Device& d, const std::string& model, const std::string& firmware) {
  const bool changed = model != d.model || !d.def || (!firmware.empty() && firmware != d.firmware);
  if (!firmware.empty()) d.firmware = firmware;
  if (!d.def || model != d.model) {
    d.model = model;
    if (const ModelDef* def = find_model(config_.models, model)) {
      use_definition(d, def, ModelSource::defined);
    } else {
      log_.warn(log_name(d), ": model \"", model, "\" has no definition (shipped or in miio.models); trying it as ",
                kFallbackModel, " (power and temperature)");
      use_definition(d, find_model(config_.models, kFallbackModel), ModelSource::fallback);
    }
  }
  if (changed && d.did) announce(d);
}

// From now on the device runs from `def`: its polls, its values, its properties at the Hub.
void MiioBridge::use_definition(Device& d, const ModelDef* def, ModelSource source) {
  d.def = def;
  d.source = def ? source : ModelSource::none;
  ++d.def_generation;
  const size_t count = def ? def->props.size() : 0;
  d.values.assign(count, ReportedValue{});
  d.code_logged.assign(count, false);
  d.legacy_reads.clear();
  d.miot_reads.clear();
  if (def && def->protocol == Protocol::miot) d.miot_reads = miot::property_reads(*def);
  else if (def) d.legacy_reads = legacy_reads(*def);
  d.unusable = false;
}

void MiioBridge::ask_info(Device& d) {
  if (d.info_in_flight) return;
  d.info_in_flight = true;
  ++d.info_tries;
  d.client->request("miIO.info", Json::array(), [this, &d](Reply reply) {
    d.info_in_flight = false;
    if (!reply.ok()) {
      log_.debug(log_name(d), ": miIO.info failed: ", reply.describe());
      return;
    }
    heard(d);
    const std::string model = string_member(reply.result, "model");
    const std::string firmware = string_member(reply.result, "fw_ver");
    if (model.empty()) {
      log_.debug(log_name(d), ": miIO.info without a model");
      return;
    }
    if (d.def && !d.config.model.empty()) {
      if (model != d.config.model)
        log_.warn(log_name(d), ": the device says it is ", model, " but the config says ", d.config.model);
      learn_model(d, d.model, firmware);
      return;
    }
    const bool first = !d.def;
    log_.info(log_name(d), ": model ", model, firmware.empty() ? "" : ", firmware ", firmware);
    learn_model(d, model, firmware);
    if (first) poll(d);
  });
}

// The fallback read of a device without a definition gave nothing usable: is it a MIoT outlet?
// get_properties siid 2 piid 1 (docs/protocols/miio.md "MIoT over the local protocol").
void MiioBridge::probe(Device& d) {
  if (d.probing) return;
  d.probing = true;
  const Json params = Json::array({Json{{"did", "power"}, {"siid", 2}, {"piid", 1}}});
  d.client->request("get_properties", params, [this, &d, generation = d.def_generation](Reply reply) {
    d.probing = false;
    if (generation != d.def_generation || d.source != ModelSource::fallback) return;
    if (reply.status == Reply::Status::timeout) return;  // no answer at all: the device is away
    if (reply.ok()) heard(d);
    if (const Json* power = reply.ok() ? probed_power(reply.result) : nullptr) return adopt_probe(d, *power);
    report_unusable(d, reply.ok() ? "get_properties answered " + redact(reply.result).dump() : reply.describe());
  });
}

void MiioBridge::adopt_probe(Device& d, const Json& power) {
  d.probed = std::make_unique<ModelDef>(probed_definition(d.model));
  use_definition(d, d.probed.get(), ModelSource::probed);
  log_.warn(log_name(d), ": model \"", d.model, "\" has no definition and does not answer the fallback read "
            "(get_prop power, temperature), but answers MIoT get_properties siid 2 piid 1 with a boolean: it is "
            "published with a power switch only. To publish more, add its definition to miio.models "
            "(docs/miio.md \"Writing a definition\"), starting from: ", probed_snippet(d.model));
  announce(d);
  report_value(d, d.def->props.front(), decode_value(d.def->props.front(), power));
}

void MiioBridge::report_unusable(Device& d, const std::string& why) {
  d.unusable = true;
  d.unusable_since = Clock::now();
  if (d.unusable_reported) return;
  d.unusable_reported = true;
  const std::string message = "model \"" + d.model + "\" has no definition, and neither the fallback read (get_prop "
                              "power, temperature) nor MIoT get_properties siid 2 piid 1 gave a usable answer (" + why + ")";
  log_.warn(log_name(d), ": ", message, "; it keeps its cloud keepalive answers, its values stay unknown. "
            "Add its definition to miio.models (docs/miio.md \"Writing a definition\").");
  if (d.registered) hub_.event("device_error", d.id, {{"error", "model_unsupported"}, {"model", d.model}, {"message", message}});
}

void MiioBridge::on_token_suspect(Device& d, const std::string& detail) {
  log_.warn(log_name(d), " (", d.client->peer_text(), "): the token is probably wrong: ", detail,
            ". Check the token in the config (32 hex digits, from the device's provisioning).");
  if (d.registered)
    hub_.event("device_error", d.id,
               {{"error", "token_probably_wrong"},
                {"message", "the device answers the handshake but not encrypted requests: the token is probably wrong"}});
}

}  // namespace lc::miio
