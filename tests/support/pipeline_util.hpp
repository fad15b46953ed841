#pragma once
// Pieces for pipeline tests: an in-memory partitioned log, a counting keyed
// function, sinks that collect or fail on demand, and a reader of committed
// part files.

#include <ckpt/fs/file_system.hpp>
#include <ckpt/fs/file_util.hpp>
#include <ckpt/function/keyed_process_function.hpp>
#include <ckpt/function/partitioned_source.hpp>
#include <ckpt/function/stream_functions.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace ckpt::test {

struct Event {
  std::uint32_t partition = 0;
  std::uint64_t offset = 0;
  std::string key;
  std::int64_t value = 0;
  template <class A>
  void serialize(A& ar) {
    ar(partition, offset, key, value);
  }
};

/// Event `offset` of `partition`: deterministic, keys spread over `keys`.
inline Event make_event(std::uint32_t partition, std::uint64_t offset, std::uint64_t keys) {
  const auto n = partition * 1000003ULL + offset * 7919ULL;
  return {partition, offset, "k" + std::to_string(n % keys), static_cast<std::int64_t>(n % 100)};
}

/// A log of `partitions` partitions of `records` events each. Unbounded logs
/// report "not yet" at their end instead of finishing.
class LogSource final : public PartitionedSource<Event> {
 public:
  LogSource(std::uint32_t partitions, std::uint64_t records, std::uint64_t keys, bool bounded = true,
            std::size_t per_poll = 64, std::uint32_t first_partition = 0,
            std::shared_ptr<std::atomic<std::uint64_t>> hold_at = nullptr)
      : PartitionedSource<Event>(partitions, per_poll), records_(records), keys_(keys), bounded_(bounded),
        first_(first_partition), hold_at_(std::move(hold_at)) {}
  Read read(std::uint32_t partition, std::uint64_t offset) override {
    if (hold_at_ && offset >= hold_at_->load()) return Read::later();  // held until released
    if (offset >= records_) return bounded_ ? Read::end_of_partition() : Read::later();
    return Read::of(make_event(first_ + partition, offset, keys_));
  }

 private:
  std::uint64_t records_, keys_;
  bool bounded_;
  std::uint32_t first_;
  std::shared_ptr<std::atomic<std::uint64_t>> hold_at_;
};

struct Count {
  std::string key;
  std::int64_t count = 0;
  std::int64_t sum = 0;
  std::uint32_t partition = 0;
  std::uint64_t offset = 0;
};

/// Per key: how many events and their sum; emits one Count per event. Fails
/// (throws) on the first event at or beyond offset `*fail_at`, when given.
class CountPerKey final : public KeyedProcessFunction<std::string, Event, Count> {
 public:
  explicit CountPerKey(std::shared_ptr<std::atomic<std::uint64_t>> fail_at = nullptr) : fail_at_(std::move(fail_at)) {}
  void initialize_state(FunctionInitializationContext& ctx) override {
    auto& backend = ctx.keyed_state_backend<std::string>();
    count_ = backend.get_state(ValueStateDescriptor<std::int64_t>{"count", 0});
    sum_ = backend.get_state(ValueStateDescriptor<std::int64_t>{"sum", 0});
  }
  void process_element(const Event& e, Context& ctx, Collector<Count>& out) override {
    if (fail_at_ && e.offset >= fail_at_->load()) throw std::runtime_error("injected failure in CountPerKey");
    count_.update(count_.value() + 1);
    sum_.update(sum_.value() + e.value);
    out.collect({ctx.current_key(), count_.value(), sum_.value(), e.partition, e.offset});
  }

 private:
  ValueState<std::int64_t> count_;
  ValueState<std::int64_t> sum_;
  std::shared_ptr<std::atomic<std::uint64_t>> fail_at_;
};

inline std::string format_count(const Count& c) {
  return std::to_string(c.partition) + ":" + std::to_string(c.offset) + " " + c.key + " " + std::to_string(c.count) +
         " " + std::to_string(c.sum);
}

/// Every committed line of the part files in `dir` (not under _pending).
inline std::vector<std::string> committed_lines(fs::FileSystem& fs, const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs.list(dir)) {
    if (e.type != fs::EntryType::file) continue;
    const auto bytes = fs::read_file(fs, dir + "/" + e.name, 1ULL << 30);
    std::istringstream in{std::string(as_string_view(bytes))};
    for (std::string line; std::getline(in, line);) out.push_back(line);
  }
  return out;
}

/// Collects what reaches it, thread-safely, for checks after the job (or
/// while it runs: wait_for(n) waits on the values' arrival).
template <class T>
class CollectingSink final : public Sink<T> {
 public:
  struct Shared {
    std::mutex mutex;
    std::condition_variable changed;
    std::vector<T> values;
    /// Until at least `n` values have arrived.
    void wait_for(std::size_t n) {
      std::unique_lock lock(mutex);
      changed.wait(lock, [&] { return values.size() >= n; });
    }
  };
  explicit CollectingSink(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}
  void invoke(const T& v) override {
    std::lock_guard lock(shared_->mutex);
    shared_->values.push_back(v);
    shared_->changed.notify_all();
  }

 private:
  std::shared_ptr<Shared> shared_;
};

}  // namespace ckpt::test
