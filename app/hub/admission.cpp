#include "app/hub/admission.h"

#include <algorithm>

namespace lc {

namespace {

constexpr auto kOneNewDevice = std::chrono::seconds(1);  // the admission rate (docs/architecture.md)
constexpr size_t kMaxRefusedLogged = 100;

}  // namespace

UnknownAdmission::UnknownAdmission(boost::asio::io_context& io, const Logger& log, Counter& refused,
                                   Admit admit_deferred)
    : log_(log), refused_(refused), admit_deferred_(std::move(admit_deferred)), timer_(io) {}

UnknownAdmission::Verdict UnknownAdmission::consider(const DeviceInfo& info, const BridgePolicy& policy,
                                                     int registered) {
  auto waiting = std::find_if(waiting_.begin(), waiting_.end(), [&](const DeviceInfo& d) { return d.id == info.id; });
  const bool is_waiting = waiting != waiting_.end();
  // Waiting devices hold their place within max_unknown.
  const int taken = registered + static_cast<int>(waiting_.size()) - (is_waiting ? 1 : 0);
  const char* reason = nullptr;
  if (!policy.accept_unknown) reason = "accept_unknown is false";
  else if (taken >= policy.max_unknown) reason = "max_unknown reached";
  if (reason) {
    if (is_waiting) waiting_.erase(waiting);
    refuse(info.id, reason);
    return Verdict::refuse;
  }
  // At most one new unknown device a second: a flood of random ids cannot fill the registry
  // in a burst.
  const auto now = Clock::now();
  if (is_waiting) {
    *waiting = info;
    if (waiting != waiting_.begin() || !rate_allows(now)) return Verdict::defer;
    waiting_.pop_front();
    last_admitted_ = now;
    arm();
    return Verdict::admit;
  }
  if (waiting_.empty() && rate_allows(now)) {
    last_admitted_ = now;
    return Verdict::admit;
  }
  waiting_.push_back(info);
  log_.debug("device ", mask_id(info.id), " admission deferred (one new device a second)");
  arm();
  return Verdict::defer;
}

void UnknownAdmission::withdraw(std::string_view id) {
  std::erase_if(waiting_, [&](const DeviceInfo& d) { return d.id == id; });
}

void UnknownAdmission::forget_refusal(std::string_view id) {
  if (auto it = refusals_logged_.find(id); it != refusals_logged_.end()) refusals_logged_.erase(it);
}

void UnknownAdmission::stop() {
  waiting_.clear();
  timer_.cancel();
}

bool UnknownAdmission::rate_allows(Clock::time_point now) const {
  return last_admitted_ == Clock::time_point{} || now - last_admitted_ >= kOneNewDevice;
}

void UnknownAdmission::refuse(std::string_view id, const char* reason) {
  refused_.inc();
  if (refusals_logged_.size() < kMaxRefusedLogged && refusals_logged_.emplace(id).second)
    log_.info("device ", mask_id(id), " not registered: ", reason, " (it still gets its keepalive replies)");
  else if (refusals_logged_.size() == kMaxRefusedLogged && refusals_logged_.emplace("").second)
    log_.info("further unregistered devices are not logged; see localcloud_unknown_devices_refused_total");
}

// One timer for the whole queue, due when the next device may be admitted.
void UnknownAdmission::arm() {
  if (armed_ || waiting_.empty()) return;
  armed_ = true;
  timer_.expires_at(last_admitted_ + kOneNewDevice);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    armed_ = false;
    on_turn();
  });
}

void UnknownAdmission::on_turn() {
  const auto now = Clock::now();
  if (!waiting_.empty() && rate_allows(now)) {
    const DeviceInfo info = std::move(waiting_.front());
    waiting_.pop_front();
    last_admitted_ = now;
    admit_deferred_(info);
  }
  arm();
}

}  // namespace lc
