#include "common/pixel.h"

#include <cstdlib>

namespace mvc {

namespace {
template <int W>
inline int sad_w(const uint8_t* a, int as, const uint8_t* b, int bs, int h) {
  int s = 0;
  for (int y = 0; y < h; ++y, a += as, b += bs)
    for (int x = 0; x < W; ++x) s += std::abs(int(a[x]) - int(b[x]));
  return s;
}

inline int satd4x4(const uint8_t* a, int as, const uint8_t* b, int bs) {
  int d[16], t[16];
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) d[y * 4 + x] = int(a[y * as + x]) - int(b[y * bs + x]);
  for (int y = 0; y < 4; ++y) {  // horizontal 4-point Hadamard
    const int* r = d + 4 * y;
    const int s01 = r[0] + r[1], d01 = r[0] - r[1], s23 = r[2] + r[3], d23 = r[2] - r[3];
    t[4 * y + 0] = s01 + s23; t[4 * y + 1] = s01 - s23;
    t[4 * y + 2] = d01 - d23; t[4 * y + 3] = d01 + d23;
  }
  int sum = 0;
  for (int x = 0; x < 4; ++x) {  // vertical
    const int s01 = t[x] + t[4 + x], d01 = t[x] - t[4 + x];
    const int s23 = t[8 + x] + t[12 + x], d23 = t[8 + x] - t[12 + x];
    sum += std::abs(s01 + s23) + std::abs(s01 - s23) + std::abs(d01 - d23) + std::abs(d01 + d23);
  }
  return sum >> 1;
}
}  // namespace

int sad(const uint8_t* a, int as, const uint8_t* b, int bs, int w, int h) {
  switch (w) {  // fixed widths let the compiler vectorise the inner loop
    case 4: return sad_w<4>(a, as, b, bs, h);
    case 8: return sad_w<8>(a, as, b, bs, h);
    case 16: return sad_w<16>(a, as, b, bs, h);
    case 32: return sad_w<32>(a, as, b, bs, h);
    case 64: return sad_w<64>(a, as, b, bs, h);
    default: {
      int s = 0;
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) s += std::abs(int(a[y * as + x]) - int(b[y * bs + x]));
      return s;
    }
  }
}

int satd(const uint8_t* a, int as, const uint8_t* b, int bs, int w, int h) {
  int s = 0;
  for (int y = 0; y < h; y += 4)
    for (int x = 0; x < w; x += 4) s += satd4x4(a + y * as + x, as, b + y * bs + x, bs);
  return s;
}

int64_t ssd(const uint8_t* a, int as, const uint8_t* b, int bs, int w, int h) {
  int64_t s = 0;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const int d = int(a[y * as + x]) - int(b[y * bs + x]);
      s += d * d;
    }
  return s;
}

}  // namespace mvc
