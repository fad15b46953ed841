#pragma once
// ckpt's test harnesses: unit-test stateful functions in memory, on one
// thread, without sleeping — feed elements, fire timers with watermarks and
// a manual clock, snapshot, fail, restore and rescale in one line each.
// (GoogleTest printers and matchers: ckpt/testing/gtest.hpp; restoring from a
// real checkpoint: ckpt/testing/snapshot_subtask_states.hpp.)

#include <ckpt/testing/harness_output.hpp>
#include <ckpt/testing/keyed_process_function_test_harness.hpp>
#include <ckpt/testing/operator_subtask_state.hpp>
#include <ckpt/testing/process_function_test_harness.hpp>
#include <ckpt/testing/sink_test_harness.hpp>
#include <ckpt/testing/source_test_harness.hpp>
#include <ckpt/testing/test_harness_options.hpp>
#include <ckpt/testing/two_input_test_harness.hpp>
