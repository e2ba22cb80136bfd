// The optional upstream proxy (vesync.upstream): per device connection one websocket to the
// real cloud, so the vendor app keeps working, with per-URI whitelists both ways
// (docs/protocols/vesync.md §7, §10 items 11-14). Unlike vesync-wsproxy the device is always
// served locally (login reply, /kr): the upstream only ever sees copies, and its failures
// never touch the device's session.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "bridges/vesync/codec.h"
#include "bridges/vesync/ws_client.h"
#include "core/log.h"

namespace lc::vesync {

// Device -> cloud: what vesync-wsproxy forwards (§7), plus /ka with rssi ("login" is the
// login). Everything else is blocked.
bool forwarded_to_cloud(std::string_view uri);

enum class CloudVerdict {
  deliver,         // passed to the device
  served_locally,  // /loginReply, /kr: the bridge already answered the device itself
  block,           // /upgrade, the destructive URIs (unless allow_upgrade), anything unknown
};
CloudVerdict cloud_verdict(std::string_view uri, bool allow_upgrade);

struct UpstreamSettings {
  std::string host;
  uint16_t port = 0;
  bool allow_upgrade = false;
  // Non-empty: this address is one of our own listeners (the DNS override loops back).
  std::function<std::string(const boost::asio::ip::tcp::endpoint&)> refuse;
  std::chrono::milliseconds min_backoff{1000}, max_backoff{60000};
};

class UpstreamLink final : public WsEvents, public std::enable_shared_from_this<UpstreamLink> {
 public:
  // The device session behind this link.
  class Owner {
   public:
    virtual ~Owner() = default;
    // A cloud message that passed the whitelist, as JSON text: send it to the device.
    virtual void upstream_deliver(const std::string& json) = 0;
    // A message blocked in either direction (the owner logs it once per URI).
    virtual void upstream_blocked(bool from_cloud, const std::string& uri) = 0;
    virtual void upstream_log(Level level, const std::string& text) = 0;
    // log.trace: a frame to (to_cloud) or from the upstream, with its classification.
    virtual void upstream_trace(bool to_cloud, std::string_view json, std::string_view what) = 0;
    virtual void upstream_bad_frame(std::string_view reason, std::string_view detail) = 0;
  };

  // `login_json` is sent first on every connection; `encrypted`: frames go binary/AES as
  // the device's do; `header_lines`: the request head lines after the request line.
  UpstreamLink(boost::asio::io_context& io, UpstreamSettings settings, Owner& owner, std::string login_json,
               bool encrypted, std::string path, std::vector<std::string> header_lines);
  ~UpstreamLink() override;

  void start();
  void stop();
  // A device message (JSON text) with its uri; forwarded when whitelisted.
  void from_device(std::string_view json, std::string_view uri);
  // Tell the cloud about a relay change the bridge made (§4.5, §10 item 12).
  void send_state(Relay relay);
  bool connected() const { return link_ && link_->open(); }

  // WsEvents
  void ws_open(WsLink& link) override;
  void ws_frame(WsLink& link, std::string_view payload, bool binary) override;
  void ws_closed(WsLink& link, CloseCause cause, std::string_view detail) override;

 private:
  void connect();
  void send(std::string_view json, std::string_view uri);
  void schedule_reconnect();

  boost::asio::io_context& io_;
  UpstreamSettings settings_;
  Owner& owner_;
  std::string login_json_;
  bool encrypted_;
  std::string path_;
  std::vector<std::string> header_lines_;
  std::shared_ptr<WsLink> link_;
  boost::asio::steady_timer retry_;
  std::chrono::milliseconds backoff_;
  std::vector<std::pair<std::string, std::string>> waiting_;  // (json, uri) while connecting (bounded)
  bool stopped_ = false;
  bool was_open_ = false;
  bool warned_ = false;
};

}  // namespace lc::vesync
