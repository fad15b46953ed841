#pragma once
// What a global checkpoint keeps in etcd, as JSON values under the job's keys
// (job_keys.hpp):
//   global/pending/<N>           Announcement: the leader (its fencing token),
//                                the members expected and the deadline
//   global/parts/<N>/<member>    Report: the member's part descriptor (opaque
//                                to the protocol: where its files are, their
//                                checksum...) or why it declined
//   global/outcomes/<N>          Outcome: completed, or aborted and why
//   checkpoints/<N>              GlobalRecord: the committed checkpoint's
//                                parts and what the leader's finalize step
//                                returned (where the global _metadata is)
// Every value read back is checked: a value that is not what this code
// writes is a CorruptionError naming the key.

#include <ckpt/error.hpp>
#include <ckpt/etcd/detail/json.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ckpt::etcd {

/// One member's part of a global checkpoint.
struct MemberPart {
  std::string member_id;
  std::string descriptor;
  friend bool operator==(const MemberPart&, const MemberPart&) = default;
};

struct Announcement {
  std::int64_t id = 0;
  std::string leader;                  // member id of the announcing leader
  std::int64_t leader_revision = 0;    // its term's create revision
  std::int64_t deadline_epoch_millis = 0;  // by the leader's clock
  std::vector<std::string> members;    // expected to report, sorted
};

struct Report {
  bool declined = false;
  std::string descriptor;  // the part, when not declined
  std::string reason;      // why, when declined
};

struct Outcome {
  bool completed = false;
  std::string reason;  // why it aborted
};

/// The record of a committed global checkpoint (checkpoints/<N>).
struct GlobalRecord {
  std::string metadata;  // what finalize returned
  std::vector<MemberPart> parts;  // sorted by member id
};

namespace detail {

template <class F>
std::string json_object(F&& fill) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  fill(w);
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

inline rapidjson::Document parse_value(const std::string& value, const std::string& key) {
  try {
    return parse_json(value, "etcd key " + key);
  } catch (const CorruptionError&) {
    throw CorruptionError(errc::corrupt_data, key, "value",
                          "etcd key " + key + " does not hold a global checkpoint value (" +
                              std::to_string(value.size()) + " bytes, not a JSON object)");
  }
}

}  // namespace detail

inline std::string encode(const Announcement& a) {
  return detail::json_object([&](detail::JsonWriter& w) {
    detail::write_int(w, "id", a.id);
    detail::write_key(w, "leader", a.leader);
    detail::write_int(w, "leader_revision", a.leader_revision);
    detail::write_int(w, "deadline_epoch_millis", a.deadline_epoch_millis);
    w.Key("members");
    w.StartArray();
    for (const auto& m : a.members) w.String(m.data(), static_cast<rapidjson::SizeType>(m.size()));
    w.EndArray();
  });
}

inline Announcement decode_announcement(const std::string& value, const std::string& key) {
  const auto doc = detail::parse_value(value, key);
  const std::string at = "etcd key " + key;
  Announcement a;
  a.id = detail::get_int(doc, "id", at);
  a.leader = detail::get_string(doc, "leader", at);
  a.leader_revision = detail::get_int(doc, "leader_revision", at);
  a.deadline_epoch_millis = detail::get_int(doc, "deadline_epoch_millis", at);
  if (const detail::JsonValue* members = detail::get_array(doc, "members", at)) {
    for (const auto& m : members->GetArray()) {
      if (!m.IsString()) detail::malformed(at, "a member id is not a string");
      a.members.emplace_back(m.GetString(), m.GetStringLength());
    }
  }
  if (a.id < 1) detail::malformed(at, "no checkpoint id");
  return a;
}

inline std::string encode(const Report& r) {
  return detail::json_object([&](detail::JsonWriter& w) {
    if (r.declined) detail::write_key(w, "declined", r.reason);
    else detail::write_key(w, "part", r.descriptor);
  });
}

inline Report decode_report(const std::string& value, const std::string& key) {
  const auto doc = detail::parse_value(value, key);
  const std::string at = "etcd key " + key;
  Report r;
  if (detail::member(doc, "declined") != nullptr) {
    r.declined = true;
    r.reason = detail::get_string(doc, "declined", at);
  } else if (detail::member(doc, "part") != nullptr) {
    r.descriptor = detail::get_string(doc, "part", at);
  } else {
    detail::malformed(at, "neither a part nor a decline");
  }
  return r;
}

inline std::string encode(const Outcome& o) {
  return detail::json_object([&](detail::JsonWriter& w) {
    detail::write_key(w, "outcome", o.completed ? "completed" : "aborted");
    if (!o.completed) detail::write_key(w, "reason", o.reason);
  });
}

inline Outcome decode_outcome(const std::string& value, const std::string& key) {
  const auto doc = detail::parse_value(value, key);
  const std::string at = "etcd key " + key;
  const std::string what = detail::get_string(doc, "outcome", at);
  if (what != "completed" && what != "aborted") detail::malformed(at, "no outcome");
  return Outcome{what == "completed", detail::get_string(doc, "reason", at)};
}

inline std::string encode(const GlobalRecord& g) {
  return detail::json_object([&](detail::JsonWriter& w) {
    detail::write_key(w, "metadata", g.metadata);
    w.Key("parts");
    w.StartArray();
    for (const auto& p : g.parts) {
      w.StartObject();
      detail::write_key(w, "member", p.member_id);
      detail::write_key(w, "part", p.descriptor);
      w.EndObject();
    }
    w.EndArray();
  });
}

inline GlobalRecord decode_global_record(const std::string& value, const std::string& key) {
  const auto doc = detail::parse_value(value, key);
  const std::string at = "etcd key " + key;
  GlobalRecord g;
  g.metadata = detail::get_string(doc, "metadata", at);
  if (const detail::JsonValue* parts = detail::get_array(doc, "parts", at)) {
    for (const auto& p : parts->GetArray()) {
      if (!p.IsObject()) detail::malformed(at, "a part is not an object");
      g.parts.push_back({detail::get_string(p, "member", at), detail::get_string(p, "part", at)});
    }
  }
  return g;
}

}  // namespace ckpt::etcd
