#pragma once
// ckpt-inspect: list, show, verify and dump checkpoints and savepoints — the
// reading half of Flink's State Processor API, for people at a terminal — and
// the generic edits of its writing half (rename or drop an operator, drop or
// rename a state), which write a new savepoint and never touch their input.
// Native subtasks (a RocksDB backend's own files, manifest format 3) are
// listed and verified file by file (size and XXH3, storage/native_files.hpp)
// without the RocksDB library; dumping them needs a savepoint.

#include "type_decoder.hpp"

#include <ckpt/edit/savepoint_editor.hpp>
#include <ckpt/fs/registry.hpp>
#include <ckpt/serial/archive.hpp>
#include <ckpt/snapshot/manifest.hpp>
#include <ckpt/storage/checkpoint_storage.hpp>
#include <ckpt/storage/layout.hpp>
#include <ckpt/storage/native_files.hpp>
#include <ckpt/storage/snapshot_reader.hpp>

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <functional>
#include <iomanip>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

namespace ckpt::inspect {

inline std::string human_bytes(std::uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  std::ostringstream out;
  out << std::fixed << std::setprecision(u == 0 ? 0 : 1) << v << " " << units[u];
  return out.str();
}

inline std::string ratio(std::uint64_t raw, std::uint64_t stored) {
  if (stored == 0) return "-";
  std::ostringstream out;
  out << std::fixed << std::setprecision(2) << static_cast<double>(raw) / static_cast<double>(stored) << "x";
  return out.str();
}

inline std::string utc(std::int64_t millis) {
  const std::time_t secs = static_cast<std::time_t>(millis / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  std::ostringstream out;
  out << std::put_time(&tm, "%Y-%m-%dT%H:%M:%SZ");
  return out.str();
}

/// The tags of a storage (Paimon's tags): name, savepoint, creation and
/// expiry; a tag file that does not verify is shown as damaged.
inline void list_tags(fs::FileSystem& fs, std::ostream& out) {
  std::vector<std::string> problems;
  const auto tags = TagStore(fs, TagOptions::defaults()).list(&problems);
  if (tags.empty() && problems.empty()) return;
  out << "\n" << std::setw(24) << "tag" << std::setw(8) << "id" << std::setw(22) << "created (UTC)" << std::setw(22)
      << "expires (UTC)" << "savepoint\n";
  for (const auto& t : tags)
    out << std::setw(24) << t.name << std::setw(8) << t.savepoint_id << std::setw(22) << utc(t.created_millis)
        << std::setw(22) << (t.expires_millis ? utc(*t.expires_millis) : std::string("never")) << fs.uri() << "/"
        << t.savepoint_directory << (t.automatic ? "  (scheduled: deleted with its tag)" : "") << "\n";
  for (const auto& p : problems) out << "DAMAGED tag: " << p << "\n";
}

/// Files and bytes of a manifest's native subtasks (own: in the snapshot's
/// directory; shared: in shared/, possibly uploaded by an earlier checkpoint).
struct NativeTotals {
  std::size_t files = 0;
  std::size_t shared_files = 0;
  std::uint64_t own_bytes = 0;
  std::uint64_t shared_bytes = 0;
};
inline void add_native_files(NativeTotals& t, const std::vector<NativeFileRef>& files) {
  for (const auto& f : files) {
    ++t.files;
    if (f.shared) {
      ++t.shared_files;
      t.shared_bytes += f.size;
    } else {
      t.own_bytes += f.size;
    }
  }
}
inline NativeTotals native_totals(const Manifest& m) {
  NativeTotals t;
  for (const auto& n : m.native) add_native_files(t, n.files);
  return t;
}
inline std::string native_summary(const NativeTotals& t) {
  return "native: " + std::to_string(t.files) + (t.files == 1 ? " file, " : " files, ") +
         human_bytes(t.own_bytes + t.shared_bytes) + " (" + std::to_string(t.shared_files) + " shared, " +
         human_bytes(t.shared_bytes) + ")";
}

/// `list <storage-uri>`: checkpoints and savepoints, newest first, then tags. Read-only:
/// no lock is taken, nothing is cleaned.
inline void list(std::string_view storage_uri, std::ostream& out, const std::string& savepoint_dir = "savepoints") {
  auto fs = fs::open_existing_file_system(storage_uri);  // never creates what it was asked to list
  std::vector<std::pair<std::uint64_t, std::string>> dirs;
  for (const auto& e : fs->list(""))
    if (e.type == fs::EntryType::directory)
      if (const auto id = layout::parse_checkpoint_dir(e.name)) dirs.emplace_back(*id, e.name);
  for (const auto& e : fs->list(savepoint_dir))
    if (e.type == fs::EntryType::directory)
      if (const auto id = layout::parse_savepoint_dir(e.name)) dirs.emplace_back(*id, fs::join(savepoint_dir, e.name));
  std::sort(dirs.begin(), dirs.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  out << std::left << std::setw(11) << "kind" << std::setw(8) << "id" << std::setw(22) << "time (UTC)" << std::setw(12)
      << "stored" << std::setw(8) << "ratio" << "location\n";
  for (const auto& [id, dir] : dirs) {
    const auto path = fs::join(dir, manifest_file_name);
    if (!fs->exists(path)) {
      out << std::setw(11) << "incomplete" << std::setw(8) << id << std::setw(42) << "(no manifest: never restored)"
          << fs->uri() << "/" << dir << "\n";
      continue;
    }
    try {
      const auto m = read_manifest(*fs, path);
      out << std::setw(11) << to_string(m.kind) << std::setw(8) << id << std::setw(22) << utc(m.timestamp_millis)
          << std::setw(12) << human_bytes(m.stored_bytes()) << std::setw(8) << ratio(m.raw_bytes(), m.stored_bytes())
          << fs->uri() << "/" << dir << (m.name.empty() ? "" : "  (" + printable_name(m.name) + ")")
          << (m.native.empty() ? "" : "  " + native_summary(native_totals(m))) << "\n";
    } catch (const Error& e) {
      out << std::setw(11) << "DAMAGED" << std::setw(8) << id << e.what() << "\n";
    }
  }
  list_tags(*fs, out);
}

/// `show <snapshot-uri>`: the manifest, as text.
inline void show(const SnapshotReader& snapshot, std::ostream& out) {
  const auto& m = snapshot.manifest();
  // Names and properties come from a file: escaped, so no control character reaches the terminal.
  const auto p = [](const std::string& text) { return printable_name(text, 256); };
  out << to_string(m.kind) << " " << m.checkpoint_id << (m.name.empty() ? "" : " '" + p(m.name) + "'") << " taken "
      << utc(m.timestamp_millis) << "\n  at " << snapshot.location() << "\n";
  if (m.base_checkpoint_id) out << "  incremental: shares unchanged key groups with checkpoint " << *m.base_checkpoint_id << "\n";
  for (const auto& [k, v] : m.properties) out << "  property " << p(k) << " = " << p(v) << "\n";
  for (const auto& op : m.operators) {
    out << "operator '" << p(op.uid) << "': parallelism " << op.parallelism;
    if (op.max_parallelism) out << ", max parallelism " << op.max_parallelism << ", keys " << p(op.key_type);
    out << "\n";
    for (const auto& s : op.keyed_states)
      out << "  keyed state '" << p(s.name) << "': " << to_string(s.kind) << " of " << p(s.value_type) << " (version "
          << s.value_version << (s.ttl ? ", with TTL" : "") << ")\n";
    for (const auto& s : op.subtasks) {
      out << "  subtask " << s.index;
      if (s.key_group_end > s.key_group_begin) out << ": key groups [" << s.key_group_begin << ", " << s.key_group_end << ")";
      out << ", " << s.files.size() << (s.files.size() == 1 ? " file, " : " files, ") << human_bytes(s.raw_bytes)
          << " -> " << human_bytes(s.stored_bytes) << " (" << ratio(s.raw_bytes, s.stored_bytes) << ")\n";
      for (const auto& o : s.operator_states)
        out << "    operator state '" << p(o.name) << "': " << to_string(o.distribution) << " list of " << p(o.element_type)
            << ", " << o.element_count << " elements\n";
    }
    for (const auto& n : m.native) {
      if (n.uid != op.uid) continue;
      NativeTotals t;
      add_native_files(t, n.files);
      out << "  subtask " << n.subtask << ": native RocksDB files (" << p(n.db_identity) << "), "
          << native_summary(t).substr(8) << "\n";
      for (const auto& f : n.files)
        out << "    " << (f.shared ? "shared " : "own    ") << std::left << std::setw(24) << p(f.name) << std::right
            << std::setw(12) << f.size << "  " << p(detail::native_path(f, snapshot.directory())) << std::left << "\n";
    }
  }
  out << "total: " << human_bytes(m.raw_bytes()) << " of state, " << human_bytes(m.stored_bytes())
      << " stored, compression " << ratio(m.raw_bytes(), m.stored_bytes()) << "\n";
  if (!m.native.empty()) out << "total " << native_summary(native_totals(m)) << "\n";
}

/// `show --json`: the manifest as JSON.
inline std::string manifest_json(const Manifest& m) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  const auto str = [&](const std::string& s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); };
  w.StartObject();
  w.Key("checkpoint_id");
  w.Uint64(m.checkpoint_id);
  w.Key("kind");
  w.String(to_string(m.kind));
  w.Key("name");
  str(m.name);
  w.Key("timestamp_millis");
  w.Int64(m.timestamp_millis);
  w.Key("raw_bytes");
  w.Uint64(m.raw_bytes());
  w.Key("stored_bytes");
  w.Uint64(m.stored_bytes());
  w.Key("properties");
  w.StartObject();
  for (const auto& [k, v] : m.properties) {
    str(k);
    str(v);
  }
  w.EndObject();
  w.Key("operators");
  w.StartArray();
  for (const auto& op : m.operators) {
    w.StartObject();
    w.Key("uid");
    str(op.uid);
    w.Key("parallelism");
    w.Uint(op.parallelism);
    w.Key("max_parallelism");
    w.Uint(op.max_parallelism);
    w.Key("key_type");
    str(op.key_type);
    w.Key("keyed_states");
    w.StartArray();
    for (const auto& s : op.keyed_states) {
      w.StartObject();
      w.Key("name");
      str(s.name);
      w.Key("kind");
      w.String(to_string(s.kind));
      w.Key("value_type");
      str(s.value_type);
      w.Key("version");
      w.Uint(s.value_version);
      w.Key("ttl");
      w.Bool(s.ttl);
      w.EndObject();
    }
    w.EndArray();
    w.Key("subtasks");
    w.StartArray();
    for (const auto& s : op.subtasks) {
      w.StartObject();
      w.Key("index");
      w.Uint(s.index);
      w.Key("key_groups");
      w.StartArray();
      w.Uint(s.key_group_begin);
      w.Uint(s.key_group_end);
      w.EndArray();
      w.Key("files");
      w.StartArray();
      for (const auto& f : s.files) {
        w.StartObject();
        w.Key("path");
        str(f.shared ? "shared/" + f.path : f.path);
        w.Key("size");
        w.Uint64(f.size);
        w.EndObject();
      }
      w.EndArray();
      w.Key("operator_states");
      w.StartArray();
      for (const auto& o : s.operator_states) {
        w.StartObject();
        w.Key("name");
        str(o.name);
        w.Key("distribution");
        w.String(to_string(o.distribution));
        w.Key("element_type");
        str(o.element_type);
        w.Key("elements");
        w.Uint64(o.element_count);
        w.EndObject();
      }
      w.EndArray();
      w.Key("raw_bytes");
      w.Uint64(s.raw_bytes);
      w.Key("stored_bytes");
      w.Uint64(s.stored_bytes);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.Key("native");
  w.StartArray();
  for (const auto& n : m.native) {
    w.StartObject();
    w.Key("operator");
    str(n.uid);
    w.Key("subtask");
    w.Uint(n.subtask);
    w.Key("db_identity");
    str(n.db_identity);
    w.Key("files");
    w.StartArray();
    for (const auto& f : n.files) {
      w.StartObject();
      w.Key("name");
      str(f.name);
      w.Key("path");
      str(f.path);
      w.Key("shared");
      w.Bool(f.shared);
      w.Key("size");
      w.Uint64(f.size);
      w.Key("checksum");
      w.Uint64(f.checksum);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

/// `verify <snapshot-uri>`: every checksum of every block, and the size and
/// checksum of every native file; `progress` is told (done, total) blocks
/// (and native files) as it goes. When a check fails, every native file is
/// checked and each bad one reported on `out` ("BAD native file ..."), then
/// the first error is thrown (the program exits non-zero).
inline void verify(SnapshotReader& snapshot, std::ostream& out,
                   const std::function<void(std::size_t, std::size_t)>& progress = {}) {
  std::size_t blocks = 0;
  try {
    snapshot.verify_all([&](std::size_t done, std::size_t total) {
      blocks = total;
      if (progress) progress(done, total);
    });
  } catch (const Error&) {
    const auto& m = snapshot.manifest();
    std::size_t bad = 0;
    for (const auto& n : m.native)
      for (const auto& f : n.files) {
        try {
          detail::read_native(*snapshot.file_system(), f, snapshot.directory(), [](ByteSpan) {});
        } catch (const Error& e) {
          ++bad;
          out << "BAD native file '" << printable_name(f.name) << "' of operator '" << printable_name(n.uid)
              << "' subtask " << n.subtask << (f.shared ? " (shared)" : "") << ": " << e.what() << "\n";
        }
      }
    if (bad) out << "FAILED: " << bad << " of " << native_totals(m).files << " native files in " << snapshot.location() << "\n";
    throw;
  }
  const auto& m = snapshot.manifest();
  const auto native = native_totals(m);
  out << "OK: " << blocks - native.files << " blocks";
  if (!m.native.empty()) out << " and " << native.files << " native files";
  out << " in " << snapshot.location() << " verified (" << human_bytes(m.stored_bytes() + native.own_bytes + native.shared_bytes) << ")\n";
}

/// `dump <snapshot-uri> <uid> <state>`: a state's entries as JSON, where its
/// types are made of ckpt's named types and standard containers. At most
/// `limit` entries (0: all).
inline std::string dump(SnapshotReader& snapshot, const std::string& uid, const std::string& state, std::size_t limit = 0) {
  const auto* op = snapshot.manifest().find(uid);
  if (!op) throw ConfigError(errc::not_found, "no operator '" + uid + "' in " + snapshot.location());
  for (const auto& n : snapshot.manifest().native)
    if (n.uid == uid)
      for (const auto& s : n.states)
        if (s.name == state)
          throw ConfigError(errc::invalid_argument,
                            "state '" + printable_name(state) + "' of operator '" + printable_name(uid) + "' subtask " +
                                std::to_string(n.subtask) + " in " + snapshot.location() +
                                " is native RocksDB files: take a savepoint (canonical format) to dump it");
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  std::size_t written = 0;
  const auto emit = [&](const std::string& json) { w.RawValue(json.data(), json.size(), rapidjson::kObjectType); };
  w.StartObject();
  w.Key("operator");
  w.String(uid.c_str());
  w.Key("state");
  w.String(state.c_str());

  const StateMeta* keyed = nullptr;
  for (const auto& s : op->keyed_states)
    if (s.name == state) keyed = &s;
  // A name the decoder cannot parse (a user type's demangled name, or a
  // hostile one) is a type it cannot decode, not a parser error.
  const auto parse = [](const std::string& text) {
    try {
      return parse_type(text);
    } catch (const TypeParseError&) {
      return TypeNode{"(unparsed)", {}, {}, false};
    }
  };
  if (keyed) {
    const auto key_type = parse(op->key_type);
    // What each entry stores: the value, or with TTL the value and its time
    // (per element for lists, per entry for maps).
    auto stored_type = parse(keyed->value_type);
    if (keyed->ttl && decodable(stored_type)) {
      if ((keyed->kind == StateKind::list || keyed->kind == StateKind::map) && !stored_type.args.empty()) {
        auto& element = stored_type.args.back();
        element = TypeNode{"ttl", {element}, {}, true};
      } else {
        stored_type = TypeNode{"ttl", {stored_type}, {}, true};
      }
    }
    if (!decodable(key_type) || !decodable(stored_type))
      throw ConfigError(errc::invalid_argument, "state '" + printable_name(state) + "' holds " +
                                                    printable_name(keyed->value_type, 256) + " keyed by " +
                                                    printable_name(op->key_type, 256) +
                                                    ", which ckpt-inspect cannot decode without the program's types");
    w.Key("kind");
    w.String(to_string(keyed->kind));
    w.Key("key_type");
    w.String(op->key_type.c_str());
    w.Key("value_type");
    w.String(keyed->value_type.c_str());
    w.Key("entries");
    w.StartArray();
    for (const auto& snap : snapshot.keyed_state(uid, KeyGroupRange{0, op->max_parallelism})) {
      if (limit != 0 && written >= limit) break;
      std::optional<std::uint32_t> index;
      for (std::uint32_t i = 0; i < snap.states.size(); ++i)
        if (snap.states[i].name == state) index = i;
      if (!index) continue;
      const auto& meta = snap.states[*index];
      for (const auto& block : snap.key_groups) {
        if (limit != 0 && written >= limit) break;  // --limit 1 decodes one key group, not all
        const auto block_name = "key group " + std::to_string(block.key_group);  // ctx views it
        const serial::ReadContext ctx{snap.origin, block_name};
        for (const auto& section : serial::parse_sections(block.data, snap.states.size(), ctx)) {
          if (section.state_index != *index) continue;
          serial::guarded_read(ctx, [&] {
            serial::InputArchive ar(section.payload, ctx);
            std::uint64_t n = 0;
            ar(n);
            ar.check_length(n);
            std::vector<std::string> keys, values;
            decode_column(key_type, meta.key_encoding, n, ar, keys);
            decode_column(stored_type, meta.value_encoding, n, ar, values);
            for (std::size_t i = 0; i < keys.size() && (limit == 0 || written < limit); ++i, ++written) {
              std::string entry = "{\"key_group\": " + std::to_string(block.key_group) + ", \"key\": " + keys[i] +
                                  ", \"value\": " + values[i] + "}";
              emit(entry);
            }
          });
        }
      }
    }
    w.EndArray();
  } else {
    const OperatorStateInfo* info = nullptr;
    for (const auto& s : op->subtasks)
      for (const auto& o : s.operator_states)
        if (o.name == state) info = &o;
    if (!info) throw ConfigError(errc::not_found, "operator '" + uid + "' has no state named '" + state + "'");
    const auto type = parse(info->element_type);
    if (!decodable(type))
      throw ConfigError(errc::invalid_argument, "operator state '" + printable_name(state) + "' holds " +
                                                    printable_name(info->element_type, 256) +
                                                    ", which ckpt-inspect cannot decode without the program's types");
    w.Key("kind");
    w.String(to_string(info->distribution));
    w.Key("element_type");
    w.String(info->element_type.c_str());
    w.Key("subtasks");
    w.StartArray();
    for (const auto& snap : snapshot.operator_state(uid)) {
      w.StartArray();
      for (const auto& entry : snap.states) {
        if (entry.name != state) continue;
        for (std::size_t i = 0; i < entry.elements.size() && (limit == 0 || written < limit); ++i, ++written) {
          const auto block_name = "operator state '" + state + "'";  // ctx views it
          const serial::ReadContext ctx{snap.origin, block_name};
          std::vector<std::string> one;
          serial::guarded_read(ctx, [&] {
            serial::InputArchive ar(entry.elements[i], ctx);
            decode_column(type, Encoding::cereal, 1, ar, one);
          });
          emit(one.at(0));
        }
      }
      w.EndArray();
    }
    w.EndArray();
  }
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

/// Where an edit writes: a savepoint `name` of the storage at `storage_uri`
/// (created if it is not there), at `parallelism` (0: as read).
struct EditTarget {
  std::string storage_uri;
  std::string name;
  std::uint32_t parallelism = 0;
};

/// The edit commands: reads `source` whole (verifying every block), applies
/// `apply` and writes the result as a new, verified savepoint of the target.
/// The source is only read; on an error no savepoint is left in the target.
inline SnapshotInfo edit(SnapshotReader& source, const EditTarget& target,
                         const std::function<void(edit::SavepointEditor&)>& apply, std::ostream& out) {
  edit::SavepointEditor editor(source);
  apply(editor);
  auto storage = CheckpointStorage::open(target.storage_uri);
  const auto info = editor.write(*storage, target.name, target.parallelism);
  out << "wrote savepoint " << info.id << (info.name.empty() ? "" : " (" + printable_name(info.name) + ")") << " to "
      << storage->uri() << "/" << info.directory << ": " << editor.operators().size() << " operators, "
      << human_bytes(info.stored_bytes) << ", verified; " << source.location() << " is unchanged\n";
  return info;
}

}  // namespace ckpt::inspect
