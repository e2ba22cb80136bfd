#include "bridges/vesync/service_api.h"

#include <stdexcept>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <nlohmann/json.hpp>

#include "bridges/vesync/bridge.h"
#include "bridges/vesync/http.h"
#include "core/log.h"

namespace lc::vesync {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using namespace std::chrono_literals;

namespace {

constexpr size_t kMaxConnections = 64;
constexpr auto kRequestTimeout = 10s;  // to read the request head
constexpr auto kDeviceTimeout = 5s;    // for /api/power's answer

// Compares without stopping at the first difference (the token is a secret).
bool same_secret(std::string_view given, std::string_view secret) {
  if (secret.empty() || given.size() != secret.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < given.size(); ++i) diff |= static_cast<unsigned char>(given[i] ^ secret[i]);
  return diff == 0;
}

}  // namespace

struct ServiceApi::State {
  State(asio::io_context& io, Endpoint listen, std::string token, VesyncBridge& bridge)
      : io(io), listen(std::move(listen)), token(std::move(token)), bridge(bridge), acceptor(io), retry(io) {}

  asio::io_context& io;
  Endpoint listen;
  std::string token;
  VesyncBridge& bridge;
  tcp::acceptor acceptor;
  asio::steady_timer retry;
  size_t connections = 0;
  bool stopped = false;
  Logger log{"vesync"};
};

namespace {

class ServiceConn : public std::enable_shared_from_this<ServiceConn> {
 public:
  ServiceConn(std::shared_ptr<ServiceApi::State> state, tcp::socket socket)
      : state_(std::move(state)), socket_(std::move(socket)), timer_(state_->io) {
    ++state_->connections;
    error_code ec;
    auto endpoint = socket_.remote_endpoint(ec);
    peer_ = ec ? "?" : endpoint.address().to_string();
  }
  ~ServiceConn() { --state_->connections; }

  void start() {
    timer_.expires_after(kRequestTimeout);
    timer_.async_wait([weak = weak_from_this()](error_code ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->timed_out();
    });
    read_more();
  }

 private:
  void read_more() {
    const size_t used = buffer_.size();
    const size_t room = std::min<size_t>(1024, http::kMaxHeadBytes + 1 - used);
    buffer_.resize(used + room);
    socket_.async_read_some(asio::buffer(buffer_.data() + used, room),
                            [self = shared_from_this(), used](error_code ec, size_t n) { self->on_read(ec, used, n); });
  }

  void on_read(error_code ec, size_t used, size_t n) {
    if (answered_) return;
    if (state_->stopped) return close();
    buffer_.resize(used + n);
    if (ec) return close();
    const size_t size = http::head_size(buffer_);
    if (size == 0) {
      if (buffer_.size() > http::kMaxHeadBytes) return reply(431, "request head too large\n");
      return read_more();
    }
    auto request = http::parse_request(std::string_view(buffer_).substr(0, size));
    buffer_.clear();
    buffer_.shrink_to_fit();
    if (!request) return reply(400, "malformed request\n");
    handle(*request);
  }

  void handle(const http::Request& request) {
    path_ = std::string(request.path().substr(0, 100));
    if (!state_->token.empty() && !authorised(request))
      return reply(401, "missing or wrong service token (Authorization: Bearer TOKEN or ?token=TOKEN)\n");
    const std::string_view path = request.path();
    const bool relay = path == "/api/relay" || path == "/relay";
    const bool power = path == "/api/power" || path == "/power";
    if (!relay && !power) return reply(404, "unknown path; try /api/relay?name=NAME&on=1 or /api/power?name=NAME\n");

    auto name = http::query_param(request.query(), "name");
    auto id = http::query_param(request.query(), "id");
    if ((!name || name->empty()) && (!id || id->empty()))
      return reply(400, "missing parameter: name (a configured device name) or id (a device id)\n");
    Device* device = state_->bridge.find_device(name && !name->empty() ? *name : *id);
    if (!device) return reply(404, name && !name->empty() ? "unknown device name\n" : "unknown device id\n");

    if (relay) {
      auto on = http::query_param(request.query(), "on");
      if (!on) return reply(400, "missing parameter: on (1 = on, 0 = off)\n");
      Relay target;
      if (*on == "1" || *on == "true" || *on == "on") target = Relay::open;
      else if (*on == "0" || *on == "false" || *on == "off") target = Relay::break_;
      else return reply(400, "bad parameter: on takes 1 or 0\n");
      if (!device->session) return reply(503, "device not connected\n");
      // The callback keeps the connection alive until the device answered (the bridge calls
      // it exactly once, or drops it when stopping).
      state_->bridge.switch_relay(*device, target, [self = shared_from_this(), target](std::string error) {
        if (error.empty()) return self->reply(200, "OK. relay=" + std::string(relay_text(target)));
        self->reply(error.find("acknowledgement") != std::string::npos ? 504 : 503, error + "\n");
      });
      waiting_ = true;
      return;
    }
    if (!device->session) return reply(503, "device not connected\n");
    state_->bridge.request_power(*device, kDeviceTimeout, [self = shared_from_this()](std::optional<PowerReading> reading) {
      if (!reading) return self->reply(504, "no answer from the device\n");
      nlohmann::json body = {{"relay", reading->relay ? nlohmann::json(relay_text(*reading->relay)) : nlohmann::json()},
                             {"watts", reading->watts ? nlohmann::json(*reading->watts) : nlohmann::json()},
                             {"volts", reading->volts ? nlohmann::json(*reading->volts) : nlohmann::json()}};
      self->reply(200, body.dump(), "application/json");
    });
    waiting_ = true;
  }

