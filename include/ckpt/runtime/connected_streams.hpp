#pragma once
// Operators with two inputs (issue 20, item 4):
//
//   orders.connect(payments).process("match", 2, make_co_process_function);
//   orders.key_by(by_id).connect(payments.key_by(by_order)).process("join", 4,
//   make_keyed_co_process_function); auto rules = rule_updates.broadcast(rules_descriptor);      // every
//   record to every subtask events.key_by(by_user).connect(rules).process("alerts", 4,
//   make_keyed_broadcast_process_function);
//
// A two-input operator is a one-input operator of TwoInputElement<A, B>:
// each input passes a stateless vertex "<uid>.in1" / "<uid>.in2" (at that
// input's parallelism) that tags its records with the input's index, and
// the tagged streams are the operator's inputs, partitioned as the connected
// stream says (keyed by one key type, broadcast, or forward/rebalance). So
// the existing tasks serve it unchanged: barrier alignment in exactly-once
// mode blocks a channel of either input that delivered barrier N until every
// live channel of both has, and the operator's watermark is the minimum over
// the channels of both inputs, idle ones left out. The cost is one more
// thread and channel hop per input subtask; the gain is that input gates,
// outputs and tasks stay one-input and shared. Keep `uid` stable: the
// operator's state is matched by it on restore (the tagging vertices have none).

#include <ckpt/error.hpp>
#include <ckpt/function/broadcast_process_function.hpp>
#include <ckpt/function/co_process_function.hpp>
#include <ckpt/names.hpp>
#include <ckpt/runtime/pipeline.hpp>
#include <ckpt/state/key_group.hpp>

#include <algorithm>
#include <any>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace ckpt {
namespace detail {

/// Tags every record of input I with its index.
template <std::size_t I, class In, class Element>
class TagInput final : public ProcessFunction<In, Element> {
 public:
  void process_element(const In& value, Collector<Element>& out) override {
    out.collect(Element(std::in_place_index<I>, value));
  }
};

template <class K, class Element>
std::function<std::uint32_t(const Element&)> key_group_selector(std::function<K(const Element&)> key_of,
                                                                std::uint32_t max_parallelism) {
  return [key_of = std::move(key_of), max_parallelism](const Element& e) {
    return key_group_for(key_of(e), max_parallelism);
  };
}

struct StreamAccess {
  template <class T, class K>
  static const Stream<T>& stream(const KeyedStream<T, K>& k) {
    return k.in_;
  }
  template <class T, class K>
  static const std::function<K(const T&)>& key_of(const KeyedStream<T, K>& k) {
    return k.key_of_;
  }

  /// Adds the two-input vertex `v`, fed by `first` and `second` through their
  /// tagging vertices: keyed by `key_group` when it is set (the second input
  /// unless it is broadcast), forward or rebalance otherwise.
  template <class Element, class A, class B>
  static std::size_t add_two_input(const Stream<A>& first, const Stream<B>& second,
                                   std::unique_ptr<VertexBase> v,
                                   std::function<std::uint32_t(const Element&)> key_group,
                                   bool second_broadcast) {
    auto& p = *first.pipeline_;
    if (&p != second.pipeline_)
      throw ConfigError(errc::invalid_argument,
                        "operator '" + v->uid + "': connect() needs two streams of one pipeline");
    // What Pipeline::add checks (for the tagging vertices' uids too), before anything is added.
    validate_name("operator uid", v->uid);
    for (const auto& uid : {v->uid, v->uid + ".in1", v->uid + ".in2"})
      for (std::size_t i = 0; i < p.size(); ++i)
        if (p.vertex(i).uid == uid)
          throw ConfigError(errc::already_exists, "two operators have the uid '" + uid + "'");
    if (v->parallelism == 0 || v->parallelism > p.options().max_parallelism)
      throw ConfigError(errc::invalid_argument, "operator '" + v->uid + "': parallelism " +
                                                    std::to_string(v->parallelism) +
                                                    " is outside [1, max parallelism " +
                                                    std::to_string(p.options().max_parallelism) + "]");
    const auto wire = [&](const Stream<Element>& in, bool broadcast) {
      if (broadcast)
        in.connect(*v, Partitioning::broadcast);
      else if (key_group)
        in.connect(*v, Partitioning::keyed, key_group);
      else
        in.connect(*v, in.default_partitioning(v->parallelism));
    };
    wire(tagged<0, Element>(first, v->uid), false);
    wire(tagged<1, Element>(second, v->uid), second_broadcast);
    return p.add(std::move(v));
  }

