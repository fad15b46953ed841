#pragma once
// OperatorStateStore: the non-keyed state of one parallel subtask (Flink's
// operator state): list state redistributed by even split, union list state,
// and broadcast (map) state.
//
//   ckpt::OperatorStateStore store(/*subtask*/ 0, /*parallelism*/ 2);
//   auto offsets = store.get_list_state(ckpt::ListStateDescriptor<std::int64_t>{"offsets"});
//   offsets.update({120, 98});
//   ckpt::OperatorStateSnapshot snap = store.snapshot();
//
// restore() takes the snapshots of every old subtask, in old-subtask order,
// and keeps this subtask's share as the redistribution functions decide.

#include <ckpt/error.hpp>
#include <ckpt/serial/archive.hpp>
#include <ckpt/serial/snapshot_data.hpp>
#include <ckpt/serial/std_types.hpp>
#include <ckpt/serial/type_name.hpp>
#include <ckpt/state/broadcast_state.hpp>
#include <ckpt/state/detail/key_hash.hpp>
#include <ckpt/state/list_state.hpp>
#include <ckpt/state/redistribution.hpp>
#include <ckpt/state/state_descriptor.hpp>

#include <boost/unordered/unordered_flat_map.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace ckpt {
namespace detail {

class OperatorStateBase {
 public:
  virtual ~OperatorStateBase() = default;
  virtual std::vector<Bytes> save() const = 0;
  virtual void load(const std::vector<Bytes>& elements, const std::string& origin) = 0;
};

template <class T>
class OperatorListState final : public OperatorStateBase, public ListStateImpl<T> {
 public:
  explicit OperatorListState(std::string name) : name_(std::move(name)) {}
  std::vector<T> get() override { return list_; }
  void add(T value) override { list_.push_back(std::move(value)); }
  void add_all(std::vector<T> values) override {
    for (auto& v : values) list_.push_back(std::move(v));
  }
  void update(std::vector<T> values) override { list_ = std::move(values); }
  void clear() override { list_.clear(); }

  std::vector<Bytes> save() const override {
    std::vector<Bytes> out;
    out.reserve(list_.size());
    for (const auto& v : list_) out.push_back(serial::encode(v));
    return out;
  }
  void load(const std::vector<Bytes>& elements, const std::string& origin) override {
    list_.clear();
    list_.reserve(elements.size());
    for (std::size_t i = 0; i < elements.size(); ++i) {
      const auto block = "operator state '" + name_ + "', element " + std::to_string(i);
      list_.push_back(serial::decode<T>(elements[i], {origin, block}));
    }
  }

 private:
  std::string name_;
  std::vector<T> list_;
};

template <class K, class V>
class OperatorBroadcastState final : public OperatorStateBase, public BroadcastStateImpl<K, V> {
 public:
  explicit OperatorBroadcastState(std::string name) : name_(std::move(name)) {}
  const V* find(const K& key) const override {
    const auto it = map_.find(key);
    return it == map_.end() ? nullptr : &it->second;
  }
  void put(K key, V value) override { map_.insert_or_assign(std::move(key), std::move(value)); }
  bool remove(const K& key) override { return map_.erase(key) != 0; }
  void for_each(const std::function<void(const K&, const V&)>& fn) const override {
    for (const auto& [k, v] : map_) fn(k, v);
  }
  std::size_t size() const override { return map_.size(); }
  void clear() override { map_.clear(); }

  std::vector<Bytes> save() const override {
    std::vector<Bytes> out;
    out.reserve(map_.size());
    for (const auto& [k, v] : map_) out.push_back(serial::encode(k, v));
    return out;
  }
  void load(const std::vector<Bytes>& elements, const std::string& origin) override {
    map_.clear();
    map_.reserve(elements.size());
    for (std::size_t i = 0; i < elements.size(); ++i) {
      K key{};
      V value{};
      serial::load_from(elements[i], {origin, "broadcast state '" + name_ + "', entry " + std::to_string(i)}, key, value);
      map_.insert_or_assign(std::move(key), std::move(value));
    }
  }

 private:
  std::string name_;
  boost::unordered_flat_map<K, V, KeyHash<K>> map_;
};

}  // namespace detail

class OperatorStateStore {
 public:
  explicit OperatorStateStore(std::uint32_t subtask_index = 0, std::uint32_t parallelism = 1)
      : subtask_(subtask_index), parallelism_(parallelism) {
    if (parallelism_ == 0 || subtask_ >= parallelism_)
      throw ConfigError(errc::invalid_argument, "subtask " + std::to_string(subtask_) + " of parallelism " +
                                                    std::to_string(parallelism_) + " does not exist");
  }
  OperatorStateStore(const OperatorStateStore&) = delete;
  OperatorStateStore& operator=(const OperatorStateStore&) = delete;

  std::uint32_t subtask_index() const noexcept { return subtask_; }
  std::uint32_t parallelism() const noexcept { return parallelism_; }

  /// List state redistributed by even split on rescale.
  template <class T>
  ListState<T> get_list_state(const ListStateDescriptor<T>& d) {
    return ListState<T>(declare<T, detail::OperatorListState<T>>(d.name(), Distribution::even_split));
  }
  /// List state of which every subtask gets the union on restore.
  template <class T>
  ListState<T> get_union_list_state(const ListStateDescriptor<T>& d) {
    return ListState<T>(declare<T, detail::OperatorListState<T>>(d.name(), Distribution::union_all));
  }
  template <class K, class V>
  BroadcastState<K, V> get_broadcast_state(const MapStateDescriptor<K, V>& d) {
    return BroadcastState<K, V>(
        declare<std::pair<K, V>, detail::OperatorBroadcastState<K, V>>(d.name(), Distribution::broadcast));
  }

