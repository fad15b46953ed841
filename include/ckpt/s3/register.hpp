#pragma once
// Registers S3FileSystem in the file-system registry for the s3:// and obs://
// schemes, so ckpt::fs::open_file_system("s3://bucket/prefix") works.
// Including this header registers them (with options from the environment
// and the URI); call register_file_systems(options) to register with options
// of your own (credentials, part size, timeouts) instead.
//
// The registry itself (ckpt/fs/registry.hpp) never includes this header: the
// core does not depend on libcurl or OpenSSL.

#include <ckpt/fs/registry.hpp>
#include <ckpt/fs/uri.hpp>
#include <ckpt/s3/file_system.hpp>
#include <ckpt/s3/options.hpp>

#include <memory>
#include <optional>
#include <utility>

namespace ckpt::s3 {

/// Registers s3:// and obs://. With `base`, every file system opened through
/// the registry starts from those options (then the URI's parameters apply);
/// without, from S3Options::from_environment(scheme).
inline void register_file_systems(std::optional<S3Options> base = std::nullopt) {
  for (const char* scheme : {"s3", "obs"}) {
    fs::register_file_system(scheme, [base](const fs::Uri& uri) -> std::shared_ptr<fs::FileSystem> {
      return base ? S3FileSystem::make(uri.str(), *base) : S3FileSystem::make(uri.str());
    });
  }
}

namespace detail {
inline const bool file_systems_registered = (register_file_systems(), true);
}  // namespace detail

}  // namespace ckpt::s3
