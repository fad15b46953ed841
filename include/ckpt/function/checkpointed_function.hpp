#pragma once
// CheckpointedFunction: full control over a function's checkpointed state
// (Flink's CheckpointedFunction). initialize_state() runs once before any
// record, declares the state (operator and, for keyed functions, keyed) and
// learns whether it is being restored; snapshot_state() runs at every
// checkpoint, on the function's own thread, when its state is consistent.

#include <ckpt/error.hpp>
#include <ckpt/serial/type_name.hpp>
#include <ckpt/state/keyed_state_backend_base.hpp>
#include <ckpt/state/keyed_state_store.hpp>
#include <ckpt/state/operator_state_store.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace ckpt {

class FunctionSnapshotContext {
 public:
  virtual ~FunctionSnapshotContext() = default;
  virtual std::uint64_t checkpoint_id() const = 0;
  /// Wall-clock milliseconds when the checkpoint was triggered.
  virtual std::int64_t checkpoint_timestamp() const = 0;
};

class FunctionInitializationContext {
 public:
  virtual ~FunctionInitializationContext() = default;
  /// Whether state is being restored from a checkpoint or savepoint.
  virtual bool is_restored() const = 0;
  /// The checkpoint restored from, when is_restored().
  virtual std::optional<std::uint64_t> restored_checkpoint_id() const = 0;
  virtual OperatorStateStore& operator_state_store() = 0;
  /// The keyed backend of a keyed function, or nullptr.
  virtual KeyedStateBackendBase* keyed_backend() = 0;
  virtual std::uint32_t subtask_index() const = 0;
  virtual std::uint32_t parallelism() const = 0;

  /// The keyed backend with its key type, whichever backend it is (heap or
  /// RocksDB, as the job is configured); a StateError if the function is not
  /// keyed or its key is of another type.
  template <class Key>
  KeyedStateStore<Key>& keyed_state_backend() {
    auto* base = keyed_backend();
    if (!base) throw StateError(errc::invalid_argument, "keyed state is only available to keyed functions");
    auto* typed = dynamic_cast<KeyedStateStore<Key>*>(base);
    if (!typed)
      throw StateError(errc::state_type_mismatch, "the function's keys are of type " + base->key_type_name() +
                                                      ", not " + type_name<Key>());
    return *typed;
  }
};

class CheckpointedFunction {
 public:
  virtual ~CheckpointedFunction() = default;
  virtual void initialize_state(FunctionInitializationContext& context) = 0;
  virtual void snapshot_state(const FunctionSnapshotContext& context) = 0;
};

/// Plain contexts, for running a function outside the scheduler (tests, tools).
class SimpleSnapshotContext final : public FunctionSnapshotContext {
 public:
  SimpleSnapshotContext(std::uint64_t id, std::int64_t timestamp) : id_(id), timestamp_(timestamp) {}
  std::uint64_t checkpoint_id() const override { return id_; }
  std::int64_t checkpoint_timestamp() const override { return timestamp_; }

 private:
  std::uint64_t id_;
  std::int64_t timestamp_;
};

class SimpleInitializationContext final : public FunctionInitializationContext {
 public:
  SimpleInitializationContext(OperatorStateStore& store, KeyedStateBackendBase* keyed = nullptr,
                              std::optional<std::uint64_t> restored_from = std::nullopt)
      : store_(store), keyed_(keyed), restored_from_(restored_from) {}
  bool is_restored() const override { return restored_from_.has_value() || store_.is_restored(); }
  std::optional<std::uint64_t> restored_checkpoint_id() const override { return restored_from_; }
  OperatorStateStore& operator_state_store() override { return store_; }
  KeyedStateBackendBase* keyed_backend() override { return keyed_; }
  std::uint32_t subtask_index() const override { return store_.subtask_index(); }
  std::uint32_t parallelism() const override { return store_.parallelism(); }

 private:
  OperatorStateStore& store_;
  KeyedStateBackendBase* keyed_;
  std::optional<std::uint64_t> restored_from_;
};

}  // namespace ckpt
