#pragma once
// A pipeline (job graph) of sources, operators and sinks, each with a uid and
// a parallelism, connected by forward, rebalance, keyed or broadcast edges.
//
//   ckpt::Pipeline pipeline;
//   auto events = pipeline.add_source("orders", 2, [](std::uint32_t) { return std::make_unique<OrderLog>(); });
//   auto totals = events.key_by([](const Order& o) { return o.customer; })
//                       .process("totals", 4, [](std::uint32_t) { return std::make_unique<Total>(); });
//   totals.add_sink("out", 1, [](std::uint32_t) { return std::make_unique<MySink>(); });
//   ckpt::JobRunner(pipeline, storage, ckpt::CheckpointConfig::every(1s)).run();
//
// A process or keyed process operator's side output (OutputTag) is a stream
// of its own: `auto late = counts.get_side_output(late_tag);` consumed like any
// other, its records between the same barriers as the operator's main output.
//
// Two inputs (`a.connect(b)`, `keyed.connect(other_keyed)`) and the
// broadcast-state pattern (`keyed.connect(rules.broadcast(descriptors...))`)
// are in connected_streams.hpp, which this header brings.
//
// Factories take the subtask index and return the function for that subtask.
// State is matched by uid on restore, so keep uids stable across versions.

#include <ckpt/error.hpp>
#include <ckpt/names.hpp>
#include <ckpt/function/keyed_process_function.hpp>
#include <ckpt/function/output_tag.hpp>
#include <ckpt/function/side_outputs.hpp>
#include <ckpt/runtime/output.hpp>
#include <ckpt/function/stream_functions.hpp>
#include <ckpt/runtime/stream_task.hpp>
#include <ckpt/function/split_source.hpp>
#include <ckpt/runtime/split_source_task.hpp>
#include <ckpt/serial/type_name.hpp>
#include <ckpt/state/key_group.hpp>
#include <ckpt/state/state_types.hpp>

#include <any>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <typeindex>
#include <utility>
#include <vector>

namespace ckpt {

struct PipelineOptions {
  std::uint32_t max_parallelism = default_max_parallelism;
  std::size_t channel_capacity = 4096;  // elements per channel: the back-pressure bound
  std::size_t batch_size = 64;          // records a producer buffers per channel

  static PipelineOptions defaults() { return {}; }
};

class Pipeline;
template <class T>
class Stream;
template <class T, class K>
class KeyedStream;
template <class A, class B>
class ConnectedStreams;
template <class K, class A, class B>
class KeyedConnectedStreams;
template <class B>
class BroadcastStream;
template <class A, class B>
class BroadcastConnectedStream;
template <class K, class A, class B>
class KeyedBroadcastConnectedStream;

namespace detail {
struct StreamAccess;  // what connected_streams.hpp needs of streams and the pipeline

/// The runtime pieces being wired for one run of a pipeline.
struct RuntimeGraph {
  std::vector<std::any> gates;  // per vertex: std::vector<std::shared_ptr<InputGate<In>>>
  std::vector<std::unique_ptr<StreamTask>> tasks;
};

struct InputSpec {
  std::size_t vertex = 0;
  Partitioning partitioning = Partitioning::rebalance;
  std::any key_group;       // std::function<std::uint32_t(const In&)> for keyed edges
  std::string side_output;  // the OutputTag's name, or empty for the main output
};

/// A side output of a vertex that something consumes: `attach` makes subtask
/// `subtask`'s Output for it, wires it, hangs it on the main output and routes
/// the task's records under the tag to it.
struct SideOutputSpec {
  std::string id;
  std::function<void(RuntimeGraph&, std::size_t self, std::uint32_t subtask, const Pipeline&, OutputBase& main,
                     SideOutputs& routes)>
      attach;
};

class VertexBase {
 public:
  VertexBase(std::string uid_, std::uint32_t parallelism_) : uid(std::move(uid_)), parallelism(parallelism_) {}
  virtual ~VertexBase() = default;
  virtual void create_gates(RuntimeGraph&, std::size_t self, const Pipeline&) = 0;
  virtual void create_tasks(RuntimeGraph&, std::size_t self, const Pipeline&, TaskEnvironment&) = 0;
  /// Whether its function can send to side outputs (process functions).
  virtual bool has_side_outputs() const { return false; }

