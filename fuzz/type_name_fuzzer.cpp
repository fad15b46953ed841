// libFuzzer target: ckpt-inspect's type-name parser and value decoder. The
// input is a type name, a NUL, then bytes to decode as a value of that type
// (as `ckpt-inspect dump` does with a state's stored type and its bytes). A
// name must parse or be refused with TypeParseError; a decodable one decodes
// the bytes or fails with a ckpt::Error naming the block. Never a crash, a
// deep recursion or an allocation beyond what the bytes could hold. The
// name's portable spelling (what a restore compares) must be a fixed point:
// names read from a snapshot are rewritten once and compared as they are.

#include "type_decoder.hpp"

#include "fuzz_common.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto nul = input.find('\0');
  const auto name = input.substr(0, nul);
  const ckpt::ByteSpan bytes = nul == std::string_view::npos
                                   ? ckpt::ByteSpan()
                                   : ckpt::ByteSpan(reinterpret_cast<const std::byte*>(data) + nul + 1, size - nul - 1);
  const auto portable = ckpt::portable_type_name(name);
  if (ckpt::portable_type_name(portable) != portable) std::abort();  // not idempotent
  ckpt::inspect::TypeNode type;
  try {
    type = ckpt::inspect::parse_type(name);
  } catch (const ckpt::inspect::TypeParseError&) {
    return 0;  // refused: what a name the decoder cannot read must be
  }
  if (!ckpt::inspect::decodable(type)) return 0;
  const std::string path = "chk-1/op-0.state";
  const ckpt::serial::ReadContext context{path, "key group 0"};
  try {
    ckpt::serial::InputArchive ar(bytes, context);
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    ckpt::inspect::decode_value(type, ar, writer);
  } catch (const ckpt::Error& e) {
    ckpt::fuzz::check_error(e, path);
  }
  return 0;
}
