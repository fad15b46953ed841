#pragma once
// Checkpoint metrics in the Prometheus text exposition format (version 0.0.4):
// Flink's checkpoint metric names in snake_case with the `ckpt_` prefix,
// counters ending in `_total`, durations in seconds and sizes in bytes (the
// Prometheus base units; Flink reports milliseconds), every sample labelled
// job="...". A figure nobody reported yet (no checkpoint completed, no
// restore, in-progress count without an attached coordinator) is left out
// rather than given a made-up value.

#include <ckpt/metrics/checkpoint_metrics.hpp>

#include <charconv>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace ckpt {

/// The Content-Type of render_prometheus_text()'s output.
inline constexpr std::string_view prometheus_text_content_type = "text/plain; version=0.0.4; charset=utf-8";

namespace detail {

class PrometheusWriter {
 public:
  explicit PrometheusWriter(std::string_view job) : labels_("{job=\"" + escape_label(job) + "\"}") {}

  void counter(std::string_view name, std::string_view help, std::uint64_t value) {
    family(name, help, "counter");
    sample(name, std::to_string(value));
  }
  void gauge(std::string_view name, std::string_view help, std::uint64_t value) {
    family(name, help, "gauge");
    sample(name, std::to_string(value));
  }
  void seconds(std::string_view name, std::string_view help, std::chrono::nanoseconds d) {
    family(name, help, "gauge");
    sample(name, number(std::chrono::duration<double>(d).count()));
  }
  void timestamp(std::string_view name, std::string_view help, std::int64_t epoch_millis) {
    family(name, help, "gauge");
    sample(name, number(static_cast<double>(epoch_millis) / 1000.0));
  }

  /// A family with one sample per participant of a checkpoint, labelled with
  /// its index (unique) and its name.
  template <class ValueOf>
  void per_participant(std::string_view name, std::string_view help, const CheckpointStats& c, ValueOf value_of) {
    if (c.per_participant.empty()) return;
    family(name, help, "gauge");
    const std::string_view job_labels(labels_.data(), labels_.size() - 1);  // without the closing brace
    for (std::size_t i = 0; i < c.per_participant.size(); ++i) {
      const auto& p = c.per_participant[i];
      out_.append(name).append(job_labels).append(",participant=\"").append(std::to_string(i));
      out_.append("\",name=\"").append(escape_label(p.name)).append("\"} ").append(value_of(p)).append("\n");
    }
  }
  static std::string seconds_text(std::chrono::nanoseconds d) { return number(std::chrono::duration<double>(d).count()); }

  std::string take() { return std::move(out_); }

  /// The shortest text that reads back as exactly `v`.
  static std::string number(double v) {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    return r.ec == std::errc{} ? std::string(buf, r.ptr) : std::string("NaN");
  }

  static std::string escape_label(std::string_view v) {
    std::string out;
    for (const char c : v) {
      if (c == '\\')
        out += "\\\\";
      else if (c == '"')
        out += "\\\"";
      else if (c == '\n')
        out += "\\n";
      else
        out += c;
    }
    return out;
  }

 private:
  void family(std::string_view name, std::string_view help, std::string_view type) {
    out_.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out_.append("# TYPE ").append(name).append(" ").append(type).append("\n");
  }
  void sample(std::string_view name, const std::string& value) {
    out_.append(name).append(labels_).append(" ").append(value).append("\n");
  }

  std::string labels_;
  std::string out_;
};

}  // namespace detail

