#pragma once
// The job the reliability tests checkpoint: two operators whose state after
// checkpoint `n` is a pure function of n, so a restored copy can be checked
// against exactly what checkpoint n implies -- every key, every state, every
// operator list -- and a mix of two checkpoints, a lost update or a partial
// file shows up as a mismatch.
//
//   "counter", parallelism 2: keyed state of every kind (value, list, map,
//       reducing) over `keys` u64 keys, plus even-split operator list state;
//   "source",  parallelism 1: operator state only (even-split and union lists).
//
// Round r (r = 1, 2, ...) touches key k when (k + r) % 5 == 0 and deletes it
// (value, list and map; the reducing sum stays) when (7k + r) % 11 == 0 and it
// was not touched; so most key groups are unchanged from one round to the
// next and incremental checkpoints write few of them. Checkpoint n holds the
// state after rounds 1..n.

#include <ckpt/ckpt.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ckpt::rel {

inline constexpr std::uint32_t job_max_parallelism = 128;

/// What one key holds after some rounds (the model the job is checked against).
struct KeyModel {
  std::optional<std::int64_t> count;
  std::vector<std::string> recent;  // the last (up to) three touches, oldest first
  std::map<std::string, std::int64_t> tags;
  std::optional<std::int64_t> sum;

  void apply(std::uint64_t k, std::uint64_t r) {
    const auto ri = static_cast<std::int64_t>(r);
    if ((k + r) % 5 == 0) {
      count = static_cast<std::int64_t>(k) * 1'000'000 + ri;
      recent.push_back("r" + std::to_string(r));
      if (recent.size() > 3) recent.erase(recent.begin());
      tags["last"] = ri;
      tags["k"] = static_cast<std::int64_t>(k);
      if (r % 2 == 0) {
        tags["even"] = ri;
      } else {
        tags.erase("even");
      }
      sum = sum.value_or(0) + ri;
    } else if ((7 * k + r) % 11 == 0) {
      count.reset();
      recent.clear();
      tags.clear();
    }
  }

  static KeyModel after(std::uint64_t k, std::uint64_t rounds) {
    KeyModel m;
    for (std::uint64_t r = 1; r <= rounds; ++r) m.apply(k, r);
    return m;
  }
};

/// The operator lists after checkpoint n.
inline std::vector<std::int64_t> counter_offsets(std::uint64_t n, std::uint32_t subtask) {
  if (n == 0) return {};
  const auto ni = static_cast<std::int64_t>(n);
  return {ni, ni * 1000 + subtask};
}
inline std::vector<std::int64_t> source_positions(std::uint64_t n) {
  if (n == 0) return {};
  const auto ni = static_cast<std::int64_t>(n);
  return {ni * 3, ni * 3 + 1, ni * 3 + 2};
}
inline std::vector<std::string> source_watermark(std::uint64_t n) {
  if (n == 0) return {};
  return {"w" + std::to_string(n)};
}

class Job {
 public:
  explicit Job(std::uint64_t keys = 200, std::uint32_t parallelism = 2) : keys_(keys) {
    for (std::uint32_t i = 0; i < parallelism; ++i) counters_.push_back(std::make_unique<Counter>(i, parallelism));
    source_ = std::make_unique<Source>();
  }

  std::uint64_t keys() const noexcept { return keys_; }
  std::uint64_t round() const noexcept { return round_; }

  /// Restores from `snapshot` (whose id becomes the round), or starts empty.
  void restore(SnapshotReader* snapshot) {
    if (!snapshot) return;
    for (auto& c : counters_) snapshot->restore("counter", &c->keyed, &c->store);
    snapshot->restore("source", nullptr, &source_->store);
    snapshot->check_all_restored(false);
    round_ = snapshot->checkpoint_id();
  }

  /// Applies rounds up to `n` (inclusive).
  void advance_to(std::uint64_t n) {
    for (auto r = round_ + 1; r <= n; ++r) {
      for (std::uint64_t k = 0; k < keys_; ++k) {
        auto& c = owner(k);
        c.keyed.set_current_key(k);
        if ((k + r) % 5 == 0) {
          const auto ri = static_cast<std::int64_t>(r);
          c.count.update(static_cast<std::int64_t>(k) * 1'000'000 + ri);
          auto recent = c.recent.get();
          recent.push_back("r" + std::to_string(r));
          if (recent.size() > 3) recent.erase(recent.begin());
          c.recent.update(std::move(recent));
          c.tags.put("last", ri);
          c.tags.put("k", static_cast<std::int64_t>(k));
          if (r % 2 == 0) {
            c.tags.put("even", ri);
          } else {
            c.tags.remove("even");
          }
          c.sum.add(ri);
        } else if ((7 * k + r) % 11 == 0) {
          c.count.clear();
          c.recent.clear();
          c.tags.clear();
        }
      }
    }
    if (n > round_) {
      for (auto& c : counters_) c->offsets.update(counter_offsets(n, c->store.subtask_index()));
      source_->positions.update(source_positions(n));
      source_->watermark.update(source_watermark(n));
      round_ = n;
    }
  }

