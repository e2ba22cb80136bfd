// localcloud-sim timeguard --cloud (simulator.h): a stand-in for www.cloudwarm.net for the
// fallback and relay tests. It answers pings (with junk padding, like the real cloud) and
// version reports, remembers the latest address of every device id (docs/protocols/timeguard.md
// §4.3 "Routing"), and sends frames to devices on stdin's commands.
#include <array>
#include <cstdio>
#include <map>

#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>

#include "bridges/timeguard/simulator.h"
#include "core/hex.h"
#include "core/net.h"
#include "core/sim_harness.h"

namespace lc::timeguard::simulator {

namespace {

namespace asio = boost::asio;

class SimCloud {
 public:
  SimCloud(asio::io_context& io, const Options& options) : io_(io), options_(options), socket_(io) {}

  // Binds --listen; false (with the reason on stderr) when it cannot.
  bool open() {
    boost::system::error_code ec;
    socket_.open(options_.listen.protocol(), ec);
    if (!ec) socket_.bind(options_.listen, ec);
    if (ec) {
      std::fprintf(stderr, "timeguard sim --cloud: cannot bind %s: %s\n", to_string(options_.listen).c_str(),
                   ec.message().c_str());
      return false;
    }
    receive();
    emit({{"event", "started"}, {"cloud", to_string(socket_.local_endpoint())}});
    return true;
  }

  // One line of stdin: "send [ID] HEX", "frame ID TYPE FLAGS SEQ [PARAMS_HEX]", "quit".
  void command(std::string_view line) {
    const auto words = split(line);
    if (words.empty()) return;
    const std::string& name = words[0];
    if (name == "quit") return io_.stop();
    if (name == "send" && words.size() >= 2) {
      // send [ID] HEX: to the latest address of the frame's (or the given) device id.
      std::string joined;
      const bool with_id = words.size() >= 3 && words[1].size() == 8 && parse_device_id(words[1]);
      for (size_t i = with_id ? 2 : 1; i < words.size(); ++i) joined += words[i];
      const auto bytes = bytes_from_hex_text(joined);
      std::optional<uint32_t> id = with_id ? parse_device_id(words[1]) : (bytes ? peek_device_id(*bytes) : std::nullopt);
      if (!bytes || !id || !routes_.count(*id)) return emit({{"event", "error"}, {"error", "bad hex or unknown device"}});
      send(*bytes, routes_[*id], "raw");
    } else if (name == "frame" && words.size() >= 5) {
      const auto id = parse_device_id(words[1]);
      const auto frame_type = parse_number(words[2]), flags = parse_number(words[3]), seq = parse_number(words[4]);
      const auto params = bytes_from_hex_text(words.size() > 5 ? words[5] : "");
      if (!id || !frame_type || !flags || !seq || !params || !routes_.count(*id))
        return emit({{"event", "error"}, {"error", "bad frame command or unknown device"}});
      const Bytes frame = encode_frame(FrameHeader{static_cast<uint8_t>(*frame_type), static_cast<uint8_t>(*flags),
                                                   static_cast<uint8_t>(*seq), *id},
                                       *params);
      send(frame, routes_[*id], kind_name(kind_of(frame[8], frame[9])));
    } else {
      emit({{"event", "error"}, {"error", "unknown command: " + std::string(line)}});
    }
  }

 private:
  void send(std::span<const uint8_t> bytes, const udp::endpoint& to, const char* kind) {
    const auto id = peek_device_id(bytes);
    if (!options_.quiet)
      emit({{"event", "sent"}, {"device", id ? Json(device_key(*id)) : Json()}, {"kind", kind}, {"to", to_string(to)},
            {"hex", hex(bytes)}});
    boost::system::error_code ec;
    socket_.send_to(asio::buffer(bytes.data(), bytes.size()), to, 0, ec);
  }

  void receive() {
    socket_.async_receive_from(asio::buffer(buffer_), from_, [this](const boost::system::error_code& ec, size_t size) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) handle(std::span<const uint8_t>(buffer_.data(), size));
      receive();
    });
  }

  void handle(std::span<const uint8_t> datagram) {
    FrameView frame;
    const FrameError error = parse_frame(datagram, frame);
    if (error != FrameError::none) {
      const auto id = peek_device_id(datagram);
      if (!options_.quiet)
        emit({{"event", "invalid"}, {"device", id ? Json(device_key(*id)) : Json()}, {"from", to_string(from_)},
              {"reason", reason(error)}, {"hex", hex(datagram)}});
      return;
    }
    routes_[frame.device_id] = from_;
    if (!options_.quiet) {
      Json event = received_event(frame, from_);
      event["hex"] = hex(datagram);
      emit(event);
    }
    if (!options_.cloud_answers) return;
    const Kind kind = kind_of(frame.type, frame.flags);
    if (kind == Kind::ping) {
      // The real cloud's padding is junk ("_co" in the capture, readme_02).
      FrameHeader header{type::ping, flag::ping_reply, frame.seq, frame.device_id, kServerMessageId, {0x5f, 0x63, 0x6f}};
      send(encode_frame(header, encode_u32(static_cast<uint32_t>(unix_now()))), from_, "ping_reply");
    } else if (kind == Kind::code_version_report) {
      FrameHeader header{type::code_version, flag::version_ack, frame.seq, frame.device_id};
      send(encode_frame(header, frame.params), from_, "code_version_ack");
    }
  }

  asio::io_context& io_;
  const Options& options_;
  udp::socket socket_;
  std::map<uint32_t, udp::endpoint> routes_;  // the latest address per device id
  std::array<uint8_t, 65536> buffer_{};
  udp::endpoint from_;
};

}  // namespace

int run_cloud(const Options& options) {
  asio::io_context io;
  SimCloud cloud(io, options);
  if (!cloud.open()) return 2;
  lc::sim::CommandReader commands(io, [&](std::string_view line) { cloud.command(line); });
  lc::sim::run(io);
  return 0;
}

}  // namespace lc::timeguard::simulator
