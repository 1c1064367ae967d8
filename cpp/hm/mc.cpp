// Fractional sample interpolation (8.5.3.3.3): 8-tap luma and 4-tap chroma filters with the
// standard's 14-bit intermediate precision, then default weighted (uni) prediction (8.5.3.3.4.2).
#include <algorithm>
#include <vector>

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
    for (int y = 0; y < h; ++y) std::copy_n(o + y * st, w, dst + y * ds);  // (v << 6 + 32) >> 6
    return;
  }
  int16_t mid[(64 + 8) * 64];
  int rows;
  const int16_t* m;
  if (fx) {  // horizontal pass (shift1 = BitDepth - 8 = 0); all rows the vertical pass needs
    const int y0 = fy ? -half : 0;
    rows = fy ? h + TAPS - 1 : h;
    for (int y = 0; y < rows; ++y) {
      const uint8_t* r = o + (y + y0) * st - half;
      int16_t* d = mid + y * w;
      int32_t acc[64] = {0};
      for (int k = 0; k < TAPS; ++k) {
        const int c = cx[k];
        for (int x = 0; x < w; ++x) acc[x] += c * r[x + k];
      }
      for (int x = 0; x < w; ++x) d[x] = static_cast<int16_t>(acc[x]);
    }
    if (!fy) {
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) dst[y * ds + x] = clip1((mid[y * w + x] + 32) >> 6);
      return;
    }
    m = mid;
  } else {  // vertical only: filter the samples directly
    for (int y = 0; y < h; ++y) {
      int32_t acc[64] = {0};
      for (int k = 0; k < TAPS; ++k) {
        const uint8_t* r = o + (y + k - half) * st;
        const int c = cy[k];
        for (int x = 0; x < w; ++x) acc[x] += c * r[x];
      }
      for (int x = 0; x < w; ++x) dst[y * ds + x] = clip1((acc[x] + 32) >> 6);
    }
    return;
  }
  for (int y = 0; y < h; ++y) {  // vertical pass on the 14-bit intermediate, shift2 = 6
    int32_t acc[64] = {0};
    for (int k = 0; k < TAPS; ++k) {
      const int16_t* r = m + (y + k) * w;
      const int c = cy[k];
      for (int x = 0; x < w; ++x) acc[x] += c * r[x];
    }
    for (int x = 0; x < w; ++x) dst[y * ds + x] = clip1(((acc[x] >> 6) + 32) >> 6);
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

const uint8_t* predict_luma(const RefPic& r, int x, int y, int w, int h, Mv mv, uint8_t* buf, int& stride) {
  const uint8_t* p = r.qpel(x, y, w, h, mv, stride);
  if (p) return p;
  mc_luma(r.rec.y, x, y, w, h, mv, buf, 64);
  stride = 64;
  return buf;
}

// Each horizontal phase is filtered once into a 16-bit plane shared by its four vertical phases
// (the same arithmetic as interp(), so the planes equal per-block interpolation exactly).
void build_subpel_planes(const Plane& ref, Plane* sub, int margin) {
  const int x0 = -margin, y0 = -margin, w = ref.width + 2 * margin, h = ref.height + 2 * margin;
  for (int ph = 1; ph < 16; ++ph) sub[ph].alloc(ref.width, ref.height, ref.pad);
  if (margin + 4 > ref.pad) {  // too little padding for direct access: per-block path clamps
    for (int ph = 1; ph < 16; ++ph) {
      const int fx = ph & 3, fy = ph >> 2;
      for (int y = y0; y < y0 + h; y += 64)
        for (int x = x0; x < x0 + w; x += 64)
          interp<8>(ref, x, y, fx, fy, kLuma[fx], kLuma[fy], std::min(64, x0 + w - x), std::min(64, y0 + h - y),
                    sub[ph].at(x, y), sub[ph].stride);
    }
    return;
  }
  const int rows = h + 7;
  std::vector<int16_t> mid(static_cast<size_t>(rows) * w);
  std::vector<int32_t> acc(w);
  for (int fx = 0; fx < 4; ++fx) {
    const int* cx = kLuma[fx];
    if (fx) {
      for (int y = 0; y < rows; ++y) {  // rows y0-3 .. y0+h+3
        const uint8_t* r = ref.at(x0 - 3, y0 - 3 + y);
        int16_t* d = mid.data() + static_cast<size_t>(y) * w;
        std::fill(d, d + w, int16_t(0));
        for (int k = 0; k < 8; ++k) {  // partial sums stay within 112 * 255, exact in 16 bits
          const int16_t c = static_cast<int16_t>(cx[k]);
          if (!c) continue;
          for (int x = 0; x < w; ++x) d[x] = static_cast<int16_t>(d[x] + c * r[x + k]);
        }
      }
      uint8_t* o = sub[fx].at(x0, y0);
      for (int y = 0; y < h; ++y) {
        const int16_t* m = mid.data() + static_cast<size_t>(y + 3) * w;
        for (int x = 0; x < w; ++x) o[y * sub[fx].stride + x] = clip1((m[x] + 32) >> 6);
      }
    }
    for (int fy = 1; fy < 4; ++fy) {
      const int* cy = kLuma[fy];
      Plane& op = sub[fy * 4 + fx];
      for (int y = 0; y < h; ++y) {
        uint8_t* o = op.at(x0, y0 + y);
        std::fill(acc.begin(), acc.end(), 0);
        for (int k = 0; k < 8; ++k) {
          const int c = cy[k];
          if (fx) {
            const int16_t* m = mid.data() + static_cast<size_t>(y + k) * w;
            for (int x = 0; x < w; ++x) acc[x] += c * m[x];
          } else {
            const uint8_t* r = ref.at(x0, y0 + y + k - 3);
            for (int x = 0; x < w; ++x) acc[x] += c * r[x];
          }
        }
        if (fx)
          for (int x = 0; x < w; ++x) o[x] = clip1(((acc[x] >> 6) + 32) >> 6);
        else
          for (int x = 0; x < w; ++x) o[x] = clip1((acc[x] + 32) >> 6);
      }
    }
  }
}

}  // namespace hevc
}  // namespace mvc
