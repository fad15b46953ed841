#pragma once
// The storage of one keyed state: one flat hash map per key group the backend
// owns, so a key group can be snapshotted, copied or moved on its own.
//
// A state with a time-to-live stores TtlForm<Plain>::type in place of Plain:
// the value with its last-access time, per element for lists and per entry for
// maps. Snapshots record which form they hold, and reading converts between
// them, so switching TTL on or off for an existing state migrates it.

#include <ckpt/bytes.hpp>
#include <ckpt/serial/archive.hpp>
#include <ckpt/serial/columns.hpp>
#include <ckpt/serial/snapshot_data.hpp>
#include <ckpt/state/detail/ttl_value.hpp>

#include <boost/unordered/unordered_flat_map.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace ckpt::detail {

/// The TTL form of a stored value and the conversions to and from it.
template <class Plain>
struct TtlForm {
  using type = TtlValue<Plain>;
  static type wrap(Plain&& v, std::int64_t now) { return {std::move(v), now}; }
  static Plain unwrap(type&& v) { return std::move(v.value); }
  /// What of `v` is still alive at `now`, or nothing.
  static std::optional<type> alive(const type& v, const StateTtlConfig& ttl, std::int64_t now) {
    if (expired(v.last_access, ttl, now)) return std::nullopt;
    return v;
  }
  /// Removes what expired; true when nothing is left.
  static bool prune(type& v, const StateTtlConfig& ttl, std::int64_t now) {
    return expired(v.last_access, ttl, now);
  }
  static bool any_expired(const type& v, const StateTtlConfig& ttl, std::int64_t now) {
    return expired(v.last_access, ttl, now);
  }
};

template <class T, class A>
struct TtlForm<std::vector<T, A>> {
  using type = std::vector<TtlValue<T>>;
  static type wrap(std::vector<T, A>&& v, std::int64_t now) {
    type out;
    out.reserve(v.size());
    for (auto& e : v) out.push_back({std::move(e), now});
    return out;
  }
  static std::vector<T, A> unwrap(type&& v) {
    std::vector<T, A> out;
    out.reserve(v.size());
    for (auto& e : v) out.push_back(std::move(e.value));
    return out;
  }
  static std::optional<type> alive(const type& v, const StateTtlConfig& ttl, std::int64_t now) {
    type out;
    for (const auto& e : v)
      if (!expired(e.last_access, ttl, now)) out.push_back(e);
    if (out.empty()) return std::nullopt;
    return out;
  }
  static bool prune(type& v, const StateTtlConfig& ttl, std::int64_t now) {
    std::erase_if(v, [&](const TtlValue<T>& e) { return expired(e.last_access, ttl, now); });
    return v.empty();
  }
  static bool any_expired(const type& v, const StateTtlConfig& ttl, std::int64_t now) {
    return std::any_of(v.begin(), v.end(), [&](const TtlValue<T>& e) { return expired(e.last_access, ttl, now); });
  }
};

template <class K, class V, class H, class E, class A>
struct TtlForm<boost::unordered_flat_map<K, V, H, E, A>> {
  using type = boost::unordered_flat_map<K, TtlValue<V>, H, E>;
  static type wrap(boost::unordered_flat_map<K, V, H, E, A>&& m, std::int64_t now) {
    type out;
    out.reserve(m.size());
    for (auto& [k, v] : m) out.emplace(k, TtlValue<V>{std::move(v), now});
    return out;
  }
  static boost::unordered_flat_map<K, V, H, E, A> unwrap(type&& m) {
    boost::unordered_flat_map<K, V, H, E, A> out;
    out.reserve(m.size());
    for (auto& [k, v] : m) out.emplace(k, std::move(v.value));
    return out;
  }
  static std::optional<type> alive(const type& m, const StateTtlConfig& ttl, std::int64_t now) {
    type out;
    for (const auto& [k, v] : m)
      if (!expired(v.last_access, ttl, now)) out.emplace(k, v);
    if (out.empty()) return std::nullopt;
    return out;
  }
  static bool prune(type& m, const StateTtlConfig& ttl, std::int64_t now) {
    boost::unordered::erase_if(m, [&](const auto& e) { return expired(e.second.last_access, ttl, now); });
    return m.empty();
  }
  static bool any_expired(const type& m, const StateTtlConfig& ttl, std::int64_t now) {
    return std::any_of(m.begin(), m.end(), [&](const auto& e) { return expired(e.second.last_access, ttl, now); });
  }
};

/// What the backend and the snapshot machinery need from any table.
class KeyedTableBase {
 public:
  explicit KeyedTableBase(StateMeta meta) : meta_(std::move(meta)) {}
  virtual ~KeyedTableBase() = default;
  KeyedTableBase(const KeyedTableBase&) = delete;
  KeyedTableBase& operator=(const KeyedTableBase&) = delete;

