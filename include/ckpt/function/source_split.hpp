#pragma once
// SourceSplit: the unit of work of a split source (FLIP-27): a partition of a
// log, a file of a directory. A split carries its own read position, so the
// split as a reader snapshots it is its checkpointed state; split_id() names
// it across runs and subtasks.

#include <concepts>
#include <string>

namespace ckpt {

template <class S>
concept SourceSplit = std::copy_constructible<S> && requires(const S& s) {
  { s.split_id() } -> std::convertible_to<std::string>;
};

}  // namespace ckpt
