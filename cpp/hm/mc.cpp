// Fractional sample interpolation (8.5.3.3.3): 8-tap luma and 4-tap chroma filters with the
// standard's 14-bit intermediate precision, then default weighted (uni) prediction (8.5.3.3.4.2).
#include <algorithm>

#include "hm/hevc.h"

namespace mvc {
namespace hevc {

namespace {
constexpr int kLuma[4][8] = {{0, 0, 0, 64, 0, 0, 0, 0},
                             {-1, 4, -10, 58, 17, -5, 1, 0},
                             {-1, 4, -11, 40, 40, -11, 4, -1},
                             {0, 1, -5, 17, 58, -10, 4, -1}};
constexpr int kChroma[8][4] = {{0, 64, 0, 0},     {-2, 58, 10, -2}, {-4, 54, 16, -2}, {-6, 46, 28, -4},
                               {-4, 36, 36, -4},  {-4, 28, 46, -6}, {-2, 16, 54, -4}, {-2, 10, 58, -2}};

inline uint8_t clip1(int v) { return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v)); }

// Returns a pointer to the top-left of a (w+taps-1) x (h+taps-1) window starting at (x0, y0),
// gathering with coordinate clamping (8.5.3.3.3.1 xInt clipping) when it leaves the padded plane.
const uint8_t* window(const Plane& p, int x0, int y0, int ww, int wh, uint8_t* tmp, int& stride) {
  if (x0 >= -p.pad && y0 >= -p.pad && x0 + ww <= p.width + p.pad && y0 + wh <= p.height + p.pad) {
    stride = p.stride;
    return p.at(x0, y0);
  }
  stride = ww;
  for (int y = 0; y < wh; ++y) {
    const int yy = std::min(std::max(y0 + y, 0), p.height - 1);
    for (int x = 0; x < ww; ++x) {
      const int xx = std::min(std::max(x0 + x, 0), p.width - 1);
      tmp[y * ww + x] = *p.at(xx, yy);
    }
  }
  return tmp;
}

template <int TAPS>
void interp(const Plane& ref, int xi, int yi, int fx, int fy, const int* cx, const int* cy, int w, int h,
            uint8_t* dst, int ds) {
  constexpr int half = TAPS / 2 - 1;
  uint8_t tmpw[(64 + 8) * (64 + 8)];
  int st;
  const uint8_t* src = window(ref, xi - half, yi - half, w + TAPS - 1, h + TAPS - 1, tmpw, st);
  const uint8_t* o = src + half * st + half;  // sample (xi, yi)
  if (fx == 0 && fy == 0) {
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) dst[y * ds + x] = o[y * st + x];  // (v << 6 + 32) >> 6
    return;
  }
  if (fy == 0) {
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        int s = 0;
        for (int k = 0; k < TAPS; ++k) s += cx[k] * o[y * st + x + k - half];
        dst[y * ds + x] = clip1((s + 32) >> 6);
      }
    return;
  }
  if (fx == 0) {
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        int s = 0;
        for (int k = 0; k < TAPS; ++k) s += cy[k] * o[(y + k - half) * st + x];
        dst[y * ds + x] = clip1((s + 32) >> 6);
      }
    return;
  }
  int16_t mid[(64 + 8) * 64];
  for (int y = 0; y < h + TAPS - 1; ++y)
    for (int x = 0; x < w; ++x) {
      int s = 0;
      for (int k = 0; k < TAPS; ++k) s += cx[k] * o[(y - half) * st + x + k - half];
      mid[y * w + x] = static_cast<int16_t>(s);  // shift1 = BitDepth - 8 = 0
    }
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      int s = 0;
      for (int k = 0; k < TAPS; ++k) s += cy[k] * mid[(y + k) * w + x];
      s >>= 6;  // shift2
      dst[y * ds + x] = clip1((s + 32) >> 6);
    }
}
}  // namespace

void mc_luma(const Plane& ref, int x, int y, int w, int h, Mv mv, uint8_t* dst, int ds) {
  const int fx = mv.x & 3, fy = mv.y & 3;
  interp<8>(ref, x + (mv.x >> 2), y + (mv.y >> 2), fx, fy, kLuma[fx], kLuma[fy], w, h, dst, ds);
}

void mc_chroma(const Plane& ref, int xc, int yc, int w, int h, Mv mv, uint8_t* dst, int ds) {
  const int fx = mv.x & 7, fy = mv.y & 7;  // chroma mv in 1/8 sample units (4:2:0)
  interp<4>(ref, xc + (mv.x >> 3), yc + (mv.y >> 3), fx, fy, kChroma[fx], kChroma[fy], w, h, dst, ds);
}

}  // namespace hevc
}  // namespace mvc
