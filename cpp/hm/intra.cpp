// Intra sample prediction (8.4.4.2): reference substitution, filtering (incl. strong intra
// smoothing), planar, DC and the 33 angular modes.
#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "common/pixel.h"
#include "hm/hevc.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace mvc {
namespace hevc {

namespace {
constexpr int kAngle[35] = {0,  0,  32, 26, 21, 17, 13, 9,  5,  2,   0,   -2,  -5,  -9, -13, -17, -21, -26,
                            -32, -26, -21, -17, -13, -9, -5, -2, 0, 2, 5, 9, 13, 17, 21, 26, 32};
constexpr int kInvAngle[35] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -4096, -1638, -910, -630, -482, -390, -315,
                               -256, -315, -390, -482, -630, -910, -1638, -4096, 0, 0, 0, 0, 0, 0, 0, 0, 0};

#if defined(__SSE2__)
// One row of angular prediction, ((32 - fact) * rr[i] + fact * rr[i + 1] + 16) >> 5 for i < n,
// in 16-bit lanes (at most 32 * 255 + 16).
inline void angular_row_sse2(const int16_t* rr, int fact, int n, uint8_t* d) {
  const __m128i f0 = _mm_set1_epi16(static_cast<int16_t>(32 - fact)), f1 = _mm_set1_epi16(static_cast<int16_t>(fact));
  const __m128i r16 = _mm_set1_epi16(16);
  auto one = [&](__m128i a, __m128i b) {
    if (!fact) return _mm_packus_epi16(a, a);
    const __m128i v = _mm_srai_epi16(_mm_add_epi16(_mm_add_epi16(_mm_mullo_epi16(a, f0), _mm_mullo_epi16(b, f1)), r16), 5);
    return _mm_packus_epi16(v, v);
  };
  if (n == 4) {
    const __m128i v = one(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(rr)), _mm_loadl_epi64(reinterpret_cast<const __m128i*>(rr + 1)));
    const int32_t w = _mm_cvtsi128_si32(v);
    std::memcpy(d, &w, 4);
    return;
  }
  for (int i = 0; i < n; i += 8)
    _mm_storel_epi64(reinterpret_cast<__m128i*>(d + i),
                     one(_mm_loadu_si128(reinterpret_cast<const __m128i*>(rr + i)), _mm_loadu_si128(reinterpret_cast<const __m128i*>(rr + i + 1))));
}
// dst (stride ds) = transpose of the n x n block src (stride n), n in {4, 8, 16, 32}.
inline void transpose_block_sse2(const uint8_t* src, int n, uint8_t* dst, int ds) {
  if (n == 4) {
    int32_t r[4];
    std::memcpy(r, src, 16);
    const __m128i t0 = _mm_unpacklo_epi8(_mm_cvtsi32_si128(r[0]), _mm_cvtsi32_si128(r[1]));
    const __m128i t1 = _mm_unpacklo_epi8(_mm_cvtsi32_si128(r[2]), _mm_cvtsi32_si128(r[3]));
    __m128i u = _mm_unpacklo_epi16(t0, t1);  // column c of src in bytes 4c..4c+3
    for (int c = 0; c < 4; ++c, u = _mm_srli_si128(u, 4)) {
      const int32_t w = _mm_cvtsi128_si32(u);
      std::memcpy(dst + c * ds, &w, 4);
    }
    return;
  }
  for (int by = 0; by < n; by += 8)
    for (int bx = 0; bx < n; bx += 8) {
      __m128i r[8];
      for (int i = 0; i < 8; ++i) r[i] = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(src + (by + i) * n + bx));
      const __m128i t0 = _mm_unpacklo_epi8(r[0], r[1]), t1 = _mm_unpacklo_epi8(r[2], r[3]);
      const __m128i t2 = _mm_unpacklo_epi8(r[4], r[5]), t3 = _mm_unpacklo_epi8(r[6], r[7]);
      const __m128i u0 = _mm_unpacklo_epi16(t0, t1), u1 = _mm_unpackhi_epi16(t0, t1);
      const __m128i u2 = _mm_unpacklo_epi16(t2, t3), u3 = _mm_unpackhi_epi16(t2, t3);
      const __m128i v[4] = {_mm_unpacklo_epi32(u0, u2), _mm_unpackhi_epi32(u0, u2), _mm_unpacklo_epi32(u1, u3),
                            _mm_unpackhi_epi32(u1, u3)};  // columns 2k, 2k + 1 of the tile
      for (int k = 0; k < 4; ++k) {
        uint8_t* o = dst + (bx + 2 * k) * ds + by;
        _mm_storel_epi64(reinterpret_cast<__m128i*>(o), v[k]);
        _mm_storel_epi64(reinterpret_cast<__m128i*>(o + ds), _mm_unpackhi_epi64(v[k], v[k]));
      }
    }
}
#endif

