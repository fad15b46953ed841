// A list element a restore cannot construct to load into is refused.
// expect: StateValue
#include <ckpt/state/state_descriptor.hpp>

struct Event {
  explicit Event(int id_) : id(id_) {}  // no default constructor
  int id;
  template <class Archive>
  void serialize(Archive& ar) { ar(id); }
};
struct DefaultEvent {
  int id = 0;
  template <class Archive>
  void serialize(Archive& ar) { ar(id); }
};

int main() {
#ifdef CKPT_COMPILE_FAIL
  ckpt::ListStateDescriptor<Event> events{"events"};  // error here
#else
  ckpt::ListStateDescriptor<DefaultEvent> events{"events"};
#endif
  return events.name().empty();
}
