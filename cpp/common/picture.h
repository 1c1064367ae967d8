// 8-bit picture planes with a replicated border, so motion compensation and motion search
// may address blocks partly outside the picture (both standards clamp reference samples to
// the picture edge, which a replicated border reproduces exactly).
#pragma once
#include <cstdint>
#include <cstring>
#include <vector>

namespace mvc {

struct Plane {
  int width = 0, height = 0, pad = 0, stride = 0;
  std::vector<uint8_t> data;

  void alloc(int w, int h, int border) {
    width = w; height = h; pad = border; stride = w + 2 * border;
    data.assign(static_cast<size_t>(stride) * (h + 2 * border), 0);
  }
  uint8_t* at(int x, int y) { return data.data() + static_cast<size_t>(y + pad) * stride + (x + pad); }
  const uint8_t* at(int x, int y) const { return data.data() + static_cast<size_t>(y + pad) * stride + (x + pad); }
  // Copies a w x h source (w <= width, h <= height) and replicates its last column/row to fill
  // the plane: encoders pad input to a whole number of macroblocks / CTUs this way.
  void load(const uint8_t* src, int src_stride, int w, int h);
  void extend_borders();  // replicate edge samples into the border
};

struct Picture {
  Plane y, u, v;  // 4:2:0
  int poc = 0;
  void alloc(int w, int h, int border_luma) {
    y.alloc(w, h, border_luma);
    u.alloc(w / 2, h / 2, border_luma / 2);
    v.alloc(w / 2, h / 2, border_luma / 2);
  }
  void extend_borders() { y.extend_borders(); u.extend_borders(); v.extend_borders(); }
};

// Sum of squared differences over the top-left w x h region of two planes.
uint64_t plane_sse(const Plane& a, const uint8_t* b, int b_stride, int w, int h);

}  // namespace mvc
