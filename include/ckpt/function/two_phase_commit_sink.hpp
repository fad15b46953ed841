#pragma once
// TwoPhaseCommitSink<In, Txn>: the base of an exactly-once sink (Flink's
// TwoPhaseCommitSinkFunction). Records go into the current transaction; at
// every checkpoint the transaction is pre-committed (made durable, not yet
// visible) and a new one begins; when the checkpoint completes, every
// pre-committed transaction up to it is committed. On restore, transactions
// the checkpoint had pre-committed are committed again (commit must be
// idempotent) and the one that was open is aborted, so each record becomes
// visible exactly once across any number of failures. Completing an
// intermediate savepoint commits nothing (the runtime does not notify it):
// its transaction is committed by the next checkpoint.
//
// Txn is a cereal-serializable handle of the transaction (a file name, a
// transaction id) kept in operator state.

#include <ckpt/function/stream_functions.hpp>
#include <ckpt/state/list_state.hpp>
#include <ckpt/state/state_descriptor.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

namespace ckpt {

template <class In, class Txn>
class TwoPhaseCommitSink : public Sink<In> {
 public:
  /// A transaction as kept in state: pre-committed for a checkpoint, or open.
  struct Entry {
    std::uint64_t checkpoint_id = 0;  // 0: the open transaction
    Txn transaction{};
    template <class Archive>
    void serialize(Archive& ar) {
      ar(checkpoint_id, transaction);
    }
  };

  void initialize_state(FunctionInitializationContext& ctx) override {
    state_ = ctx.operator_state_store().get_list_state(ListStateDescriptor<Entry>{"two-phase-commit-transactions"});
    if (ctx.is_restored()) {
      for (auto& e : state_.get()) {
        if (e.checkpoint_id != 0) {
          recover_and_commit(e.transaction);
        } else {
          recover_and_abort(e.transaction);
        }
      }
    }
    state_.clear();
    current_ = begin_transaction();
  }

  void invoke(const In& value) final { write(*current_, value); }

  void snapshot_state(const FunctionSnapshotContext& ctx) override {
    precommitting_ = ctx.checkpoint_id();
    pre_commit(*current_);
    pending_.emplace(ctx.checkpoint_id(), std::move(*current_));
    current_ = begin_transaction();
    std::vector<Entry> entries;
    for (const auto& [id, txn] : pending_) entries.push_back({id, txn});
    entries.push_back({0, *current_});
    state_.update(std::move(entries));
  }

  void notify_checkpoint_complete(std::uint64_t checkpoint_id) override {
    // Completing N commits everything up to N, including checkpoints never heard of.
    while (!pending_.empty() && pending_.begin()->first <= checkpoint_id) {
      commit(pending_.begin()->second);
      pending_.erase(pending_.begin());
    }
  }

  void close() override {
    if (current_) abort(*current_);
    current_.reset();
  }

  /// Pre-committed transactions waiting for their checkpoint to complete.
  std::size_t pending_transactions() const noexcept { return pending_.size(); }

 protected:
  virtual Txn begin_transaction() = 0;
  /// Adds a record to the transaction.
  virtual void write(Txn& transaction, const In& value) = 0;
  /// Makes the transaction durable without making it visible.
  /// precommit_checkpoint_id() tells for which checkpoint.
  virtual void pre_commit(Txn& transaction) = 0;
  /// Makes it visible. Called again after a restore: must be idempotent.
  virtual void commit(const Txn& transaction) = 0;
  virtual void abort(Txn& transaction) = 0;
  /// After a restore: the defaults commit and abort.
  virtual void recover_and_commit(const Txn& transaction) { commit(transaction); }
  virtual void recover_and_abort(Txn& transaction) { abort(transaction); }

  /// During pre_commit(): the checkpoint or savepoint the transaction is
  /// pre-committed for (and then committed by, or by a later checkpoint). A
  /// sink whose output can be rolled back to a tag records it with the output.
  std::uint64_t precommit_checkpoint_id() const noexcept { return precommitting_; }

 private:
  ListState<Entry> state_;
  std::map<std::uint64_t, Txn> pending_;
  std::optional<Txn> current_;
  std::uint64_t precommitting_ = 0;
};

}  // namespace ckpt
