#pragma once
// SavepointEditor: fixing a savepoint offline, the write side of Flink's State
// Processor API. It reads a savepoint (or a checkpoint), lets the program
// rename an operator's uid, drop an operator, drop or rename a state,
// transform a state's values (also into a new type) and bootstrap a new
// operator's keyed or operator state, then writes a new, self-contained,
// verified savepoint at a chosen parallelism. The source is only read.
//
//   auto source = storage.open_savepoint("v1");
//   ckpt::edit::SavepointEditor editor(*source);
//   editor.rename_operator("counter", "counter-v2")
//       .drop_state("counter-v2", "debug")
//       .transform_value_state<std::string>("counter-v2", ckpt::ValueStateDescriptor<int>{"n"},
//                                           ckpt::ValueStateDescriptor<std::int64_t>{"n"},
//                                           [](const std::string&, int n) { return std::optional<std::int64_t>(n); });
//   const auto info = editor.write(storage, "v1-fixed", /*parallelism=*/4);
//
// Generic edits (uids, dropping, renaming) work on bytes and need no types;
// a transform or a bootstrap names the key and value types. The whole state
// of the savepoint is held in memory while editing, read within the source
// reader's limits.

#include <ckpt/edit/raw_keyed_state.hpp>
#include <ckpt/error.hpp>
#include <ckpt/fs/path.hpp>
#include <ckpt/names.hpp>
#include <ckpt/serial/snapshot_data.hpp>
#include <ckpt/serial/type_name.hpp>
#include <ckpt/state/key_group.hpp>
#include <ckpt/state/keyed_state_backend.hpp>
#include <ckpt/state/operator_state_store.hpp>
#include <ckpt/state/redistribution.hpp>
#include <ckpt/state/state_descriptor.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>
#include <ckpt/storage/snapshot_reader.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ckpt::edit {

/// One operator of the savepoint being edited.
struct EditedOperator {
  std::string uid;
  std::uint32_t parallelism = 1;       // as read (or bootstrapped)
  std::uint32_t max_parallelism = 0;   // 0: no keyed state
  std::unique_ptr<RawKeyedState> keyed;               // null without keyed state
  std::vector<OperatorStateSnapshot> operator_state;  // one per subtask, as read
};

class SavepointEditor {
 public:
  /// The property naming the source on a savepoint the editor wrote.
  static constexpr const char* edited_from_property = "ckpt.edited-from";

  /// Starts from nothing: every operator is bootstrapped (Flink's
  /// SavepointWriter.newSavepoint).
  SavepointEditor() = default;

  /// Reads every operator of `source` (verifying every block it reads).
  explicit SavepointEditor(SnapshotReader& source) : origin_(source.location()) {
    for (const auto& op : source.manifest().operators) {
      EditedOperator e;
      e.uid = op.uid;
      e.parallelism = op.parallelism;
      e.max_parallelism = op.max_parallelism;
      if (op.max_parallelism != 0) {
        e.keyed = std::make_unique<RawKeyedState>(op.max_parallelism, KeyGroupRange::all(op.max_parallelism),
                                                  op.key_type);
        e.keyed->restore(source.keyed_state(op.uid, KeyGroupRange::all(op.max_parallelism)));
        // A state declared but holding nothing still belongs to the operator.
        KeyedStateSnapshot described;
        described.max_parallelism = op.max_parallelism;
        described.key_type = op.key_type;
        described.states = op.keyed_states;
        described.origin = origin_;
        e.keyed->restore(std::span<const KeyedStateSnapshot>(&described, 1));
      }
      e.operator_state = source.operator_state(op.uid);
      operators_.push_back(std::move(e));
    }
  }

  SavepointEditor(const SavepointEditor&) = delete;
  SavepointEditor& operator=(const SavepointEditor&) = delete;
  SavepointEditor(SavepointEditor&&) = default;
  SavepointEditor& operator=(SavepointEditor&&) = default;

  /// The uids of the operators, in order.
  std::vector<std::string> operators() const {
    std::vector<std::string> out;
    for (const auto& op : operators_) out.push_back(op.uid);
    return out;
  }
  bool has_operator(std::string_view uid) const { return has(uid); }

