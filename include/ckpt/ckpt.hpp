#pragma once
// ckpt: Flink-style checkpointed state for C++ programs. The umbrella header
// of the core (never of optional backends such as ckpt/s3).

#include <ckpt/version.hpp>
#include <ckpt/error.hpp>
#include <ckpt/clock.hpp>

#include <ckpt/state/key_group.hpp>
#include <ckpt/state/state_descriptor.hpp>
#include <ckpt/state/keyed_state_backend.hpp>
#include <ckpt/state/operator_state_store.hpp>
#include <ckpt/state/redistribution.hpp>

#include <ckpt/function/checkpoint_listener.hpp>
#include <ckpt/function/checkpointed_function.hpp>
#include <ckpt/function/list_checkpointed.hpp>