  std::string uid;
  std::uint32_t parallelism;
  std::vector<InputSpec> inputs;
  std::vector<std::size_t> consumers;
  std::vector<SideOutputSpec> side_outputs;
};

template <class Task>
void attach_side_outputs(RuntimeGraph& graph, std::size_t self, std::uint32_t subtask, const Pipeline& p,
                         const VertexBase& v, OutputBase& main, Task& task) {
  for (const auto& side : v.side_outputs) side.attach(graph, self, subtask, p, main, task.side_outputs());
}

}  // namespace detail

class Pipeline {
 public:
  explicit Pipeline(PipelineOptions options = {}) : options_(options) {
    validate_parallelism(options_.max_parallelism);
  }
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  const PipelineOptions& options() const noexcept { return options_; }
  std::size_t size() const noexcept { return vertices_.size(); }
  const detail::VertexBase& vertex(std::size_t i) const { return *vertices_.at(i); }

  /// A source: `make(subtask)` returns a std::unique_ptr to a Source<T>.
  template <class Factory>
  auto add_source(std::string uid, std::uint32_t parallelism, Factory make);
  /// A split source (split_source.hpp): one enumerator for the run, a reader per subtask.
  template <SplitSourceType S>
  auto add_source(std::string uid, std::uint32_t parallelism, std::shared_ptr<S> source);

  /// Builds the tasks of one run (used by JobRunner).
  void instantiate(detail::RuntimeGraph& graph, detail::TaskEnvironment& env) const {
    graph.gates.assign(vertices_.size(), {});
    for (std::size_t i = 0; i < vertices_.size(); ++i) vertices_[i]->create_gates(graph, i, *this);
    for (std::size_t i = 0; i < vertices_.size(); ++i) vertices_[i]->create_tasks(graph, i, *this, env);
  }

  /// Where upstream `input` of vertex `v` starts among v's channels.
  std::size_t channel_offset(std::size_t v, std::size_t input) const {
    std::size_t offset = 0;
    for (std::size_t i = 0; i < input; ++i) offset += vertices_[vertices_[v]->inputs[i].vertex]->parallelism;
    return offset;
  }
  std::size_t input_channels(std::size_t v) const { return channel_offset(v, vertices_[v]->inputs.size()); }

  /// Connects `out` (vertex self's main output, or its side output `side`) to its consumers.
  template <class Out>
  void wire_output(detail::RuntimeGraph& graph, std::size_t self, std::uint32_t subtask, Output<Out>& out,
                   const std::string& side = {}) const {
    for (const auto consumer : vertices_[self]->consumers) {
      const auto& inputs = vertices_[consumer]->inputs;
      for (std::size_t j = 0; j < inputs.size(); ++j) {
        if (inputs[j].vertex != self || inputs[j].side_output != side) continue;
        typename Output<Out>::Edge edge;
        edge.gates = std::any_cast<const std::vector<std::shared_ptr<InputGate<Out>>>&>(graph.gates[consumer]);
        edge.channel = channel_offset(consumer, j) + subtask;
        edge.partitioning = inputs[j].partitioning;
        if (edge.partitioning == Partitioning::keyed)
          edge.key_group = std::any_cast<std::function<std::uint32_t(const Out&)>>(inputs[j].key_group);
        edge.max_parallelism = options_.max_parallelism;
        out.add_edge(std::move(edge));
      }
    }
  }

 private:
  template <class T>
  friend class Stream;
  template <class T, class K>
  friend class KeyedStream;
  friend struct detail::StreamAccess;

  std::size_t add(std::unique_ptr<detail::VertexBase> v) {
    validate_name("operator uid", v->uid);
    if (v->parallelism == 0 || v->parallelism > options_.max_parallelism)
      throw ConfigError(errc::invalid_argument, "operator '" + v->uid + "': parallelism " + std::to_string(v->parallelism) +
                                                    " is outside [1, max parallelism " +
                                                    std::to_string(options_.max_parallelism) + "]");
    for (const auto& existing : vertices_)
      if (existing->uid == v->uid) throw ConfigError(errc::already_exists, "two operators have the uid '" + v->uid + "'");
    for (const auto& in : v->inputs) {
      auto& consumers = vertices_[in.vertex]->consumers;
      if (consumers.empty() || consumers.back() != vertices_.size()) consumers.push_back(vertices_.size());
    }
    vertices_.push_back(std::move(v));
    return vertices_.size() - 1;
  }

