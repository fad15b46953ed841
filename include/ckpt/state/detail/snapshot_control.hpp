#pragma once
// Point-in-time snapshots of a keyed backend without stopping its owner thread
// (Flink's copy-on-write state map and Dragonfly's versioned snapshot are the
// references).
//
// mark() is O(1): it bumps the epoch and records what the snapshot covers.
// Each key group has a slot with the epoch its image was last saved for. A
// background writer saves key groups one by one (save()); the owner thread,
// before it writes to a key group whose image for the running snapshot is not
// saved yet, saves that key group itself first (owner_save()). Either way the
// bytes are those of the key group at the mark, and the owner never waits for
// more than one key group. The slot's mutex is what orders the two.
//
// Each slot also records the write stamp of the last change, so an
// incremental snapshot can tell key groups unchanged since its base.
//
// The owner's copies are the memory a snapshot costs beyond its writer's
// buffers. While a writer drains the job (KeyedSnapshotJob::draining(), which
// CheckpointStorage takes), the owner keeps at most `copy budget` bytes of
// copies: past it, a write to a key group not saved yet waits until the writer
// has taken enough copies or saved that key group (back-pressure, as a full
// buffer would). Without a draining writer the owner never waits.

#include <ckpt/bytes.hpp>
#include <ckpt/error.hpp>
#include <ckpt/serial/snapshot_data.hpp>
#include <ckpt/state/detail/keyed_table.hpp>
#include <ckpt/state/key_group.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace ckpt {

/// What saving one key group produced.
enum class KeyGroupResult : std::uint8_t {
  written,    // `out` holds the key group's block
  empty,      // the key group holds no state
  unchanged,  // incremental: unchanged since the base snapshot, nothing written
};

namespace detail {

struct KeyGroupSlot {
  std::atomic<std::uint64_t> saved_epoch{0};
  std::mutex mutex;
  std::uint64_t modified = 1;  // write stamp of the last change (1: before any snapshot)
  Bytes owner_copy;            // saved by the owner for the running snapshot
  KeyGroupResult owner_result = KeyGroupResult::empty;
};

/// Restored bytes of a state the program has not declared (again) yet: kept
/// per key-group slot and written through to later snapshots unchanged.
struct PendingState {
  StateMeta meta;
  std::map<std::size_t, std::shared_ptr<const Bytes>> sections;  // by slot
};

/// What a snapshot covers, fixed at its mark.
struct SnapshotCut {
  std::uint64_t epoch = 0;
  std::uint64_t base_epoch = 0;  // 0: a full snapshot
  std::uint64_t id = 0;
  std::optional<std::uint64_t> base_id;
  std::uint32_t max_parallelism = 0;
  KeyGroupRange range;
  std::string key_type;
  std::int64_t now = 0;  // processing time at the mark, for TTL cleanup
  std::vector<StateMeta> states;
  std::vector<const KeyedTableBase*> tables;  // states[0, tables.size())
  std::vector<std::shared_ptr<const PendingState>> pending;  // the states after them

  /// Writes the block of key-group slot `slot` as it is now (the caller makes
  /// sure that is as it was at the mark).
  KeyGroupResult serialize(std::size_t slot, const KeyGroupSlot& s, Bytes& out) const {
    out.clear();
    if (base_epoch != 0 && s.modified <= base_epoch) return KeyGroupResult::unchanged;
    out.resize(4);
    std::uint32_t count = 0;
    for (std::size_t i = 0; i < tables.size(); ++i) {
      if (tables[i]->empty_in(slot)) continue;
      const auto at = serial::begin_section(out, static_cast<std::uint32_t>(i));
      tables[i]->write_key_group(slot, out, now);
      serial::finish_section(out, at);
      ++count;
    }
    for (std::size_t j = 0; j < pending.size(); ++j) {
      const auto it = pending[j]->sections.find(slot);
      if (it == pending[j]->sections.end()) continue;
      const auto at = serial::begin_section(out, static_cast<std::uint32_t>(tables.size() + j));
      out.insert(out.end(), it->second->begin(), it->second->end());
      serial::finish_section(out, at);
      ++count;
    }
    if (count == 0) {
      out.clear();
      return KeyGroupResult::empty;
    }
    serial::write_section_count(out, count);
    return KeyGroupResult::written;
  }
};

/// The snapshot side of a keyed backend. Owner-thread methods are marked so;
/// save() and release() may run on any thread.
class SnapshotControl {
 public:
  explicit SnapshotControl(std::size_t slots, std::size_t copy_budget = 0)
      : slots_(std::make_unique<KeyGroupSlot[]>(slots)),
        clean_(std::make_unique<std::uint64_t[]>(slots)),
        count_(slots),
        copy_budget_(copy_budget) {}
  SnapshotControl(const SnapshotControl&) = delete;
  SnapshotControl& operator=(const SnapshotControl&) = delete;
  ~SnapshotControl() { wait_idle(); }

