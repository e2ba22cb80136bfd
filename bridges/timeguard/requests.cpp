// DeviceRequests (requests.h). Section numbers are those of docs/protocols/timeguard.md.
#include "bridges/timeguard/requests.h"

#include <limits>

#include <boost/asio/post.hpp>

#include "core/hex.h"

namespace lc::timeguard {

namespace {

// Automatic reads (nine at most, deduplicated), read-backs and commands: a bound that only a
// device that floods us with acks could reach.
constexpr size_t kMaxWaiting = 32;

}  // namespace

Request read_request(uint8_t frame_type, Bytes params, std::string what) {
  Request request;
  request.frame_type = frame_type;
  request.flags = flag::read;
  request.params = std::move(params);
  request.what = std::move(what);
  return request;
}

DeviceRequests::DeviceRequests(boost::asio::io_context& io, const Shared& shared, uint32_t device_id, std::string key)
    : io_(io),
      shared_(shared),
      device_id_(device_id),
      key_(std::move(key)),
      next_seq_(static_cast<uint8_t>(device_id % (kMaxServerSeq + 1))),
      queue_(io,
             {.retry = shared.timing.retry,
              .tries = std::numeric_limits<int>::max(),  // until give_up
              .give_up = shared.timing.give_up,
              .max_waiting = kMaxWaiting},
             {.send = [this](Request& request, int attempt) { return send(request, attempt); },
              .failed = [this](const Request& request, RequestFailure why, int) { return failed(request, why); }}) {}

void DeviceRequests::command(Request request, CommandDone done) {
  request.command = true;
  size_t waiting = 0;
  const Request* in_flight = queue_.current();
  queue_.for_each([&](const Request& queued) { waiting += queued.command && &queued != in_flight; });
  if (waiting >= kMaxWaitingCommands) {
    shared_.failed.inc();
    // Posted like every other outcome: never called inside the caller's call.
    if (done) boost::asio::post(io_, [done = std::move(done)] { done("too many commands waiting for this device"); });
    return;
  }
  queue_.push(std::move(request), std::move(done), true);
}

void DeviceRequests::read(uint8_t frame_type, Bytes params, std::string what, bool after_in_flight) {
  const Request* in_flight = queue_.current();
  bool queued_already = false;
  queue_.for_each([&](const Request& queued) {
    if (after_in_flight && &queued == in_flight) return;
    queued_already = queued_already || (!queued.command && queued.frame_type == frame_type &&
                                        queued.flags == flag::read && queued.params == params);
  });
  if (!queued_already) queue_.push(read_request(frame_type, std::move(params), std::move(what)), {});
}

void DeviceRequests::answered(const FrameView& frame) {
  const Request* request = queue_.current();
  if (!request || !request->seq || frame.seq != *request->seq || frame.type != request->frame_type ||
      (frame.flags & flag::from_server))
    return;
  std::string error;
  if (!(frame.flags & flag::success)) {
    error = "the device answered without the success flag (flags 0x" + hex(std::span<const uint8_t>(&frame.flags, 1)) + ")";
    shared_.failed.inc();
    log_failure(*request, error);
  } else if (request->frame_type == type::active_schedule && request->flags == flag::write) {
    // Read it back: the state shows what the device reports, and in fallback mode the cloud
    // learns the new value from the forwarded reply (TGM on_message_set_active_schedule, §4.3).
    queue_.push(read_request(type::active_schedule, {}, "active schedule read after a change"), {}, true);
  }
  queue_.complete(std::move(error));
}

bool DeviceRequests::send(Request& request, int attempt) {
  if (attempt > 0) {
    // Same seq, same bytes (§4.3).
    shared_.retransmitted.inc();
    shared_.endpoint.send_to_device(device_id_, request.frame);
    return true;
  }
  if (request.raw_frame) {
    request.frame = *request.raw_frame;
  } else {
    if (!request.seq) {
      request.seq = next_seq_;  // 0x00..0xfd, never 0xff (§4.3)
      next_seq_ = static_cast<uint8_t>(next_seq_ >= kMaxServerSeq ? 0 : next_seq_ + 1);
    }
    request.frame = encode_request(request.frame_type, request.flags, *request.seq, device_id_, request.params);
  }
  if (!shared_.endpoint.send_to_device(device_id_, request.frame)) {
    shared_.log.debug(request.what, " for ", shared_.hub.log_name(key_), " not sent: no address");
    return false;
  }
  shared_.sent.inc();
  if (!request.expects_reply) queue_.complete("");  // `request` is gone now
  return true;
}

std::string DeviceRequests::failed(const Request& request, RequestFailure why) {
  shared_.failed.inc();
  switch (why) {
    case RequestFailure::queue_full:
      return request.command ? "too many commands waiting for this device" : "too many requests waiting for this device";
    case RequestFailure::not_sent:
      return "the device's address is not known (not heard since start)";
    case RequestFailure::timeout:
      break;
  }
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(shared_.timing.give_up).count();
  std::string error = "no answer from the device after " + std::to_string(seconds) + " s";
  log_failure(request, error);
  return error;
}

void DeviceRequests::log_failure(const Request& request, const std::string& error) const {
  // A failed command is reported by the Hub (warning, command_failed event); a failed read is
  // ours to tell.
  if (request.command)
    shared_.log.debug(request.what, " for ", shared_.hub.log_name(key_), " failed: ", error);
  else
    shared_.log.info(request.what, " for ", shared_.hub.log_name(key_), " failed: ", error);
}

}  // namespace lc::timeguard
