#pragma once
// The merge operator list state appends with (Flink's StringAppend, without a
// delimiter): a list value is a sequence of elements, each a u32 little-endian
// length followed by the element as ckpt's binary archive serializes it, so
// appending is concatenation and add() never reads the list.

#include <rocksdb/merge_operator.h>
#include <rocksdb/slice.h>

#include <string>

namespace ckpt::rocksdb {

class ListAppendOperator final : public ::rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const ::rocksdb::Slice&, const ::rocksdb::Slice* existing, const ::rocksdb::Slice& value,
             std::string* new_value, ::rocksdb::Logger*) const override {
    new_value->clear();
    if (existing != nullptr) new_value->assign(existing->data(), existing->size());
    new_value->append(value.data(), value.size());
    return true;
  }
  const char* Name() const override { return "ckpt.ListAppend"; }
};

}  // namespace ckpt::rocksdb
