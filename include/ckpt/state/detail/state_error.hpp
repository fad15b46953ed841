#pragma once
// Errors shared by the state handles.

#include <ckpt/error.hpp>

#include <string>

namespace ckpt::detail {

[[noreturn]] inline void throw_unbound_state(const char* kind) {
  throw StateError(errc::invalid_argument,
                   std::string("a default-constructed ") + kind +
                       " handle was used; obtain handles from a state backend or operator state store");
}

}  // namespace ckpt::detail
