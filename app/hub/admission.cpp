#include "app/hub/admission.h"

namespace lc {

namespace {

constexpr auto kOneNewDevice = std::chrono::seconds(1);  // the rate of PRODUCT.md
constexpr size_t kMaxRefusedLogged = 100;

}  // namespace

UnknownAdmission::UnknownAdmission(const Logger& log, Counter& refused) : log_(log), refused_(refused) {}

UnknownAdmission::Verdict UnknownAdmission::consider(const DeviceInfo& info, const BridgePolicy& policy,
                                                     int registered) {
  const char* reason = nullptr;
  if (!policy.accept_unknown) reason = "accept_unknown is false";
  else if (registered >= policy.max_unknown) reason = "max_unknown reached";
  if (reason) {
    refuse(info.id, reason);
    return Verdict::refuse;
  }
  // At most one new unknown device a second: a flood of random ids cannot fill the registry
  // in a burst; the refused device is admitted on a later keepalive.
  const auto now = Clock::now();
  if (last_admitted_ != Clock::time_point{} && now - last_admitted_ < kOneNewDevice) {
    log_.debug("device ", mask_id(info.id), " admission deferred (one new device a second)");
    return Verdict::defer;
  }
  last_admitted_ = now;
  return Verdict::admit;
}

void UnknownAdmission::forget_refusal(std::string_view id) {
  if (auto it = refusals_logged_.find(id); it != refusals_logged_.end()) refusals_logged_.erase(it);
}

void UnknownAdmission::refuse(std::string_view id, const char* reason) {
  refused_.inc();
  if (refusals_logged_.size() < kMaxRefusedLogged && refusals_logged_.emplace(id).second)
    log_.info("device ", mask_id(id), " not registered: ", reason, " (it still gets its keepalive replies)");
  else if (refusals_logged_.size() == kMaxRefusedLogged && refusals_logged_.emplace("").second)
    log_.info("further unregistered devices are not logged; see localcloud_unknown_devices_refused_total");
}

}  // namespace lc
