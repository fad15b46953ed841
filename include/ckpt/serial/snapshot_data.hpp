#pragma once
// What a snapshot of state is before it is compressed and written: plain data
// that the state layer produces and consumes and the snapshot-file layer
// stores. It knows nothing of the state types, so storage can split, move and
// redistribute it without them.
//
// Keyed state is one block per key group. A block is a sequence of sections,
// one per state that has entries in that key group:
//
//   block   := u32 section_count, section*
//   section := u32 state_index (into KeyedStateSnapshot::states), u64 length, payload[length]
//   payload := u64 entry_count, keys, values
//
// where keys and values are each either `raw` (the little-endian object
// representation of entry_count fixed-size values, back to back: arithmetic
// and enum types) or `cereal` (entry_count values through ckpt's binary cereal
// archive). Operator state keeps each element serialized on its own, so
// redistribution between subtasks needs no knowledge of the element type.

#include <ckpt/bytes.hpp>
#include <ckpt/error.hpp>
#include <ckpt/serial/archive.hpp>
#include <ckpt/serial/portable_type_name.hpp>

#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace ckpt {

enum class StateKind : std::uint8_t { value = 1, list = 2, map = 3, reducing = 4, aggregating = 5, timers = 6 };

inline const char* to_string(StateKind kind) noexcept {
  switch (kind) {
    case StateKind::value: return "value";
    case StateKind::list: return "list";
    case StateKind::map: return "map";
    case StateKind::reducing: return "reducing";
    case StateKind::aggregating: return "aggregating";
    case StateKind::timers: return "timers";
  }
  return "unknown";
}

/// How a column of keys or values is laid out in a section payload.
enum class Encoding : std::uint8_t { raw = 1, cereal = 2 };

/// How operator list state is handed out when the parallelism changes.
enum class Distribution : std::uint8_t { even_split = 1, union_all = 2, broadcast = 3 };

inline const char* to_string(Distribution d) noexcept {
  switch (d) {
    case Distribution::even_split: return "even-split";
    case Distribution::union_all: return "union";
    case Distribution::broadcast: return "broadcast";
  }
  return "unknown";
}

/// One keyed state as recorded in a snapshot.
struct StateMeta {
  std::string name;
  StateKind kind = StateKind::value;
  std::string key_type;     // the backend's key type, e.g. "string"
  std::string value_type;   // what is stored per key: T, vector<T>, unordered_map<K,V>, the accumulator
  std::uint32_t value_version = 0;  // cereal class version of the user's value type
  Encoding key_encoding = Encoding::cereal;
  Encoding value_encoding = Encoding::cereal;
  bool ttl = false;  // values carry a last-access timestamp (state TTL)

  template <class Archive>
  void serialize(Archive& ar) {
    ar(name, kind, key_type, value_type, value_version, key_encoding, value_encoding, ttl);
    serial::portable_on_load(ar, key_type, value_type);
  }
  friend bool operator==(const StateMeta&, const StateMeta&) = default;
};

struct KeyGroupBlock {
  std::uint32_t key_group = 0;
  Bytes data;  // uncompressed sections

  template <class Archive>
  void save(Archive& ar) const {
    ar(key_group, cereal::make_size_tag(static_cast<cereal::size_type>(data.size())));
    ar(cereal::binary_data(data.data(), data.size()));
  }
  template <class Archive>
  void load(Archive& ar) {
    cereal::size_type size = 0;
    ar(key_group, cereal::make_size_tag(size));
    data.resize(static_cast<std::size_t>(size));
    ar(cereal::binary_data(data.data(), data.size()));
  }
};

/// Keyed state of one backend (or of a set of its key groups).
struct KeyedStateSnapshot {
  std::uint32_t max_parallelism = 0;
  std::uint32_t key_group_begin = 0;  // the range of the backend that took it, [begin, end)
  std::uint32_t key_group_end = 0;
  std::string key_type;
  std::vector<StateMeta> states;
  std::vector<KeyGroupBlock> key_groups;  // ascending; key groups without entries are omitted
  std::string origin = "<keyed snapshot>";  // where it was read from, for messages (not stored)