  /// Vertex `v` gets a consumed side output `tag` (once per name). One name
  /// has one type in a job.
  template <class T>
  void add_side_output(std::size_t v, const OutputTag<T>& tag) {
    auto& vertex = *vertices_.at(v);
    if (!vertex.has_side_outputs())
      throw ConfigError(errc::invalid_argument, "operator '" + vertex.uid + "' has no side outputs (side output '" +
                                                    tag.id() + "'): only process functions send to an OutputTag");
    const auto [it, added] = side_output_types_.emplace(tag.id(), std::type_index(typeid(T)));
    if (!added && it->second != std::type_index(typeid(T)))
      throw ConfigError(errc::invalid_argument, "side output '" + tag.id() + "' is used with two types (" +
                                                    ckpt::type_name<T>() + " at operator '" + vertex.uid +
                                                    "'): an OutputTag's name must have one type in a job");
    for (const auto& side : vertex.side_outputs)
      if (side.id == tag.id()) return;
    vertex.side_outputs.push_back(
        {tag.id(), [tag](detail::RuntimeGraph& graph, std::size_t self, std::uint32_t subtask, const Pipeline& p,
                         OutputBase& main, detail::SideOutputs& routes) {
           auto out = std::make_unique<Output<T>>(subtask, p.options().batch_size);
           p.wire_output(graph, self, subtask, *out, tag.id());
           routes.route(tag, [raw = out.get()](T value, std::int64_t timestamp) {
             raw->emit(Record<T>{std::move(value), timestamp});
           });
           main.add_side(std::move(out));
         }});
  }

  PipelineOptions options_;
  std::vector<std::unique_ptr<detail::VertexBase>> vertices_;
  std::map<std::string, std::type_index> side_output_types_;
};

namespace detail {

template <class In>
void make_gates(RuntimeGraph& graph, std::size_t self, const Pipeline& p) {
  std::vector<std::shared_ptr<InputGate<In>>> gates;
  for (std::uint32_t i = 0; i < p.vertex(self).parallelism; ++i)
    gates.push_back(std::make_shared<InputGate<In>>(p.input_channels(self), p.options().channel_capacity));
  graph.gates[self] = std::move(gates);
}

template <class In>
std::shared_ptr<InputGate<In>> gate_of(RuntimeGraph& graph, std::size_t self, std::uint32_t subtask) {
  return std::any_cast<std::vector<std::shared_ptr<InputGate<In>>>&>(graph.gates[self]).at(subtask);
}

template <class T>
class SourceVertex final : public VertexBase {
 public:
  using Factory = std::function<std::unique_ptr<Source<T>>(std::uint32_t)>;
  SourceVertex(std::string uid_, std::uint32_t parallelism_, Factory make)
      : VertexBase(std::move(uid_), parallelism_), make_(std::move(make)) {}
  void create_gates(RuntimeGraph&, std::size_t, const Pipeline&) override {}
  void create_tasks(RuntimeGraph& graph, std::size_t self, const Pipeline& p, TaskEnvironment& env) override {
    for (std::uint32_t i = 0; i < parallelism; ++i) {
      auto out = std::make_unique<Output<T>>(i, p.options().batch_size);
      p.wire_output(graph, self, i, *out);
      graph.tasks.push_back(std::make_unique<SourceTask<T>>(uid, i, parallelism, env, make_(i), std::move(out)));
    }
  }

