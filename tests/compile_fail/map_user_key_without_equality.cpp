// A MapState's user key must compare with ==: it is looked up by it.
// expect: StateKey
#include <ckpt/state/state_descriptor.hpp>

#include <string>

struct Sku {  // serializable, but no operator==
  std::string code;
  template <class Archive>
  void serialize(Archive& ar) { ar(code); }
};
struct ComparableSku {
  std::string code;
  template <class Archive>
  void serialize(Archive& ar) { ar(code); }
  bool operator==(const ComparableSku&) const = default;
};

int main() {
#ifdef CKPT_COMPILE_FAIL
  ckpt::MapStateDescriptor<Sku, double> prices{"prices"};  // error here
#else
  ckpt::MapStateDescriptor<ComparableSku, double> prices{"prices"};
#endif
  return prices.name().empty();
}