  /// A two-input ProcessFunction vertex (`second_broadcast`: input 2 goes
  /// to every subtask); `make(i)` makes subtask i's adapted function.
  template <class Out, class A, class B, class Make>
  static Stream<Out> add_process(std::string uid, std::uint32_t parallelism, const Stream<A>& first,
                                 const Stream<B>& second, bool second_broadcast, Make make) {
    using E = TwoInputElement<A, B>;
    auto v = std::make_unique<ProcessVertex<E, Out>>(
        std::move(uid), parallelism,
        [make](std::uint32_t i) -> std::unique_ptr<ProcessFunction<E, Out>> { return make(i); });
    return Stream<Out>(*first.pipeline_,
                       {add_two_input<E>(first, second, std::move(v), {}, second_broadcast)});
  }
  /// A two-input KeyedProcessFunction vertex keyed by `first`'s key and
  /// `second_key` (unused when the second input is broadcast).
  template <class Out, class K, class A, class B, class KeyOf2, class Make>
  static Stream<Out> add_keyed_process(std::string uid, std::uint32_t parallelism,
                                       const KeyedStream<A, K>& first, const Stream<B>& second,
                                       bool second_broadcast, KeyOf2 second_key, Make make) {
    using E = TwoInputElement<A, B>;
    std::function<K(const E&)> key_of = two_input_key_selector<K, A, B>(first.key_of_, std::move(second_key));
    auto v = std::make_unique<KeyedProcessVertex<K, E, Out>>(
        std::move(uid), parallelism,
        [make](std::uint32_t i) -> std::unique_ptr<KeyedProcessFunction<K, E, Out>> { return make(i); },
        key_of);
    auto& p = *first.in_.pipeline_;
    return Stream<Out>(p, {add_two_input<E>(first.in_, second, std::move(v),
                                            key_group_selector<K, E>(key_of, p.options().max_parallelism),
                                            second_broadcast)});
  }

 private:
  template <std::size_t I, class Element, class T>
  static Stream<Element> tagged(const Stream<T>& s, const std::string& uid) {
    auto& p = *s.pipeline_;
    std::uint32_t parallelism = 1;
    for (const auto v : s.vertices_) parallelism = std::max(parallelism, p.vertex(v).parallelism);
    auto v = std::make_unique<ProcessVertex<T, Element>>(
        uid + ".in" + std::to_string(I + 1), parallelism,
        [](std::uint32_t) -> std::unique_ptr<ProcessFunction<T, Element>> {
          return std::make_unique<TagInput<I, T, Element>>();
        });
    s.connect(*v, s.default_partitioning(parallelism));
    return Stream<Element>(p, {p.add(std::move(v))});
  }
};

}  // namespace detail

/// `first.connect(second)`: process() makes a CoProcessFunction<A, B, Out> per subtask.
template <class A, class B>
class ConnectedStreams {
 public:
  ConnectedStreams(Stream<A> first, Stream<B> second)
      : first_(std::move(first)), second_(std::move(second)) {}

  template <class Factory>
  auto process(std::string uid, std::uint32_t parallelism, Factory make) {
    using Out = typename detail::made_t<Factory>::output_type;
    static_assert(std::is_base_of_v<CoProcessFunction<A, B, Out>, detail::made_t<Factory>>,
                  "the factory must make a CoProcessFunction<A, B, Out>");
    return detail::StreamAccess::add_process<Out>(
        std::move(uid), parallelism, first_, second_, false,
        [make](std::uint32_t i) { return std::make_unique<detail::CoProcessAdapter<A, B, Out>>(make(i)); });
  }

 private:
  Stream<A> first_;
  Stream<B> second_;
};

/// `first.key_by(f).connect(second.key_by(g))`, one key type: process() makes
/// a KeyedCoProcessFunction<K, A, B, Out> per subtask, owning its key groups.
template <class K, class A, class B>
class KeyedConnectedStreams {
 public:
  KeyedConnectedStreams(KeyedStream<A, K> first, KeyedStream<B, K> second)
      : first_(std::move(first)), second_(std::move(second)) {}

  template <class Factory>
  auto process(std::string uid, std::uint32_t parallelism, Factory make) {
    using Out = typename detail::made_t<Factory>::output_type;
    static_assert(std::is_base_of_v<KeyedCoProcessFunction<K, A, B, Out>, detail::made_t<Factory>>,
                  "the factory must make a KeyedCoProcessFunction<K, A, B, Out>");
    return detail::StreamAccess::add_keyed_process<Out>(
        std::move(uid), parallelism, first_, detail::StreamAccess::stream(second_), false,
        detail::StreamAccess::key_of(second_), [make](std::uint32_t i) {
          return std::make_unique<detail::KeyedCoProcessAdapter<K, A, B, Out>>(make(i));
        });
  }

