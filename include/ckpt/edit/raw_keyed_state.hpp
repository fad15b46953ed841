#pragma once
// RawKeyedState: the keyed state of one operator as bytes, without its types.
//
// It restores from key-group snapshots of any key type and snapshots again
// exactly what it holds, one section per state and key group, so a savepoint
// editor can rename, drop and move states between parallelisms without
// knowing (or compiling in) the program's key and value types. It holds every
// section in memory, shared between slices, never copied.

#include <ckpt/error.hpp>
#include <ckpt/names.hpp>
#include <ckpt/serial/snapshot_data.hpp>
#include <ckpt/state/detail/snapshot_control.hpp>
#include <ckpt/state/key_group.hpp>
#include <ckpt/state/keyed_snapshot_job.hpp>
#include <ckpt/state/keyed_state_backend_base.hpp>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ckpt::edit {

class RawKeyedState final : public KeyedStateBackendBase {
 public:
  RawKeyedState(std::uint32_t max_parallelism, KeyGroupRange range, std::string key_type)
      : max_parallelism_(max_parallelism),
        range_(range),
        key_type_(std::move(key_type)),
        control_(std::make_unique<detail::SnapshotControl>(range.size())) {}
  RawKeyedState(const RawKeyedState&) = delete;
  RawKeyedState& operator=(const RawKeyedState&) = delete;

  std::uint32_t max_parallelism() const noexcept override { return max_parallelism_; }
  KeyGroupRange key_groups() const noexcept override { return range_; }
  std::string key_type_name() const override { return key_type_; }
  std::vector<std::string> state_names() const override {
    std::vector<std::string> out;
    for (const auto& s : states_) out.push_back(s->meta.name);
    return out;
  }
  bool is_restored() const noexcept override { return restored_; }
  using KeyedStateBackendBase::restore;  // the block-fetching overload, built on the one below

  /// The states, in the order they are written.
  std::vector<StateMeta> states() const {
    std::vector<StateMeta> out;
    for (const auto& s : states_) out.push_back(s->meta);
    return out;
  }
  bool has_state(std::string_view name) const { return find(name) != nullptr; }

  /// Takes in the blocks of `snapshots` in this range. A state already held
  /// under the same name must have the same description; a key group of a
  /// state may come from one snapshot only.
  void restore(std::span<const KeyedStateSnapshot> snapshots) override {
    for (const auto& snap : snapshots) {
      if (snap.max_parallelism != max_parallelism_)
        throw RestoreError(errc::state_type_mismatch, snap.origin + ": max parallelism " +
                                                          std::to_string(snap.max_parallelism) + ", expected " +
                                                          std::to_string(max_parallelism_));
      if (snap.key_type != key_type_)
        throw StateError(errc::state_type_mismatch,
                         snap.origin + ": keys of type " + snap.key_type + ", expected " + key_type_);
      std::vector<detail::PendingState*> targets;
      for (const auto& written : snap.states) {
        auto* s = find(written.name);
        if (!s) s = states_.emplace_back(std::make_shared<detail::PendingState>(detail::PendingState{written, {}})).get();
        else if (!(s->meta == written))
          throw RestoreError(errc::state_type_mismatch,
                             snap.origin + ": state '" + written.name + "' is described differently than before");
        targets.push_back(s);
      }
      for (const auto& block : snap.key_groups) {
        if (!range_.contains(block.key_group)) continue;
        const std::string block_name = "key group " + std::to_string(block.key_group);
        const serial::ReadContext context{snap.origin, block_name};
        for (const auto& section : serial::parse_sections(block.data, snap.states.size(), context)) {
          auto& slot = targets[section.state_index]->sections[block.key_group - range_.begin];
          if (slot)
            throw RestoreError(errc::corrupt_data, snap.origin + ": key group " + std::to_string(block.key_group) +
                                                       " of state '" + snap.states[section.state_index].name +
                                                       "' appears more than once");
          slot = std::make_shared<const Bytes>(section.payload.begin(), section.payload.end());
        }
      }
    }
    restored_ = true;
  }