  // -- generic edits: no types needed ----------------------------------------

  SavepointEditor& rename_operator(std::string_view from, std::string to) {
    validate_name("operator uid", to);
    auto& op = get(from);
    if (from != to && has(to)) throw ConfigError(errc::already_exists, "an operator '" + to + "' exists already");
    op.uid = std::move(to);
    return *this;
  }

  SavepointEditor& drop_operator(std::string_view uid) {
    get(uid);
    std::erase_if(operators_, [&](const EditedOperator& op) { return op.uid == uid; });
    return *this;
  }

  /// Drops a keyed or operator state of `uid` (whichever has that name).
  SavepointEditor& drop_state(std::string_view uid, std::string_view state) {
    auto& op = get(uid);
    if (op.keyed && op.keyed->has_state(state)) {
      op.keyed->drop(state);
      return *this;
    }
    bool found = false;
    for (auto& subtask : op.operator_state)
      found |= std::erase_if(subtask.states, [&](const OperatorStateEntry& e) { return e.name == state; }) != 0;
    if (!found) throw no_state(op, state);
    return *this;
  }

  SavepointEditor& rename_state(std::string_view uid, std::string_view from, std::string to) {
    validate_name("state name", to);
    auto& op = get(uid);
    if (has_state(op, to)) throw ConfigError(errc::already_exists, "operator '" + op.uid + "' has a state '" + to + "' already");
    if (op.keyed && op.keyed->has_state(from)) {
      op.keyed->rename(from, std::move(to));
      return *this;
    }
    bool found = false;
    for (auto& subtask : op.operator_state)
      for (auto& e : subtask.states)
        if (e.name == from) {
          e.name = to;
          found = true;
        }
    if (!found) throw no_state(op, from);
    return *this;
  }

  // -- typed edits -------------------------------------------------------------

  /// Rewrites keyed states of `uid`: `fn(in, out)` gets a backend `in` holding
  /// the states named in `states` (declare them to read them; every key group
  /// is there) and an empty backend `out` of the same key groups. Afterwards
  /// the named states are gone and every state `out` declared takes their
  /// place (a name that existed is replaced).
  template <class Key, class Fn>
  SavepointEditor& transform_keyed_state(std::string_view uid, std::vector<std::string> states, Fn&& fn) {
    auto& op = get(uid);
    if (!op.keyed) throw ConfigError(errc::invalid_argument, "operator '" + op.uid + "' has no keyed state");
    KeyedStateBackendOptions options;
    options.max_parallelism = op.max_parallelism;
    options.snapshot_copy_budget = 0;
    KeyedStateBackend<Key> in(options), out(options);
    in.restore(op.keyed->extract(states, origin_ + ", operator '" + op.uid + "'"));
    std::forward<Fn>(fn)(in, out);
    auto produced = out.begin_snapshot()->collect();
    produced.origin = "the transform of operator '" + op.uid + "'";
    for (const auto& name : states) op.keyed->drop(name);
    for (const auto& meta : produced.states)
      if (op.keyed->has_state(meta.name)) op.keyed->drop(meta.name);
    op.keyed->restore(std::span<const KeyedStateSnapshot>(&produced, 1));
    return *this;
  }

  /// Maps every value of a value state through `fn(key, value)`, which returns
  /// the new value or nothing (to drop the key). The new state may have
  /// another type and another name.
  template <class Key, class T, class U, class Fn>
  SavepointEditor& transform_value_state(std::string_view uid, const ValueStateDescriptor<T>& from,
                                         const ValueStateDescriptor<U>& to, Fn fn) {
    return transform_keyed_state<Key>(uid, {from.name()}, [&](KeyedStateBackend<Key>& in, KeyedStateBackend<Key>& out) {
      auto old_state = in.get_state(from);
      auto new_state = out.get_state(to);
      for (const auto& key : in.keys(from.name())) {
        in.set_current_key(key);
        std::optional<U> next = fn(key, old_state.value());
        if (!next) continue;
        out.set_current_key(key);
        new_state.update(std::move(*next));
      }
    });
  }

