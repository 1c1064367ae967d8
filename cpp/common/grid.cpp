#include "common/grid.h"

#include "common/encoder.h"

#include <cstdlib>
#include <vector>

namespace mvc {

namespace {
// s / n rounded, halves away from zero (n > 0)
inline int round_div(int s, int n) {
  const int q = (2 * std::abs(s) + n) / (2 * n);
  return s < 0 ? -q : q;
}
}  // namespace

void motion_grid(const int16_t* field4, const int8_t* kind4, const int8_t* ref4, int frames, int h4, int w4,
                 int rows, int cols, bool fill_holes, int16_t* field_out, uint8_t* mask_out, int8_t* ref_out) {
  const size_t cells = static_cast<size_t>(rows) * cols, blocks = static_cast<size_t>(h4) * w4;
  std::vector<int16_t> filled;  // hole values of one frame, written once all are computed
  std::vector<size_t> holes;
  for (int t = 0; t < frames; ++t) {
    const int16_t* f4 = field4 + t * blocks * 2;
    const int8_t* k4 = kind4 + t * blocks;
    const int8_t* r4 = ref4 ? ref4 + t * blocks : nullptr;
    int16_t* fo = field_out + t * cells * 2;
    uint8_t* mo = mask_out + t * cells;
    int8_t* ro = ref_out ? ref_out + t * cells : nullptr;
    bool any = false;
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < cols; ++c) {
        int sx = 0, sy = 0, n = 0, ref = -1;
        for (int dy = 0; dy < 2; ++dy)
          for (int dx = 0; dx < 2; ++dx) {
            const int by = 2 * r + dy, bx = 2 * c + dx;
            if (by >= h4 || bx >= w4) continue;
            const size_t b = static_cast<size_t>(by) * w4 + bx;
            if (k4[b] == KIND_INTRA) continue;
            sx += f4[2 * b];
            sy += f4[2 * b + 1];
            ++n;
            if (r4 && ref < 0 && r4[b] >= 0) ref = r4[b];
          }
        const size_t i = static_cast<size_t>(r) * cols + c;
        fo[2 * i] = static_cast<int16_t>(n ? round_div(sx, n) : 0);
        fo[2 * i + 1] = static_cast<int16_t>(n ? round_div(sy, n) : 0);
        mo[i] = n > 0;
        any |= n > 0;
        if (ro) ro[i] = static_cast<int8_t>(ref);
      }
    if (!fill_holes || !any) continue;
    // a hole takes the mean of its non-empty neighbours as pooled above (filled cells do not count)
    holes.clear();
    filled.clear();
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < cols; ++c) {
        const size_t i = static_cast<size_t>(r) * cols + c;
        if (mo[i]) continue;
        int sx = 0, sy = 0, n = 0;
        const int nr[4] = {r - 1, r + 1, r, r}, nc[4] = {c, c, c - 1, c + 1};
        for (int k = 0; k < 4; ++k) {
          if (nr[k] < 0 || nc[k] < 0 || nr[k] >= rows || nc[k] >= cols) continue;
          const size_t j = static_cast<size_t>(nr[k]) * cols + nc[k];
          if (!mo[j]) continue;
          sx += fo[2 * j];
          sy += fo[2 * j + 1];
          ++n;
        }
        if (n < 2) continue;
        holes.push_back(i);
        filled.push_back(static_cast<int16_t>(round_div(sx, n)));
        filled.push_back(static_cast<int16_t>(round_div(sy, n)));
      }
    for (size_t k = 0; k < holes.size(); ++k) {
      fo[2 * holes[k]] = filled[2 * k];
      fo[2 * holes[k] + 1] = filled[2 * k + 1];
    }
  }
}

}  // namespace mvc