// dst[i] = p[i] for i < len (len even): 16-bit lanes, 8 (then 4, then 2) samples at a time.
inline void widen_row(const uint8_t* p, int len, int16_t* dst) {
  int i = 0;
#if defined(__SSE2__)
  for (; i + 8 <= len; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i),
                     _mm_unpacklo_epi8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + i)), _mm_setzero_si128()));
  if (i + 4 <= len) {
    int32_t v;
    std::memcpy(&v, p + i, 4);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(dst + i), _mm_unpacklo_epi8(_mm_cvtsi32_si128(v), _mm_setzero_si128()));
    i += 4;
  }
#endif
  for (; i < len; ++i) dst[i] = p[i];
}
}  // namespace

void intra_refs(const Frame& f, int c, int x0, int y0, int log2n, IntraRefs& R) {
  const Seq& s = *f.seq;
  const int n = 1 << log2n, sh = c ? 1 : 0, m = 2 * n;
  const Plane& pl = c == 0 ? f.rec.y : (c == 1 ? f.rec.u : f.rec.v);
  R.n = n;
  R.log2n = log2n;
  R.c = c;
  // Availability (6.4.1) is decided per 4x4 luma unit. MinTbAddrZs grows along a row and down a
  // column, so the available units of the left column (from the top) and of the top row (from the
  // left) are prefixes: count them instead of recording each sample.
  // x0 - 1 / y0 - 1 may be -1: scale by multiplying (a left shift of a negative value is UB)
  const int xl = x0 << sh, yl = y0 << sh, u = c ? 2 : 4, nu = m / u, sc = 1 << sh;
  int nl = 0, nt = 0;
  while (nl < nu && s.zavail(xl, yl, (x0 - 1) * sc, (y0 + nl * u) * sc)) ++nl;
  while (nt < nu && s.zavail(xl, yl, (x0 + nt * u) * sc, (y0 - 1) * sc)) ++nt;
  const bool ca = s.zavail(xl, yl, (x0 - 1) * sc, (y0 - 1) * sc);
  int16_t* top = R.top[0];
  int16_t* left = R.left[0];
  const int ln = nl * u, tn = nt * u;
  if (ln) {
    const uint8_t* p = pl.at(x0 - 1, y0);
    for (int y = 0; y < ln; ++y) left[1 + y] = p[y * pl.stride];
  }
  if (tn) widen_row(pl.at(x0, y0 - 1), tn, top + 1);
  if (ca) left[0] = *pl.at(x0 - 1, y0 - 1);
  if (!ln && !ca && !tn) {
    std::fill_n(top, m + 1, int16_t{128});
    std::fill_n(left, m + 1, int16_t{128});
  } else if (ln < m || !ca || tn < m) {  // 8.4.4.2.2 substitution, in the order p[-1][2n-1] .. p[-1][-1] .. p[2n-1][-1]
    std::fill(left + 1 + ln, left + 1 + m, ln ? left[ln] : (ca ? left[0] : top[1]));
    if (!ca) left[0] = left[1];
    top[0] = left[0];
    std::fill(top + 1 + tn, top + 1 + m, top[tn]);
  } else {
    top[0] = left[0];
  }
  std::fill_n(top + m + 1, 8, int16_t{0});
  std::fill_n(left + m + 1, 8, int16_t{0});
  // 8.4.4.2.3 filtered copy (luma only for 4:2:0); modes choose raw or filtered
  if (c != 0 || n == 4) return;  // no mode of a chroma or 4x4 block reads it (intra_pred_mode)
  int16_t* ftop = R.top[1];
  int16_t* fleft = R.left[1];
  const int c0 = top[0];
  if (n == 32 && std::abs(c0 + top[m] - 2 * top[n]) < 8 && std::abs(c0 + left[m] - 2 * left[n]) < 8) {  // strong intra smoothing
    for (int i = 0; i < 63; ++i) {
      fleft[1 + i] = static_cast<int16_t>(((63 - i) * c0 + (i + 1) * left[m] + 32) >> 6);
      ftop[1 + i] = static_cast<int16_t>(((63 - i) * c0 + (i + 1) * top[m] + 32) >> 6);
    }
    ftop[0] = fleft[0] = static_cast<int16_t>(c0);
  } else {
    for (int i = 1; i < m; ++i) {
      ftop[i] = static_cast<int16_t>((top[i - 1] + 2 * top[i] + top[i + 1] + 2) >> 2);
      fleft[i] = static_cast<int16_t>((left[i - 1] + 2 * left[i] + left[i + 1] + 2) >> 2);
    }
    ftop[0] = fleft[0] = static_cast<int16_t>((left[1] + 2 * c0 + top[1] + 2) >> 2);
  }
  ftop[m] = top[m];
  fleft[m] = left[m];
  std::fill_n(ftop + m + 1, 8, int16_t{0});
  std::fill_n(fleft + m + 1, 8, int16_t{0});
}

