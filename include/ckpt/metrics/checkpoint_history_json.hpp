#pragma once
// The checkpoint history as JSON, shaped like Flink's /jobs/:id/checkpoints:
// "counts", "latest" (completed, savepoint, failed, restored) and "history"
// (newest first), with Flink's field names and units (milliseconds, bytes).
// Fields Flink has and ckpt does not measure are left out; ckpt's own figures
// (raw_size, sync/async/alignment durations, outcome, final) are added to
// each entry. Encoded with RapidJSON (needs rapidjson-dev: ckpt::metrics).

#include <ckpt/metrics/checkpoint_metrics.hpp>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace ckpt {

namespace detail {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

inline void json_field(JsonWriter& w, const char* name, std::uint64_t v) {
  w.Key(name);
  w.Uint64(v);
}
inline void json_field(JsonWriter& w, const char* name, std::int64_t v) {
  w.Key(name);
  w.Int64(v);
}
inline void json_field(JsonWriter& w, const char* name, bool v) {
  w.Key(name);
  w.Bool(v);
}
inline void json_field(JsonWriter& w, const char* name, const std::string& v) {
  w.Key(name);
  w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
}
inline void json_millis(JsonWriter& w, const char* name, std::chrono::nanoseconds d) {
  json_field(w, name,
             static_cast<std::int64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()));
}

/// One checkpoint, as an entry of Flink's history.
inline void write_checkpoint_json(JsonWriter& w, const CheckpointStats& s) {
  const bool completed = s.outcome == CheckpointOutcome::completed;
  const bool savepoint = s.kind == SnapshotKind::savepoint;
  w.StartObject();
  json_field(w, "className", std::string(completed ? "completed" : "failed"));
  json_field(w, "id", s.id);
  json_field(w, "status", std::string(completed ? "COMPLETED" : "FAILED"));
  json_field(w, "outcome", std::string(to_string(s.outcome)));
  json_field(w, "is_savepoint", savepoint);
  json_field(w, "checkpoint_type", std::string(savepoint ? "SAVEPOINT" : "CHECKPOINT"));
  json_field(w, "final", s.final);
  json_field(w, "trigger_timestamp", s.trigger_timestamp_millis);
  json_millis(w, "end_to_end_duration", s.end_to_end);
  json_millis(w, "sync_duration", s.sync_pause);
  json_millis(w, "alignment_duration", s.alignment);
  json_millis(w, "async_duration", s.async_duration);
  json_field(w, "checkpointed_size", s.stored_bytes);
  if (completed) json_field(w, "state_size", s.full_stored_bytes);  // Flink: the full size
  json_field(w, "raw_size", s.raw_bytes);
  json_field(w, "num_subtasks", std::uint64_t{s.participants});
  json_field(w, "num_acknowledged_subtasks",
             static_cast<std::uint64_t>(std::count_if(s.per_participant.begin(), s.per_participant.end(),
                                                      [](const auto& p) { return p.acknowledged; })));
  // Flink's per-subtask details (/checkpoints/details/:id/subtasks/...), inline.
  w.Key("subtasks");
  w.StartArray();
  for (std::size_t i = 0; i < s.per_participant.size(); ++i) {
    const auto& p = s.per_participant[i];
    w.StartObject();
    json_field(w, "index", static_cast<std::uint64_t>(i));
    json_field(w, "name", p.name);
    json_field(w, "status", std::string(p.written ? "completed" : p.acknowledged ? "writing" : "pending_or_failed"));
    json_millis(w, "sync_duration", p.sync_pause);
    json_millis(w, "alignment_duration", p.alignment);
    json_millis(w, "async_duration", p.async_duration);
    json_field(w, "checkpointed_size", p.stored_bytes);
    json_field(w, "raw_size", p.raw_bytes);
    w.EndObject();
  }
  w.EndArray();
  if (!completed) {
    json_field(w, "failure_timestamp",
               s.trigger_timestamp_millis +
                   static_cast<std::int64_t>(
                       std::chrono::duration_cast<std::chrono::milliseconds>(s.end_to_end).count()));
    json_field(w, "failure_message", s.failure);
  }
  w.EndObject();
}

inline void write_latest_json(JsonWriter& w, const char* name, const std::optional<CheckpointStats>& s) {
  w.Key(name);
  if (s)
    write_checkpoint_json(w, *s);
  else
    w.Null();
}

}  // namespace detail

/// The history as JSON (see above).
inline std::string render_checkpoint_history_json(const CheckpointMetricsSnapshot& m) {
  rapidjson::StringBuffer buffer;
  detail::JsonWriter w(buffer);
  w.StartObject();
  detail::json_field(w, "job", m.job);
  w.Key("counts");
  w.StartObject();
  detail::json_field(w, "restored", m.restored);
  detail::json_field(w, "total", m.total());
  w.Key("in_progress");
  if (m.in_progress)
    w.Uint64(*m.in_progress);
  else
    w.Null();  // unknown: not attached to a coordinator
  detail::json_field(w, "completed", m.completed);
  detail::json_field(w, "failed", m.failed);
  w.EndObject();
  w.Key("latest");
  w.StartObject();
  detail::write_latest_json(w, "completed", m.last_completed);
  detail::write_latest_json(w, "savepoint", m.last_completed_savepoint);
  detail::write_latest_json(w, "failed", m.last_failed);
  w.Key("restored");
  if (const auto& r = m.last_restore) {
    w.StartObject();
    detail::json_field(w, "id", r->checkpoint_id);
    detail::json_field(w, "restore_timestamp", r->timestamp_millis);
    w.EndObject();
  } else {
    w.Null();
  }
  w.EndObject();
  w.Key("history");
  w.StartArray();
  for (auto it = m.history.rbegin(); it != m.history.rend(); ++it) detail::write_checkpoint_json(w, *it);
  w.EndArray();
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

inline std::string render_checkpoint_history_json(const CheckpointMetrics& metrics) {
  return render_checkpoint_history_json(metrics.snapshot());
}

}  // namespace ckpt