  template <class Archive>
  void serialize(Archive& ar) {
    ar(max_parallelism, key_group_begin, key_group_end, key_type, states, key_groups);
    serial::portable_on_load(ar, key_type);
  }
};

/// One operator state of one subtask.
struct OperatorStateEntry {
  std::string name;
  Distribution distribution = Distribution::even_split;
  std::string element_type;  // T for list state, pair<K,V> for broadcast state
  std::uint32_t element_version = 0;
  std::vector<Bytes> elements;  // each serialized on its own

  template <class Archive>
  void save(Archive& ar) const {
    ar(name, distribution, element_type, element_version,
       cereal::make_size_tag(static_cast<cereal::size_type>(elements.size())));
    for (const auto& e : elements) {
      ar(cereal::make_size_tag(static_cast<cereal::size_type>(e.size())));
      ar(cereal::binary_data(e.data(), e.size()));
    }
  }
  template <class Archive>
  void load(Archive& ar) {
    cereal::size_type count = 0;
    ar(name, distribution, element_type, element_version, cereal::make_size_tag(count));
    element_type = portable_type_name(element_type);
    // Grown as elements arrive, never resized to the count first: a hostile
    // count of (bytes - 1) would otherwise cost 24 bytes of vector per byte.
    elements.clear();
    elements.reserve(static_cast<std::size_t>(std::min<cereal::size_type>(count, 1024)));
    for (cereal::size_type i = 0; i < count; ++i) {
      cereal::size_type size = 0;
      ar(cereal::make_size_tag(size));
      auto& e = elements.emplace_back(static_cast<std::size_t>(size));
      ar(cereal::binary_data(e.data(), e.size()));
    }
  }
};

/// Operator state of one subtask.
struct OperatorStateSnapshot {
  std::vector<OperatorStateEntry> states;
  std::string origin = "<operator snapshot>";  // where it was read from, for messages (not stored)

  template <class Archive>
  void serialize(Archive& ar) {
    ar(states);
  }
};

namespace serial {

/// A section of a key-group block, as a view into the block.
struct Section {
  std::uint32_t state_index = 0;
  ByteSpan payload;
};

/// Appends a section header and returns the offset of its length field, which
/// finish_section() fills in once the payload has been appended.
inline std::size_t begin_section(Bytes& block, std::uint32_t state_index) {
  const auto at = block.size();
  block.resize(at + 12);
  std::memcpy(block.data() + at, &state_index, 4);
  return at + 4;
}
inline void finish_section(Bytes& block, std::size_t length_offset) {
  const std::uint64_t length = block.size() - (length_offset + 8);
  std::memcpy(block.data() + length_offset, &length, 8);
}
inline void write_section_count(Bytes& block, std::uint32_t count) { std::memcpy(block.data(), &count, 4); }

/// Splits a block into its sections, checking every length against the block.
inline std::vector<Section> parse_sections(ByteSpan block, std::size_t state_count, ReadContext context) {
  InputArchive ar(block, context);
  std::uint32_t count = 0;
  ar(count);
  ar.check_length(count);
  std::vector<Section> out;
  out.reserve(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    Section s;
    std::uint64_t length = 0;
    ar(s.state_index, length);
    if (s.state_index >= state_count)
      ar.fail(errc::corrupt_data, "section " + std::to_string(i) + " names state #" +
                                      std::to_string(s.state_index) + " but the snapshot has " +
                                      std::to_string(state_count) + " states");
    if (length > ar.remaining())
      ar.fail(errc::truncated, "section " + std::to_string(i) + " claims " + std::to_string(length) +
                                   " bytes but " + std::to_string(ar.remaining()) + " remain");
    s.payload = ar.take(static_cast<std::size_t>(length));
    out.push_back(s);
  }
  if (ar.remaining() != 0)
    ar.fail(errc::corrupt_data, std::to_string(ar.remaining()) + " unexpected bytes after the last section");
  return out;
}

}  // namespace serial
}  // namespace ckpt
