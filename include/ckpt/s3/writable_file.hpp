#pragma once
// S3WritableFile: what S3FileSystem::create() returns. It buffers what is
// appended; a file that stays within one part (S3Options::part_size) goes up
// as a single exclusive PUT at commit(), a larger one as a multipart upload
// whose parts are uploaded in the background by up to
// S3Options::upload_threads threads while the caller keeps appending (memory:
// at most upload_threads + 1 parts). commit() completes the upload, and only
// then does the object exist under its name (S3's own semantics give the
// "invisible until commit" contract). abort(), the destructor of an
// uncommitted file, and a failed commit() abort the multipart upload so no
// upload is left behind (where the store implements AbortMultipartUpload; what
// a killed process leaves is removed by remove_temporaries()).

#include <ckpt/fs/file_system.hpp>
#include <ckpt/s3/client.hpp>
#include <ckpt/s3/detail/digest.hpp>
#include <ckpt/s3/detail/exclusive.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace ckpt::s3 {

class S3WritableFile final : public fs::WritableFile {
 public:
  S3WritableFile(std::shared_ptr<S3Client> client, std::string path)
      : client_(std::move(client)),
        path_(std::move(path)),
        key_(client_->key(path_)),
        token_(detail::random_hex(16)),
        part_size_(client_->options().part_size),
        threads_(client_->options().upload_threads) {}
  S3WritableFile(const S3WritableFile&) = delete;
  S3WritableFile& operator=(const S3WritableFile&) = delete;
  ~S3WritableFile() override { abort(); }

  const std::string& path() const noexcept override { return path_; }
  std::uint64_t size() const noexcept override { return size_; }

