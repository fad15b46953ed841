#pragma once
// ckpt's version: the one place it is written (CMakeLists.txt reads these three lines).

#define CKPT_VERSION_MAJOR 0
#define CKPT_VERSION_MINOR 1
#define CKPT_VERSION_PATCH 0

#define CKPT_DETAIL_STRINGIFY2(x) #x
#define CKPT_DETAIL_STRINGIFY(x) CKPT_DETAIL_STRINGIFY2(x)

namespace ckpt {
inline constexpr const char* version_string = CKPT_DETAIL_STRINGIFY(CKPT_VERSION_MAJOR) "." CKPT_DETAIL_STRINGIFY(
    CKPT_VERSION_MINOR) "." CKPT_DETAIL_STRINGIFY(CKPT_VERSION_PATCH);
}
