// The optional service API (vesync.service_listen): the HTTP paths users of vesync-wsproxy's
// port 16522 know (docs/protocols/vesync.md §6), with its happy path and without its bugs:
//
//   /api/relay?name=NAME|id=ID&on=1|0  -> 200 "OK. relay=open" / "OK. relay=break", once the
//                                         outlet acknowledged
//   /api/power?name=NAME|id=ID         -> 200 {"relay":"open","volts":120.1,"watts":1.2}
//   (/relay and /power, the older paths without /api, are the same)
//
// Missing or bad parameters: 400; unknown outlet or path: 404; outlet not connected: 503; no
// answer within 5 s: 504; never 500. With vesync.service_token set, callers present it as
// "Authorization: Bearer TOKEN" or "?token=TOKEN" (else 401). One request per connection.
//
// It runs on the core HTTP server (metrics localcloud_http_*{server="vesync_service"}) and
// reaches the outlets only through OutletControl, which the bridge implements.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>

#include "bridges/vesync/codec.h"
#include "core/http_server.h"
#include "core/log.h"
#include "core/net.h"

namespace lc {
class Metrics;
}

namespace lc::vesync {

// What /api/power answers: the relay and the decoded first halves, spikes left out.
struct PowerReading {
  std::optional<Relay> relay;
  std::optional<double> watts, volts;
};

// The outlets as the service API sees them.
class OutletControl {
 public:
  virtual ~OutletControl() = default;
  // The id of the outlet with that configured name, else with that id (any case); nullopt
  // when there is none.
  virtual std::optional<std::string> find_outlet(std::string_view name_or_id) = 0;
  virtual bool connected(std::string_view id) = 0;
  // Switches the relay; `done` runs once: empty when the outlet acknowledged, else why not.
  virtual void switch_relay(std::string_view id, Relay relay, std::function<void(std::string error)> done) = 0;
  // Asks for /runtimeInfo; `answer` gets the next one, or nullopt after `timeout` or when the
  // outlet is not connected.
  virtual void request_power(std::string_view id, std::chrono::milliseconds timeout,
                             std::function<void(std::optional<PowerReading>)> answer) = 0;
};

class ServiceApi {
 public:
  ServiceApi(boost::asio::io_context& io, Metrics& metrics, std::string token, OutletControl& outlets);
  ~ServiceApi();
  ServiceApi(const ServiceApi&) = delete;
  ServiceApi& operator=(const ServiceApi&) = delete;

  void start(const Endpoint& listen);  // throws std::runtime_error when it cannot be bound
  void stop();
  Endpoint local_endpoint() const;

  // Answers one request (the server's handler; the fuzz target calls it through
  // answer_raw_request).
  void answer(const HttpRequest& request, HttpReply reply);

 private:
  bool authorised(const HttpRequest& request) const;

  boost::asio::io_context& io_;
  Metrics& metrics_;
  std::string token_;
  OutletControl& outlets_;
  Logger log_{"vesync"};
  std::unique_ptr<HttpServer> server_;
};

}  // namespace lc::vesync
