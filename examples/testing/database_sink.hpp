#pragma once
// An exactly-once sink into a transactional store: DatabaseSink writes each
// checkpoint's rows in one database transaction, prepared at the checkpoint
// and committed when it completes (ckpt::TwoPhaseCommitSink). Commits are
// idempotent by transaction id, so a transaction committed again after a
// restore shows its rows once.
//
// InMemoryDatabase stands in for the real store: rows written in a
// transaction are invisible until it commits.

#include <ckpt/function/two_phase_commit_sink.hpp>

#include <cereal/types/string.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace example {

struct Row {
  std::string account;
  std::int64_t amount = 0;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(account, amount);
  }
  friend bool operator==(const Row&, const Row&) = default;
  friend auto operator<=>(const Row&, const Row&) = default;
};

class InMemoryDatabase {
 public:
  /// A new transaction; ids are never reused.
  std::string begin() {
    auto id = "tx-" + std::to_string(++next_);
    open_[id];
    return id;
  }
  void insert(const std::string& txn, Row row) { find_open(txn).push_back(std::move(row)); }
  /// Makes the transaction durable, still invisible.
  void prepare(const std::string& txn) {
    auto rows = std::move(find_open(txn));
    open_.erase(txn);
    prepared_[txn] = std::move(rows);
  }
  /// Makes a prepared transaction visible; committing it again changes nothing.
  void commit(const std::string& txn) {
    if (committed_.count(txn)) return;
    const auto it = prepared_.find(txn);
    if (it == prepared_.end()) throw std::runtime_error("transaction " + txn + " was never prepared");
    for (auto& row : it->second) table_.push_back(std::move(row));
    committed_[txn] = true;
    prepared_.erase(it);
  }
  void rollback(const std::string& txn) {
    open_.erase(txn);
    prepared_.erase(txn);
  }

  /// The committed rows, in commit order.
  const std::vector<Row>& table() const noexcept { return table_; }
  /// Transactions begun or prepared and neither committed nor rolled back.
  std::size_t pending_transactions() const noexcept { return open_.size() + prepared_.size(); }

 private:
  std::vector<Row>& find_open(const std::string& txn) {
    const auto it = open_.find(txn);
    if (it == open_.end()) throw std::runtime_error("transaction " + txn + " is not open");
    return it->second;
  }

  std::uint64_t next_ = 0;
  std::map<std::string, std::vector<Row>> open_, prepared_;
  std::map<std::string, bool> committed_;
  std::vector<Row> table_;
};

class DatabaseSink final : public ckpt::TwoPhaseCommitSink<Row, std::string> {
 public:
  explicit DatabaseSink(std::shared_ptr<InMemoryDatabase> db) : db_(std::move(db)) {}

 protected:
  std::string begin_transaction() override { return db_->begin(); }
  void write(std::string& txn, const Row& row) override { db_->insert(txn, row); }
  void pre_commit(std::string& txn) override { db_->prepare(txn); }
  void commit(const std::string& txn) override { db_->commit(txn); }
  void abort(std::string& txn) override { db_->rollback(txn); }

 private:
  std::shared_ptr<InMemoryDatabase> db_;
};

}  // namespace example
