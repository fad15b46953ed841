#pragma once
// FaultInjectingFileSystem: LocalFileSystem's own code running on a
// FaultInjectingOs, so crash and fault tests exercise the real write path --
// temporary file, fsync, exclusive publish, directory fsync -- rather than a
// model of it.
//
// A "restart" is a new FaultInjectingFileSystem on the same FaultInjectingOs
// after os->crash():
//
//   auto os = std::make_shared<ckpt::fs::FaultInjectingOs>();
//   { ckpt::fs::FaultInjectingFileSystem fs(os); write_file(fs, "a", bytes); }
//   os->crash();                                  // power loss
//   ckpt::fs::FaultInjectingFileSystem after(os); // reboot: only durable state

#include <ckpt/fs/fault_injecting_os.hpp>
#include <ckpt/fs/local_file_system.hpp>

#include <memory>
#include <string>
#include <utility>

namespace ckpt::fs {

class FaultInjectingFileSystem final : public LocalFileSystem {
 public:
  /// The directory `root` (absolute, in the model; created if missing) of `os`.
  explicit FaultInjectingFileSystem(std::shared_ptr<FaultInjectingOs> os, std::string root = "/ckpt",
                                    Options options = Options::defaults())
      : LocalFileSystem(std::move(root), options, os), fault_os_(std::move(os)) {}

  /// A file system on a fresh FaultInjectingOs.
  FaultInjectingFileSystem() : FaultInjectingFileSystem(std::make_shared<FaultInjectingOs>()) {}

  FaultInjectingOs& fault_os() const noexcept { return *fault_os_; }
  const std::shared_ptr<FaultInjectingOs>& shared_fault_os() const noexcept { return fault_os_; }

 private:
  std::shared_ptr<FaultInjectingOs> fault_os_;
};

}  // namespace ckpt::fs
