// A minimal miIO device for the client and bridge tests, independent of the simulator:
// answers the handshake, decrypts requests with its token and answers through `respond`.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include "bridges/miio/codec.h"

namespace lc::miio::test {

class FakeDevice {
 public:
  struct Request {
    uint64_t id = 0;
    std::string method;
    Json params;
    uint32_t stamp = 0;
    uint32_t did = 0;
  };
  // The answer's JSON text for a request (without the id, which is added), or nullopt for
  // silence. Default: get_prop -> values from `props`, anything else -> ["ok"].
  std::function<std::optional<std::string>(const Request&)> respond;
  std::map<std::string, Json> props;

  bool answer_handshake = true;
  bool noise_first = false;  // before each answer: one for another id, one with a bad checksum
  bool silent = false;
  uint32_t did;
  uint32_t stamp = 5000;
  int handshakes = 0;
  int bad_checksums = 0;
  std::vector<Request> requests;

  FakeDevice(boost::asio::io_context& io, const Token& token, uint32_t did_value = 0x01020304)
      : did(did_value), cipher_(token), socket_(io) {
    socket_.open(boost::asio::ip::udp::v4());
    socket_.bind(boost::asio::ip::udp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
    receive();
  }

  uint16_t port() const { return socket_.local_endpoint().port(); }

  std::vector<std::string> methods() const {
    std::vector<std::string> out;
    for (const auto& r : requests) out.push_back(r.method);
    return out;
  }
  int count(const std::string& method) const {
    int n = 0;
    for (const auto& r : requests) n += r.method == method;
    return n;
  }

 private:
  void receive() {
    socket_.async_receive_from(boost::asio::buffer(in_), peer_, [this](const boost::system::error_code& ec, size_t n) {
      if (ec == boost::asio::error::operation_aborted) return;
      if (!ec && !silent) handle(std::span<const uint8_t>(in_.data(), n));
      receive();
    });
  }

  void handle(std::span<const uint8_t> packet) {
    Header header;
    if (parse_header(packet, header) != Error::none) return;
    if (is_hello(packet)) {
      ++handshakes;
      if (!answer_handshake) return;
      const auto reply = hello_reply_packet(did, stamp);
      socket_.send_to(boost::asio::buffer(reply), peer_);
      return;
    }
    Message message;
    const Error error = decode_message(packet, cipher_, message);
    if (error == Error::bad_checksum) ++bad_checksums;
    if (error != Error::none) return;
    const auto json = parse_json(message.plaintext);
    if (!json) return;
    Request request{(*json)["id"].get<uint64_t>(), (*json)["method"].get<std::string>(), (*json)["params"],
                    message.header.stamp, message.header.did};
    requests.push_back(request);
    std::optional<std::string> body;
    if (respond) {
      body = respond(request);
    } else if (request.method == "get_prop") {
      std::string list = "[";
      for (size_t i = 0; i < request.params.size(); ++i) {
        if (i) list += ",";
        const auto it = props.find(request.params[i].get<std::string>());
        if (it != props.end()) list += it->second.dump();
      }
      body = "\"result\":" + list + "]";
    } else {
      body = "\"result\":[\"ok\"]";
    }
    if (!body) return;
    Header reply_header;
    reply_header.did = did;
    reply_header.stamp = ++stamp;
    if (noise_first) {
      const std::string stale = "{\"result\":[\"stale\"],\"id\":" + std::to_string(request.id + 5000) + "}";
      auto noise = *encode_message(cipher_, reply_header, stale, kMaxReceivePacket);
      socket_.send_to(boost::asio::buffer(noise), peer_);
      noise[20] ^= 1;
      socket_.send_to(boost::asio::buffer(noise), peer_);
    }
    const std::string text = "{" + *body + ",\"id\":" + std::to_string(request.id) + "}";
    const auto reply = encode_message(cipher_, reply_header, text, kMaxReceivePacket);
    socket_.send_to(boost::asio::buffer(*reply), peer_);
  }

  Cipher cipher_;
  boost::asio::ip::udp::socket socket_;
  boost::asio::ip::udp::endpoint peer_;
  std::array<uint8_t, 8192> in_{};
};

}  // namespace lc::miio::test
