// One TCP listener for every server of the daemon: bind, accept, a pause after accept errors
// (EMFILE and the like) instead of spinning, and connection caps.
//
// Every accepted connection holds descriptors. The listeners that may hold thousands (device
// connections) draw from one DescriptorBudget: the open-files limit less kReservedDescriptors
// (core/net.h), so that an idle listener leaves its share to a busy one. Each of them keeps a
// floor (a quarter of the budget, at most its own cap) that the others cannot take, so a
// flood on one port never locks devices out of another. Small listeners (the API) have only
// their own cap and are counted in the reserve.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/log.h"
#include "core/net.h"

namespace lc {

class DescriptorBudget {
 public:
  struct Member {
    size_t floor = 0;  // descriptors kept for this member
    size_t used = 0;
  };

  explicit DescriptorBudget(size_t total) : total_(total) {}
  // The process's: the open-files limit at first use less kReservedDescriptors (at least 16).
  static DescriptorBudget& process();

  // A member's floor is a quarter of the budget, or `wanted` when that is less.
  void join(Member& member, size_t wanted);
  void leave(Member& member);
  // Takes `n` descriptors for `member`: within its floor always, beyond it only when what is
  // left covers the other members' unused floors.
  bool take(Member& member, size_t n);
  void give_back(Member& member, size_t n);

  size_t total() const { return total_; }
  size_t used() const { return used_; }

 private:
  size_t total_;
  size_t used_ = 0;
  size_t unused_floors_ = 0;  // sum over members of max(0, floor - used)
};

// Held by an accepted connection; gives its descriptors back when destroyed.
class ConnectionSlot {
 public:
  ConnectionSlot() = default;
  ConnectionSlot(ConnectionSlot&& other) noexcept : state_(std::move(other.state_)) {}
  ConnectionSlot& operator=(ConnectionSlot&& other) noexcept;
  ~ConnectionSlot() { release(); }
  void release();

 private:
  friend class TcpListener;
  struct State;
  explicit ConnectionSlot(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

struct TcpListenerOptions {
  std::string name = "listener";  // in log lines: "<name>: connection cap of N reached ..."
  size_t max_connections = 1024;
  size_t descriptors_per_connection = 1;  // 2 for a connection that opens one of its own
  DescriptorBudget* budget = nullptr;     // nullptr: only max_connections applies
};

class TcpListener {
 public:
  using tcp = boost::asio::ip::tcp;
  struct Handlers {
    std::function<void(tcp::socket socket, ConnectionSlot slot)> accepted;
    // Over the cap: the connection was closed at once. Optional.
    std::function<void(const tcp::endpoint& peer)> refused;
    // accept() failed (out of descriptors, ...); accepting resumes after a pause. Optional.
    std::function<void(const boost::system::error_code& error)> accept_failed;
  };

  TcpListener(boost::asio::io_context& io, Logger log, TcpListenerOptions options);
  ~TcpListener();
  TcpListener(const TcpListener&) = delete;
  TcpListener& operator=(const TcpListener&) = delete;

  // Binds and listens; on failure returns the error and stays closed (callers that retry).
  boost::system::error_code open(const tcp::endpoint& at);
  // The same from a config address; throws std::runtime_error
  // "<name>: cannot listen on HOST:PORT/tcp: <why>".
  void open(const Endpoint& listen);
  void start(Handlers handlers);
  // Stops accepting. Connections already accepted keep their slots until they close.
  void close();

  bool is_open() const;
  tcp::endpoint local_endpoint() const;
  size_t connections() const;

 private:
  friend class ConnectionSlot;
  struct Shared;
  void accept();

  std::shared_ptr<Shared> shared_;
  tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_timer_;
  Logger log_;
  Handlers handlers_;
  CapWarning cap_warning_;
};

}  // namespace lc