  /// Owner thread, before every change to slot `slot`: one comparison once
  /// the slot has been written since the last mark.
  void before_write(std::size_t slot) {
    if (clean_[slot] != write_stamp_) [[unlikely]]
      first_write_since_mark(slot);
  }

  /// Owner thread: starts a snapshot. Waits first for a previous one to be
  /// released (one snapshot at a time per backend).
  std::shared_ptr<const SnapshotCut> mark(SnapshotCut cut, bool incremental) {
    wait_idle();
    cut.epoch = ++epoch_;
    if (incremental && last_completed_) {
      cut.base_epoch = last_completed_->epoch;
      cut.base_id = last_completed_->id;
    }
    cut_ = std::make_shared<const SnapshotCut>(std::move(cut));
    if (cut_->id != 0) in_flight_[cut_->id] = cut_->epoch;  // id 0: an anonymous snapshot
    active_epoch_ = cut_->epoch;
    write_stamp_ = active_epoch_ + 1;  // later changes belong to the next snapshot
    {
      std::lock_guard lock(idle_mutex_);
      running_ = true;
    }
    return cut_;
  }

  /// Any thread: the block of `slot` for the running snapshot.
  KeyGroupResult save(const SnapshotCut& cut, std::size_t slot, Bytes& out) {
    KeyGroupResult result;
    {
      KeyGroupSlot& s = slots_[slot];
      std::lock_guard lock(s.mutex);
      if (s.saved_epoch.load(std::memory_order_relaxed) < cut.epoch) {
        result = cut.serialize(slot, s, out);
        s.saved_epoch.store(cut.epoch, std::memory_order_release);
      } else {
        out = std::move(s.owner_copy);
        s.owner_copy = Bytes();
        copied_bytes_.fetch_sub(out.size(), std::memory_order_relaxed);
        result = s.owner_result;
      }
    }
    wake_owner();
    return result;
  }

  /// Any thread: a writer starts (or stops) draining the running snapshot,
  /// saving every key group; meanwhile the owner keeps to the copy budget.
  void set_draining(const SnapshotCut& cut, bool on) {
    {
      std::lock_guard lock(budget_mutex_);
      draining_epoch_.store(on ? cut.epoch : 0, std::memory_order_relaxed);
    }
    budget_cv_.notify_all();
  }

  /// Any thread, once per mark: the snapshot is done with (written, failed or
  /// abandoned). Key groups it never saved are marked saved so the owner stops
  /// copying them.
  void release(const SnapshotCut& cut) {
    for (std::size_t i = 0; i < count_; ++i) {
      KeyGroupSlot& s = slots_[i];
      std::lock_guard lock(s.mutex);
      if (s.saved_epoch.load(std::memory_order_relaxed) < cut.epoch)
        s.saved_epoch.store(cut.epoch, std::memory_order_release);
      copied_bytes_.fetch_sub(s.owner_copy.size(), std::memory_order_relaxed);
      s.owner_copy = Bytes();
    }
    set_draining(cut, false);
    {
      std::lock_guard lock(idle_mutex_);
      running_ = false;
    }
    idle_.notify_all();
  }

