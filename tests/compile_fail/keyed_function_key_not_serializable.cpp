// A keyed function's key is checkpointed with its state: it must be a StateKey.
// expect: StateKey
#include <ckpt/function/keyed_process_function.hpp>

struct Customer {  // == but no serialize()
  long id = 0;
  bool operator==(const Customer&) const = default;
};

#ifdef CKPT_COMPILE_FAIL
class Count : public ckpt::KeyedProcessFunction<Customer, int, long> {  // error here
#else
class Count : public ckpt::KeyedProcessFunction<long, int, long> {
#endif
 public:
  void process_element(const int&, Context&, ckpt::Collector<long>& out) override { out.collect(1); }
};

int main() { return sizeof(Count) == 0; }
