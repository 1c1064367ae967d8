#include "common/picture.h"

#include "common/pixel.h"

namespace mvc {

void Plane::load(const uint8_t* src, int src_stride, int w, int h) {
  for (int y = 0; y < height; ++y) {
    const uint8_t* s = src + static_cast<size_t>(y < h ? y : h - 1) * src_stride;
    uint8_t* d = at(0, y);
    std::memcpy(d, s, static_cast<size_t>(w));
    for (int x = w; x < width; ++x) d[x] = s[w - 1];
  }
}

void Plane::extend_borders() {
  for (int y = 0; y < height; ++y) {
    uint8_t* row = at(0, y);
    std::memset(row - pad, row[0], static_cast<size_t>(pad));
    std::memset(row + width, row[width - 1], static_cast<size_t>(pad));
  }
  const size_t row_bytes = static_cast<size_t>(stride);
  uint8_t* first = at(-pad, 0);
  uint8_t* last = at(-pad, height - 1);
  for (int y = 1; y <= pad; ++y) {
    std::memcpy(first - y * row_bytes, first, row_bytes);
    std::memcpy(last + y * row_bytes, last, row_bytes);
  }
}

uint64_t plane_sse(const Plane& a, const uint8_t* b, int b_stride, int w, int h) {
  uint64_t sse = 0;
  const int w16 = w & ~15;  // ssd()'s vector path, one row at a time (its sums are exact per row)
  for (int y = 0; y < h; ++y) {
    const uint8_t* p = a.at(0, y);
    const uint8_t* q = b + static_cast<size_t>(y) * b_stride;
    if (w16) sse += static_cast<uint64_t>(ssd(p, a.stride, q, b_stride, w16, 1));
    for (int x = w16; x < w; ++x) {
      const int d = int(p[x]) - int(q[x]);
      sse += static_cast<uint64_t>(d * d);
    }
  }
  return sse;
}

}  // namespace mvc
