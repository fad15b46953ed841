#pragma once
// Decodes serialized state without its C++ types, from the stable type names
// recorded in snapshots ("u64", "string", "vector<pair<string,f64>>",
// "unordered_map<string,ttl<i64>>", ...), into JSON. Types built from ckpt's
// named fundamentals, standard containers and the library's own source and
// sink states can be decoded; a user type (a demangled class name) cannot,
// and says so.

#include <ckpt/error.hpp>
#include <ckpt/serial/archive.hpp>
#include <ckpt/serial/portable_type_name.hpp>
#include <ckpt/serial/snapshot_data.hpp>

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ckpt::inspect {

using JsonWriter = rapidjson::PrettyWriter<rapidjson::StringBuffer>;
using CompactJsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

/// A parsed type name: "map<string,vector<i64>>" -> {map, [{string}, {vector, [{i64}]}]}.
using TypeNode = ckpt::TypeNameNode;

class TypeParseError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr std::size_t max_type_name_length = ckpt::max_type_name_length;
inline constexpr std::size_t max_type_depth = ckpt::max_type_name_depth;

inline TypeNode parse_type(std::string_view text) {
  TypeNode t;
  std::string why;
  if (!parse_type_name(text, t, why)) throw TypeParseError(why);
  return t;
}

/// A field of one of the library's own state types.
struct Field {
  std::string_view name;
  TypeNode type;
};

/// The fields of a library type that sources and sinks keep in state (the
/// partitioned source's offsets, the two-phase-commit sink's transactions),
/// in the order their serialize() writes them; empty for any other type.
inline std::vector<Field> library_fields(const TypeNode& t) {
  const auto leaf = [](std::string name) { return TypeNode{std::move(name), {}, {}, false}; };
  const bool plain = !t.has_args && t.next.empty();
  if (t.name == "ckpt::PartitionOffset" && plain) return {{"partition", leaf("u32")}, {"offset", leaf("u64")}};
  if (t.name == "ckpt::FileTransaction" && plain)
    return {{"pending_path", leaf("string")}, {"final_path", leaf("string")}, {"empty", leaf("bool")}};
  if (t.name == "ckpt::TwoPhaseCommitSink" && t.args.size() == 2 && t.next.size() == 1 && t.next[0].name == "::Entry" &&
      !t.next[0].has_args && t.next[0].next.empty())
    return {{"checkpoint_id", leaf("u64")}, {"transaction", t.args[1]}};
  return {};
}

/// Whether every part of `t` is one the decoder knows.
inline bool decodable(const TypeNode& t) {
  static const std::vector<std::string> leaves{"bool", "char", "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64",
                                               "f32", "f64", "string"};
  static const std::vector<std::string> one_argument{"vector", "deque", "list", "set", "unordered_set", "optional", "ttl"};
  const auto is = [&](const std::vector<std::string>& names) {
    return std::find(names.begin(), names.end(), t.name) != names.end();
  };
  const auto all_decodable = [&](std::size_t from) {
    return std::all_of(t.args.begin() + static_cast<std::ptrdiff_t>(from), t.args.end(),
                       [](const TypeNode& a) { return decodable(a); });
  };
  if (const auto fields = library_fields(t); !fields.empty())
    return std::all_of(fields.begin(), fields.end(), [](const Field& f) { return decodable(f.type); });
  if (!t.next.empty()) return false;  // a nested type of a user template
  if (is(leaves)) return !t.has_args;
  if (is(one_argument)) return t.args.size() == 1 && all_decodable(0);
  if (t.name == "pair" || t.name == "map" || t.name == "unordered_map") return t.args.size() == 2 && all_decodable(0);
  if (t.name == "tuple") return !t.args.empty() && all_decodable(0);
  if (t.name == "array") {  // array<T,N>: N a number of at most six digits
    if (t.args.size() != 2 || !decodable(t.args[0]) || !t.args[1].args.empty()) return false;
    const auto& n = t.args[1].name;
    return !n.empty() && n.size() <= 6 && std::all_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; });
  }
  return false;  // a user type: needs the program's types
}