  /// Maps every element of an operator list state through `fn(element)`,
  /// which returns the new element or nothing (to drop it), in every subtask;
  /// the distribution mode stays.
  template <class T, class U, class Fn>
  SavepointEditor& transform_operator_list_state(std::string_view uid, const ListStateDescriptor<T>& from,
                                                 const ListStateDescriptor<U>& to, Fn fn) {
    auto& op = get(uid);
    bool found = false;
    for (auto& subtask : op.operator_state) {
      for (auto& e : subtask.states) {
        if (e.name != from.name()) continue;
        if (e.element_type != type_name<T>())
          throw StateError(errc::state_type_mismatch, "operator state '" + e.name + "' of '" + op.uid + "' holds " +
                                                          e.element_type + ", not " + type_name<T>());
        found = true;
        detail::OperatorListState<T> old_list(e.name);
        old_list.load(e.elements, origin_);
        detail::OperatorListState<U> new_list(to.name());
        for (auto& element : old_list.get())
          if (std::optional<U> next = fn(std::move(element))) new_list.add(std::move(*next));
        e.name = to.name();
        e.element_type = type_name<U>();
        e.element_version = type_version<U>();
        e.elements = new_list.save();
      }
    }
    if (!found) throw no_state(op, from.name());
    return *this;
  }

  /// A new operator with keyed state: `fill(backend)` puts its state into a
  /// backend of every key group of `max_parallelism`.
  template <class Key, class Fill>
  SavepointEditor& bootstrap_keyed_state(std::string uid, Fill&& fill,
                                         std::uint32_t max_parallelism = default_max_parallelism) {
    validate_name("operator uid", uid);
    if (has(uid)) throw ConfigError(errc::already_exists, "an operator '" + uid + "' exists already; drop it first");
    KeyedStateBackendOptions options;
    options.max_parallelism = max_parallelism;
    options.snapshot_copy_budget = 0;
    KeyedStateBackend<Key> backend(options);
    std::forward<Fill>(fill)(backend);
    auto produced = backend.begin_snapshot()->collect();
    produced.origin = "the bootstrap of operator '" + uid + "'";
    EditedOperator e;
    e.uid = std::move(uid);
    e.max_parallelism = max_parallelism;
    e.keyed = std::make_unique<RawKeyedState>(max_parallelism, KeyGroupRange::all(max_parallelism), produced.key_type);
    e.keyed->restore(std::span<const KeyedStateSnapshot>(&produced, 1));
    operators_.push_back(std::move(e));
    return *this;
  }

  /// A new operator with operator state: `fill(store)` declares and fills it
  /// as one subtask would; on write it is spread as its distribution says.
  template <class Fill>
  SavepointEditor& bootstrap_operator_state(std::string uid, Fill&& fill) {
    validate_name("operator uid", uid);
    if (has(uid)) throw ConfigError(errc::already_exists, "an operator '" + uid + "' exists already; drop it first");
    OperatorStateStore store;
    std::forward<Fill>(fill)(store);
    EditedOperator e;
    e.uid = std::move(uid);
    e.operator_state.push_back(store.snapshot());
    operators_.push_back(std::move(e));
    return *this;
  }

  // -- writing -----------------------------------------------------------------

  /// Writes every operator as a new savepoint `name` of `target`, at
  /// `parallelism` (0: each operator keeps its own), and reads it back to
  /// verify every file. Returns what was written. The source is not touched.
  SnapshotInfo write(CheckpointStorage& target, std::string name, std::uint32_t parallelism = 0,
                     std::int64_t timestamp_millis = now_millis()) const {
    for (const auto& op : operators_) {
      const auto p = parallelism ? parallelism : op.parallelism;
      if (op.keyed) validate_parallelism(op.max_parallelism, p);
    }
    const auto id = target.next_checkpoint_id();
    auto pending = target.begin_savepoint(id, timestamp_millis, std::move(name));
    const auto directory = pending->directory();
    try {
      for (const auto& op : operators_) write_operator(*pending, op, parallelism ? parallelism : op.parallelism);
      std::map<std::string, std::string> properties;
      if (!origin_.empty()) properties[edited_from_property] = origin_;
      pending->complete(std::move(properties));
    } catch (...) {
      pending->abort();
      throw;
    }
    target.open_savepoint(fs::filename(directory))->verify_all();
    for (const auto& s : target.savepoints())
      if (s.directory == directory) return s;
    throw CheckpointError(errc::not_found, "savepoint " + directory + " was written but is not listed in " + target.uri());
  }

