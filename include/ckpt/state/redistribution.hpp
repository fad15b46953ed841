#pragma once
// How operator state is handed out when a job restarts at another parallelism.
// Pure functions of the old subtasks' lists (in old-subtask order) and the new
// parallelism; each returns what every new subtask receives.
//
// even split (Flink's round-robin repartitioner): the old lists are
//   concatenated in old-subtask order and cut into contiguous runs; with
//   total elements and M new subtasks, base = total / M and the first
//   total % M new subtasks get one more. Unchanged parallelism gives every
//   subtask exactly its own list back.
// union: every new subtask gets every element.
// broadcast: new subtask i gets old subtask (i mod N)'s copy.

#include <ckpt/error.hpp>
#include <ckpt/serial/snapshot_data.hpp>

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace ckpt {

namespace detail {
inline void check_new_parallelism(std::size_t m) {
  if (m == 0) throw ConfigError(errc::invalid_argument, "the new parallelism must be at least 1");
}
}  // namespace detail

/// The half-open run [first, second) of the concatenated elements that new
/// subtask `index` of `parallelism` receives under even split.
inline std::pair<std::size_t, std::size_t> even_split_run(std::size_t total, std::size_t parallelism,
                                                          std::size_t index) {
  detail::check_new_parallelism(parallelism);
  const auto base = total / parallelism;
  const auto extra = total % parallelism;
  const auto begin = index * base + (index < extra ? index : extra);
  return {begin, begin + base + (index < extra ? 1 : 0)};
}

template <class T>
std::vector<std::vector<T>> redistribute_even_split(const std::vector<std::vector<T>>& old_lists,
                                                    std::size_t new_parallelism) {
  detail::check_new_parallelism(new_parallelism);
  if (old_lists.size() == new_parallelism) return old_lists;  // as in Flink: everyone keeps its own
  std::vector<T> all;
  for (const auto& list : old_lists) all.insert(all.end(), list.begin(), list.end());
  std::vector<std::vector<T>> out(new_parallelism);
  for (std::size_t i = 0; i < new_parallelism; ++i) {
    const auto [b, e] = even_split_run(all.size(), new_parallelism, i);
    out[i].assign(all.begin() + static_cast<std::ptrdiff_t>(b), all.begin() + static_cast<std::ptrdiff_t>(e));
  }
  return out;
}

template <class T>
std::vector<std::vector<T>> redistribute_union(const std::vector<std::vector<T>>& old_lists,
                                               std::size_t new_parallelism) {
  detail::check_new_parallelism(new_parallelism);
  std::vector<T> all;
  for (const auto& list : old_lists) all.insert(all.end(), list.begin(), list.end());
  return std::vector<std::vector<T>>(new_parallelism, all);
}

template <class T>
std::vector<T> redistribute_broadcast(const std::vector<T>& old_copies, std::size_t new_parallelism) {
  detail::check_new_parallelism(new_parallelism);
  std::vector<T> out;
  if (old_copies.empty()) return std::vector<T>(new_parallelism);
  out.reserve(new_parallelism);
  for (std::size_t i = 0; i < new_parallelism; ++i) out.push_back(old_copies[i % old_copies.size()]);
  return out;
}

/// Any of the three by mode, for lists (broadcast: each old list is a copy).
template <class T>
std::vector<std::vector<T>> redistribute(Distribution mode, const std::vector<std::vector<T>>& old_lists,
                                         std::size_t new_parallelism) {
  switch (mode) {
    case Distribution::even_split: return redistribute_even_split(old_lists, new_parallelism);
    case Distribution::union_all: return redistribute_union(old_lists, new_parallelism);
    case Distribution::broadcast: return redistribute_broadcast(old_lists, new_parallelism);
  }
  throw ConfigError(errc::invalid_argument, "unknown distribution mode");
}

}  // namespace ckpt
