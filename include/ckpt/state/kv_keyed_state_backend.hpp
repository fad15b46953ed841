#pragma once
// A keyed state backend that keeps bytes (the RocksDB one), apart from the
// key type: KvKeyedStateBackend knows keys only serialized, and
// KvKeyedStateStore<Key> is the KeyedStateStore<Key> over it. That split is
// what lets a job choose its backend by configuration: a runtime or a test
// harness that holds a KeyedBackendFactory builds the backend of each keyed
// subtask without naming RocksDB, for whatever key type the subtask has.
//
//   auto options = ckpt::TestHarnessOptions{}.with_keyed_backend(
//       ckpt::rocksdb::keyed_backend(ckpt::rocksdb::RocksDBOptions::in("/tmp/state")));

#include <ckpt/clock.hpp>
#include <ckpt/error.hpp>
#include <ckpt/serial/archive.hpp>
#include <ckpt/serial/type_name.hpp>
#include <ckpt/state/detail/kv_encoding.hpp>
#include <ckpt/state/key_group.hpp>
#include <ckpt/state/keyed_state_backend_base.hpp>
#include <ckpt/state/keyed_state_store.hpp>
#include <ckpt/state/kv_state.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ckpt {

/// What a byte-level backend is told of its key type.
struct KvKeyCodec {
  std::string key_type;  // type_name<Key>(), as snapshots record it
  /// The length of the serialized key that `bytes` begins with (a map
  /// entry's key is the key, then the user key); a CorruptionError naming
  /// `context` if there is none.
  std::function<std::size_t(std::string_view bytes, const serial::ReadContext& context)> key_size;

  template <class Key>
  static KvKeyCodec of() {
    return {type_name<Key>(), [](std::string_view bytes, const serial::ReadContext& context) {
              return serial::guarded_read(context, [&] {
                serial::InputArchive ar(detail::span_of(bytes), context);
                Key key{};
                ar(key);
                return ar.position();
              });
            }};
  }
};

/// Everything a factory builds a keyed backend of one subtask from.
struct KeyedBackendSettings {
  std::uint32_t max_parallelism = default_max_parallelism;
  KeyGroupRange key_groups;
  const Clock* clock = nullptr;  // processing time for state TTL; the system clock when null
  KvKeyCodec keys;
  std::uint32_t subtask = 0;  // for naming, e.g. a working directory
};

class KvKeyedStateBackend : public KeyedStateBackendBase {
 public:
  /// Makes the key whose serialized form is `key` current; its key group is
  /// one of this backend's.
  virtual void set_current_key(std::uint32_t key_group, std::string_view key) = 0;
  virtual bool has_current_key() const noexcept = 0;
  /// Declares (or finds again) a state and returns it as *spec.interface.
  virtual void* declare_kv(const KvStateSpec& spec) = 0;
  /// Calls fn(serialized key) once for every key with an entry in a declared
  /// state; a StateError if none is declared under that name.
  virtual void for_each_key(std::string_view state, const std::function<void(std::string_view key)>& fn) = 0;
};

/// Builds the byte-level keyed backend of a subtask (ckpt::rocksdb::keyed_backend()).
using KeyedBackendFactory = std::function<std::unique_ptr<KvKeyedStateBackend>(const KeyedBackendSettings&)>;

template <class Key>
class KvKeyedStateStore : public KeyedStateStore<Key> {
 public:
  explicit KvKeyedStateStore(std::unique_ptr<KvKeyedStateBackend> core) : core_(std::move(core)) {
    if (!core_) throw ConfigError(errc::invalid_argument, "the keyed state backend is null");
  }

  /// The settings a factory is called with for keys of type Key.
  static KeyedBackendSettings settings(std::uint32_t max_parallelism, KeyGroupRange key_groups,
                                       const Clock* clock = nullptr, std::uint32_t subtask = 0) {
    return KeyedBackendSettings{max_parallelism, key_groups, clock, KvKeyCodec::of<Key>(), subtask};
  }

  void set_current_key(const Key& key) override {
    const auto kg = key_group_for(key, core_->max_parallelism());
    const auto range = core_->key_groups();
    if (!range.contains(kg))
      throw StateError(errc::key_group_out_of_range,
                       "key of type " + type_name<Key>() + " is in key group " + std::to_string(kg) +
                           ", outside this backend's key groups " + range.to_string() +
                           "; route records by key group to the subtask that owns it");
    core_->set_current_key(kg, detail::encode(key));
    key_ = key;
    key_group_ = kg;
  }
  bool has_current_key() const noexcept override { return key_.has_value(); }
  const Key& current_key() const override {
    if (!key_) throw StateError(errc::no_current_key, "no current key; call set_current_key() first");
    return *key_;
  }
  std::uint32_t current_key_group() const override {
    (void)current_key();
    return key_group_;
  }

  std::vector<Key> keys(std::string_view state) override {
    std::vector<Key> out;
    const std::string block = "a key of state '" + std::string(state) + "'";
    core_->for_each_key(state, [&](std::string_view bytes) {
      out.push_back(serial::decode<Key>(detail::span_of(bytes), serial::ReadContext{"", block}));
    });
    return out;
  }
  std::size_t size(std::string_view state) override {
    std::size_t n = 0;
    core_->for_each_key(state, [&](std::string_view) { ++n; });
    return n;
  }

  // -- KeyedStateBackendBase: the core's -------------------------------------
  std::uint32_t max_parallelism() const noexcept override { return core_->max_parallelism(); }
  KeyGroupRange key_groups() const noexcept override { return core_->key_groups(); }
  std::string key_type_name() const override { return core_->key_type_name(); }
  std::vector<std::string> state_names() const override { return core_->state_names(); }
  std::unique_ptr<KeyedSnapshotJob> start_snapshot(std::uint64_t id, SnapshotMode mode) override {
    return core_->begin_snapshot(id, mode);
  }
  void notify_snapshot_complete(std::uint64_t id) override { core_->notify_snapshot_complete(id); }
  void notify_snapshot_aborted(std::uint64_t id) override { core_->notify_snapshot_aborted(id); }
  void restore(std::span<const KeyedStateSnapshot> snapshots) override { core_->restore(snapshots); }
  void restore(std::span<const KeyedStateSnapshot> headers, std::span<const KeyedRestoreBlock> blocks,
               const KeyedBlockFetch& fetch, unsigned threads) override {
    core_->restore(headers, blocks, fetch, threads);
  }
  void restore(const KeyedStateSnapshot& snapshot) { restore(std::span<const KeyedStateSnapshot>(&snapshot, 1)); }
  void restore_native(std::span<const NativeRestorePart> parts, const NativeFileFetch& fetch) override {
    core_->restore_native(parts, fetch);
  }
  bool is_restored() const noexcept override { return core_->is_restored(); }

  /// A full snapshot of every key group (or those in `only`), taken on this thread.
  KeyedStateSnapshot snapshot(std::optional<KeyGroupRange> only = std::nullopt) {
    return this->begin_snapshot()->collect(only);
  }

  KvKeyedStateBackend& core() noexcept { return *core_; }
  const KvKeyedStateBackend& core() const noexcept { return *core_; }

 protected:
  void* declare_kv(const KvStateSpec& spec) override { return core_->declare_kv(spec); }

 private:
  std::unique_ptr<KvKeyedStateBackend> core_;
  std::optional<Key> key_;
  std::uint32_t key_group_ = 0;
};

}  // namespace ckpt
