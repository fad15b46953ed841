// key_by() takes a function whose result can key state: its concept names it.
// expect: KeySelectorOf
#include <ckpt/runtime/pipeline.hpp>

#include <cstdint>
#include <memory>

struct Order {
  long customer = 0;
};
struct CustomerKey {  // == but no serialize(): cannot key state
  long id = 0;
  bool operator==(const CustomerKey&) const = default;
};

class Orders final : public ckpt::Source<Order> {
 public:
  ckpt::SourceStatus poll_next(ckpt::Collector<Order>&) override { return ckpt::SourceStatus::finished; }
};

int main() {
  ckpt::Pipeline pipeline;
  auto orders = pipeline.add_source("orders", 1, [](std::uint32_t) { return std::make_unique<Orders>(); });
#ifdef CKPT_COMPILE_FAIL
  auto keyed = orders.key_by([](const Order& o) { return CustomerKey{o.customer}; });  // error here
#else
  auto keyed = orders.key_by([](const Order& o) { return o.customer; });
#endif
  (void)keyed;
  return 0;
}
