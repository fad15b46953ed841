// The keyed backend looks keys up by ==.
// expect: StateKey
#include <ckpt/state/keyed_state_backend.hpp>

struct Tenant {  // serializable, but no operator==
  int id = 0;
  template <class Archive>
  void serialize(Archive& ar) { ar(id); }
};

int main() {
#ifdef CKPT_COMPILE_FAIL
  ckpt::KeyedStateBackend<Tenant> backend;  // error here
#else
  ckpt::KeyedStateBackend<int> backend;
#endif
  return backend.has_current_key();
}