  /// A full snapshot of what this holds (SnapshotMode::incremental too: there is no base).
  std::unique_ptr<KeyedSnapshotJob> start_snapshot(std::uint64_t id, SnapshotMode mode) override {
    (void)mode;
    detail::SnapshotCut cut;
    cut.id = id;
    cut.max_parallelism = max_parallelism_;
    cut.range = range_;
    cut.key_type = key_type_;
    for (const auto& s : states_) {
      cut.states.push_back(s->meta);
      cut.pending.push_back(s);
    }
    return std::make_unique<KeyedSnapshotJob>(control_->mark(std::move(cut), false), *control_);
  }
  void notify_snapshot_complete(std::uint64_t id) override { control_->notify_complete(id); }
  void notify_snapshot_aborted(std::uint64_t id) override { control_->notify_aborted(id); }

  /// The same states restricted to `range` (sharing their bytes).
  std::unique_ptr<RawKeyedState> slice(KeyGroupRange range) const {
    auto out = std::make_unique<RawKeyedState>(max_parallelism_, range, key_type_);
    for (const auto& s : states_) {
      auto copy = std::make_shared<detail::PendingState>(detail::PendingState{s->meta, {}});
      for (const auto& [slot, bytes] : s->sections) {
        const auto kg = static_cast<std::uint32_t>(slot) + range_.begin;
        if (range.contains(kg)) copy->sections[kg - range.begin] = bytes;
      }
      out->states_.push_back(std::move(copy));
    }
    out->restored_ = restored_;
    return out;
  }

  /// The named states alone, as one in-memory snapshot (for a typed backend to restore).
  KeyedStateSnapshot extract(std::span<const std::string> names, const std::string& origin) const {
    KeyedStateSnapshot out;
    out.max_parallelism = max_parallelism_;
    out.key_group_begin = range_.begin;
    out.key_group_end = range_.end;
    out.key_type = key_type_;
    out.origin = origin;
    std::vector<const detail::PendingState*> chosen;
    for (const auto& name : names) {
      const auto* s = find(name);
      if (!s) throw RestoreError(errc::not_found, origin + ": has no keyed state '" + name + "'");
      chosen.push_back(s);
      out.states.push_back(s->meta);
    }
    for (std::uint32_t slot = 0; slot < range_.size(); ++slot) {
      KeyGroupBlock block{range_.begin + slot, Bytes(4)};
      std::uint32_t count = 0;
      for (std::uint32_t i = 0; i < chosen.size(); ++i) {
        const auto it = chosen[i]->sections.find(slot);
        if (it == chosen[i]->sections.end()) continue;
        const auto at = serial::begin_section(block.data, i);
        block.data.insert(block.data.end(), it->second->begin(), it->second->end());
        serial::finish_section(block.data, at);
        ++count;
      }
      if (count == 0) continue;
      serial::write_section_count(block.data, count);
      out.key_groups.push_back(std::move(block));
    }
    return out;
  }

  void drop(std::string_view name) {
    const auto it = std::find_if(states_.begin(), states_.end(), [&](const auto& s) { return s->meta.name == name; });
    if (it == states_.end()) throw RestoreError(errc::not_found, "there is no keyed state '" + std::string(name) + "'");
    states_.erase(it);
  }
  void rename(std::string_view from, std::string to) {
    validate_name("state name", to);
    auto* s = find(from);
    if (!s) throw RestoreError(errc::not_found, "there is no keyed state '" + std::string(from) + "'");
    if (find(to)) throw ConfigError(errc::invalid_argument, "a keyed state '" + to + "' exists already");
    // Sections are shared with slices and snapshots: a renamed state is a new description of the same bytes.
    auto renamed = std::make_shared<detail::PendingState>(*s);
    renamed->meta.name = std::move(to);
    for (auto& p : states_)
      if (p.get() == s) p = std::move(renamed);
  }

 private:
  detail::PendingState* find(std::string_view name) const {
    for (const auto& s : states_)
      if (s->meta.name == name) return s.get();
    return nullptr;
  }

  std::uint32_t max_parallelism_;
  KeyGroupRange range_;
  std::string key_type_;
  std::vector<std::shared_ptr<detail::PendingState>> states_;
  std::unique_ptr<detail::SnapshotControl> control_;  // last: outlives nothing it serves
  bool restored_ = false;
};

}  // namespace ckpt::edit
