#include <doctest/doctest.h>

#include <boost/asio/connect.hpp>
#include <memory>
#include <vector>

#include "core/tcp_listener.h"

using namespace lc;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

struct Listener {
  Listener(asio::io_context& io, DescriptorBudget& budget, size_t max, size_t per_connection = 1)
      : listener(io, Logger("test"), {.name = "test", .max_connections = max,
                                      .descriptors_per_connection = per_connection, .budget = &budget}) {
    REQUIRE_FALSE(listener.open(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)));
    listener.start({.accepted = [this](tcp::socket socket, ConnectionSlot slot) {
                      held.push_back(std::make_unique<Held>(Held{std::move(socket), std::move(slot)}));
                    },
                    .refused = [this](const tcp::endpoint&) { ++refused; }});
  }
  struct Held {
    tcp::socket socket;
    ConnectionSlot slot;
  };
  TcpListener listener;
  std::vector<std::unique_ptr<Held>> held;
  size_t refused = 0;
};

// Opens `count` client connections to `target` and lets the listener take them.
void connect(asio::io_context& io, Listener& target, size_t count, std::vector<tcp::socket>& clients) {
  for (size_t i = 0; i < count; ++i) {
    clients.emplace_back(io);
    clients.back().connect(target.listener.local_endpoint());
  }
  const size_t expected = target.held.size() + target.refused + count;
  for (int i = 0; i < 200 && target.held.size() + target.refused < expected; ++i) io.run_for(std::chrono::milliseconds(5));
}

}  // namespace

TEST_CASE("the descriptor budget: an idle listener lends its share, floors are kept") {
  asio::io_context io;
  DescriptorBudget budget(64);  // e.g. ulimit -n 256 less the reserve
  Listener miio(io, budget, 20000), vesync(io, budget, 20000);
  std::vector<tcp::socket> clients;
  // Alone, a listener may take everything but the other's floor (a quarter of the budget).
  connect(io, vesync, 60, clients);
  CHECK(vesync.held.size() == 48);
  CHECK(vesync.refused == 12);
  // The other still gets its floor.
  connect(io, miio, 20, clients);
  CHECK(miio.held.size() == 16);
  CHECK(miio.refused == 4);
  CHECK(budget.used() == 64);
  // Connections that close give their descriptors back.
  vesync.held.resize(10);
  CHECK(budget.used() == 26);
  connect(io, miio, 30, clients);
  CHECK(miio.held.size() == 46);
}

TEST_CASE("two listeners under a 20,000-descriptor limit hold 10,000 each when the other is idle") {
  DescriptorBudget budget(20000 - kReservedDescriptors);
  DescriptorBudget::Member miio, vesync;
  budget.join(miio, 20000);
  budget.join(vesync, 20000);
  size_t held = 0;
  while (held < 10000 && budget.take(vesync, 1)) ++held;
  CHECK(held == 10000);
  // The rest is the other's: its floor and what is left.
  size_t other = 0;
  while (budget.take(miio, 1)) ++other;
  CHECK(other == budget.total() - 10000);
  CHECK(budget.used() == budget.total());
  // Turned around.
  for (; held > 0; --held) budget.give_back(vesync, 1);
  for (; other > 0; --other) budget.give_back(miio, 1);
  while (held < 10000 && budget.take(miio, 1)) ++held;
  CHECK(held == 10000);
  // A flood on one listener leaves the other its floor.
  while (budget.take(miio, 1)) ++held;
  CHECK(held == budget.total() - budget.total() / 4);
  while (budget.take(vesync, 1)) ++other;
  CHECK(other == budget.total() / 4);
  // Two descriptors per connection (an outlet proxied upstream) count twice.
  budget.give_back(vesync, 2);
  CHECK(budget.take(vesync, 2));
  CHECK_FALSE(budget.take(vesync, 2));
}

TEST_CASE("a listener without a budget has only its own cap; refusals are reported") {
  asio::io_context io;
  TcpListener listener(io, Logger("test"), {.name = "api", .max_connections = 2});
  REQUIRE_FALSE(listener.open(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)));
  std::vector<ConnectionSlot> slots;
  std::vector<tcp::socket> accepted;
  size_t refused = 0;
  listener.start({.accepted = [&](tcp::socket socket, ConnectionSlot slot) {
                    accepted.push_back(std::move(socket));
                    slots.push_back(std::move(slot));
                  },
                  .refused = [&](const tcp::endpoint&) { ++refused; }});
  std::vector<tcp::socket> clients;
  for (int i = 0; i < 3; ++i) {
    clients.emplace_back(io);
    clients.back().connect(listener.local_endpoint());
  }
  for (int i = 0; i < 200 && accepted.size() + refused < 3; ++i) io.run_for(std::chrono::milliseconds(5));
  CHECK(accepted.size() == 2);
  CHECK(refused == 1);
  CHECK(listener.connections() == 2);
  slots.pop_back();
  CHECK(listener.connections() == 1);
  CHECK_THROWS_WITH(TcpListener(io, Logger("t"), {.name = "api"}).open(Endpoint{"not-an-ip", 1}),
                    "api: cannot listen on not-an-ip:1: not an IP address");
}
