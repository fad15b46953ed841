#pragma once
// detail::SideOutputs: where one operator's side outputs go, by tag name.
// The runtime routes each consumed tag to that tag's channels; a test harness
// captures every tag it sees. A tag nobody consumes is dropped (as in Flink),
// but its type is remembered: a later record under the same name with
// another type is a ConfigError.

#include <ckpt/error.hpp>
#include <ckpt/function/output_tag.hpp>
#include <ckpt/serial/type_name.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <typeindex>
#include <utility>
#include <vector>

namespace ckpt::detail {

class SideOutputs {
 public:
  template <class T>
  using Route = std::function<void(T value, std::int64_t timestamp)>;
  template <class T>
  using Captured = std::vector<std::pair<T, std::int64_t>>;

  /// Captures records of tags without a route (the harness), instead of dropping them.
  explicit SideOutputs(bool capture = false) : capture_(capture) {}

  /// Records under `tag` go to `route` from now on.
  template <class T>
  void route(const OutputTag<T>& tag, std::type_identity_t<Route<T>> route) {
    auto& e = entry<T>(tag);
    e.route = std::make_shared<Route<T>>(std::move(route));
  }

  template <class T>
  void emit(const OutputTag<T>& tag, T value, std::int64_t timestamp) {
    auto& e = entry<T>(tag);
    if (!e.route && capture_) {
      auto store = std::make_shared<Captured<T>>();
      e.captured = store;
      e.route = std::make_shared<Route<T>>(
          [store](T v, std::int64_t t) { store->emplace_back(std::move(v), t); });
    }
    if (e.route) (*std::static_pointer_cast<Route<T>>(e.route))(std::move(value), timestamp);
  }

  /// What a capturing instance holds for `tag` (empty when nothing went there).
  template <class T>
  Captured<T> captured(const OutputTag<T>& tag) const {
    const auto it = entries_.find(tag.id());
    if (it == entries_.end() || !it->second.captured) return {};
    check_type<T>(tag, it->second);
    return *std::static_pointer_cast<Captured<T>>(it->second.captured);
  }
  /// Forgets what was captured (routes stay).
  void clear() noexcept {
    for (auto& [id, e] : entries_)
      if (e.captured) {
        e.captured.reset();
        e.route.reset();
      }
  }

 private:
  struct Entry {
    std::type_index type;
    std::string type_name;
    std::shared_ptr<void> route;     // Route<T>
    std::shared_ptr<void> captured;  // Captured<T>, when capturing
  };

  template <class T>
  static void check_type(const OutputTag<T>& tag, const Entry& e) {
    if (e.type != std::type_index(typeid(T)))
      throw ConfigError(errc::invalid_argument, "side output '" + tag.id() + "' is used with type " +
                                                    ckpt::type_name<T>() + " and with type " + e.type_name +
                                                    ": an OutputTag's name must have one type in a job");
  }
  template <class T>
  Entry& entry(const OutputTag<T>& tag) {
    auto it = entries_.find(tag.id());
    if (it == entries_.end())
      it = entries_.emplace(tag.id(), Entry{std::type_index(typeid(T)), ckpt::type_name<T>(), nullptr, nullptr}).first;
    check_type<T>(tag, it->second);
    return it->second;
  }

  bool capture_;
  std::map<std::string, Entry> entries_;
};

/// A Collector that also carries where side outputs go, for functions that
/// get no context (window functions): see ckpt::output_to().
class SideOutputCarrier {
 public:
  virtual ~SideOutputCarrier() = default;
  virtual SideOutputs* side_outputs() const = 0;
  /// The timestamp side outputs get (a window's max_timestamp()).
  virtual std::int64_t side_output_timestamp() const = 0;
};

}  // namespace ckpt::detail