  bool authorised(const http::Request& request) const {
    if (const auto* header = request.header("Authorization")) {
      std::string_view value = *header;
      if (value.size() > 7 && http::iequals(value.substr(0, 7), "Bearer ") &&
          same_secret(value.substr(7), state_->token))
        return true;
    }
    auto token = http::query_param(request.query(), "token");
    return token && same_secret(*token, state_->token);
  }

  void timed_out() {
    if (answered_) return close();
    if (!waiting_) return close();  // the request never came
  }

  void reply(int status, std::string body, std::string_view type = "text/plain") {
    if (answered_ || state_->stopped) return close();
    answered_ = true;
    state_->log.debug("service API: ", path_.empty() ? "?" : path_, " from ", peer_, " -> ", status);
    buffer_ = http::response(status, type, body);
    timer_.expires_after(kRequestTimeout);
    timer_.async_wait([weak = weak_from_this()](error_code ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->close();
    });
    asio::async_write(socket_, asio::buffer(buffer_), [self = shared_from_this()](error_code, size_t) {
      error_code ignored;
      self->socket_.shutdown(tcp::socket::shutdown_both, ignored);
      self->close();
    });
  }

  void close() {
    timer_.cancel();
    error_code ignored;
    socket_.close(ignored);
  }

  std::shared_ptr<ServiceApi::State> state_;
  tcp::socket socket_;
  asio::steady_timer timer_;
  std::string peer_;
  std::string path_;
  std::string buffer_;
  bool waiting_ = false;
  bool answered_ = false;
};

void accept_next(const std::shared_ptr<ServiceApi::State>& state) {
  state->acceptor.async_accept([state](error_code ec, tcp::socket socket) {
    if (state->stopped) return;
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      state->retry.expires_after(100ms);
      state->retry.async_wait([state](error_code wait_ec) {
        if (!wait_ec && !state->stopped) accept_next(state);
      });
      return;
    }
    if (state->connections >= kMaxConnections) {
      error_code ignored;
      socket.close(ignored);
    } else {
      std::make_shared<ServiceConn>(state, std::move(socket))->start();
    }
    accept_next(state);
  });
}

}  // namespace

ServiceApi::ServiceApi(asio::io_context& io, Endpoint listen, std::string token, VesyncBridge& bridge)
    : state_(std::make_shared<State>(io, std::move(listen), std::move(token), bridge)) {}

ServiceApi::~ServiceApi() { stop(); }

void ServiceApi::start() {
  error_code ec;
  auto address = asio::ip::make_address(state_->listen.host, ec);
  if (ec) throw std::runtime_error("cannot listen on " + state_->listen.text() + ": not an IP address");
  tcp::endpoint endpoint(address, state_->listen.port);
  auto& acceptor = state_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    error_code ignored;
    acceptor.close(ignored);
    throw std::runtime_error("cannot listen on " + state_->listen.text() + ": " + ec.message());
  }
  accept_next(state_);
}

void ServiceApi::stop() {
  if (state_->stopped) return;
  state_->stopped = true;
  error_code ignored;
  state_->acceptor.close(ignored);
  state_->retry.cancel();
}

Endpoint ServiceApi::local_endpoint() const {
  error_code ec;
  auto endpoint = state_->acceptor.local_endpoint(ec);
  if (ec) return {};
  return Endpoint{endpoint.address().to_string(), endpoint.port()};
}

}  // namespace lc::vesync
