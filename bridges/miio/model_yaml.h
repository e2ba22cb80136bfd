// The YAML side of the model loader, on the config file's reader (config/reader.h): the
// structure and scalar reads a definition needs, with the loader's messages, and a budget on
// the entries read so that aliases naming one subtree many times cannot multiply the work
// (yaml-cpp builds `&a [*a]` as a real cycle; the loader descends only where the schema says,
// and each descent is paid for). Nothing here throws.
#pragma once

#include <cstddef>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "config/reader.h"

namespace lc::miio {

class ModelYaml {
 public:
  // Entries read in all (keys, items, option pairs), aliases counted each time they are used.
  static constexpr size_t kMaxVisits = 100000;
  static constexpr std::string_view kBudgetMessage = "values in all (aliases count each time they are used)";

  explicit ModelYaml(config::Reader& reader) : reader_(reader) {}

  void error(const config::Field& f, const std::string& message) { reader_.error(f, message); }
  void error(config::Mark at, std::string message) { reader_.error(at, std::move(message)); }
  size_t errors() const { return reader_.error_count(); }
  bool over_budget() const { return visits_ > kMaxVisits; }

  // `handle(key, value)` for every key of the mapping `f` that is allowed, plain and not
  // repeated (the reader reports the others, with a "did you mean"); anything but a mapping
  // is reported. False when `f` was not read.
  bool for_each_key(const config::Field& f, std::initializer_list<std::string_view> allowed,
                    const config::Reader::KeyHandler& handle);
  // `handle(item)` for every item of the list `f` of at most `limit` items.
  void for_each_item(const config::Field& f, size_t limit, const config::Reader::ItemHandler& handle);
  // `handle(key, value)` for every pair of a mapping whose keys are data, not schema (a
  // select's options): plain, unique keys; at most `limit` pairs.
  void for_each_pair(const config::Field& f, size_t limit,
                     const std::function<void(const config::Field& key, const config::Field& value)>& handle);

  // Scalars; each reports and returns nullopt when the value does not fit.
  std::optional<std::string> text(const config::Field& f, size_t max_bytes);  // printable UTF-8
  std::optional<bool> boolean(const config::Field& f);
  std::optional<long long> integer(const config::Field& f, long long min, long long max);
  std::optional<double> number(const config::Field& f);  // finite

 private:
  // Pays for `entries` entries read at `where`; false (reported once) when the budget is spent.
  bool visit(const config::Field& where, size_t entries);

  config::Reader& reader_;
  size_t visits_ = 0;
};

}  // namespace lc::miio
