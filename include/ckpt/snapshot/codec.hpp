#pragma once
// Block compression with zstd. Each block is one zstd frame with its content
// size in the header, so a reader knows what it will get before it allocates.
// A Compressor or Decompressor keeps one zstd context for reuse: make one per
// thread, never share one between threads.

#include <ckpt/bytes.hpp>
#include <ckpt/error.hpp>

#include <zstd.h>

#include <cstdint>
#include <memory>
#include <new>
#include <string>

namespace ckpt {

/// How blocks are stored.
enum class Codec : std::uint8_t { none = 0, zstd = 1 };

inline const char* to_string(Codec c) noexcept { return c == Codec::zstd ? "zstd" : "none"; }

namespace detail {
struct CCtxDeleter {
  void operator()(ZSTD_CCtx* c) const noexcept { ZSTD_freeCCtx(c); }
};
struct DCtxDeleter {
  void operator()(ZSTD_DCtx* d) const noexcept { ZSTD_freeDCtx(d); }
};
}  // namespace detail

class Compressor {
 public:
  explicit Compressor(Codec codec = Codec::zstd, int level = 1) : codec_(codec), level_(level) {
    if (codec_ == Codec::zstd) {
      if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel())
        throw ConfigError(errc::invalid_argument, "zstd level " + std::to_string(level) + " is outside [" +
                                                      std::to_string(ZSTD_minCLevel()) + ", " +
                                                      std::to_string(ZSTD_maxCLevel()) + "]");
      ctx_.reset(ZSTD_createCCtx());
      if (!ctx_) throw std::bad_alloc();
      check(ZSTD_CCtx_setParameter(ctx_.get(), ZSTD_c_compressionLevel, level), "setting the level");
      check(ZSTD_CCtx_setParameter(ctx_.get(), ZSTD_c_contentSizeFlag, 1), "asking for the content size");
    }
  }

  Codec codec() const noexcept { return codec_; }
  int level() const noexcept { return level_; }

  /// Replaces `out` with `in` compressed as one frame.
  void compress(ByteSpan in, Bytes& out) {
    if (codec_ == Codec::none) {
      out.assign(in.begin(), in.end());
      return;
    }
    out.resize(ZSTD_compressBound(in.size()));
    // compress2 pledges the source size, so the frame header carries it.
    const auto n = ZSTD_compress2(ctx_.get(), out.data(), out.size(), in.data(), in.size());
    check(n, "compressing");
    out.resize(n);
  }

 private:
  static void check(std::size_t rc, const char* what) {
    if (ZSTD_isError(rc))
      throw CheckpointError(errc::checkpoint_aborted, std::string("zstd failed ") + what + ": " + ZSTD_getErrorName(rc));
  }
  Codec codec_;
  int level_;
  std::unique_ptr<ZSTD_CCtx, detail::CCtxDeleter> ctx_;
};

class Decompressor {
 public:
  Decompressor() : ctx_(ZSTD_createDCtx()) {
    if (!ctx_) throw std::bad_alloc();
  }

  /// Replaces `out` with the decompressed `in`, which must decompress to
  /// exactly `raw_size` bytes (from a verified index). `file` and `block`
  /// name what is read, for errors. Nothing larger than raw_size is ever
  /// allocated, whatever the frame claims.
  void decompress(Codec codec, ByteSpan in, std::uint64_t raw_size, Bytes& out, const std::string& file,
                  const std::string& block) {
    const auto fail = [&](errc code, const std::string& what) {
      return CorruptionError(code, file, block, file + ", " + block + ": " + what);
    };
    if (codec == Codec::none) {
      if (in.size() != raw_size)
        throw fail(errc::corrupt_data, "stored " + std::to_string(in.size()) + " bytes, expected " + std::to_string(raw_size));
      out.assign(in.begin(), in.end());
      return;
    }
    if (codec != Codec::zstd) throw fail(errc::unsupported_version, "unknown codec " + std::to_string(static_cast<int>(codec)));
    const auto claimed = ZSTD_getFrameContentSize(in.data(), in.size());
    if (claimed == ZSTD_CONTENTSIZE_ERROR) throw fail(errc::corrupt_data, "not a zstd frame");
    if (claimed == ZSTD_CONTENTSIZE_UNKNOWN) throw fail(errc::corrupt_data, "zstd frame without a content size");
    if (claimed != raw_size)
      throw fail(errc::limit_exceeded, "zstd frame claims " + std::to_string(claimed) + " bytes, the index " +
                                           std::to_string(raw_size));
    if (const auto frame = ZSTD_findFrameCompressedSize(in.data(), in.size()); ZSTD_isError(frame) || frame != in.size())
      throw fail(errc::corrupt_data, "the block is not exactly one zstd frame");
    out.resize(static_cast<std::size_t>(raw_size));
    const auto n = ZSTD_decompressDCtx(ctx_.get(), out.data(), out.size(), in.data(), in.size());
    if (ZSTD_isError(n)) throw fail(errc::corrupt_data, std::string("zstd: ") + ZSTD_getErrorName(n));
    if (n != raw_size)
      throw fail(errc::corrupt_data, "decompressed to " + std::to_string(n) + " bytes, expected " + std::to_string(raw_size));
  }

 private:
  std::unique_ptr<ZSTD_DCtx, detail::DCtxDeleter> ctx_;
};

}  // namespace ckpt
