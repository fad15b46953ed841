// libFuzzer target: the manifest reader, decode_manifest() + validate_manifest(),
// on the input as it is and re-signed (header size and checksum recomputed, so
// mutations of the body reach the decoder and the validation). A manifest that
// passes must re-encode to bytes that decode to the same manifest.

#include <ckpt/storage/snapshot_reader.hpp>

#include "fuzz_common.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace {

const std::string kPath = "chk-1/_metadata";

void exercise(ckpt::ByteSpan bytes) {
  try {
    const auto m = ckpt::decode_manifest(bytes, kPath, ckpt::fuzz::limits());
    ckpt::validate_manifest(m, kPath);
    const auto encoded = ckpt::encode_manifest(m);
    const auto again = ckpt::decode_manifest(encoded, kPath, ckpt::fuzz::limits());
    if (ckpt::encode_manifest(again) != encoded) std::abort();  // not a round trip
  } catch (const ckpt::Error& e) {
    ckpt::fuzz::check_error(e, kPath);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ckpt::ByteSpan bytes(reinterpret_cast<const std::byte*>(data), size);
  exercise(bytes);
  exercise(ckpt::fuzz::resign_manifest(bytes));
  return 0;
}