void intra_pred_mode(const IntraRefs& R, int mode, uint8_t* dst, int ds) {
  const int n = R.n, log2n = R.log2n, c = R.c;
  bool use_f = false;
  if (c == 0 && mode != 1 && n != 4) {
    const int dist = std::min(std::abs(mode - 26), std::abs(mode - 10));
    const int thres = n == 8 ? 7 : (n == 16 ? 1 : 0);
    use_f = dist > thres;
  }
  const int16_t* top = R.top[use_f];
  const int16_t* left = R.left[use_f];
  auto L = [&](int yy) { return int(left[yy + 1]); };  // p[-1][yy], yy >= -1
  auto T = [&](int xx) { return int(top[xx + 1]); };   // p[xx][-1], xx >= -1

  if (mode == 0) {  // planar
#if defined(__SSE2__)
    // 16-bit lanes: every partial sum is at most 2 * (2n - 1) * 255 + n <= 32162 for n <= 32.
    const int Ln = L(n), Tn = T(n), sh = log2n + 1;
    // (lanes past n of a 4-wide block compute values that are not stored)
    const __m128i lane = _mm_setr_epi16(0, 1, 2, 3, 4, 5, 6, 7);
    for (int x0 = 0; x0 < n; x0 += 8) {
      const __m128i vx = _mm_add_epi16(lane, _mm_set1_epi16(static_cast<int16_t>(x0)));  // x
      const __m128i vt = _mm_loadu_si128(reinterpret_cast<const __m128i*>(top + 1 + x0));  // T(x)
      const __m128i vwl = _mm_sub_epi16(_mm_set1_epi16(static_cast<int16_t>(n - 1)), vx);   // n - 1 - x
      const __m128i vhz = _mm_add_epi16(_mm_mullo_epi16(_mm_add_epi16(vx, _mm_set1_epi16(1)), _mm_set1_epi16(static_cast<int16_t>(Tn))),
                                        _mm_set1_epi16(static_cast<int16_t>(n)));  // (x + 1) * T(n) + n
      const __m128i step = _mm_sub_epi16(_mm_set1_epi16(static_cast<int16_t>(Ln)), vt);
      // (n - 1 - y) * T(x) + (y + 1) * L(n), updated row by row
      __m128i vv = _mm_add_epi16(_mm_mullo_epi16(vt, _mm_set1_epi16(static_cast<int16_t>(n - 1))), _mm_set1_epi16(static_cast<int16_t>(Ln)));
      for (int y = 0; y < n; ++y, vv = _mm_add_epi16(vv, step)) {
        __m128i v = _mm_add_epi16(_mm_add_epi16(vv, vhz), _mm_mullo_epi16(vwl, _mm_set1_epi16(static_cast<int16_t>(L(y)))));
        v = _mm_srli_epi16(v, sh);
        v = _mm_packus_epi16(v, v);
        if (n == 4) {
          const int32_t w = _mm_cvtsi128_si32(v);
          std::memcpy(dst + y * ds, &w, 4);
        } else {
          _mm_storel_epi64(reinterpret_cast<__m128i*>(dst + y * ds + x0), v);
        }
      }
    }
    return;
#endif
    for (int y = 0; y < n; ++y)
      for (int x = 0; x < n; ++x)
        dst[y * ds + x] = static_cast<uint8_t>(((n - 1 - x) * L(y) + (x + 1) * T(n) + (n - 1 - y) * T(x) +
                                                (y + 1) * L(n) + n) >> (log2n + 1));
    return;
  }
  if (mode == 1) {  // DC
    int sum = n;
    for (int i = 0; i < n; ++i) sum += T(i) + L(i);
    const int dc = sum >> (log2n + 1);
    for (int y = 0; y < n; ++y) std::memset(dst + y * ds, dc, n);
    if (c == 0 && n < 32) {
      dst[0] = static_cast<uint8_t>((L(0) + 2 * dc + T(0) + 2) >> 2);
      for (int x = 1; x < n; ++x) dst[x] = static_cast<uint8_t>((T(x) + 3 * dc + 2) >> 2);
      for (int y = 1; y < n; ++y) dst[y * ds] = static_cast<uint8_t>((L(y) + 3 * dc + 2) >> 2);
    }
    return;
  }
  const int angle = kAngle[mode];
#if defined(__SSE2__)
  {
    // Horizontal modes are computed as rows of the transposed block, then transposed. The main
    // reference r[0..2n] is the top (vertical) or left (horizontal) line itself; negative angles
    // extend a copy of r[0..n] with r[-n..-1] projected from the other line.
    const bool vert = mode >= 18;
    const int16_t* r = vert ? top : left;
    int16_t rbuf[2 * 32 + 1 + 8];
    if (angle < 0) {
      int16_t* e = rbuf + n;  // e[-n..n]
      std::memcpy(e, r, (n + 1) * sizeof(int16_t));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(e + n + 1), _mm_setzero_si128());  // read with weight 0
      if (((n * angle) >> 5) < -1)
        for (int i = (n * angle) >> 5; i <= -1; ++i) {
          const int k = -1 + ((i * kInvAngle[mode] + 128) >> 8);
          e[i] = static_cast<int16_t>(vert ? L(k) : T(k));
        }
      r = e;
    }
    if (n == 4) {  // all four rows in two registers: [row 0 | row 1], [row 2 | row 3]
      __m128i a[2], b[2], f[2];
      for (int h = 0; h < 2; ++h) {
        const int p0 = angle * (2 * h + 1), p1 = angle * (2 * h + 2);  // (j + 1) * angle for j = 2h, 2h + 1
        const int16_t* r0 = r + (p0 >> 5) + 1;
        const int16_t* r1 = r + (p1 >> 5) + 1;
        a[h] = _mm_unpacklo_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(r0)), _mm_loadl_epi64(reinterpret_cast<const __m128i*>(r1)));
        b[h] = _mm_unpacklo_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(r0 + 1)), _mm_loadl_epi64(reinterpret_cast<const __m128i*>(r1 + 1)));
        const int16_t f0 = static_cast<int16_t>(p0 & 31), f1 = static_cast<int16_t>(p1 & 31);
        f[h] = _mm_set_epi16(f1, f1, f1, f1, f0, f0, f0, f0);
      }
      const __m128i c32 = _mm_set1_epi16(32), c16 = _mm_set1_epi16(16);
      __m128i v[2];
      for (int h = 0; h < 2; ++h)
        v[h] = _mm_srai_epi16(_mm_add_epi16(_mm_add_epi16(_mm_mullo_epi16(a[h], _mm_sub_epi16(c32, f[h])), _mm_mullo_epi16(b[h], f[h])), c16), 5);
      __m128i x = _mm_packus_epi16(v[0], v[1]);  // rows 0..3, 4 bytes each
      if (!vert) {  // transpose: [r0 r2 | r1 r3] -> interleave bytes, then pairs
        x = _mm_shuffle_epi32(x, 0xD8);
        x = _mm_unpacklo_epi8(x, _mm_srli_si128(x, 8));
        x = _mm_unpacklo_epi16(x, _mm_srli_si128(x, 8));
      }
      for (int k = 0; k < 4; ++k, x = _mm_srli_si128(x, 4)) {
        const int32_t w = _mm_cvtsi128_si32(x);
        std::memcpy(dst + k * ds, &w, 4);
      }
    } else {
      uint8_t tmp[32 * 32];
      uint8_t* out = vert ? dst : tmp;
      const int os = vert ? ds : n;
      for (int j = 0; j < n; ++j) {
        const int idx = ((j + 1) * angle) >> 5, fact = ((j + 1) * angle) & 31;
        angular_row_sse2(r + idx + 1, fact, n, out + j * os);
      }
      if (!vert) transpose_block_sse2(tmp, n, dst, ds);
    }
  }
