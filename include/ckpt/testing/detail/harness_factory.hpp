#pragma once
// The factory of the function under a test harness: any callable that takes
// the subtask index (as a Pipeline's factories do) or nothing and returns a
// std::unique_ptr to the function.

#include <cstdint>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

namespace ckpt::detail {

/// The function type a factory makes (for class template argument deduction).
template <class F>
using harness_function_t = typename std::conditional_t<std::is_invocable_v<F&, std::uint32_t>,
                                                       std::invoke_result<F&, std::uint32_t>,
                                                       std::invoke_result<F&>>::type::element_type;

template <class Fn, class F>
std::function<std::unique_ptr<Fn>(std::uint32_t)> harness_factory(F make) {
  if constexpr (std::is_same_v<F, std::function<std::unique_ptr<Fn>(std::uint32_t)>>) {
    return make;
  } else if constexpr (std::is_invocable_v<F&, std::uint32_t>) {
    return [make = std::move(make)](std::uint32_t subtask) mutable -> std::unique_ptr<Fn> { return make(subtask); };
  } else {
    static_assert(std::is_invocable_v<F&>,
                  "a harness factory takes the subtask index (std::uint32_t) or nothing and returns a "
                  "std::unique_ptr to the function");
    return [make = std::move(make)](std::uint32_t) mutable -> std::unique_ptr<Fn> { return make(); };
  }
}

}  // namespace ckpt::detail