 private:
  Factory make_;
};

template <class T, class Split, class State>
class SplitSourceVertex final : public VertexBase {
 public:
  SplitSourceVertex(std::string uid_, std::uint32_t parallelism_, std::shared_ptr<SplitSource<T, Split, State>> source)
      : VertexBase(std::move(uid_), parallelism_), source_(std::move(source)) {}
  void create_gates(RuntimeGraph&, std::size_t, const Pipeline&) override {}
  void create_tasks(RuntimeGraph& graph, std::size_t self, const Pipeline& p, TaskEnvironment& env) override {
    // One enumerator per run: a restart restores it from the checkpoint.
    auto host = std::make_shared<SplitEnumeratorHost<T, Split, State>>(source_, parallelism, *env.clock);
    for (std::uint32_t i = 0; i < parallelism; ++i) {
      auto out = std::make_unique<Output<T>>(i, p.options().batch_size);
      p.wire_output(graph, self, i, *out);
      auto reader = std::make_unique<SplitReaderFunction<T, Split, State>>(host, source_->create_reader(i), i);
      graph.tasks.push_back(
          std::make_unique<SplitSourceTask<T, Split, State>>(uid, i, parallelism, env, std::move(reader), std::move(out)));
    }
  }

 private:
  std::shared_ptr<SplitSource<T, Split, State>> source_;
};

template <class In, class Out>
class ProcessVertex final : public VertexBase {
 public:
  using Factory = std::function<std::unique_ptr<ProcessFunction<In, Out>>(std::uint32_t)>;
  ProcessVertex(std::string uid_, std::uint32_t parallelism_, Factory make)
      : VertexBase(std::move(uid_), parallelism_), make_(std::move(make)) {}
  void create_gates(RuntimeGraph& graph, std::size_t self, const Pipeline& p) override { make_gates<In>(graph, self, p); }
  void create_tasks(RuntimeGraph& graph, std::size_t self, const Pipeline& p, TaskEnvironment& env) override {
    for (std::uint32_t i = 0; i < parallelism; ++i) {
      auto out = std::make_unique<Output<Out>>(i, p.options().batch_size);
      p.wire_output(graph, self, i, *out);
      auto& main = *out;
      auto task = std::make_unique<ProcessTask<In, Out>>(uid, i, parallelism, env, gate_of<In>(graph, self, i), make_(i),
                                                         std::move(out));
      attach_side_outputs(graph, self, i, p, *this, main, *task);
      graph.tasks.push_back(std::move(task));
    }
  }
  bool has_side_outputs() const override { return true; }

 private:
  Factory make_;
};

template <class K, class In, class Out>
class KeyedProcessVertex final : public VertexBase {
 public:
  using Factory = std::function<std::unique_ptr<KeyedProcessFunction<K, In, Out>>(std::uint32_t)>;
  KeyedProcessVertex(std::string uid_, std::uint32_t parallelism_, Factory make, std::function<K(const In&)> key_of)
      : VertexBase(std::move(uid_), parallelism_), make_(std::move(make)), key_of_(std::move(key_of)) {}
  void create_gates(RuntimeGraph& graph, std::size_t self, const Pipeline& p) override { make_gates<In>(graph, self, p); }
  void create_tasks(RuntimeGraph& graph, std::size_t self, const Pipeline& p, TaskEnvironment& env) override {
    for (std::uint32_t i = 0; i < parallelism; ++i) {
      auto out = std::make_unique<Output<Out>>(i, p.options().batch_size);
      p.wire_output(graph, self, i, *out);
      auto& main = *out;
      auto task = std::make_unique<KeyedProcessTask<K, In, Out>>(uid, i, parallelism, p.options().max_parallelism, env,
                                                                 gate_of<In>(graph, self, i), make_(i), key_of_,
                                                                 std::move(out));
      attach_side_outputs(graph, self, i, p, *this, main, *task);
      graph.tasks.push_back(std::move(task));
    }
  }
  bool has_side_outputs() const override { return true; }

 private:
  Factory make_;
  std::function<K(const In&)> key_of_;
};

template <class In>
class SinkVertex final : public VertexBase {
 public:
  using Factory = std::function<std::unique_ptr<Sink<In>>(std::uint32_t)>;
  SinkVertex(std::string uid_, std::uint32_t parallelism_, Factory make)
      : VertexBase(std::move(uid_), parallelism_), make_(std::move(make)) {}
  void create_gates(RuntimeGraph& graph, std::size_t self, const Pipeline& p) override { make_gates<In>(graph, self, p); }
  void create_tasks(RuntimeGraph& graph, std::size_t self, const Pipeline&, TaskEnvironment& env) override {
    for (std::uint32_t i = 0; i < parallelism; ++i)
      graph.tasks.push_back(std::make_unique<SinkTask<In>>(uid, i, parallelism, env, gate_of<In>(graph, self, i), make_(i)));
  }

