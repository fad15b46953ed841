#pragma once
// Stable names for the types a state holds, recorded in every snapshot so a
// state restored into another type is a clear error instead of garbage.
// Fundamental types get fixed-width names ("u64", "f64"), standard containers
// are spelled from their parts ("vector<string>"), and any other type uses its
// demangled name (which GCC and Clang agree on: the Itanium ABI) made
// portable: the standard types inside it are spelled as above, so the name
// does not depend on the standard library (portable_type_name.hpp).
// Specialize ckpt::TypeName<T> to give a type a name of your own, e.g. to
// rename a class without breaking old snapshots.

#include <ckpt/serial/portable_type_name.hpp>

#include <boost/core/demangle.hpp>
#include <boost/unordered/unordered_flat_map_fwd.hpp>
#include <boost/unordered/unordered_flat_set_fwd.hpp>
#include <cereal/details/helpers.hpp>

#include <array>
#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace ckpt {

template <class T, class Enable = void>
struct TypeName {
  static std::string get() { return portable_type_name(boost::core::demangle(typeid(T).name())); }
};

template <class T>
std::string type_name() {
  return TypeName<std::remove_cv_t<T>>::get();
}

/// The cereal class version of T (CEREAL_CLASS_VERSION), 0 when none is set.
template <class T>
std::uint32_t type_version() {
  return cereal::detail::Version<std::remove_cv_t<T>>::version;
}

template <>
struct TypeName<bool> {
  static std::string get() { return "bool"; }
};
template <>
struct TypeName<char> {
  static std::string get() { return "char"; }
};
template <class T>
struct TypeName<T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool> && !std::is_same_v<T, char>>> {
  static std::string get() { return (std::is_signed_v<T> ? "i" : "u") + std::to_string(8 * sizeof(T)); }
};
template <class T>
struct TypeName<T, std::enable_if_t<std::is_floating_point_v<T>>> {
  static std::string get() { return "f" + std::to_string(8 * sizeof(T)); }
};
template <>
struct TypeName<std::string> {
  static std::string get() { return "string"; }
};

namespace detail {
template <class... T>
std::string type_list() {
  std::string out;
  ((out += (out.empty() ? "" : ",") + type_name<T>()), ...);
  return out;
}
}  // namespace detail

template <class T, class A>
struct TypeName<std::vector<T, A>> {
  static std::string get() { return "vector<" + type_name<T>() + ">"; }
};
template <class T, class A>
struct TypeName<std::deque<T, A>> {
  static std::string get() { return "deque<" + type_name<T>() + ">"; }
};
template <class T, class A>
struct TypeName<std::list<T, A>> {
  static std::string get() { return "list<" + type_name<T>() + ">"; }
};
template <class T, std::size_t N>
struct TypeName<std::array<T, N>> {
  static std::string get() { return "array<" + type_name<T>() + "," + std::to_string(N) + ">"; }
};
template <class T>
struct TypeName<std::optional<T>> {
  static std::string get() { return "optional<" + type_name<T>() + ">"; }
};
template <class A, class B>
struct TypeName<std::pair<A, B>> {
  static std::string get() { return "pair<" + detail::type_list<A, B>() + ">"; }
};
template <class... T>
struct TypeName<std::tuple<T...>> {
  static std::string get() { return "tuple<" + detail::type_list<T...>() + ">"; }
};
template <class K, class V, class C, class A>
struct TypeName<std::map<K, V, C, A>> {
  static std::string get() { return "map<" + detail::type_list<K, V>() + ">"; }
};
template <class K, class V, class H, class E, class A>
struct TypeName<std::unordered_map<K, V, H, E, A>> {
  static std::string get() { return "unordered_map<" + detail::type_list<K, V>() + ">"; }
};
template <class K, class V, class H, class E, class A>
struct TypeName<boost::unordered_flat_map<K, V, H, E, A>> {
  static std::string get() { return "unordered_map<" + detail::type_list<K, V>() + ">"; }
};
template <class K, class C, class A>
struct TypeName<std::set<K, C, A>> {
  static std::string get() { return "set<" + type_name<K>() + ">"; }
};
template <class K, class H, class E, class A>
struct TypeName<std::unordered_set<K, H, E, A>> {
  static std::string get() { return "unordered_set<" + type_name<K>() + ">"; }
};
template <class K, class H, class E, class A>
struct TypeName<boost::unordered_flat_set<K, H, E, A>> {
  static std::string get() { return "unordered_set<" + type_name<K>() + ">"; }
};

}  // namespace ckpt
