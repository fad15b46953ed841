#pragma once
// Helpers shared by the file-system tests: those of the public
// ckpt/testing/file_system_checks.hpp, and a temporary directory.

#include <ckpt/bytes.hpp>
#include <ckpt/error.hpp>
#include <ckpt/fs/file_system.hpp>

#include <ckpt/testing/file_system_checks.hpp>  // expect_error, pattern, read_all, ...

#include "temp_dir.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <typeinfo>
#include <vector>

#include <unistd.h>

namespace ckpt::fs::test {

/// A fresh directory, removed with everything in it when destroyed.
using TempDir = ckpt::test::TempDir;

}  // namespace ckpt::fs::test
