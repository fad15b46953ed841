#pragma once
// GoogleTest support for the test harnesses (optional; the harnesses need
// no test framework): printers for records, watermarks, source statuses and
// snapshots, and matchers for emitted records.
//
//   using ckpt::record_is;
//   EXPECT_THAT(harness.output(), ElementsAre(record_is("a", 10), record_is("b", ckpt::no_timestamp)));
//   EXPECT_THAT(harness.output(), Contains(has_value(Field(&Alert::key, "k"))));

#include <ckpt/runtime/stream_element.hpp>
#include <ckpt/function/stream_functions.hpp>
#include <ckpt/state/timer_service.hpp>
#include <ckpt/testing/operator_subtask_state.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <type_traits>
#include <utility>

namespace ckpt {

namespace detail {
inline std::string describe_timestamp(std::int64_t t) {
  return t == no_timestamp ? std::string("no timestamp") : "timestamp " + std::to_string(t);
}
}  // namespace detail

template <class T>
void PrintTo(const Record<T>& record, std::ostream* os) {
  *os << ::testing::PrintToString(record.value) << " @ " << detail::describe_timestamp(record.timestamp);
}

inline void PrintTo(const Watermark& watermark, std::ostream* os) {
  *os << "watermark " << detail::describe_timestamp(watermark.timestamp);
}

inline void PrintTo(const WatermarkStatus& status, std::ostream* os) { *os << (status.idle ? "idle" : "active"); }

inline void PrintTo(SourceStatus status, std::ostream* os) {
  switch (status) {
    case SourceStatus::more: *os << "more"; return;
    case SourceStatus::idle: *os << "idle"; return;
    case SourceStatus::finished: *os << "finished"; return;
  }
  *os << "SourceStatus(" << static_cast<int>(status) << ")";
}

inline void PrintTo(TimeDomain domain, std::ostream* os) {
  *os << (domain == TimeDomain::event_time ? "event time" : "processing time");
}

inline void PrintTo(const OperatorSubtaskState& s, std::ostream* os) {
  std::size_t key_groups = 0;
  for (const auto& k : s.keyed_state) key_groups += k.key_groups.size();
  *os << "checkpoint " << s.checkpoint_id << " of subtask " << s.subtask_index << " of " << s.parallelism << " ("
      << key_groups << " key groups with keyed state, " << s.operator_state.states.size() << " operator states)";
}

namespace detail {

/// Matches a Record<T> by its value and its timestamp; converts to a
/// Matcher of any Record type, so the value matcher is checked against T.
template <class ValueMatcher, class TimestampMatcher>
class RecordMatcher {
 public:
  RecordMatcher(ValueMatcher value, TimestampMatcher timestamp, bool check_value, bool check_timestamp)
      : value_(std::move(value)), timestamp_(std::move(timestamp)), check_value_(check_value), check_timestamp_(check_timestamp) {}

  template <class R>
  operator ::testing::Matcher<R>() const {  // NOLINT: implicit by design, as gmock's own matchers
    using V = std::remove_cvref_t<decltype(std::declval<const std::remove_cvref_t<R>&>().value)>;
    return ::testing::Matcher<R>(new Impl<R, V>(::testing::SafeMatcherCast<const V&>(value_),
                                                ::testing::SafeMatcherCast<std::int64_t>(timestamp_), check_value_,
                                                check_timestamp_));
  }

 private:
  template <class R, class V>
  class Impl final : public ::testing::MatcherInterface<R> {
   public:
    Impl(::testing::Matcher<const V&> value, ::testing::Matcher<std::int64_t> timestamp, bool check_value,
         bool check_timestamp)
        : value_(std::move(value)), timestamp_(std::move(timestamp)), check_value_(check_value), check_timestamp_(check_timestamp) {}

    bool MatchAndExplain(R record, ::testing::MatchResultListener* listener) const override {
      if (check_value_) {
        ::testing::StringMatchResultListener why;
        if (!value_.MatchAndExplain(record.value, &why)) {
          *listener << "whose value " << ::testing::PrintToString(record.value) << " doesn't match";
          if (!why.str().empty()) *listener << ", " << why.str();
          return false;
        }
      }
      if (check_timestamp_ && !timestamp_.Matches(record.timestamp)) {
        *listener << "whose " << describe_timestamp(record.timestamp) << " doesn't match";
        return false;
      }
      return true;
    }
    void DescribeTo(std::ostream* os) const override { describe(os, false); }
    void DescribeNegationTo(std::ostream* os) const override { describe(os, true); }

   private:
    void describe(std::ostream* os, bool negation) const {
      *os << (negation ? "isn't" : "is") << " a record";
      if (check_value_) {
        *os << " whose value ";
        value_.DescribeTo(os);
      }
      if (check_timestamp_) {
        *os << (check_value_ ? " and" : "") << " whose timestamp ";
        timestamp_.DescribeTo(os);
      }
    }
    ::testing::Matcher<const V&> value_;
    ::testing::Matcher<std::int64_t> timestamp_;
    bool check_value_;
    bool check_timestamp_;
  };

  ValueMatcher value_;
  TimestampMatcher timestamp_;
  bool check_value_;
  bool check_timestamp_;
};

}  // namespace detail

/// A record whose value matches `value` and whose timestamp matches
/// `timestamp` (each a matcher or a value).
template <class ValueMatcher, class TimestampMatcher>
auto record_is(ValueMatcher value, TimestampMatcher timestamp) {
  return detail::RecordMatcher<ValueMatcher, TimestampMatcher>(std::move(value), std::move(timestamp), true, true);
}
/// A record whose value matches `value`, whatever its timestamp.
template <class ValueMatcher>
auto has_value(ValueMatcher value) {
  return detail::RecordMatcher<ValueMatcher, std::remove_cv_t<decltype(::testing::_)>>(std::move(value), ::testing::_, true, false);
}
/// A record whose timestamp matches `timestamp`, whatever its value.
template <class TimestampMatcher>
auto has_timestamp(TimestampMatcher timestamp) {
  return detail::RecordMatcher<std::remove_cv_t<decltype(::testing::_)>, TimestampMatcher>(::testing::_, std::move(timestamp), false, true);
}

}  // namespace ckpt
