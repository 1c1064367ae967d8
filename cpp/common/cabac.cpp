// Tables of the shared arithmetic coder (cabac.h) that are computed once at start-up.
#include "common/cabac.h"

#include <cmath>

namespace mvc {
namespace cabac {

// Rounded to 1/65536 bit: every bin's cost, and so every sum of costs and the flush's remainder
// (an integer minus such a sum), is then a multiple of 2^-16 held exactly in a double, so bit
// categories sum to the stream's size exactly in any order (the rounding moves at most 2^-17
// bit per bin between a bin's category and CAT_END, which takes what the bins are not charged).
Log2Table::Log2Table() {
  v[0] = 0.0;
  for (int i = 1; i < 512; ++i) v[i] = std::round(std::log2(static_cast<double>(i)) * 65536.0) / 65536.0;
}
const Log2Table kLog2;

}  // namespace cabac
}  // namespace mvc