  /// Owner thread: a snapshot with this id is durable; later incremental
  /// snapshots may build on it. Ids of snapshots no longer in flight are ignored.
  void notify_complete(std::uint64_t id) {
    const auto it = in_flight_.find(id);
    if (it == in_flight_.end()) return;
    if (!last_completed_ || it->second > last_completed_->epoch) last_completed_ = Completed{id, it->second};
    in_flight_.erase(in_flight_.begin(), std::next(it));  // completing N subsumes every earlier one
  }
  void notify_aborted(std::uint64_t id) { in_flight_.erase(id); }

  /// Owner thread: after a restore, every key group counts as changed and no
  /// earlier snapshot can serve as a base.
  void reset_after_restore() {
    wait_idle();
    for (std::size_t i = 0; i < count_; ++i) slots_[i].modified = write_stamp_;
    last_completed_.reset();
    in_flight_.clear();
  }

  bool running() {
    std::lock_guard lock(idle_mutex_);
    return running_;
  }
  void wait_idle() {
    std::unique_lock lock(idle_mutex_);
    idle_.wait(lock, [&] { return !running_; });
  }

 private:
  // The first write to a slot since the last mark (or ever): saves its image
  // for a running snapshot that has not saved it yet, and stamps it changed.
  // The slot stays clean until the next mark changes the write stamp, so
  // later writes skip both (the acquire load here orders them after the
  // writer's save).
  [[gnu::noinline]] void first_write_since_mark(std::size_t slot) {
    KeyGroupSlot& s = slots_[slot];
    if (s.saved_epoch.load(std::memory_order_acquire) < active_epoch_) owner_save(slot);
    s.modified = write_stamp_;
    clean_[slot] = write_stamp_;
  }

  void owner_save(std::size_t slot) {
    KeyGroupSlot& s = slots_[slot];
    if (copy_budget_ != 0 && copied_bytes_.load(std::memory_order_relaxed) >= copy_budget_ &&
        draining_epoch_.load(std::memory_order_relaxed) == active_epoch_) {
      // Over budget while a writer drains: wait for it to take copies or to save this key group.
      std::unique_lock lock(budget_mutex_);
      budget_cv_.wait(lock, [&] {
        return copied_bytes_.load(std::memory_order_relaxed) < copy_budget_ ||
               draining_epoch_.load(std::memory_order_relaxed) != active_epoch_ ||
               s.saved_epoch.load(std::memory_order_acquire) >= active_epoch_;
      });
    }
    std::lock_guard lock(s.mutex);
    if (s.saved_epoch.load(std::memory_order_relaxed) >= active_epoch_) return;  // the writer got there first
    s.owner_result = cut_->serialize(slot, s, s.owner_copy);
    copied_bytes_.fetch_add(s.owner_copy.size(), std::memory_order_relaxed);
    s.saved_epoch.store(active_epoch_, std::memory_order_release);
  }

  /// After the writer freed budget or saved a key group: the owner may be waiting.
  void wake_owner() {
    if (copy_budget_ == 0) return;
    { std::lock_guard lock(budget_mutex_); }  // orders the change before the owner's wait
    budget_cv_.notify_all();
  }

  struct Completed {
    std::uint64_t id;
    std::uint64_t epoch;
  };

  std::unique_ptr<KeyGroupSlot[]> slots_;
  // Owner only, per slot: the write stamp it last wrote under (see
  // before_write); dense, so the check stays in a few cache lines.
  std::unique_ptr<std::uint64_t[]> clean_;
  std::size_t count_;
  // Owner-thread state.
  std::uint64_t epoch_ = 0;
  std::uint64_t active_epoch_ = 0;
  std::uint64_t write_stamp_ = 1;
  std::shared_ptr<const SnapshotCut> cut_;
  std::map<std::uint64_t, std::uint64_t> in_flight_;  // snapshot id -> epoch
  std::optional<Completed> last_completed_;
  // Whether a marked snapshot has not been released yet.
  std::mutex idle_mutex_;
  std::condition_variable idle_;
  bool running_ = false;
  // The owner's copies and their budget.
  std::size_t copy_budget_;  // 0: unbounded
  std::atomic<std::size_t> copied_bytes_{0};
  std::atomic<std::uint64_t> draining_epoch_{0};  // the epoch a writer is draining, 0 if none
  std::mutex budget_mutex_;
  std::condition_variable budget_cv_;
};

}  // namespace detail
}  // namespace ckpt
