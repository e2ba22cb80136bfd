// Reading YAML along a schema with FILE:LINE:COL diagnostics: the generic half of the miio
// model loader (model_loader.cpp holds the model semantics). Meant to be replaced by the public
// YAML reader that config/ will provide; the calls here are the ones such a reader offers.
//
// Safety: the text is size-capped, only one document is accepted, yaml-cpp's nesting guard
// (DeepRecursion) is caught, callers descend only into nodes their schema names, so alias
// cycles (`&a [*a]`, built by yaml-cpp as real cycles) are never followed, and the entries
// visited are counted, so aliases repeating a subtree cannot multiply the work. Nothing throws.
#pragma once

#include <cstddef>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "config/config.h"

namespace lc::miio::yaml {

struct Mark {
  int line = 1;  // 1-based
  int column = 1;
};

// A value being read: its path for messages ("models[2].properties[0].scale"), the node, and
// where to point at it.
struct Field {
  std::string path;
  YAML::Node node;
  Mark at;
};

// A user-written value inside a message: quoted, control bytes escaped, cut at 60 bytes.
std::string quote(std::string_view text);

class Walker {
 public:
  static constexpr size_t kMaxTextBytes = 1 << 20;
  static constexpr size_t kMaxDiagnostics = 200;
  // Entries visited in all: aliases can make a small text name the same big subtree many times.
  static constexpr size_t kMaxVisits = 100000;

  Walker(std::string file, std::vector<config::Diagnostic>& out) : file_(std::move(file)), out_(out) {}

  // The root of one YAML document; nullopt (reported) when the text is not one YAML document.
  std::optional<Field> parse(std::string_view text);

  void error(Mark at, std::string message);
  void error(const Field& f, const std::string& message);
  size_t errors() const { return errors_; }

  // "a mapping", "a list", "nothing" or the quoted scalar.
  static std::string describe(const YAML::Node& node);

  // Reports and returns false unless `f` is a mapping.
  bool expect_mapping(const Field& f);

  // Calls `handle(key, value)` for every key of `mapping` that is a plain scalar, appears once
  // and is one of `allowed`; reports the others (unknown keys with a "did you mean" hint).
  void for_each_key(const Field& mapping, std::initializer_list<std::string_view> allowed,
                    const std::function<void(const std::string&, const Field&)>& handle);

  // Calls `handle(key, value)` for every pair of a mapping whose keys are data, not schema
  // (a select's options): keys must be scalars and unique; at most `limit` pairs.
  void for_each_pair(const Field& mapping, size_t limit, const std::function<void(const Field&, const Field&)>& handle);

  // Calls `handle(item)` for every item of a list of at most `limit` items.
  void for_each_item(const Field& list, size_t limit, const std::function<void(const Field&)>& handle);

  // Scalars. Each reports and returns nullopt when the value does not fit.
  std::optional<std::string> text(const Field& f, size_t max_bytes);  // printable UTF-8, no NUL
  std::optional<bool> boolean(const Field& f);                        // true/false (yes/no, on/off)
  std::optional<long long> integer(const Field& f, long long min, long long max);
  std::optional<double> number(const Field& f);  // a finite decimal number

 private:
  bool single_document(const std::string& input);
  // Counts one visited entry; false (reported once) when the budget is spent.
  bool visit(const Field& where);

  std::string file_;
  std::vector<config::Diagnostic>& out_;
  size_t errors_ = 0;
  size_t visits_ = 0;
};

}  // namespace lc::miio::yaml