  void append(std::span<const std::byte> data) override {
    check_open("append to");
    try {
      while (!data.empty()) {
        if (buffer_.size() == part_size_) flush_part();  // only once more data comes: a full last part stays for commit
        const std::size_t n = std::min(data.size(), part_size_ - buffer_.size());
        buffer_.insert(buffer_.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n));
        size_ += n;
        data = data.subspan(n);
      }
    } catch (...) {
      failed_ = true;
      throw;
    }
  }

  void commit() override {
    check_open("commit");
    try {
      if (upload_id_.empty()) {
        detail::put_exclusive(*client_, "commit", key_, buffer_, token_);
      } else {
        if (!buffer_.empty()) flush_part();
        finish_parts();
        complete();
      }
    } catch (...) {
      abort();
      throw;
    }
    state_ = State::committed;
    buffer_ = Bytes();
  }

  void abort() noexcept override {
    if (state_ != State::open) return;
    state_ = State::aborted;
    try {
      stop_workers(true);
    } catch (...) {
    }
    buffer_ = Bytes();
    if (upload_id_.empty()) return;
    try {
      if (!client_->abort_upload(key_, upload_id_))
        client_->log("AbortMultipartUpload '" + client_->object_uri(key_) +
                     "': the store does not implement it; upload " + upload_id_ +
                     " stays until the bucket's lifecycle rule removes it");
    } catch (const std::exception& e) {
      client_->log(std::string("could not abort the multipart upload of '") + client_->object_uri(key_) +
                   "' (remove_temporaries() will): " + e.what());
    } catch (...) {
    }
  }

  /// The multipart upload's id; empty while the file fits in one part.
  const std::string& upload_id() const noexcept { return upload_id_; }
  /// Parts whose upload has finished.
  std::size_t parts_uploaded() const noexcept { return parts_uploaded_.load(); }

 private:
  enum class State { open, committed, aborted };
  struct Job {
    int number;
    Bytes data;
  };
  struct Done {
    int number;
    std::string etag;
    detail::Md5 md5;
  };

  void check_open(const char* what) const {
    if (state_ != State::open || failed_)
      throw IoError(errc::io_error, path_,
                    std::string("cannot ") + what + " '" + client_->object_uri(key_) + "': the file was " +
                        (state_ == State::committed ? "already committed"
                         : state_ == State::aborted ? "aborted"
                                                    : "left unusable by an earlier failure"));
  }

  void rethrow_locked(std::unique_lock<std::mutex>& lock) {
    if (!error_) return;
    auto e = error_;
    lock.unlock();
    std::rethrow_exception(e);
  }

  void flush_part() {
    if (next_part_ >= S3Options::max_parts)
      throw IoError(errc::limit_exceeded, path_,
                    "'" + client_->object_uri(key_) + "' would need more than " +
                        std::to_string(S3Options::max_parts) + " parts of " + std::to_string(part_size_) +
                        " bytes; raise S3Options::part_size");
    if (upload_id_.empty()) upload_id_ = client_->create_upload(key_, {{detail::writer_meta, token_}});
    Job job{++next_part_, std::move(buffer_)};
    buffer_ = Bytes();
    buffer_.reserve(part_size_);
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return error_ || queue_.size() + in_flight_ < threads_; });
    rethrow_locked(lock);
    queue_.push_back(std::move(job));
    if (workers_.size() < threads_) workers_.emplace_back([this] { work(); });
    changed_.notify_all();
  }

  void work() {
    std::unique_lock lock(mutex_);
    for (;;) {
      changed_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;
      Job job = std::move(queue_.front());
      queue_.pop_front();
      ++in_flight_;
      lock.unlock();
      std::exception_ptr error;
      Done done{job.number, {}, {}};
      try {
        done.md5 = detail::md5(job.data);
        done.etag = client_->upload_part(key_, upload_id_, job.number, job.data, done.md5);
      } catch (...) {
        error = std::current_exception();
      }
      job.data = Bytes();
      lock.lock();
      if (error) {
        if (!error_) error_ = error;
        queue_.clear();  // nothing more will be committed
      } else {
        done_.push_back(std::move(done));
        ++parts_uploaded_;
      }
      --in_flight_;
      changed_.notify_all();
    }
  }

  /// Waits for every queued part and stops the workers; rethrows a part's failure.
  void finish_parts() {
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [&] { return error_ || (queue_.empty() && in_flight_ == 0); });
    }
    stop_workers(false);
    std::unique_lock lock(mutex_);
    rethrow_locked(lock);
  }

  void stop_workers(bool discard) {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
      if (discard) queue_.clear();
    }
    changed_.notify_all();
    for (auto& t : workers_)
      if (t.joinable()) t.join();
    workers_.clear();
  }

  void complete() {
    std::sort(done_.begin(), done_.end(), [](const Done& a, const Done& b) { return a.number < b.number; });
    std::vector<std::pair<int, std::string>> parts;
    std::vector<detail::Md5> md5s;
    for (const auto& d : done_) {
      parts.emplace_back(d.number, d.etag);
      md5s.push_back(d.md5);
    }
    const std::string expected = detail::multipart_etag(md5s);
    const bool conditional = client_->conditional_writes();
    std::unique_lock<std::mutex> guard;
    if (!conditional) {
      guard = std::unique_lock(detail::key_mutex(client_->location().bucket, key_));
      if (client_->head(key_)) throw detail::already_exists(*client_, "commit", key_);
    }
    const auto r = client_->complete_upload(key_, upload_id_, parts, conditional);
    using Status = S3Client::CompleteStatus;
    if (r.status == Status::completed) return;
    if (detail::stored_by_us(*client_, key_, token_, size_, expected)) {
      client_->log("commit '" + client_->object_uri(key_) +
                   "': an earlier attempt had completed the upload; the write is complete");
      upload_id_.clear();  // nothing left to abort
      return;
    }
    if (r.status == Status::precondition_failed) throw detail::already_exists(*client_, "commit", key_);
    upload_id_.clear();
    throw IoError(errc::io_error, path_,
                  client_->scrub("commit '" + client_->object_uri(key_) +
                                 "': the multipart upload no longer exists (aborted by another process, "
                                 "such as remove_temporaries() while this writer was active?)"));
  }

  std::shared_ptr<S3Client> client_;
  std::string path_;
  std::string key_;
  std::string token_;
  std::size_t part_size_;
  std::size_t threads_;
  std::uint64_t size_ = 0;
  Bytes buffer_;
  State state_ = State::open;
  bool failed_ = false;
  std::string upload_id_;
  int next_part_ = 0;
  std::atomic<std::size_t> parts_uploaded_{0};

  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Job> queue_;
  std::size_t in_flight_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
  std::vector<Done> done_;
  std::vector<std::thread> workers_;
};

}  // namespace ckpt::s3
