// The requests the bridge makes of one device (docs/protocols/timeguard.md §4.3), on
// core/request_queue.h: one in flight, resent every `retry` with the same seq and the same
// bytes until the device answers, given up `give_up` after the first try; commands go before
// the automatic reads, and at most kMaxWaitingCommands of them wait.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>

#include "bridges/bridge.h"
#include "bridges/timeguard/codec.h"
#include "bridges/timeguard/endpoint.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/request_queue.h"

namespace lc::timeguard {

struct RequestTiming {
  std::chrono::milliseconds retry{2000};     // resend with the same seq (TGM: 2 s)
  std::chrono::milliseconds give_up{15000};  // then the request fails (TGM: ~15 s)
  std::chrono::milliseconds refresh{60000};  // missing first-sight reads are asked again
};

struct Request {
  uint8_t frame_type = 0;
  uint8_t flags = 0;
  Bytes params;
  std::optional<Bytes> raw_frame;  // <key>/set/raw: sent as given
  std::optional<uint8_t> seq;      // assigned when first sent (raw frames bring their own)
  bool expects_reply = true;       // false: done once sent
  bool command = false;            // from the Hub (urgent; its done reports the outcome)
  std::string what;                // for log lines
  Bytes frame;                     // as sent; resent unchanged
};

// A read of `frame_type` (flags 0x0c) with `params`.
Request read_request(uint8_t frame_type, Bytes params, std::string what);

class DeviceRequests {
 public:
  static constexpr size_t kMaxWaitingCommands = 8;  // besides the one in flight

  // What the requests of every device share; owned by the bridge.
  struct Shared {
    CloudEndpoint& endpoint;
    const Hub& hub;  // for log_name()
    const Logger& log;
    RequestTiming timing;
    Counter& sent;           // first tries
    Counter& retransmitted;  // further tries
    Counter& failed;         // given up, refused, or answered without the success flag
  };

  DeviceRequests(boost::asio::io_context& io, const Shared& shared, uint32_t device_id, std::string key);

  // A command: queued behind earlier commands, before the automatic reads.
  void command(Request request, CommandDone done);
  // An automatic read, unless the same read is already queued (the one in flight counts
  // unless `after_in_flight`: then only a waiting one does).
  void read(uint8_t frame_type, Bytes params, std::string what, bool after_in_flight = false);
  // A frame from the device: if it answers the request in flight (same type and seq, §7
  // gotcha 3), that request is complete: done, or failed without the success flag (Q11).
  void answered(const FrameView& frame);

  bool idle() const { return queue_.empty(); }
  // Drops every request; their done callbacks are not called.
  void clear() { queue_.clear(); }

 private:
  bool send(Request& request, int attempt);
  std::string failed(const Request& request, RequestFailure why);
  void log_failure(const Request& request, const std::string& error) const;

  boost::asio::io_context& io_;
  const Shared& shared_;
  uint32_t device_id_;
  std::string key_;
  uint8_t next_seq_;
  RequestQueue<Request, std::string> queue_;
};

}  // namespace lc::timeguard
