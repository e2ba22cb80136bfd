// Local control of one device over UDP 54321 with its token (docs/protocols/miio.md §3), the
// way python-miio does it: a handshake (hello) teaches the device id and stamp; requests carry
// stamp = device stamp + elapsed seconds and ids 1..9998; a request that times out is retried
// with id + 100 after a fresh handshake; 5 s per try and 3 retries. The requests wait in a
// core/request_queue.h queue: one at a time, in order, at most `max_queued`, each answered once.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include "bridges/miio/codec.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/request_queue.h"

namespace lc::miio {

struct ClientOptions {
  std::chrono::milliseconds timeout{5000};  // per try (python-miio)
  int retries = 3;                          // after the first try (python-miio)
  // A handshake older than this is renewed before the next request (Valetudo/aholstenson: 120 s).
  std::chrono::seconds handshake_max_age{120};
  uint32_t first_id = 0;  // 0: a random start, so that a restart does not repeat recent ids
  // Requests waiting (the one in flight included); more are failed at once, so a device that
  // never answers cannot collect hours of retries in front of later commands.
  size_t max_queued = 8;
};

struct Reply {
  enum class Status { ok, device_error, timeout, failed };
  Status status = Status::failed;
  Json result;          // ok: the "result" member
  int code = 0;         // device_error
  std::string message;  // device_error: the device's message; timeout/failed: what went wrong
  bool ok() const { return status == Status::ok; }
  std::string describe() const;  // for command_failed and log lines
};

class LocalClient {
 public:
  using Done = std::function<void(Reply)>;
  struct Events {
    // Every handshake reply: the device's id and stamp.
    std::function<void(uint32_t did, uint32_t stamp)> handshake;
    // The device answers handshakes but none of the encrypted requests (or answers them with
    // a checksum our token does not produce): the token is probably wrong. Once, until a
    // request succeeds again.
    std::function<void(std::string detail)> token_suspect;
  };

  LocalClient(boost::asio::io_context& io, std::string host, uint16_t port, const Token& token,
              BridgeStats& stats, Events events, ClientOptions options = {});
  ~LocalClient();
  LocalClient(const LocalClient&) = delete;
  LocalClient& operator=(const LocalClient&) = delete;

  // Resolves the host (asynchronously when it is a name) and opens the socket.
  void start();
  // Closes the socket; queued callbacks are dropped without being called.
  void stop();

  // `done` is called exactly once, never from within this call: at once with "failed" when
  // max_queued requests are already waiting.
  void request(std::string method, Json params, Done done);
  // A handshake only (to learn the device id); done gets ok or timeout.
  void handshake(Done done);

  std::optional<uint32_t> did() const { return did_; }
  size_t queued() const { return queue_.size(); }
  uint32_t last_id() const { return id_; }
  std::string peer_text() const;

 private:
  // One queued request and what its tries learned.
  struct Job {
    bool handshake_only = false;
    std::string method;
    Json params;
    bool error_retry = false;       // the next try follows an error answer worth retrying (§3.5)
    bool handshake_failed = false;  // a try waited for a handshake reply in vain
    int handshakes = 0;             // handshake replies during this job
    std::string not_sent;           // why a try could not be sent
  };
  enum class Wait { none, handshake, reply };

  void push(Job job, Done done);
  bool send_try(Job& job, int attempt);
  Reply failed(const Job& job, RequestFailure why, int tries);
  void open(const boost::asio::ip::udp::endpoint& device);
  void receive();
  void on_datagram(size_t size);
  void on_handshake_reply(const Header& header);
  void on_reply(std::span<const uint8_t> packet);
  bool handshake_needed() const;
  void send_hello();
  bool send_request(Job& job);
  void advance_id(uint32_t step);
  void send(std::span<const uint8_t> packet, const char* what);

  std::string host_;
  uint16_t port_;
  Cipher cipher_;
  BridgeStats& stats_;
  Events events_;
  ClientOptions options_;
  Logger log_{"miio"};

  boost::asio::ip::udp::socket socket_;
  boost::asio::ip::udp::resolver resolver_;
  std::array<uint8_t, kMaxReceivePacket + 1> in_{};
  boost::asio::ip::udp::endpoint sender_;
  bool opened_ = false;
  bool resolving_ = false;
  bool resolve_failed_ = false;  // failing what waits: the host name did not resolve
  bool send_when_open_ = false;  // the try in flight waits for the socket
  bool stopped_ = false;

  Wait wait_ = Wait::none;
  bool force_handshake_ = true;
  std::optional<uint32_t> did_;
  uint32_t stamp_ = 0;
  std::chrono::steady_clock::time_point stamp_at_{};
  bool have_stamp_ = false;
  uint32_t id_ = 0;

  bool suspect_reported_ = false;
  bool token_proven_ = false;  // an encrypted reply verified with our token
  std::shared_ptr<char> alive_ = std::make_shared<char>();  // for completions posted by the queue
  RequestQueue<Job, Reply> queue_;
};

}  // namespace lc::miio