  const StateMeta& meta() const noexcept { return meta_; }
  virtual bool empty_in(std::size_t slot) const = 0;
  /// Appends the section payload of key-group slot `slot`. Entries expired at
  /// `now` are left out where the state's TTL config asks for it.
  virtual void write_key_group(std::size_t slot, Bytes& out, std::int64_t now) const = 0;
  /// Adds the entries of a section payload, written with `written`'s form
  /// (the same state, with or without TTL), to slot `slot`.
  virtual void read_key_group(std::size_t slot, ByteSpan payload, const StateMeta& written,
                              const serial::ReadContext& context, std::int64_t now) = 0;
  /// Number of keys with an entry, over all key groups.
  virtual std::size_t size() const = 0;

 protected:
  StateMeta meta_;
};

template <class Key, class Plain, bool Ttl, class Hash, class Eq>
class KeyedTable final : public KeyedTableBase {
 public:
  using Stored = std::conditional_t<Ttl, typename TtlForm<Plain>::type, Plain>;
  using Map = boost::unordered_flat_map<Key, Stored, Hash, Eq>;

  KeyedTable(StateMeta meta, std::size_t slots, std::optional<StateTtlConfig> ttl)
      : KeyedTableBase(std::move(meta)), shards_(slots), ttl_(ttl) {}

  Map& shard(std::size_t slot) noexcept { return shards_[slot]; }
  const Map& shard(std::size_t slot) const noexcept { return shards_[slot]; }
  std::size_t slots() const noexcept { return shards_.size(); }
  const std::optional<StateTtlConfig>& ttl() const noexcept { return ttl_; }

  bool empty_in(std::size_t slot) const override { return shards_[slot].empty(); }

  void write_key_group(std::size_t slot, Bytes& out, std::int64_t now) const override {
    const Map& map = shards_[slot];
    if constexpr (Ttl) {
      if (ttl_->cleanup_in_snapshot) {
        Map live;
        live.reserve(map.size());
        for (const auto& [k, v] : map)
          if (auto a = TtlForm<Plain>::alive(v, *ttl_, now)) live.emplace(k, std::move(*a));
        serial::write_entries<Key, Stored>(out, live);
        return;
      }
    }
    (void)now;
    serial::write_entries<Key, Stored>(out, map);
  }

  void read_key_group(std::size_t slot, ByteSpan payload, const StateMeta& written,
                      const serial::ReadContext& context, std::int64_t now) override {
    Map& map = shards_[slot];
    const auto put = [&](Key&& k, Stored&& v) { map.insert_or_assign(std::move(k), std::move(v)); };
    // For as many entries as the payload proved it holds (its count is untrusted).
    const auto reserve = [&](std::size_t n) { map.reserve(map.size() + n); };
    if (written.ttl == Ttl) {
      serial::read_entries<Key, Stored>(payload, context, put, reserve);
    } else if constexpr (Ttl) {
      // Written without TTL: every entry starts its time-to-live now.
      serial::read_entries<Key, Plain>(
          payload, context, [&](Key&& k, Plain&& v) { put(std::move(k), TtlForm<Plain>::wrap(std::move(v), now)); },
          reserve);
    } else {
      // Written with TTL, read without: the timestamps are dropped.
      serial::read_entries<Key, typename TtlForm<Plain>::type>(
          payload, context,
          [&](Key&& k, typename TtlForm<Plain>::type&& v) { put(std::move(k), TtlForm<Plain>::unwrap(std::move(v))); },
          reserve);
    }
  }

  std::size_t size() const override {
    std::size_t n = 0;
    for (const auto& m : shards_) n += m.size();
    return n;
  }

  /// Background TTL cleanup: called on state accesses; sweeps one key-group
  /// slot for every (slot size / entries_per_access) accesses, so on average
  /// `incremental_cleanup_size` entries are examined per access.
  template <class BeforeWrite>
  void incremental_cleanup(std::int64_t now, BeforeWrite&& before_write) {
    if constexpr (Ttl) {
      if (ttl_->incremental_cleanup_size == 0 || shards_.empty()) return;
      const auto& current = shards_[cleanup_cursor_];
      if (++cleanup_accesses_ * ttl_->incremental_cleanup_size < current.size()) return;
      cleanup_accesses_ = 0;
      const auto slot = cleanup_cursor_;
      cleanup_cursor_ = (cleanup_cursor_ + 1) % shards_.size();
      const auto& map = shards_[slot];
      if (std::none_of(map.begin(), map.end(),
                       [&](const auto& e) { return TtlForm<Plain>::any_expired(e.second, *ttl_, now); }))
        return;
      before_write(slot);
      boost::unordered::erase_if(shards_[slot], [&](auto& entry) { return TtlForm<Plain>::prune(entry.second, *ttl_, now); });
    } else {
      (void)now;
      (void)before_write;
    }
  }

 private:
  std::vector<Map> shards_;
  std::optional<StateTtlConfig> ttl_;
  std::size_t cleanup_cursor_ = 0;
  std::size_t cleanup_accesses_ = 0;
};

}  // namespace ckpt::detail
