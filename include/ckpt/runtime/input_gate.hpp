#pragma once
// The input of a pipeline task: one bounded channel per upstream subtask, and
// a mailbox for control actions (checkpoint triggers, notifications). A full
// channel blocks its producer (back-pressure); a blocked channel (barrier
// alignment) is not read until unblocked; close() wakes everyone for shutdown.
// Producers push batches and the consumer takes runs, so the lock is taken
// once per batch, not per record.

#include <ckpt/runtime/stream_element.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

namespace ckpt {

using Mail = std::function<void()>;

/// A task's mailbox: actions run on the task's thread between records.
class Mailbox {
 public:
  virtual ~Mailbox() = default;
  virtual void post(Mail mail) = 0;
};

/// The mailbox of a source task, which has no input gate.
class SourceMailbox final : public Mailbox {
 public:
  void post(Mail mail) override {
    {
      std::lock_guard lock(mutex_);
      mails_.push_back(std::move(mail));
    }
    cv_.notify_all();
  }
  /// Takes the queued mails, waiting up to `timeout` for one (zero: no wait).
  std::deque<Mail> take(std::chrono::nanoseconds timeout) {
    std::unique_lock lock(mutex_);
    if (timeout.count() > 0) cv_.wait_for(lock, timeout, [&] { return !mails_.empty() || closed_; });
    std::deque<Mail> out;
    out.swap(mails_);
    return out;
  }
  void close() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    cv_.notify_all();
  }
  bool closed() {
    std::lock_guard lock(mutex_);
    return closed_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Mail> mails_;
  bool closed_ = false;
};

template <class T>
class InputGate final : public Mailbox {
 public:
  InputGate(std::size_t channels, std::size_t capacity)
      : channels_(channels), space_(channels), capacity_(capacity == 0 ? 1 : capacity) {}

  std::size_t channels() const noexcept { return channels_.size(); }

  /// Producer of `channel`: appends `batch` (emptied), waiting while the
  /// channel is full. False if the gate was closed (the job is stopping).
  bool push(std::size_t channel, std::vector<StreamElement<T>>& batch) {
    std::unique_lock lock(mutex_);
    auto& ch = channels_[channel];
    for (auto& e : batch) {
      if (ch.queue.size() >= capacity_) {
        ready_.notify_one();  // the consumer may be asleep: let it drain before we wait
        space_[channel].wait(lock, [&] { return ch.queue.size() < capacity_ || closed_; });
      }
      if (closed_) return false;
      ch.queue.push_back(std::move(e));
    }
    batch.clear();
    lock.unlock();
    ready_.notify_one();
    return true;
  }

  void post(Mail mail) override {
    {
      std::lock_guard lock(mutex_);
      mails_.push_back(std::move(mail));
    }
    ready_.notify_one();
  }

  struct Taken {
    enum class What { elements, mail, timeout, closed } what = What::closed;
    std::size_t channel = 0;
    std::deque<Mail> mails;
  };

  /// Waits for mail or elements of an unblocked channel (up to `deadline`).
  /// Elements are moved into `out`, a run from one channel that ends at the
  /// first non-record element, so a barrier is always the last of its run.
  Taken take(std::vector<StreamElement<T>>& out, std::optional<std::chrono::steady_clock::time_point> deadline,
             std::size_t max_run = 256) {
    std::unique_lock lock(mutex_);
    const auto available = [&] {
      if (closed_ || !mails_.empty()) return true;
      for (const auto& ch : channels_)
        if (!ch.blocked && !ch.queue.empty()) return true;
      return false;
    };
    if (deadline) {
      if (!ready_.wait_until(lock, *deadline, available)) return {Taken::What::timeout, 0, {}};
    } else {
      ready_.wait(lock, available);
    }
    if (closed_) return {Taken::What::closed, 0, {}};
    if (!mails_.empty()) {
      Taken t{Taken::What::mail, 0, {}};
      t.mails.swap(mails_);
      return t;
    }
    // Round-robin over channels, so none starves.
    for (std::size_t i = 0; i < channels_.size(); ++i) {
      const auto c = (next_ + i) % channels_.size();
      auto& ch = channels_[c];
      if (ch.blocked || ch.queue.empty()) continue;
      next_ = c + 1;
      while (!ch.queue.empty() && out.size() < max_run) {
        const bool record = std::holds_alternative<Record<T>>(ch.queue.front());
        out.push_back(std::move(ch.queue.front()));
        ch.queue.pop_front();
        if (!record) break;
      }
      lock.unlock();
      space_[c].notify_all();
      return {Taken::What::elements, c, {}};
    }
    return {Taken::What::timeout, 0, {}};  // unreachable: available() said otherwise
  }

  /// Barrier alignment: stop reading `channel` until unblock_all().
  void block(std::size_t channel) {
    std::lock_guard lock(mutex_);
    channels_[channel].blocked = true;
  }
  void unblock_all() {
    {
      std::lock_guard lock(mutex_);
      for (auto& ch : channels_) ch.blocked = false;
    }
    ready_.notify_one();
  }

  /// Wakes the consumer and every producer; later pushes fail.
  void close() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    ready_.notify_all();
    for (auto& s : space_) s.notify_all();
  }

 private:
  struct Channel {
    std::deque<StreamElement<T>> queue;
    bool blocked = false;
  };
  std::mutex mutex_;
  std::condition_variable ready_;
  std::vector<Channel> channels_;
  std::vector<std::condition_variable> space_;
  std::deque<Mail> mails_;
  std::size_t capacity_;
  std::size_t next_ = 0;
  bool closed_ = false;
};

}  // namespace ckpt