#else
  int rbuf[3 * 64 + 2];
  int* r = rbuf + 64;  // r[-n..2n]
  const bool vert = mode >= 18;
  for (int i = 0; i <= n; ++i) r[i] = vert ? T(i - 1) : L(i - 1);
  if (angle < 0) {
    if (((n * angle) >> 5) < -1)
      for (int i = (n * angle) >> 5; i <= -1; ++i) {
        const int k = -1 + ((i * kInvAngle[mode] + 128) >> 8);
        r[i] = vert ? L(k) : T(k);
      }
  } else {
    for (int i = n + 1; i <= 2 * n; ++i) r[i] = vert ? T(i - 1) : L(i - 1);
  }
  for (int j = 0; j < n; ++j) {  // j: y for vertical modes, x for horizontal
    const int idx = ((j + 1) * angle) >> 5, fact = ((j + 1) * angle) & 31;
    const int* rr = r + idx + 1;
    if (vert) {
      uint8_t* d = dst + j * ds;
      if (fact) for (int i = 0; i < n; ++i) d[i] = static_cast<uint8_t>(((32 - fact) * rr[i] + fact * rr[i + 1] + 16) >> 5);
      else for (int i = 0; i < n; ++i) d[i] = static_cast<uint8_t>(rr[i]);
    } else {
      if (fact) for (int i = 0; i < n; ++i) dst[i * ds + j] = static_cast<uint8_t>(((32 - fact) * rr[i] + fact * rr[i + 1] + 16) >> 5);
      else for (int i = 0; i < n; ++i) dst[i * ds + j] = static_cast<uint8_t>(rr[i]);
    }
  }
#endif
  if (c == 0 && n < 32) {
    if (mode == 26)
      for (int y = 0; y < n; ++y) dst[y * ds] = clip1(T(0) + ((L(y) - L(-1)) >> 1));
    else if (mode == 10)
      for (int x = 0; x < n; ++x) dst[x] = clip1(L(0) + ((T(x) - T(-1)) >> 1));
  }
}

void intra_predict(Frame& f, int c, int x0, int y0, int log2n, int mode, uint8_t* dst, int ds) {
  IntraRefs R;
  intra_refs(f, c, x0, y0, log2n, R);
  intra_pred_mode(R, mode, dst, ds);
}

}  // namespace hevc
}  // namespace mvc
