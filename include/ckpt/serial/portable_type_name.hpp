#pragma once
// Type names as snapshots store them, independent of the standard library
// and the compiler: ckpt spells its fundamentals by width ("i64", "u8") and
// standard containers by their parts ("vector<string>"), and rewrites a
// demangled name the same way, so a user template over standard types,
// `Wrapper<std::__cxx11::basic_string<char, ...> >` with libstdc++ or
// `Wrapper<std::__1::basic_string<...> >` with libc++, is stored as
// `Wrapper<string>`. Names read from a snapshot go through the same rewrite,
// so snapshots written before it (with libstdc++'s spelling) still match.

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ckpt {

/// A parsed type name: `name<args...>` followed, for a nested type of a
/// template (`Sink<string,Txn>::Entry`), by the rest as `next`.
struct TypeNameNode {
  std::string name;
  std::vector<TypeNameNode> args;
  std::vector<TypeNameNode> next;  // empty, or the one part after "<...>"
  bool has_args = false;           // "T<>" has arguments, none of them
};

/// No stored type name is longer or nested deeper: a hostile snapshot's
/// names are refused before they cost a deep recursion.
inline constexpr std::size_t max_type_name_length = 4096;
inline constexpr std::size_t max_type_name_depth = 32;

namespace detail {

class TypeNameParser {
 public:
  explicit TypeNameParser(std::string_view text) : text_(text) {}

  bool parse(TypeNameNode& out, std::string& why) {
    if (text_.size() > max_type_name_length) {
      why = "a type name of " + std::to_string(text_.size()) + " characters (at most " +
            std::to_string(max_type_name_length) + ")";
      return false;
    }
    if (!node(out, why)) return false;
    if (pos_ != text_.size()) {
      why = "unexpected '" + std::string(1, text_[pos_]) + "' at " + std::to_string(pos_);
      return false;
    }
    return true;
  }

 private:
  static bool is_delimiter(char c) { return c == '<' || c == ',' || c == '>'; }

  // Reads a name up to a delimiter; commas and angle brackets inside
  // parentheses (function types, "(anonymous namespace)") belong to it.
  std::string name() {
    std::string out;
    int parens = 0;
    while (pos_ < text_.size() && (parens > 0 || !is_delimiter(text_[pos_]))) {
      const char c = text_[pos_++];
      if (c == '(') ++parens;
      if (c == ')' && parens > 0) --parens;
      out += c;
    }
    const auto first = out.find_first_not_of(' ');
    if (first == std::string::npos) return {};
    return out.substr(first, out.find_last_not_of(' ') - first + 1);
  }

  bool node(TypeNameNode& out, std::string& why) {
    if (++depth_ > max_type_name_depth) {
      why = "a type name nested deeper than " + std::to_string(max_type_name_depth) + " levels";
      return false;
    }
    out.name = name();
    if (pos_ < text_.size() && text_[pos_] == '<') {
      ++pos_;
      out.has_args = true;
      skip_spaces();
      if (pos_ < text_.size() && text_[pos_] == '>') {
        ++pos_;
      } else {
        while (true) {
          out.args.emplace_back();
          if (!node(out.args.back(), why)) return false;
          if (pos_ >= text_.size()) {
            why = "a '<' without its '>'";
            return false;
          }
          const char c = text_[pos_++];
          if (c == '>') break;
          if (c != ',') {
            why = "unexpected '" + std::string(1, c) + "' in the arguments of " + out.name;
            return false;
          }
        }
      }
      skip_spaces();
      if (pos_ < text_.size() && !is_delimiter(text_[pos_])) {  // "::Entry" after "T<...>"
        out.next.emplace_back();
        if (!node(out.next.back(), why)) return false;
      }
    }
    --depth_;
    return true;
  }

  void skip_spaces() {
    while (pos_ < text_.size() && text_[pos_] == ' ') ++pos_;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  std::size_t depth_ = 0;
};

inline std::string width_name(char prefix, std::size_t bytes) { return prefix + std::to_string(8 * bytes); }

// The fixed-width name of a fundamental type as the demangler spells it.
inline std::string fundamental_name(const std::string& n) {
  struct Entry {
    std::string_view spelled;
    char prefix;
    std::size_t bytes;
  };
  static const Entry table[] = {
      {"signed char", 'i', 1},         {"unsigned char", 'u', 1},       {"short", 'i', sizeof(short)},
      {"unsigned short", 'u', sizeof(short)}, {"int", 'i', sizeof(int)}, {"unsigned int", 'u', sizeof(int)},
      {"long", 'i', sizeof(long)},     {"unsigned long", 'u', sizeof(long)}, {"long long", 'i', sizeof(long long)},
      {"unsigned long long", 'u', sizeof(long long)}, {"__int128", 'i', 16}, {"unsigned __int128", 'u', 16},
      {"wchar_t", static_cast<wchar_t>(-1) < 0 ? 'i' : 'u', sizeof(wchar_t)}, {"char8_t", 'u', 1},
      {"char16_t", 'u', 2},            {"char32_t", 'u', 4},            {"float", 'f', sizeof(float)},
      {"double", 'f', sizeof(double)}, {"long double", 'f', sizeof(long double)},
  };
  for (const auto& e : table)
    if (n == e.spelled) return width_name(e.prefix, e.bytes);
  return n;
}

// "4ul" -> "4": a template argument that is a number, without its suffix.
inline std::string number_name(const std::string& n) {
  std::size_t digits = n.starts_with('-') ? 1 : 0;
  const std::size_t first = digits;
  while (digits < n.size() && std::isdigit(static_cast<unsigned char>(n[digits]))) ++digits;
  if (digits == first) return n;
  const auto suffix = n.substr(digits);
  if (!std::all_of(suffix.begin(), suffix.end(), [](char c) { return c == 'u' || c == 'l' || c == 'U' || c == 'L'; }))
    return n;
  return n.substr(0, digits);
}

// Removes the standard libraries' inline namespaces ("std::__cxx11::", "std::__1::").
// Repeated until nothing changes, so the result is a fixed point.
inline std::string without_inline_namespaces(std::string n) {
  for (bool changed = true; changed;) {
    changed = false;
    for (std::string_view inline_ns : {"__cxx11::", "__1::", "__debug::"}) {
      for (auto at = n.find(inline_ns); at != std::string::npos; at = n.find(inline_ns, at)) {
        if (at >= 2 && n.compare(at - 2, 2, "::") == 0) {
          n.erase(at, inline_ns.size());
          changed = true;
        } else {
          at += inline_ns.size();
        }
      }
    }
  }
  return n;
}

// What ckpt calls a standard (or library) template, and how many of its
// arguments the name keeps (comparators, hashes and allocators are dropped,
// as ckpt::TypeName's own specializations drop them).
struct KnownTemplate {
  std::string_view spelled;
  std::string_view name;
  std::size_t kept;  // 0: all
};
inline constexpr KnownTemplate known_templates[] = {
    {"std::vector", "vector", 1},
    {"std::deque", "deque", 1},
    {"std::list", "list", 1},
    {"std::set", "set", 1},
    {"std::unordered_set", "unordered_set", 1},
    {"boost::unordered::unordered_flat_set", "unordered_set", 1},
    {"std::map", "map", 2},
    {"std::unordered_map", "unordered_map", 2},
    {"boost::unordered::unordered_flat_map", "unordered_map", 2},
    {"std::optional", "optional", 1},
    {"std::pair", "pair", 2},
    {"std::tuple", "tuple", 0},
    {"std::array", "array", 2},
    {"ckpt::detail::TtlValue", "ttl", 1},
};

inline void make_portable(TypeNameNode& t) {
  for (auto& a : t.args) make_portable(a);
  for (auto& n : t.next) make_portable(n);
  t.name = without_inline_namespaces(std::move(t.name));
  if (!t.has_args) {
    t.name = number_name(fundamental_name(t.name));
    return;
  }
  if (t.name == "std::basic_string" && !t.args.empty() && t.args[0].name == "char" && !t.args[0].has_args) {
    t.name = "string";
    t.args.clear();
    t.has_args = false;
    return;
  }
  for (const auto& k : known_templates) {
    if (t.name != k.spelled) continue;
    t.name = std::string(k.name);
    if (k.kept != 0 && t.args.size() > k.kept) t.args.resize(k.kept);
    return;
  }
}

inline void print(const TypeNameNode& t, std::string& out) {
  out += t.name;
  if (t.has_args) {
    out += '<';
    for (std::size_t i = 0; i < t.args.size(); ++i) {
      if (i != 0) out += ',';
      print(t.args[i], out);
    }
    out += '>';
  }
  for (const auto& n : t.next) print(n, out);
}

}  // namespace detail

/// Parses `text` into `out`; false (with the reason in `why`) for a name that
/// is unbalanced, longer than max_type_name_length or nested deeper than
/// max_type_name_depth.
inline bool parse_type_name(std::string_view text, TypeNameNode& out, std::string& why) {
  return detail::TypeNameParser(text).parse(out, why);
}

/// `t` spelled as ckpt stores it: no spaces around arguments, no suffix
/// "<>" for a name without arguments.
inline std::string to_string(const TypeNameNode& t) {
  std::string out;
  detail::print(t, out);
  return out;
}

/// The portable spelling of a type name: a demangled name, ckpt's own
/// spelling, or a name read from a snapshot. Idempotent. A name that does
/// not parse is returned as it is (it then matches only itself).
inline std::string portable_type_name(std::string_view name) {
  TypeNameNode t;
  std::string why;
  if (!parse_type_name(name, t, why)) return std::string(name);
  detail::make_portable(t);
  return to_string(t);
}

namespace serial {
/// For a serialize() function: type names read from a snapshot are made
/// portable as they are loaded (older snapshots spell them as libstdc++ does).
template <class Archive, class... Names>
void portable_on_load(Archive&, Names&... names) {
  if constexpr (Archive::is_loading::value) ((names = portable_type_name(names)), ...);
}
}  // namespace serial

}  // namespace ckpt