/// Reads one value of type `t` (ckpt's binary cereal encoding) and writes it as JSON.
template <class Writer>
void decode_value(const TypeNode& t, serial::InputArchive& ar, Writer& out) {
  const auto integer = [&](auto zero) {
    decltype(zero) v{};
    ar(v);
    if constexpr (std::is_signed_v<decltype(zero)>) out.Int64(static_cast<std::int64_t>(v));
    else out.Uint64(static_cast<std::uint64_t>(v));
  };
  const auto& n = t.name;
  if (const auto fields = library_fields(t); !fields.empty()) {
    out.StartObject();
    for (const auto& f : fields) {
      out.Key(f.name.data(), static_cast<rapidjson::SizeType>(f.name.size()));
      decode_value(f.type, ar, out);
    }
    out.EndObject();
  } else if (n == "bool") {
    bool v = false;
    ar(v);
    out.Bool(v);
  } else if (n == "char" || n == "i8") {
    integer(std::int8_t{});
  } else if (n == "i16") {
    integer(std::int16_t{});
  } else if (n == "i32") {
    integer(std::int32_t{});
  } else if (n == "i64") {
    integer(std::int64_t{});
  } else if (n == "u8") {
    integer(std::uint8_t{});
  } else if (n == "u16") {
    integer(std::uint16_t{});
  } else if (n == "u32") {
    integer(std::uint32_t{});
  } else if (n == "u64") {
    integer(std::uint64_t{});
  } else if (n == "f32") {
    float v = 0;
    ar(v);
    out.Double(static_cast<double>(v));
  } else if (n == "f64") {
    double v = 0;
    ar(v);
    out.Double(v);
  } else if (n == "string") {
    std::string v;
    ar(v);
    out.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
  } else if (n == "optional") {
    bool present = false;
    ar(present);
    if (present) decode_value(t.args.at(0), ar, out);
    else out.Null();
  } else if (n == "pair" || n == "tuple") {
    out.StartArray();
    for (const auto& a : t.args) decode_value(a, ar, out);
    out.EndArray();
  } else if (n == "ttl") {
    out.StartObject();
    out.Key("value");
    decode_value(t.args.at(0), ar, out);
    std::int64_t last_access = 0;
    ar(last_access);
    out.Key("last_access_ms");
    out.Int64(last_access);
    out.EndObject();
  } else if (n == "array") {
    const auto count = std::stoull(t.args.at(1).name);
    ar.check_length(count);
    out.StartArray();
    for (std::uint64_t i = 0; i < count; ++i) decode_value(t.args.at(0), ar, out);
    out.EndArray();
  } else if (n == "map" || n == "unordered_map") {
    std::uint64_t size = 0;
    ar(size);
    ar.check_length(size);
    out.StartArray();
    for (std::uint64_t i = 0; i < size; ++i) {
      out.StartArray();
      decode_value(t.args.at(0), ar, out);
      decode_value(t.args.at(1), ar, out);
      out.EndArray();
    }
    out.EndArray();
  } else if (n == "vector" || n == "deque" || n == "list" || n == "set" || n == "unordered_set") {
    std::uint64_t size = 0;
    ar(size);
    ar.check_length(size);
    out.StartArray();
    for (std::uint64_t i = 0; i < size; ++i) decode_value(t.args.at(0), ar, out);
    out.EndArray();
  } else {
    throw TypeParseError("cannot decode values of type '" + n + "'");
  }
}

/// Size of a fixed-size ("raw" column) type, or 0.
inline std::size_t raw_size(const TypeNode& t) {
  const auto& n = t.name;
  if (n == "bool" || n == "char" || n == "i8" || n == "u8") return 1;
  if (n == "i16" || n == "u16") return 2;
  if (n == "i32" || n == "u32" || n == "f32") return 4;
  if (n == "i64" || n == "u64" || n == "f64") return 8;
  return 0;
}

/// Decodes a raw column element (little-endian fixed size) by re-reading it
/// through the archive, which reads the same bytes for these types.
inline void decode_column(const TypeNode& t, Encoding encoding, std::uint64_t count, serial::InputArchive& ar,
                          std::vector<std::string>& out) {
  if (encoding == Encoding::raw && raw_size(t) == 0)
    throw TypeParseError("a raw column of non-fixed-size type '" + t.name + "'");
  for (std::uint64_t i = 0; i < count; ++i) {
    rapidjson::StringBuffer buffer;
    CompactJsonWriter writer(buffer);  // one entry per line in a dump
    decode_value(t, ar, writer);
    out.emplace_back(buffer.GetString(), buffer.GetSize());
  }
}

}  // namespace ckpt::inspect