 private:
  Factory make_;
};

/// The element type of the function a factory makes.
template <class Factory>
using made_t = typename std::invoke_result_t<Factory, std::uint32_t>::element_type;

}  // namespace detail

/// The output of a vertex (or the union of several), to be consumed.
template <class T>
class Stream {
 public:
  Stream(Pipeline& p, std::vector<std::size_t> vertices) : pipeline_(&p), vertices_(std::move(vertices)) {}

  /// A ProcessFunction<T, Out> per subtask; forward when the parallelism
  /// matches (and this is no union), rebalance otherwise.
  template <class Factory>
  auto process(std::string uid, std::uint32_t parallelism, Factory make) {
    using Fn = detail::made_t<Factory>;
    using Out = typename Fn::output_type;
    static_assert(std::is_base_of_v<ProcessFunction<T, Out>, Fn>, "the factory must make a ProcessFunction<T, Out>");
    auto v = std::make_unique<detail::ProcessVertex<T, Out>>(
        std::move(uid), parallelism, [make](std::uint32_t i) -> std::unique_ptr<ProcessFunction<T, Out>> { return make(i); });
    connect(*v, default_partitioning(parallelism));
    return Stream<Out>(*pipeline_, {pipeline_->add(std::move(v))});
  }

  /// Partitions by key: every record of a key goes to the subtask owning its key group.
  template <KeySelectorOf<T> KeySelector>
  auto key_by(KeySelector select) {
    using K = std::decay_t<std::invoke_result_t<KeySelector, const T&>>;
    return KeyedStream<T, K>(*this, std::function<K(const T&)>(std::move(select)));
  }

  /// What the operator of this stream sends to `tag` (ctx.output(tag, value)),
  /// as a stream of its own. This stream must be one process or keyed process
  /// operator's output.
  template <class S>
  Stream<S> get_side_output(const OutputTag<S>& tag) const {
    if (vertices_.size() != 1 || side_output_)
      throw ConfigError(errc::invalid_argument, "get_side_output('" + tag.id() +
                                                    "') needs the stream of one operator, not a union or a side output");
    pipeline_->add_side_output(vertices_[0], tag);
    Stream<S> s(*pipeline_, vertices_);
    s.side_output_ = tag.id();
    return s;
  }

  /// Records round-robin to every subtask of the next vertex.
  Stream rebalance() const {
    Stream s = *this;
    s.partitioning_ = Partitioning::rebalance;
    return s;
  }
  /// Every record to every subtask of the next vertex.
  Stream broadcast() const {
    Stream s = *this;
    s.partitioning_ = Partitioning::broadcast;
    return s;
  }
  /// The records of both streams, as one input (a two-input operator aligns over both).
  Stream union_with(const Stream& other) const {
    if (side_output_ || other.side_output_)
      throw ConfigError(errc::invalid_argument, "a side output stream cannot be part of a union");
    Stream s = *this;
    s.vertices_.insert(s.vertices_.end(), other.vertices_.begin(), other.vertices_.end());
    return s;
  }

  /// Two inputs: a CoProcessFunction<T, B, Out> sees both (connected_streams.hpp).
  template <class B>
  ConnectedStreams<T, B> connect(const Stream<B>& second) const;
  /// With the broadcast state pattern: a BroadcastProcessFunction<T, B, Out>.
  template <class B>
  BroadcastConnectedStream<T, B> connect(const BroadcastStream<B>& broadcast) const;
  /// Every record to every subtask of what it is connected to, which keeps
  /// the broadcast states `descriptors` (MapStateDescriptors).
  template <class D, class... More>
  BroadcastStream<T> broadcast(const D& descriptor, const More&... more) const;

  template <class Factory>
  void add_sink(std::string uid, std::uint32_t parallelism, Factory make) {
    using Fn = detail::made_t<Factory>;
    static_assert(std::is_base_of_v<Sink<T>, Fn>, "the factory must make a Sink<T>");
    auto v = std::make_unique<detail::SinkVertex<T>>(
        std::move(uid), parallelism, [make](std::uint32_t i) -> std::unique_ptr<Sink<T>> { return make(i); });
    connect(*v, default_partitioning(parallelism));
    pipeline_->add(std::move(v));
  }

