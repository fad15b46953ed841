// An aggregating state keeps its accumulator: that is what must serialize.
// expect: StateValue
#include <ckpt/state/state_descriptor.hpp>

#include <memory>

struct Sum {  // no serialize()
  double total = 0;
};
struct SerializableSum {
  double total = 0;
  template <class Archive>
  void serialize(Archive& ar) { ar(total); }
};

int main() {
#ifdef CKPT_COMPILE_FAIL
  using Acc = Sum;
#else
  using Acc = SerializableSum;
#endif
  auto f = ckpt::make_aggregate_function<double, Acc, double>(
      [] { return Acc{}; }, [](const double& v, Acc a) { a.total += v; return a; },
      [](const Acc& a) { return a.total; }, [](Acc a, Acc b) { a.total += b.total; return a; });
  ckpt::AggregatingStateDescriptor<double, Acc, double> sum{"sum", f};  // error here
  return sum.name().empty();
}
