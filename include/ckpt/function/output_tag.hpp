#pragma once
// OutputTag<T>: names a side output of an operator (Flink's OutputTag). A
// function sends a record to it with ctx.output(tag, value) beside its main
// output; the record carries the event time of what is being processed. The
// pipeline consumes a side output with get_side_output(tag) on the stream the
// operator returns; a harness shows it with side_output(tag). The name is the
// tag's identity: two tags with one name and different types in one job are
// an error.

#include <ckpt/error.hpp>

#include <string>
#include <utility>

namespace ckpt {

template <class T>
class OutputTag {
 public:
  using value_type = T;

  explicit OutputTag(std::string id) : id_(std::move(id)) {
    if (id_.empty()) throw ConfigError(errc::invalid_name, "an OutputTag's name must not be empty");
  }
  const std::string& id() const noexcept { return id_; }
  friend bool operator==(const OutputTag& a, const OutputTag& b) noexcept { return a.id_ == b.id_; }

 private:
  std::string id_;
};

}  // namespace ckpt
