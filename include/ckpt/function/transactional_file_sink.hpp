#pragma once
// TransactionalFileSink<In>: exactly-once output files. Each transaction is a
// part file, written to <dir>/_pending/<subtask>/ (invisible until
// pre-committed at a checkpoint, when it becomes durable there), and moved to
// <dir>/part-c<checkpoint>-... by an atomic rename when its checkpoint
// completes. A reader of <dir> sees only parts of completed checkpoints, each
// exactly once. The checkpoint id in a part's name lets FileSinkOutput roll
// the directory back to a tag.

#include <ckpt/error.hpp>
#include <ckpt/fs/file_system.hpp>
#include <ckpt/fs/path.hpp>
#include <ckpt/function/committed_output.hpp>
#include <ckpt/function/two_phase_commit_sink.hpp>

#include <cereal/types/string.hpp>

#include <charconv>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>

namespace ckpt {

/// A part file's transaction: its name, and whether anything was written.
struct FileTransaction {
  std::string pending_path;  // where it waits, durable once pre-committed
  std::string final_path;    // where it appears on commit
  bool empty = true;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(pending_path, final_path, empty);
  }
};

namespace detail {
inline constexpr std::string_view committed_part_prefix = "part-c";

/// The checkpoint id in a committed part's name ("part-c<id>-..."), if it has one.
inline std::optional<std::uint64_t> committed_part_checkpoint(std::string_view name) {
  if (!name.starts_with(committed_part_prefix)) return std::nullopt;
  name.remove_prefix(committed_part_prefix.size());
  std::uint64_t id = 0;
  const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), id);
  if (ec != std::errc{} || end == name.data() || end == name.data() + name.size() || *end != '-') return std::nullopt;
  return id;
}
}  // namespace detail

/// The committed output of the TransactionalFileSinks writing to one
/// directory, for rolling it back to a tag. Parts without a checkpoint id in
/// their name (written before ckpt recorded it) are never removed.
class FileSinkOutput final : public CommittedOutput {
 public:
  FileSinkOutput(std::shared_ptr<fs::FileSystem> fs, std::string directory)
      : fs_(std::move(fs)), directory_(std::move(directory)) {
    fs::validate_path(directory_);
  }

  std::uint64_t rollback_to(std::uint64_t checkpoint_id) override {
    std::uint64_t removed = 0;
    for (const auto& e : fs_->list(directory_)) {
      if (e.type != fs::EntryType::file) continue;
      const auto id = detail::committed_part_checkpoint(e.name);
      if (!id || *id <= checkpoint_id) continue;
      fs_->remove(fs::join(directory_, e.name));
      ++removed;
    }
    return removed;
  }
  std::string describe() const override { return "file sink output " + fs_->uri() + "/" + directory_; }

 private:
  std::shared_ptr<fs::FileSystem> fs_;
  std::string directory_;
};

template <class In>
class TransactionalFileSink : public TwoPhaseCommitSink<In, FileTransaction> {
 public:
  using Format = std::function<std::string(const In&)>;

  /// Writes `format(record) + "\n"` per record into part files under `directory` of `fs`.
  TransactionalFileSink(std::shared_ptr<fs::FileSystem> fs, std::string directory, Format format)
      : fs_(std::move(fs)), directory_(std::move(directory)), format_(std::move(format)), output_(fs_, directory_) {}

  void initialize_state(FunctionInitializationContext& ctx) override {
    subtask_ = ctx.subtask_index();
    // In-progress parts of a crashed run of this subtask are uncommitted temporaries.
    fs_->remove_temporaries(pending_dir());
    TwoPhaseCommitSink<In, FileTransaction>::initialize_state(ctx);
  }

  /// Parts committed by this instance so far.
  std::uint64_t committed_parts() const noexcept { return committed_; }
  /// Its directory's committed parts, which name their checkpoints.
  CommittedOutput* committed_output() override { return &output_; }

 protected:
  FileTransaction begin_transaction() override {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    const auto name = "part-" + std::to_string(subtask_) + "-" + std::to_string(++counter_) + "-" +
                      std::to_string(rng() % 1000000000000ULL) + ".txt";
    return {fs::join(pending_dir(), name), fs::join(directory_, name), true};
  }

  void write(FileTransaction& txn, const In& value) override {
    auto& file = writers_[txn.pending_path];
    if (!file) file = fs_->create(txn.pending_path);
    txn.empty = false;
    const auto line = format_(value) + "\n";
    file->append(as_bytes(line));
  }

  void pre_commit(FileTransaction& txn) override {
    const auto it = writers_.find(txn.pending_path);
    if (it == writers_.end()) return;  // nothing written: nothing to commit
    it->second->commit();              // durable, under its pending name
    writers_.erase(it);
    // Where it appears on commit names the checkpoint it belongs to.
    const auto part = fs::filename(txn.pending_path).substr(std::string_view("part-").size());
    txn.final_path = fs::join(directory_, std::string(detail::committed_part_prefix) +
                                              std::to_string(this->precommit_checkpoint_id()) + "-" + part);
  }

  void commit(const FileTransaction& txn) override {
    if (txn.empty) return;
    if (fs_->exists(txn.pending_path)) {
      fs_->rename(txn.pending_path, txn.final_path);
      ++committed_;
    } else if (!fs_->exists(txn.final_path)) {
      throw IoError(errc::not_found, txn.pending_path,
                    "part " + txn.final_path + " can be committed neither from " + txn.pending_path +
                        " nor was it committed before: the transaction is lost");
    }
    // else: committed before a failure, and this is the retry after the restore.
  }

  void abort(FileTransaction& txn) override {
    if (const auto it = writers_.find(txn.pending_path); it != writers_.end()) {
      it->second->abort();
      writers_.erase(it);
    }
    fs_->remove(txn.pending_path);
  }

  /// After a restore, the transaction that was open at the snapshot: what it
  /// wrote before the crash was never pre-committed for this snapshot, and
  /// an uncommitted part is a temporary initialize_state() already removed.
  /// A part that is there under its pending name was pre-committed for a
  /// later checkpoint or savepoint, which still needs it (restoring that
  /// savepoint commits it): it is left alone, invisible.
  void recover_and_abort(FileTransaction&) override {}

 private:
  std::string pending_dir() const { return fs::join(fs::join(directory_, "_pending"), std::to_string(subtask_)); }

  std::shared_ptr<fs::FileSystem> fs_;
  std::string directory_;
  Format format_;
  FileSinkOutput output_;  // after fs_ and directory_, which it is made of (and validates)
  std::uint32_t subtask_ = 0;
  std::uint64_t counter_ = 0;
  std::uint64_t committed_ = 0;
  std::map<std::string, std::unique_ptr<fs::WritableFile>> writers_;
};

}  // namespace ckpt
