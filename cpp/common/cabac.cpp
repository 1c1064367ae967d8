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

}  // namespace cabac
}  // namespace mvc
