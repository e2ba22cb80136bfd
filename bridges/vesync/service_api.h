// The optional service API (vesync.service_listen): the HTTP paths users of vesync-wsproxy's
// port 16522 know (protocols/vesync.md §6), with its happy path and without its bugs:
//
//   /api/relay?name=NAME|id=ID&on=1|0  -> 200 "OK. relay=open" / "OK. relay=break", once the
//                                         device acknowledged
//   /api/power?name=NAME|id=ID         -> 200 {"relay":"open","watts":1.2,"volts":120.1}
//   (/relay and /power, the older paths without /api, are the same)
//
// Missing or bad parameters: 400; unknown device or path: 404; device not connected: 503;
// no answer within 5 s: 504; never 500. With vesync.service_token set, callers present it
// as "Authorization: Bearer TOKEN" or "?token=TOKEN" (else 401). One request per connection.
#pragma once

#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "core/net.h"

namespace lc::vesync {

class VesyncBridge;

class ServiceApi {
 public:
  ServiceApi(boost::asio::io_context& io, Endpoint listen, std::string token, VesyncBridge& bridge);
  ~ServiceApi();
  ServiceApi(const ServiceApi&) = delete;
  ServiceApi& operator=(const ServiceApi&) = delete;

  void start();  // throws std::runtime_error when the address cannot be bound
  void stop();
  Endpoint local_endpoint() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace lc::vesync