  /// Declared states, then restored states not declared (again) yet.
  std::vector<std::string> state_names() const {
    std::vector<std::string> out;
    for (const auto& s : states_) out.push_back(s.meta.name);
    for (const auto& [name, p] : pending_) out.push_back(name);
    return out;
  }

  /// A copy of every operator state of this subtask.
  OperatorStateSnapshot snapshot() const {
    OperatorStateSnapshot out;
    for (const auto& s : states_) {
      OperatorStateEntry e = s.meta;
      e.elements = s.impl->save();
      out.states.push_back(std::move(e));
    }
    for (const auto& [name, p] : pending_) out.states.push_back(p);
    return out;
  }

  /// Restores this subtask's share of the old subtasks' state (`old_subtasks`
  /// in old-subtask order; its size is the old parallelism).
  void restore(std::span<const OperatorStateSnapshot> old_subtasks) {
    if (restored_) throw StateError(errc::invalid_argument, "this operator state store was already restored");
    // Every state name in old-subtask order, with each old subtask's elements.
    std::map<std::string, std::vector<const OperatorStateEntry*>> by_name;
    for (std::size_t i = 0; i < old_subtasks.size(); ++i)
      for (const auto& e : old_subtasks[i].states) {
        auto& slots = by_name[e.name];
        slots.resize(old_subtasks.size(), nullptr);
        if (slots[i])
          throw RestoreError(errc::corrupt_data, "operator state '" + e.name + "' appears twice in one subtask's snapshot");
        slots[i] = &e;
      }
    for (const auto& [name, slots] : by_name) {
      const OperatorStateEntry* first = nullptr;
      std::vector<std::vector<Bytes>> lists(slots.size());
      for (std::size_t i = 0; i < slots.size(); ++i) {
        if (!slots[i]) continue;
        if (!first) first = slots[i];
        if (slots[i]->distribution != first->distribution || slots[i]->element_type != first->element_type)
          throw RestoreError(errc::state_type_mismatch,
                             "operator state '" + name + "' differs in type or distribution between old subtasks");
        lists[i] = slots[i]->elements;
      }
      OperatorStateEntry mine{first->name, first->distribution, first->element_type, first->element_version, {}};
      mine.elements = std::move(redistribute(first->distribution, lists, parallelism_)[subtask_]);
      const auto& origin = old_subtasks.empty() ? std::string() : old_subtasks.front().origin;
      if (auto* s = find(name)) {
        check_compatible(s->meta, mine);
        s->impl->load(mine.elements, origin);
      } else {
        pending_origin_[name] = origin;
        pending_[name] = std::move(mine);
      }
    }
    restored_ = true;
  }
  void restore(const OperatorStateSnapshot& only_subtask) {
    restore(std::span<const OperatorStateSnapshot>(&only_subtask, 1));
  }
  bool is_restored() const noexcept { return restored_; }

 private:
  struct Entry {
    OperatorStateEntry meta;  // without elements
    std::unique_ptr<detail::OperatorStateBase> impl;
  };

  Entry* find(const std::string& name) {
    for (auto& s : states_)
      if (s.meta.name == name) return &s;
    return nullptr;
  }

  static void check_compatible(const OperatorStateEntry& declared, const OperatorStateEntry& written) {
    if (declared.distribution != written.distribution || declared.element_type != written.element_type)
      throw StateError(errc::state_type_mismatch,
                       "operator state '" + declared.name + "' is declared as " + to_string(declared.distribution) +
                           " state of " + declared.element_type + " but the snapshot holds " +
                           to_string(written.distribution) + " state of " + written.element_type);
    if (written.element_version > declared.element_version)
      throw StateError(errc::unsupported_version, "operator state '" + declared.name + "' was written by version " +
                                                      std::to_string(written.element_version) + " of " +
                                                      written.element_type + "; this program has version " +
                                                      std::to_string(declared.element_version));
  }

  template <class Element, class Impl>
  Impl* declare(const std::string& name, Distribution mode) {
    validate_name("operator state name", name);
    OperatorStateEntry meta{name, mode, type_name<Element>(), type_version<Element>(), {}};
    if constexpr (requires { typename Element::second_type; }) {
      meta.element_version = type_version<typename Element::second_type>();
    }
    if (auto* existing = find(name)) {
      auto* impl = dynamic_cast<Impl*>(existing->impl.get());
      if (!impl || existing->meta.distribution != mode)
        throw StateError(errc::state_type_mismatch, "operator state '" + name + "' is already declared as " +
                                                        to_string(existing->meta.distribution) + " state of " +
                                                        existing->meta.element_type);
      return impl;
    }
    auto impl = std::make_unique<Impl>(name);
    Impl* result = impl.get();
    if (const auto p = pending_.find(name); p != pending_.end()) {
      check_compatible(meta, p->second);
      impl->load(p->second.elements, pending_origin_[name]);
      pending_.erase(p);
      pending_origin_.erase(name);
    }
    states_.push_back(Entry{std::move(meta), std::move(impl)});
    return result;
  }

  std::uint32_t subtask_;
  std::uint32_t parallelism_;
  std::vector<Entry> states_;
  std::map<std::string, OperatorStateEntry> pending_;  // restored, not declared yet
  std::map<std::string, std::string> pending_origin_;
  bool restored_ = false;
};

}  // namespace ckpt