 private:
  KeyedStream<A, K> first_;
  KeyedStream<B, K> second_;
};

/// `stream.broadcast(descriptors...)`: every record to every subtask of the
/// operator it is connected to, which keeps the broadcast states `descriptors`.
template <class B>
class BroadcastStream {
 public:
  BroadcastStream(Stream<B> in, BroadcastStateDescriptors descriptors)
      : in_(std::move(in)), descriptors_(std::move(descriptors)) {}
  const Stream<B>& stream() const noexcept { return in_; }
  const BroadcastStateDescriptors& descriptors() const noexcept { return descriptors_; }

 private:
  Stream<B> in_;
  BroadcastStateDescriptors descriptors_;
};

/// `stream.connect(broadcast_stream)`: process() makes a BroadcastProcessFunction<A, B, Out> per subtask.
template <class A, class B>
class BroadcastConnectedStream {
 public:
  BroadcastConnectedStream(Stream<A> first, BroadcastStream<B> broadcast)
      : first_(std::move(first)), broadcast_(std::move(broadcast)) {}

  template <class Factory>
  auto process(std::string uid, std::uint32_t parallelism, Factory make) {
    using Out = typename detail::made_t<Factory>::output_type;
    static_assert(std::is_base_of_v<BroadcastProcessFunction<A, B, Out>, detail::made_t<Factory>>,
                  "the factory must make a BroadcastProcessFunction<A, B, Out>");
    return detail::StreamAccess::add_process<Out>(
        std::move(uid), parallelism, first_, broadcast_.stream(), true,
        [make, d = broadcast_.descriptors()](std::uint32_t i) {
          return std::make_unique<detail::BroadcastAdapter<A, B, Out>>(make(i), d);
        });
  }

 private:
  Stream<A> first_;
  BroadcastStream<B> broadcast_;
};

/// `keyed.connect(broadcast_stream)`: process() makes a
/// KeyedBroadcastProcessFunction<K, A, B, Out> per subtask.
template <class K, class A, class B>
class KeyedBroadcastConnectedStream {
 public:
  KeyedBroadcastConnectedStream(KeyedStream<A, K> first, BroadcastStream<B> broadcast)
      : first_(std::move(first)), broadcast_(std::move(broadcast)) {}

  template <class Factory>
  auto process(std::string uid, std::uint32_t parallelism, Factory make) {
    using Out = typename detail::made_t<Factory>::output_type;
    static_assert(std::is_base_of_v<KeyedBroadcastProcessFunction<K, A, B, Out>, detail::made_t<Factory>>,
                  "the factory must make a KeyedBroadcastProcessFunction<K, A, B, Out>");
    return detail::StreamAccess::add_keyed_process<Out>(
        std::move(uid), parallelism, first_, broadcast_.stream(), true, detail::no_key<K, B>,
        [make, d = broadcast_.descriptors()](std::uint32_t i) {
          return std::make_unique<detail::KeyedBroadcastAdapter<K, A, B, Out>>(make(i), d);
        });
  }

 private:
  KeyedStream<A, K> first_;
  BroadcastStream<B> broadcast_;
};

template <class T>
template <class B>
ConnectedStreams<T, B> Stream<T>::connect(const Stream<B>& second) const {
  return ConnectedStreams<T, B>(*this, second);
}
template <class T>
template <class B>
BroadcastConnectedStream<T, B> Stream<T>::connect(const BroadcastStream<B>& broadcast) const {
  return BroadcastConnectedStream<T, B>(*this, broadcast);
}
template <class T>
template <class D, class... More>
BroadcastStream<T> Stream<T>::broadcast(const D& descriptor, const More&... more) const {
  return BroadcastStream<T>(*this, BroadcastStateDescriptors(descriptor, more...));
}
template <class T, class K>
template <class B>
KeyedConnectedStreams<K, T, B> KeyedStream<T, K>::connect(const KeyedStream<B, K>& second) const {
  return KeyedConnectedStreams<K, T, B>(*this, second);
}
template <class T, class K>
template <class B>
KeyedBroadcastConnectedStream<K, T, B> KeyedStream<T, K>::connect(const BroadcastStream<B>& broadcast) const {
  return KeyedBroadcastConnectedStream<K, T, B>(*this, broadcast);
}

}  // namespace ckpt
