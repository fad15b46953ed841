#pragma once
// SplitSource<T, Split, State>: a FLIP-27 source, the factory of its one
// SplitEnumerator and of a SourceReader per subtask.
//
//   auto log = std::make_shared<ckpt::DirectorySource>(fs, "in", ckpt::DirectorySourceOptions::continuous(1s));
//   auto lines = pipeline.add_source("lines", 2, log);

#include <ckpt/function/source_reader.hpp>
#include <ckpt/function/source_split.hpp>
#include <ckpt/function/split_enumerator.hpp>

#include <concepts>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace ckpt {

template <class T, SourceSplit Split, class State = std::vector<Split>>
class SplitSource {
 public:
  using output_type = T;
  using split_type = Split;
  using state_type = State;
  virtual ~SplitSource() = default;

  /// The enumerator, with the state of the checkpoint restored (none on a fresh start).
  virtual std::unique_ptr<SplitEnumerator<Split, State>> create_enumerator(SplitEnumeratorContext<Split>& context,
                                                                          std::optional<State> restored) = 0;
  virtual std::unique_ptr<SourceReader<T, Split>> create_reader(std::uint32_t subtask) = 0;
};

/// S derives from a SplitSource (what Pipeline::add_source takes as a shared_ptr).
template <class S>
concept SplitSourceType = requires {
  typename S::output_type;
  typename S::split_type;
  typename S::state_type;
} && std::derived_from<S, SplitSource<typename S::output_type, typename S::split_type, typename S::state_type>>;

}  // namespace ckpt
