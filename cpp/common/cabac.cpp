// Tables of the shared arithmetic coder (cabac.h) that are computed once at start-up.
#include "common/cabac.h"

#include <cmath>

namespace mvc {
namespace cabac {

Log2Table::Log2Table() {
  v[0] = 0.0;
  for (int i = 1; i < 512; ++i) v[i] = std::log2(static_cast<double>(i));
}
const Log2Table kLog2;

void Encoder::put_bit(int b) {
  if (first_) first_ = false;
  else out_.put1(static_cast<uint32_t>(b));
  if (outstanding_) {
    out_.put_run(static_cast<uint32_t>(1 - b), outstanding_);
    outstanding_ = 0;
  }
}

}  // namespace cabac
}  // namespace mvc
