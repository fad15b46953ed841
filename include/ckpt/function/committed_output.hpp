#pragma once
// CommittedOutput: what a transactional sink has made visible, addressable by
// the checkpoint that committed it, so it can be rolled back to a tag (as an
// Apache Paimon table is rolled back to a tag before its Flink job restores
// the tag's savepoint). TransactionalFileSink's is FileSinkOutput.

#include <cstdint>
#include <string>

namespace ckpt {

class CommittedOutput {
 public:
  virtual ~CommittedOutput() = default;
  /// Removes what was pre-committed for checkpoints (and savepoints) after
  /// `checkpoint_id`, keeping everything up to and including it. Idempotent;
  /// returns how many items (files, rows) it removed.
  virtual std::uint64_t rollback_to(std::uint64_t checkpoint_id) = 0;
  /// Names the output in messages ("file sink output mem://out/results").
  virtual std::string describe() const = 0;
};

}  // namespace ckpt
