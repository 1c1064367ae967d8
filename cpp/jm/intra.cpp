// Intra prediction (H.264 8.3.1.2 Intra_4x4, 8.3.3 Intra_16x16, 8.3.4 chroma, 4:2:0).
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "common/pixel.h"
#include "jm/h264.h"

namespace mvc {
namespace h264 {

namespace {
// The directional Intra_4x4 modes (3..8) read every sample from the edge line
// E = l[3] l[2] l[1] l[0] corner t[0..7] (E[4] is the corner), either as the 3-tap value
// F[i] = (E[i-1] + 2 E[i] + E[i+1] + 2) >> 2, the 2-tap A[i] = (E[i] + E[i+1] + 1) >> 1, or
// l[3] itself (both line ends replicated). kDirIdx maps each (mode, raster position) into
// V = F[0..12] A[0..12] l[3] (8.3.1.2.4-9 rewritten as one lookup).
constexpr int kF = 0, kA = 13, kL3 = 26;
struct DirTable {
  uint8_t idx[6][16];
  constexpr DirTable() : idx() {
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < 4; ++x) {
        const int r = y * 4 + x;
        idx[0][r] = uint8_t(kF + 6 + x + y);  // 3: diagonal down left
        idx[1][r] = uint8_t(kF + 4 + x - y);  // 4: diagonal down right
        {                                     // 5: vertical right
          const int z = 2 * x - y;
          idx[2][r] = uint8_t(z >= 0 ? ((z & 1) ? kF : kA) + 4 + x - (y >> 1) : z == -1 ? kF + 4 : kF + 5 - y);
        }
        {  // 6: horizontal down
          const int z = 2 * y - x;
          idx[3][r] = uint8_t(z >= 0 ? ((z & 1) ? kF + 4 : kA + 3) - y + (x >> 1) : z == -1 ? kF + 4 : kF + 3 + x);
        }
        idx[4][r] = uint8_t((y & 1) ? kF + 6 + x + (y >> 1) : kA + 5 + x + (y >> 1));  // 7: vertical left
        {                                                                                 // 8: horizontal up
          const int z = x + 2 * y, i = y + (x >> 1);
          idx[5][r] = uint8_t(z > 5 ? kL3 : z == 5 ? kF + 0 : (z & 1) ? kF + 2 - i : kA + 2 - i);
        }
      }
  }
};
constexpr DirTable kDir;
}  // namespace

int pred4x4_all(const IntraEdge& e, uint8_t (*d)[16]) {
  const uint8_t* t = e.top();  // t[-1] is the corner p[-1,-1]; t[4..7] already substituted when needed
  const uint8_t* l = e.left;
  int ok = 1 << 2;
  int E[15];  // E[k + 1] = edge sample k, with E[0] and E[14] replicating the ends
  for (int k = 0; k < 4; ++k) E[1 + k] = e.has_left ? l[3 - k] : 0;
  E[5] = e.has_topleft ? t[-1] : 0;
  for (int k = 0; k < 8; ++k) E[6 + k] = e.has_top ? t[k] : 0;
  E[0] = E[1]; E[14] = E[13];
  uint8_t V[27];
  for (int i = 0; i < 13; ++i) {
    V[kF + i] = uint8_t((E[i] + 2 * E[i + 1] + E[i + 2] + 2) >> 2);
    V[kA + i] = uint8_t((E[i + 1] + E[i + 2] + 1) >> 1);
  }
  V[kL3] = uint8_t(E[1]);
  int dc;
  if (e.has_top && e.has_left) dc = (t[0] + t[1] + t[2] + t[3] + l[0] + l[1] + l[2] + l[3] + 4) >> 3;
  else if (e.has_left) dc = (l[0] + l[1] + l[2] + l[3] + 2) >> 2;
  else if (e.has_top) dc = (t[0] + t[1] + t[2] + t[3] + 2) >> 2;
  else dc = 128;
  for (int r = 0; r < 16; ++r) d[2][r] = uint8_t(dc);
  auto dir = [&](int mode) {
    for (int r = 0; r < 16; ++r) d[mode][r] = V[kDir.idx[mode - 3][r]];
    ok |= 1 << mode;
  };
  if (e.has_top) {
    for (int r = 0; r < 16; ++r) d[0][r] = t[r & 3];
    ok |= 1;
    dir(3); dir(7);
  }
  if (e.has_left) {
    for (int r = 0; r < 16; ++r) d[1][r] = l[r >> 2];
    ok |= 2;
    dir(8);
  }
  if (e.has_top && e.has_left && e.has_topleft) { dir(4); dir(5); dir(6); }
  return ok;
}

bool pred16x16(int mode, const IntraEdge& e, uint8_t* d, int s) {
  const uint8_t* t = e.top();
  const uint8_t* l = e.left;
  switch (mode) {
    case 0:
      if (!e.has_top) return false;
      for (int y = 0; y < 16; ++y) std::memcpy(d + y * s, t, 16);
      return true;
    case 1:
      if (!e.has_left) return false;
      for (int y = 0; y < 16; ++y) std::memset(d + y * s, l[y], 16);
      return true;
    case 2: {
      int st = 0, sl = 0, v;
      for (int i = 0; i < 16; ++i) { st += t[i]; sl += l[i]; }
      if (e.has_top && e.has_left) v = (st + sl + 16) >> 5;
      else if (e.has_left) v = (sl + 8) >> 4;
      else if (e.has_top) v = (st + 8) >> 4;
      else v = 128;
      for (int y = 0; y < 16; ++y) std::memset(d + y * s, v, 16);
      return true;
    }
    case 3: {
      if (!(e.has_top && e.has_left && e.has_topleft)) return false;
      int H = 0, V = 0;
      for (int i = 0; i < 8; ++i) {
        H += (i + 1) * (t[8 + i] - t[6 - i]);
        V += (i + 1) * (l[8 + i] - (6 - i < 0 ? t[-1] : l[6 - i]));
      }
      const int a = 16 * (l[15] + t[15]), b = (5 * H + 32) >> 6, c = (5 * V + 32) >> 6;
#if defined(__SSE2__)
      {  // |a| + 7|b| + 8|c| + 16 < 2^15 for 8-bit samples: exact in 16-bit lanes
        const __m128i bx0 = _mm_mullo_epi16(_mm_set1_epi16(int16_t(b)), _mm_setr_epi16(-7, -6, -5, -4, -3, -2, -1, 0));
        const __m128i bx1 = _mm_add_epi16(bx0, _mm_set1_epi16(int16_t(8 * b)));
        for (int y = 0; y < 16; ++y) {
          const __m128i row = _mm_set1_epi16(int16_t(a + c * (y - 7) + 16));
          const __m128i lo = _mm_srai_epi16(_mm_add_epi16(row, bx0), 5), hi = _mm_srai_epi16(_mm_add_epi16(row, bx1), 5);
          _mm_storeu_si128(reinterpret_cast<__m128i*>(d + y * s), _mm_packus_epi16(lo, hi));
        }
        return true;
      }
#endif
      for (int y = 0; y < 16; ++y)
        for (int x = 0; x < 16; ++x) d[y * s + x] = clip1((a + b * (x - 7) + c * (y - 7) + 16) >> 5);
      return true;
    }
  }
  return false;
}

bool pred_chroma(int mode, const IntraEdge& e, uint8_t* d, int s) {
  const uint8_t* t = e.top();
  const uint8_t* l = e.left;
  switch (mode) {
    case 0: {  // DC per 4x4 chroma block (8.3.4.1-3)
      for (int by = 0; by < 2; ++by)
        for (int bx = 0; bx < 2; ++bx) {
          int st = 0, sl = 0;
          for (int i = 0; i < 4; ++i) { st += t[4 * bx + i]; sl += l[4 * by + i]; }
          int v;
          const bool T = e.has_top, Lf = e.has_left;
          if ((bx == 0 && by == 0) || (bx && by)) {
            v = (T && Lf) ? (st + sl + 4) >> 3 : Lf ? (sl + 2) >> 2 : T ? (st + 2) >> 2 : 128;
          } else if (bx && !by) {
            v = T ? (st + 2) >> 2 : Lf ? (sl + 2) >> 2 : 128;
          } else {
            v = Lf ? (sl + 2) >> 2 : T ? (st + 2) >> 2 : 128;
          }
          for (int y = 0; y < 4; ++y) for (int x = 0; x < 4; ++x) d[(4 * by + y) * s + 4 * bx + x] = uint8_t(v);
        }
      return true;
    }
    case 1:
      if (!e.has_left) return false;
      for (int y = 0; y < 8; ++y) for (int x = 0; x < 8; ++x) d[y * s + x] = l[y];
      return true;
    case 2:
      if (!e.has_top) return false;
      for (int y = 0; y < 8; ++y) for (int x = 0; x < 8; ++x) d[y * s + x] = t[x];
      return true;
    case 3: {
      if (!(e.has_top && e.has_left && e.has_topleft)) return false;
      int H = 0, V = 0;
      for (int i = 0; i < 4; ++i) {
        H += (i + 1) * (t[4 + i] - t[2 - i]);
        V += (i + 1) * (l[4 + i] - (2 - i < 0 ? t[-1] : l[2 - i]));
      }
      const int a = 16 * (l[7] + t[7]), b = (34 * H + 32) >> 6, c = (34 * V + 32) >> 6;
      for (int y = 0; y < 8; ++y)
        for (int x = 0; x < 8; ++x) d[y * s + x] = clip1((a + b * (x - 3) + c * (y - 3) + 16) >> 5);
      return true;
    }
  }
  return false;
}

}  // namespace h264
}  // namespace mvc
