// What a device's frames tell, reported to the Hub: the state a ping carries, the acks of
// writes, the code version (model and firmware), the schedules, the active schedule and the
// holiday settings (docs/protocols/timeguard.md §2, §3). Only what changed is reported.
#pragma once

#include "bridges/bridge.h"
#include "bridges/timeguard/codec.h"
#include "bridges/timeguard/device_state.h"
#include "bridges/timeguard/timezone.h"

namespace lc::timeguard {

// Everything a valid frame of `kind` from the device says about it.
void report_frame(Hub& hub, DeviceState& device, const FrameView& frame, Kind kind, const TimeZone& zone);

// The ping's state. Nothing reaches the Hub (and nothing is allocated) for a ping that
// changed nothing.
void report_ping(Hub& hub, DeviceState& device, const PingStatus& ping, const TimeZone& zone);

}  // namespace lc::timeguard