 private:
  static std::int64_t now_millis() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  bool has(std::string_view uid) const {
    return std::any_of(operators_.begin(), operators_.end(), [&](const EditedOperator& op) { return op.uid == uid; });
  }
  EditedOperator& get(std::string_view uid) {
    for (auto& op : operators_)
      if (op.uid == uid) return op;
    throw RestoreError(errc::not_found, where() + " has no operator '" + std::string(uid) + "'");
  }
  static bool has_state(const EditedOperator& op, std::string_view name) {
    if (op.keyed && op.keyed->has_state(name)) return true;
    for (const auto& subtask : op.operator_state)
      for (const auto& e : subtask.states)
        if (e.name == name) return true;
    return false;
  }
  RestoreError no_state(const EditedOperator& op, std::string_view name) const {
    return RestoreError(errc::not_found, where() + ": operator '" + op.uid + "' has no state '" + std::string(name) + "'");
  }
  std::string where() const { return origin_.empty() ? std::string("the savepoint being built") : origin_; }

  /// Operator state for `p` subtasks: unchanged at the same parallelism;
  /// otherwise even-split lists are spread, union lists given whole to the
  /// first subtask (every subtask reads the union on restore) and broadcast
  /// state copied to each.
  static std::vector<OperatorStateSnapshot> spread(const EditedOperator& op, std::uint32_t p) {
    if (op.operator_state.size() == p) return op.operator_state;
    std::vector<OperatorStateSnapshot> out(p);
    std::map<std::string, std::vector<const OperatorStateEntry*>> by_name;
    std::vector<std::string> order;
    for (std::size_t i = 0; i < op.operator_state.size(); ++i)
      for (const auto& e : op.operator_state[i].states) {
        auto& slots = by_name[e.name];
        if (slots.empty()) order.push_back(e.name);
        slots.resize(op.operator_state.size(), nullptr);
        slots[i] = &e;
      }
    for (const auto& state : order) {
      const auto& slots = by_name[state];
      const OperatorStateEntry* first = *std::find_if(slots.begin(), slots.end(), [](auto* e) { return e != nullptr; });
      std::vector<std::vector<Bytes>> lists(slots.size());
      for (std::size_t i = 0; i < slots.size(); ++i)
        if (slots[i]) lists[i] = slots[i]->elements;
      std::vector<std::vector<Bytes>> spread_lists(p);
      if (first->distribution == Distribution::union_all) spread_lists[0] = redistribute_union(lists, 1)[0];
      else spread_lists = redistribute(first->distribution, lists, p);
      for (std::uint32_t i = 0; i < p; ++i) {
        OperatorStateEntry e{first->name, first->distribution, first->element_type, first->element_version, {}};
        e.elements = std::move(spread_lists[i]);
        out[i].states.push_back(std::move(e));
      }
    }
    return out;
  }

  static void write_operator(PendingSnapshot& pending, const EditedOperator& op, std::uint32_t p) {
    const auto operator_state = spread(op, p);
    for (std::uint32_t i = 0; i < p; ++i) {
      ParticipantSnapshot part;
      part.uid = op.uid;
      part.subtask = i;
      part.parallelism = p;
      std::unique_ptr<RawKeyedState> slice;
      if (op.keyed) {
        slice = op.keyed->slice(KeyGroupRange::for_subtask(op.max_parallelism, p, i));
        part.keyed = slice->begin_snapshot();
      }
      if (!operator_state[i].states.empty()) part.operator_state = operator_state[i];
      pending.write(std::move(part));
    }
  }

  std::string origin_;
  std::vector<EditedOperator> operators_;
};

}  // namespace ckpt::edit
