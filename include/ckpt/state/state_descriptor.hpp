#pragma once
// State descriptors: how a program declares a state (its name, type and, where
// the kind needs one, a default or a function), as in Flink:
//
//   ckpt::ValueStateDescriptor<std::int64_t> count{"count", 0};
//   ckpt::ListStateDescriptor<Event> events{"events"};
//   ckpt::MapStateDescriptor<std::string, double> prices{"prices"};
//   ckpt::ReducingStateDescriptor<std::int64_t> total{"total", std::plus<>{}};
//   ckpt::AggregatingStateDescriptor<double, Avg::Acc, double> avg{"avg", std::make_shared<Avg>()};
//
// Their types are checked where they are named: a value type must be a
// ckpt::StateValue, a map's user key a ckpt::StateKey (state_types.hpp).
//
// The name identifies the state in snapshots: declaring it again with another
// type, or restoring it from a snapshot where it had another type, is a
// StateError(errc::state_type_mismatch).

#include <ckpt/names.hpp>
#include <ckpt/state/state_ttl_config.hpp>
#include <ckpt/state/state_types.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace ckpt {

/// Flink's AggregateFunction: folds inputs into an accumulator and reads a
/// result from it. Subclass it, or build one from lambdas with
/// make_aggregate_function().
template <class In, class Acc, class Out>
class AggregateFunction {
 public:
  virtual ~AggregateFunction() = default;
  virtual Acc create_accumulator() const = 0;
  virtual Acc add(const In& value, Acc accumulator) const = 0;
  virtual Out get_result(const Acc& accumulator) const = 0;
  virtual Acc merge(Acc a, Acc b) const = 0;
};

namespace detail {
template <class In, class Acc, class Out, class Create, class Add, class Result, class Merge>
class LambdaAggregateFunction final : public AggregateFunction<In, Acc, Out> {
 public:
  LambdaAggregateFunction(Create c, Add a, Result r, Merge m)
      : create_(std::move(c)), add_(std::move(a)), result_(std::move(r)), merge_(std::move(m)) {}
  Acc create_accumulator() const override { return create_(); }
  Acc add(const In& value, Acc acc) const override { return add_(value, std::move(acc)); }
  Out get_result(const Acc& acc) const override { return result_(acc); }
  Acc merge(Acc a, Acc b) const override { return merge_(std::move(a), std::move(b)); }

 private:
  Create create_;
  Add add_;
  Result result_;
  Merge merge_;
};
}  // namespace detail

template <class In, class Acc, class Out, class Create, class Add, class Result, class Merge>
std::shared_ptr<const AggregateFunction<In, Acc, Out>> make_aggregate_function(Create create, Add add, Result result,
                                                                             Merge merge) {
  return std::make_shared<detail::LambdaAggregateFunction<In, Acc, Out, Create, Add, Result, Merge>>(
      std::move(create), std::move(add), std::move(result), std::move(merge));
}

namespace detail {
/// What every descriptor has: a validated name and optional TTL.
class DescriptorBase {
 public:
  explicit DescriptorBase(std::string name) : name_(std::move(name)) { validate_name("state name", name_); }
  const std::string& name() const noexcept { return name_; }
  /// Expire entries after a time without access (see StateTtlConfig).
  void enable_time_to_live(StateTtlConfig config) {
    config.validate();
    ttl_ = config;
  }
  const std::optional<StateTtlConfig>& ttl() const noexcept { return ttl_; }

 private:
  std::string name_;
  std::optional<StateTtlConfig> ttl_;
};
}  // namespace detail

template <StateValue T>
class ValueStateDescriptor : public detail::DescriptorBase {
 public:
  using value_type = T;
  explicit ValueStateDescriptor(std::string name) : DescriptorBase(std::move(name)) {}
  /// value() returns `default_value` for a key that has none.
  ValueStateDescriptor(std::string name, T default_value)
      : DescriptorBase(std::move(name)), default_(std::move(default_value)) {}
  const std::optional<T>& default_value() const noexcept { return default_; }

 private:
  std::optional<T> default_;
};

template <StateValue T>
class ListStateDescriptor : public detail::DescriptorBase {
 public:
  using value_type = T;
  explicit ListStateDescriptor(std::string name) : DescriptorBase(std::move(name)) {}
};

template <StateKey UK, StateValue UV>
class MapStateDescriptor : public detail::DescriptorBase {
 public:
  using key_type = UK;
  using mapped_type = UV;
  explicit MapStateDescriptor(std::string name) : DescriptorBase(std::move(name)) {}
};

template <StateValue T>
class ReducingStateDescriptor : public detail::DescriptorBase {
 public:
  using value_type = T;
  using ReduceFunction = std::function<T(const T&, const T&)>;
  ReducingStateDescriptor(std::string name, ReduceFunction reduce)
      : DescriptorBase(std::move(name)), reduce_(std::move(reduce)) {
    if (!reduce_) throw ConfigError(errc::invalid_argument, "reducing state '" + this->name() + "' needs a reduce function");
  }
  const ReduceFunction& reduce_function() const noexcept { return reduce_; }

 private:
  ReduceFunction reduce_;
};

template <class In, StateValue Acc, class Out>
class AggregatingStateDescriptor : public detail::DescriptorBase {
 public:
  using Function = AggregateFunction<In, Acc, Out>;
  AggregatingStateDescriptor(std::string name, std::shared_ptr<const Function> function)
      : DescriptorBase(std::move(name)), function_(std::move(function)) {
    if (!function_)
      throw ConfigError(errc::invalid_argument, "aggregating state '" + this->name() + "' needs an aggregate function");
  }
  const std::shared_ptr<const Function>& aggregate_function() const noexcept { return function_; }

 private:
  std::shared_ptr<const Function> function_;
};

}  // namespace ckpt
