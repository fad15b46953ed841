#pragma once
// Where a task sends what it produces: to the input gates of the next
// vertices' subtasks, by a partitioner per edge (forward, rebalance, keyed by
// key group, broadcast). Records are batched per channel; control elements
// (barriers, watermarks, end of stream) flush and go to every channel.
// A task's side outputs (OutputTag) are Outputs of their own attached to its
// main one: they get every control element right after it and flush with
// it, so their records cross the same barriers as the main output's.

#include <ckpt/error.hpp>
#include <ckpt/runtime/input_gate.hpp>
#include <ckpt/runtime/stream_element.hpp>
#include <ckpt/state/key_group.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

namespace ckpt {

enum class Partitioning : std::uint8_t { forward, rebalance, keyed, broadcast };

/// Thrown inside a task when its output was closed because the job stops.
class TaskCancelled : public Error {
 public:
  TaskCancelled() : Error(errc::cancelled, "the task was cancelled") {}
};

/// What the main output needs of the side outputs attached to it.
class OutputBase {
 public:
  virtual ~OutputBase() = default;
  virtual void control(const CheckpointBarrier&) = 0;
  virtual void control(const Watermark&) = 0;
  virtual void control(const WatermarkStatus&) = 0;
  virtual void control(const EndOfStream&) = 0;
  virtual void flush() = 0;

  /// A side output of the same task (see the top of this file).
  void add_side(std::unique_ptr<OutputBase> side) { sides_.push_back(std::move(side)); }

 protected:
  std::vector<std::unique_ptr<OutputBase>> sides_;
};

template <class T>
class Output final : public OutputBase {
 public:
  struct Edge {
    std::vector<std::shared_ptr<InputGate<T>>> gates;  // one per downstream subtask
    std::size_t channel = 0;                           // our channel in each of them
    Partitioning partitioning = Partitioning::rebalance;
    std::function<std::uint32_t(const T&)> key_group;  // keyed edges
    std::uint32_t max_parallelism = default_max_parallelism;
    std::size_t next = 0;                              // rebalance position
    std::vector<std::vector<StreamElement<T>>> buffers;
  };

  Output(std::uint32_t subtask, std::size_t batch_size) : subtask_(subtask), batch_size_(batch_size) {}

  void add_edge(Edge edge) {
    edge.buffers.resize(edge.gates.size());
    edges_.push_back(std::move(edge));
  }
  bool empty() const noexcept { return edges_.empty(); }

  void emit(Record<T> record) {
    for (std::size_t e = 0; e < edges_.size(); ++e) {
      auto& edge = edges_[e];
      const bool last = e + 1 == edges_.size();
      switch (edge.partitioning) {
        case Partitioning::forward:
          append(edge, subtask_ % edge.gates.size(), last ? std::move(record) : record);
          break;
        case Partitioning::rebalance:
          append(edge, edge.next++ % edge.gates.size(), last ? std::move(record) : record);
          break;
        case Partitioning::keyed: {
          const auto kg = edge.key_group(record.value);
          const auto target = subtask_for_key_group(edge.max_parallelism, static_cast<std::uint32_t>(edge.gates.size()), kg);
          append(edge, target, last ? std::move(record) : record);
          break;
        }
        case Partitioning::broadcast:
          for (std::size_t g = 0; g < edge.gates.size(); ++g) append(edge, g, record);
          break;
      }
    }
  }

  /// A barrier, watermark or end of stream: after everything before it, on
  /// every channel (the side outputs' included).
  template <class Control>
  void broadcast_control(const Control& c) {
    for (auto& edge : edges_)
      for (std::size_t g = 0; g < edge.gates.size(); ++g) {
        edge.buffers[g].emplace_back(c);
        send(edge, g);
      }
    for (auto& side : sides_) side->control(c);
  }

  void flush() override {
    for (auto& edge : edges_)
      for (std::size_t g = 0; g < edge.gates.size(); ++g)
        if (!edge.buffers[g].empty()) send(edge, g);
    for (auto& side : sides_) side->flush();
  }

  void control(const CheckpointBarrier& c) override { broadcast_control(c); }
  void control(const Watermark& c) override { broadcast_control(c); }
  void control(const WatermarkStatus& c) override { broadcast_control(c); }
  void control(const EndOfStream& c) override { broadcast_control(c); }

 private:
  void append(Edge& edge, std::size_t g, Record<T> record) {
    edge.buffers[g].emplace_back(std::move(record));
    if (edge.buffers[g].size() >= batch_size_) send(edge, g);
  }
  void send(Edge& edge, std::size_t g) {
    if (!edge.gates[g]->push(edge.channel, edge.buffers[g])) throw TaskCancelled();
  }

  std::uint32_t subtask_;
  std::size_t batch_size_;
  std::vector<Edge> edges_;
};

}  // namespace ckpt