 private:
  template <class, class>
  friend class KeyedStream;
  template <class>
  friend class Stream;
  friend struct detail::StreamAccess;

  Partitioning default_partitioning(std::uint32_t parallelism) const {
    if (partitioning_) return *partitioning_;
    if (vertices_.size() == 1 && pipeline_->vertex(vertices_[0]).parallelism == parallelism) return Partitioning::forward;
    return Partitioning::rebalance;
  }
  void connect(detail::VertexBase& v, Partitioning partitioning, std::any key_group = {}) const {
    for (const auto u : vertices_) v.inputs.push_back({u, partitioning, key_group, side_output_.value_or("")});
  }

  Pipeline* pipeline_;
  std::vector<std::size_t> vertices_;
  std::optional<Partitioning> partitioning_;
  std::optional<std::string> side_output_;  // the tag, when this is a side output
};

template <class T, class K>
class KeyedStream {
 public:
  KeyedStream(Stream<T> in, std::function<K(const T&)> key_of) : in_(std::move(in)), key_of_(std::move(key_of)) {}

  /// A KeyedProcessFunction<K, T, Out> per subtask, each owning its key groups.
  template <class Factory>
  auto process(std::string uid, std::uint32_t parallelism, Factory make) {
    using Fn = detail::made_t<Factory>;
    using Out = typename Fn::output_type;
    static_assert(std::is_base_of_v<KeyedProcessFunction<K, T, Out>, Fn>,
                  "the factory must make a KeyedProcessFunction<K, T, Out>");
    auto v = std::make_unique<detail::KeyedProcessVertex<K, T, Out>>(
        std::move(uid), parallelism,
        [make](std::uint32_t i) -> std::unique_ptr<KeyedProcessFunction<K, T, Out>> { return make(i); }, key_of_);
    const auto max = in_.pipeline_->options().max_parallelism;
    in_.connect(*v, Partitioning::keyed,
                std::function<std::uint32_t(const T&)>([key_of = key_of_, max](const T& value) {
                  return key_group_for(key_of(value), max);
                }));
    return Stream<Out>(*in_.pipeline_, {in_.pipeline_->add(std::move(v))});
  }

  /// Two keyed inputs with one key type: a KeyedCoProcessFunction<K, T, B, Out>.
  template <class B>
  KeyedConnectedStreams<K, T, B> connect(const KeyedStream<B, K>& second) const;
  /// The broadcast state pattern: a KeyedBroadcastProcessFunction<K, T, B, Out>.
  template <class B>
  KeyedBroadcastConnectedStream<K, T, B> connect(const BroadcastStream<B>& broadcast) const;

 private:
  friend struct detail::StreamAccess;

  Stream<T> in_;
  std::function<K(const T&)> key_of_;
};

template <class Factory>
auto Pipeline::add_source(std::string uid, std::uint32_t parallelism, Factory make) {
  using Fn = detail::made_t<Factory>;
  using T = typename Fn::output_type;
  static_assert(std::is_base_of_v<Source<T>, Fn>, "the factory must make a Source<T>");
  auto v = std::make_unique<detail::SourceVertex<T>>(
      std::move(uid), parallelism, [make](std::uint32_t i) -> std::unique_ptr<Source<T>> { return make(i); });
  return Stream<T>(*this, {add(std::move(v))});
}

template <SplitSourceType S>
auto Pipeline::add_source(std::string uid, std::uint32_t parallelism, std::shared_ptr<S> source) {
  using T = typename S::output_type;
  using Split = typename S::split_type;
  using State = typename S::state_type;
  if (!source) throw ConfigError(errc::invalid_argument, "operator '" + uid + "': the split source is null");
  auto v = std::make_unique<detail::SplitSourceVertex<T, Split, State>>(
      std::move(uid), parallelism, std::shared_ptr<SplitSource<T, Split, State>>(std::move(source)));
  return Stream<T>(*this, {add(std::move(v))});
}

}  // namespace ckpt

#include <ckpt/runtime/connected_streams.hpp>  // Stream::connect() and broadcast(descriptors)
