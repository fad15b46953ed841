#pragma once
// A snapshot of a keyed backend in progress: the handle a background writer
// uses to serialize the key groups as they were at the mark, one by one and in
// parallel, while the owner thread goes on reading and writing state.

#include <ckpt/error.hpp>
#include <ckpt/serial/snapshot_data.hpp>
#include <ckpt/state/detail/snapshot_control.hpp>
#include <ckpt/state/key_group.hpp>
#include <ckpt/state/native_snapshot.hpp>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ckpt {

class KeyedSnapshotJob {
 public:
  /// `resources`: what the cut's tables read from (a backend whose tables
  /// are views of a database snapshot hands those views over here), kept
  /// until the job is released.
  KeyedSnapshotJob(std::shared_ptr<const detail::SnapshotCut> cut, detail::SnapshotControl& control,
                   std::shared_ptr<const void> resources = nullptr)
      : cut_(std::move(cut)), control_(&control), resources_(std::move(resources)) {}
  /// A native snapshot (native_snapshot.hpp): its files are the snapshot, no
  /// key group is saved; `resources` keep the files until the job is released.
  KeyedSnapshotJob(std::shared_ptr<const detail::SnapshotCut> cut, detail::SnapshotControl& control,
                   std::shared_ptr<const NativeSnapshot> native, std::shared_ptr<const void> resources)
      : cut_(std::move(cut)), control_(&control), resources_(std::move(resources)), native_(std::move(native)) {}
  KeyedSnapshotJob(const KeyedSnapshotJob&) = delete;
  KeyedSnapshotJob& operator=(const KeyedSnapshotJob&) = delete;
  /// Releases the backend: key groups not saved by now are left out.
  ~KeyedSnapshotJob() { control_->release(*cut_); }

  /// The id given to begin_snapshot() (a checkpoint id), 0 if none.
  std::uint64_t id() const noexcept { return cut_->id; }
  /// For an incremental snapshot, the id of the completed snapshot it builds
  /// on: key groups saved as `unchanged` are the same as in that one.
  const std::optional<std::uint64_t>& base_id() const noexcept { return cut_->base_id; }
  std::uint32_t max_parallelism() const noexcept { return cut_->max_parallelism; }
  KeyGroupRange key_groups() const noexcept { return cut_->range; }
  const std::string& key_type() const noexcept { return cut_->key_type; }
  const std::vector<StateMeta>& states() const noexcept { return cut_->states; }
  /// The backend's own files when this is a native snapshot, else null.
  const NativeSnapshot* native() const noexcept { return native_.get(); }

  /// Serializes `key_group` as it was at the mark into `out` (replacing its
  /// contents). Any thread; each key group at most once; different key groups
  /// may be saved concurrently.
  KeyGroupResult save(std::uint32_t key_group, Bytes& out) {
    if (native_)
      throw StateError(errc::invalid_argument, "a native snapshot has no key-group blocks to save; upload its files");
    if (!cut_->range.contains(key_group))
      throw StateError(errc::key_group_out_of_range, "key group " + std::to_string(key_group) +
                                                         " is not in this backend's range " +
                                                         cut_->range.to_string());
    return control_->save(*cut_, key_group - cut_->range.begin, out);
  }

  /// While the returned guard lives, a writer is draining this job (saving
  /// every key group, on any threads): the owner thread then keeps its copies
  /// of key groups it writes to within the backend's copy budget, waiting for
  /// the writer when over it (KeyedStateBackendOptions::snapshot_copy_budget).
  /// Take it only around a loop that saves every key group.
  class Draining {
   public:
    Draining(const Draining&) = delete;
    Draining& operator=(const Draining&) = delete;
    ~Draining() { job_.control_->set_draining(*job_.cut_, false); }

   private:
    friend class KeyedSnapshotJob;
    explicit Draining(KeyedSnapshotJob& job) : job_(job) { job_.control_->set_draining(*job_.cut_, true); }
    KeyedSnapshotJob& job_;
  };
  [[nodiscard]] Draining draining() { return Draining(*this); }

  /// Saves every key group (or those in `only`) on the calling thread into an
  /// in-memory snapshot. For full snapshots only.
  KeyedStateSnapshot collect(std::optional<KeyGroupRange> only = std::nullopt) {
    if (cut_->base_id)
      throw StateError(errc::invalid_argument, "collect() needs a full snapshot; this one is incremental");
    KeyedStateSnapshot out;
    out.max_parallelism = cut_->max_parallelism;
    out.key_group_begin = cut_->range.begin;
    out.key_group_end = cut_->range.end;
    out.key_type = cut_->key_type;
    out.states = cut_->states;
    const auto range = only ? cut_->range.intersect(*only) : cut_->range;
    for (auto kg = range.begin; kg < range.end; ++kg) {
      KeyGroupBlock block;
      block.key_group = kg;
      if (save(kg, block.data) == KeyGroupResult::written) out.key_groups.push_back(std::move(block));
    }
    return out;
  }

 private:
  std::shared_ptr<const detail::SnapshotCut> cut_;
  detail::SnapshotControl* control_;
  std::shared_ptr<const void> resources_;  // released after control_->release()
  std::shared_ptr<const NativeSnapshot> native_;
};

}  // namespace ckpt