  /// Writes every participant into `pending` (whose id must be the round).
  void write(PendingSnapshot& pending, bool incremental) {
    for (auto& c : counters_)
      pending.write({"counter", c->store.subtask_index(), static_cast<std::uint32_t>(counters_.size()),
                     c->keyed.begin_snapshot(pending.id(), incremental ? ckpt::SnapshotMode::incremental : ckpt::SnapshotMode::full), c->store.snapshot()});
    pending.write({"source", 0, 1, nullptr, source_->store.snapshot()});
  }

  void notify_complete(std::uint64_t id) {
    for (auto& c : counters_) c->keyed.notify_snapshot_complete(id);
  }
  void notify_aborted(std::uint64_t id) {
    for (auto& c : counters_) c->keyed.notify_snapshot_aborted(id);
  }

  /// Takes a whole checkpoint of the current round and completes it.
  Manifest checkpoint(CheckpointStorage& storage, bool incremental) {
    auto pending = storage.begin_checkpoint(round_, 1000 + static_cast<std::int64_t>(round_));
    write(*pending, incremental);
    auto m = pending->complete({{"round", std::to_string(round_)}});
    notify_complete(round_);
    return m;
  }

  /// What differs from the state after round `n`; empty when nothing does.
  std::string mismatch(std::uint64_t n) {
    for (std::uint64_t k = 0; k < keys_; ++k) {
      const auto want = KeyModel::after(k, n);
      auto& c = owner(k);
      c.keyed.set_current_key(k);
      const auto where = "key " + std::to_string(k) + " after round " + std::to_string(n) + ": ";
      if (c.count.get() != want.count) return where + "count " + show(c.count.get()) + ", expected " + show(want.count);
      if (c.recent.get() != want.recent) return where + "recent list differs";
      std::map<std::string, std::int64_t> tags;
      for (auto& [key, value] : c.tags.entries()) tags[key] = value;
      if (tags != want.tags) return where + "tags differ";
      if (c.sum.get() != want.sum) return where + "sum " + show(c.sum.get()) + ", expected " + show(want.sum);
    }
    for (auto& c : counters_)
      if (c->offsets.get() != counter_offsets(n, c->store.subtask_index()))
        return "counter subtask " + std::to_string(c->store.subtask_index()) + " offsets differ from round " +
               std::to_string(n);
    if (source_->positions.get() != source_positions(n)) return "source positions differ from round " + std::to_string(n);
    if (source_->watermark.get() != source_watermark(n)) return "source watermark differs from round " + std::to_string(n);
    return {};
  }

 private:
  struct Counter {
    Counter(std::uint32_t subtask, std::uint32_t parallelism)
        : keyed(KeyedStateBackendOptions::for_subtask(subtask, parallelism, job_max_parallelism)),
          store(subtask, parallelism) {
      count = keyed.get_state(ValueStateDescriptor<std::int64_t>{"count"});
      recent = keyed.get_list_state(ListStateDescriptor<std::string>{"recent"});
      tags = keyed.get_map_state(MapStateDescriptor<std::string, std::int64_t>{"tags"});
      sum = keyed.get_reducing_state(ReducingStateDescriptor<std::int64_t>{"sum", std::plus<>{}});
      offsets = store.get_list_state(ListStateDescriptor<std::int64_t>{"offsets"});
    }
    KeyedStateBackend<std::uint64_t> keyed;
    OperatorStateStore store;
    ValueState<std::int64_t> count;
    ListState<std::string> recent;
    MapState<std::string, std::int64_t> tags;
    ReducingState<std::int64_t> sum;
    ListState<std::int64_t> offsets;
  };
  struct Source {
    Source() : store(0, 1) {
      positions = store.get_list_state(ListStateDescriptor<std::int64_t>{"positions"});
      watermark = store.get_union_list_state(ListStateDescriptor<std::string>{"watermark"});
    }
    OperatorStateStore store;
    ListState<std::int64_t> positions;
    ListState<std::string> watermark;
  };

  Counter& owner(std::uint64_t k) {
    for (auto& c : counters_)
      if (c->keyed.key_groups().contains(c->keyed.key_group_of(k))) return *c;
    throw std::logic_error("no subtask owns key " + std::to_string(k));
  }
  static std::string show(const std::optional<std::int64_t>& v) { return v ? std::to_string(*v) : "unset"; }

  std::uint64_t keys_;
  std::uint64_t round_ = 0;
  std::vector<std::unique_ptr<Counter>> counters_;
  std::unique_ptr<Source> source_;
};

/// Restores checkpoint `snapshot` into a fresh job and checks it holds exactly
/// what its id implies; returns what differs (empty when nothing does).
inline std::string restored_mismatch(SnapshotReader& snapshot, std::uint64_t keys = 200) {
  Job job(keys);
  job.restore(&snapshot);
  if (snapshot.manifest().properties.count("round") == 0 ||
      snapshot.manifest().properties.at("round") != std::to_string(snapshot.checkpoint_id()))
    return "the manifest's round property does not match its id";
  return job.mismatch(snapshot.checkpoint_id());
}

}  // namespace ckpt::rel
