// A state value cereal cannot write is refused where the descriptor is named.
// expect: StateValue
#include <ckpt/state/state_descriptor.hpp>

struct Reading {  // no serialize(): cereal cannot write it
  double celsius = 0;
};
struct SerializableReading {
  double celsius = 0;
  template <class Archive>
  void serialize(Archive& ar) { ar(celsius); }
};

int main() {
#ifdef CKPT_COMPILE_FAIL
  ckpt::ValueStateDescriptor<Reading> last{"last"};  // error here
#else
  ckpt::ValueStateDescriptor<SerializableReading> last{"last"};
#endif
  return last.name().empty();
}
