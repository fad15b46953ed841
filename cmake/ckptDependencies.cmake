# Finds what the core target links. Kept in one file so ckptConfig.cmake can
# mirror it with find_dependency().
include(GNUInstallDirs)
set(THREADS_PREFER_PTHREAD_FLAG ON)
find_package(Threads REQUIRED)
find_package(Boost 1.81 REQUIRED)          # Boost::headers (unordered_flat_map needs 1.81)
find_package(cereal 1.3 REQUIRED)          # cereal::cereal
find_package(zstd 1.5 REQUIRED)            # zstd::libzstd_shared / zstd::libzstd_static
find_package(xxHash 0.8 REQUIRED)          # xxHash::xxhash (cmake/FindxxHash.cmake)
if(TARGET zstd::libzstd_shared)
  set(CKPT_ZSTD_TARGET zstd::libzstd_shared)
else()
  set(CKPT_ZSTD_TARGET zstd::libzstd_static)
endif()
