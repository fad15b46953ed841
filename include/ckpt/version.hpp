#pragma once

#define CKPT_VERSION_MAJOR 0
#define CKPT_VERSION_MINOR 1
#define CKPT_VERSION_PATCH 0

namespace ckpt {
inline constexpr const char* version_string = "0.1.0";
}
