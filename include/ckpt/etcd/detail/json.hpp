#pragma once
// Reading etcd's JSON gateway responses with RapidJSON, strictly: the parse is
// iterative (no recursion a deeply nested hostile body could overflow), the
// body is already capped by the HTTP client, and every field is checked for
// its type. etcd's gateway writes 64-bit integers as strings ("revision":"7")
// and leaves out fields that are zero; both are accepted here.

#include <ckpt/error.hpp>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace ckpt::etcd::detail {

using JsonValue = rapidjson::Value;
using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

/// A malformed or unexpected response: `where` names the endpoint and the call.
[[noreturn]] inline void malformed(const std::string& where, const std::string& what) {
  throw CorruptionError(errc::corrupt_data, where, "response", where + ": malformed response from etcd: " + what);
}

inline rapidjson::Document parse_json(std::string_view body, const std::string& where) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseStopWhenDoneFlag>(body.data(), body.size());
  if (doc.HasParseError())
    malformed(where, std::string("not JSON (") + rapidjson::GetParseError_En(doc.GetParseError()) + " at byte " +
                         std::to_string(doc.GetErrorOffset()) + ")");
  if (!doc.IsObject()) malformed(where, "not a JSON object");
  return doc;
}

inline const JsonValue* member(const JsonValue& object, const char* name) {
  if (!object.IsObject()) return nullptr;
  const auto it = object.FindMember(name);
  return it == object.MemberEnd() ? nullptr : &it->value;
}

/// An int64 field (a JSON string of digits or a number); 0 when absent.
inline std::int64_t get_int(const JsonValue& object, const char* name, const std::string& where) {
  const JsonValue* v = member(object, name);
  if (v == nullptr || v->IsNull()) return 0;
  if (v->IsInt64()) return v->GetInt64();
  if (v->IsString()) {
    const std::string_view s(v->GetString(), v->GetStringLength());
    std::int64_t out = 0;
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    if (!s.empty() && ec == std::errc() && p == s.data() + s.size()) return out;
  }
  malformed(where, std::string("field '") + name + "' is not a 64-bit integer");
}

/// A string field; empty when absent.
inline std::string get_string(const JsonValue& object, const char* name, const std::string& where) {
  const JsonValue* v = member(object, name);
  if (v == nullptr || v->IsNull()) return {};
  if (!v->IsString()) malformed(where, std::string("field '") + name + "' is not a string");
  return std::string(v->GetString(), v->GetStringLength());
}

/// A boolean field; false when absent.
inline bool get_bool(const JsonValue& object, const char* name, const std::string& where) {
  const JsonValue* v = member(object, name);
  if (v == nullptr || v->IsNull()) return false;
  if (!v->IsBool()) malformed(where, std::string("field '") + name + "' is not a boolean");
  return v->GetBool();
}

/// An object field, or nullptr when absent.
inline const JsonValue* get_object(const JsonValue& object, const char* name, const std::string& where) {
  const JsonValue* v = member(object, name);
  if (v == nullptr || v->IsNull()) return nullptr;
  if (!v->IsObject()) malformed(where, std::string("field '") + name + "' is not an object");
  return v;
}

/// An array field, or nullptr when absent.
inline const JsonValue* get_array(const JsonValue& object, const char* name, const std::string& where) {
  const JsonValue* v = member(object, name);
  if (v == nullptr || v->IsNull()) return nullptr;
  if (!v->IsArray()) malformed(where, std::string("field '") + name + "' is not an array");
  return v;
}

inline void write_key(JsonWriter& w, const char* name, const std::string& text) {
  w.Key(name);
  w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
}

inline void write_int(JsonWriter& w, const char* name, std::int64_t v) {
  const std::string s = std::to_string(v);  // as etcd writes them: a string
  write_key(w, name, s);
}

}  // namespace ckpt::etcd::detail
