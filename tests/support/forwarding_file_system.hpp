#pragma once
// A file system that forwards every call to another one: tests derive from it
// and override only the calls they hold back, fail or watch.

#include <ckpt/fs/file_system.hpp>

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ckpt::test {

class ForwardingFileSystem : public fs::FileSystem {
 public:
  explicit ForwardingFileSystem(std::shared_ptr<fs::FileSystem> inner) : inner_(std::move(inner)) {}

  std::string uri() const override { return inner_->uri(); }
  std::unique_ptr<fs::WritableFile> create(std::string_view p) override { return inner_->create(p); }
  std::unique_ptr<fs::ReadableFile> open(std::string_view p) override { return inner_->open(p); }
  void publish(std::string_view p, std::span<const std::byte> d) override { inner_->publish(p, d); }
  std::vector<fs::Entry> list(std::string_view d) override { return inner_->list(d); }
  bool exists(std::string_view p) override { return inner_->exists(p); }
  void remove(std::string_view p) override { inner_->remove(p); }
  void remove_all(std::string_view d) override { inner_->remove_all(d); }
  void make_directories(std::string_view d) override { inner_->make_directories(d); }
  void remove_temporaries(std::string_view d) override { inner_->remove_temporaries(d); }
  std::unique_ptr<fs::Lock> try_lock(std::string_view p) override { return inner_->try_lock(p); }
  void rename(std::string_view from, std::string_view to) override { inner_->rename(from, to); }

 protected:
  fs::FileSystem& inner() noexcept { return *inner_; }

 private:
  std::shared_ptr<fs::FileSystem> inner_;
};

}  // namespace ckpt::test
