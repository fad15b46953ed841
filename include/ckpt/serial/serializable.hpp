#pragma once
// ckpt::Serializable<T>: cereal can save T to ckpt's archives and load it back
// (a serialize() member or function, a save()/load() pair, or a cereal/types/*
// header for a standard type). The state concepts build on it, so a type cereal
// cannot write fails where the user names it, not deep inside cereal.

#include <ckpt/serial/archive.hpp>
#include <ckpt/serial/std_types.hpp>

#include <cereal/details/traits.hpp>

namespace ckpt {

template <class T>
concept Serializable = cereal::traits::is_output_serializable<T, serial::OutputArchive>::value &&
                       cereal::traits::is_input_serializable<T, serial::InputArchive>::value;

}  // namespace ckpt
