#include "core/tcp_listener.h"

#include <algorithm>
#include <stdexcept>

namespace lc {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kAcceptRetry = std::chrono::milliseconds(100);
constexpr size_t kMinimumBudget = 16;

size_t unused_floor(size_t floor, size_t used) { return used < floor ? floor - used : 0; }

}  // namespace

DescriptorBudget& DescriptorBudget::process() {
  static DescriptorBudget budget([] {
    const size_t limit = open_files_limit();
    if (limit == SIZE_MAX) return SIZE_MAX / 2;
    return std::max(limit > kReservedDescriptors ? limit - kReservedDescriptors : 0, kMinimumBudget);
  }());
  return budget;
}

void DescriptorBudget::join(Member& member, size_t wanted) {
  member.floor = std::min(wanted, total_ / 4);
  unused_floors_ += unused_floor(member.floor, member.used);
}

void DescriptorBudget::leave(Member& member) {
  unused_floors_ -= unused_floor(member.floor, member.used);
  member.floor = 0;
}

bool DescriptorBudget::take(Member& member, size_t n) {
  const size_t own_unused = unused_floor(member.floor, member.used);
  const size_t others_unused = unused_floors_ - own_unused;
  const bool within_own_floor = member.used + n <= member.floor;
  const bool leaves_other_floors = used_ + n + others_unused <= total_;
  if (used_ + n > total_ || !(within_own_floor || leaves_other_floors)) return false;
  used_ += n;
  member.used += n;
  unused_floors_ -= own_unused - unused_floor(member.floor, member.used);
  return true;
}

void DescriptorBudget::give_back(Member& member, size_t n) {
  const size_t own_unused = unused_floor(member.floor, member.used);
  member.used -= n;
  used_ -= n;
  unused_floors_ += unused_floor(member.floor, member.used) - own_unused;
}

// What the listener and its connections' slots share: a slot may outlive the listener.
struct TcpListener::Shared {
  explicit Shared(TcpListenerOptions options) : options(std::move(options)) {
    if (this->options.budget)
      this->options.budget->join(member, this->options.max_connections * this->options.descriptors_per_connection);
  }
  ~Shared() {
    if (options.budget) options.budget->leave(member);
  }

  bool take() {
    if (connections >= options.max_connections) return false;
    if (options.budget && !options.budget->take(member, options.descriptors_per_connection)) return false;
    ++connections;
    return true;
  }
  void give_back() {
    --connections;
    if (options.budget) options.budget->give_back(member, options.descriptors_per_connection);
  }

  TcpListenerOptions options;
  DescriptorBudget::Member member;
  size_t connections = 0;
};

struct ConnectionSlot::State {
  explicit State(std::shared_ptr<TcpListener::Shared> shared) : shared(std::move(shared)) {}
  ~State() { shared->give_back(); }
  std::shared_ptr<TcpListener::Shared> shared;
};

ConnectionSlot& ConnectionSlot::operator=(ConnectionSlot&& other) noexcept {
  if (this != &other) {
    release();
    state_ = std::move(other.state_);
  }
  return *this;
}

void ConnectionSlot::release() { state_.reset(); }

TcpListener::TcpListener(asio::io_context& io, Logger log, TcpListenerOptions options)
    : shared_(std::make_shared<Shared>(std::move(options))), acceptor_(io), retry_timer_(io), log_(std::move(log)) {}

TcpListener::~TcpListener() { close(); }

boost::system::error_code TcpListener::open(const tcp::endpoint& at) {
  boost::system::error_code ec;
  acceptor_.open(at.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(at, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
  }
  return ec;
}

void TcpListener::open(const Endpoint& listen) {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(listen.host, ec);
  if (ec) throw std::runtime_error(shared_->options.name + ": cannot listen on " + listen.text() + ": not an IP address");
  ec = open(tcp::endpoint(address, listen.port));
  if (ec) throw std::runtime_error(shared_->options.name + ": cannot listen on " + listen.text() + "/tcp: " + ec.message());
}

void TcpListener::start(Handlers handlers) {
  handlers_ = std::move(handlers);
  accept();
}

void TcpListener::close() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  retry_timer_.cancel();
}

bool TcpListener::is_open() const { return acceptor_.is_open(); }

tcp::endpoint TcpListener::local_endpoint() const {
  boost::system::error_code ec;
  auto endpoint = acceptor_.local_endpoint(ec);
  return ec ? tcp::endpoint() : endpoint;
}

size_t TcpListener::connections() const { return shared_->connections; }

void TcpListener::accept() {
  acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      if (handlers_.accept_failed) handlers_.accept_failed(ec);
      retry_timer_.expires_after(kAcceptRetry);
      retry_timer_.async_wait([this](const boost::system::error_code& wait_ec) {
        if (!wait_ec && acceptor_.is_open()) accept();
      });
      return;
    }
    if (shared_->take()) {
      handlers_.accepted(std::move(socket), ConnectionSlot(std::make_shared<ConnectionSlot::State>(shared_)));
    } else {
      boost::system::error_code peer_ec;
      const auto peer = socket.remote_endpoint(peer_ec);
      socket.close(peer_ec);
      const auto& options = shared_->options;
      const size_t cap = options.budget ? std::min(options.max_connections, shared_->connections) : options.max_connections;
      cap_warning_.refused(log_, options.name, cap);
      if (handlers_.refused) handlers_.refused(peer);
    }
    accept();
  });
}

}  // namespace lc