/// The metrics in the Prometheus text format (see docs/metrics.md for the
/// names beside Flink's).
inline std::string render_prometheus_text(const CheckpointMetricsSnapshot& m) {
  detail::PrometheusWriter w(m.job);
  w.counter("ckpt_number_of_completed_checkpoints_total",
            "Checkpoints and savepoints that completed (Flink: numberOfCompletedCheckpoints).", m.completed);
  w.counter("ckpt_number_of_failed_checkpoints_total",
            "Checkpoints and savepoints that were aborted, timed out or declined (Flink: "
            "numberOfFailedCheckpoints).",
            m.failed);
  if (m.in_progress)
    w.gauge("ckpt_number_of_in_progress_checkpoints",
            "Checkpoints and savepoints in flight (Flink: numberOfInProgressCheckpoints).", *m.in_progress);
  w.gauge("ckpt_total_number_of_checkpoints",
          "Completed, failed and in-progress checkpoints (Flink: totalNumberOfCheckpoints).", m.total());
  w.counter("ckpt_number_of_restored_checkpoints_total",
            "Restores the program reported (Flink's checkpoint counts: restored).", m.restored);
  if (const auto& c = m.last_completed) {
    w.gauge("ckpt_last_completed_checkpoint_id",
            "Id of the last completed checkpoint (Flink: lastCompletedCheckpointId).", c->id);
    w.seconds("ckpt_last_checkpoint_duration_seconds",
              "From trigger to completion of the last completed checkpoint (Flink: lastCheckpointDuration).",
              c->end_to_end);
    w.gauge("ckpt_last_checkpoint_size_bytes",
            "Bytes the last completed checkpoint stored, compressed; an incremental one counts only what it "
            "wrote "
            "(Flink: lastCheckpointSize).",
            c->stored_bytes);
    w.gauge("ckpt_last_checkpoint_full_size_bytes",
            "Bytes a restore of the last completed checkpoint reads, also what an incremental one references "
            "from earlier checkpoints (Flink: lastCheckpointFullSize).",
            c->full_stored_bytes);
    w.gauge("ckpt_last_checkpoint_raw_size_bytes",
            "Serialized state bytes the last completed checkpoint wrote, before compression.", c->raw_bytes);
    w.seconds("ckpt_last_checkpoint_sync_duration_seconds",
              "Longest time a participant stopped to cut its state for the last completed checkpoint (Flink: "
              "sync_duration).",
              c->sync_pause);
    w.seconds("ckpt_last_checkpoint_alignment_duration_seconds",
              "Longest barrier alignment of the last completed checkpoint (Flink: checkpointAlignmentTime).",
              c->alignment);
    w.seconds(
        "ckpt_last_checkpoint_async_duration_seconds",
        "From trigger until every participant's state of the last completed checkpoint was written (Flink: "
        "async_duration).",
        c->async_duration);
    w.gauge("ckpt_last_checkpoint_participants", "Participants (subtasks) of the last completed checkpoint.",
            c->participants);
    using P = ParticipantCheckpointStats;
    using W = detail::PrometheusWriter;
    w.per_participant("ckpt_last_checkpoint_participant_sync_duration_seconds",
                      "Time the participant stopped to cut its state for the last completed checkpoint (Flink: "
                      "per-subtask sync duration).",
                      *c, [](const P& p) { return W::seconds_text(p.sync_pause); });
    w.per_participant("ckpt_last_checkpoint_participant_alignment_duration_seconds",
                      "The participant's barrier alignment for the last completed checkpoint (Flink: per-subtask "
                      "alignment duration).",
                      *c, [](const P& p) { return W::seconds_text(p.alignment); });
    w.per_participant("ckpt_last_checkpoint_participant_async_duration_seconds",
                      "From trigger until the participant's state of the last completed checkpoint was written "
                      "(Flink: per-subtask async duration).",
                      *c, [](const P& p) { return W::seconds_text(p.async_duration); });
    w.per_participant("ckpt_last_checkpoint_participant_size_bytes",
                      "Bytes the participant stored for the last completed checkpoint, compressed (Flink: "
                      "per-subtask checkpointed size).",
                      *c, [](const P& p) { return std::to_string(p.stored_bytes); });
  }
  if (const auto& r = m.last_restore)
    w.timestamp(
        "ckpt_last_checkpoint_restore_timestamp_seconds",
        "When the program last restored a checkpoint, Unix time (Flink: lastCheckpointRestoreTimestamp).",
        r->timestamp_millis);
  return w.take();
}

inline std::string render_prometheus_text(const CheckpointMetrics& metrics) {
  return render_prometheus_text(metrics.snapshot());
}

}  // namespace ckpt
