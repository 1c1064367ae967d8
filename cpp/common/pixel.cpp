#include "common/pixel.h"

#include <cstdlib>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
// AVX2 kernels are compiled with a target attribute and chosen at run time, so the module
// still runs on any x86-64 (and compiles elsewhere with the SSE2 / scalar paths).
#if defined(__SSE2__) && defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__)) && !defined(MVC_NO_AVX2)
#define MVC_PIXEL_AVX2 1
#include <immintrin.h>
#define MVC_AVX2_FN __attribute__((target("avx2")))
#endif

namespace mvc {

bool use_avx2() {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  static const bool on = [] {
    __builtin_cpu_init();  // callers include static initialisers, which may run before libgcc's
    return __builtin_cpu_supports("avx2") && std::getenv("MVCLASS_NO_AVX2") == nullptr;
  }();
  return on;
#else
  return false;
#endif
}

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

#if defined(__SSE2__)
// SAD of 16- and 8-wide blocks with psadbw.
inline int sad16_sse2(const uint8_t* a, int as, const uint8_t* b, int bs, int h) {
  __m128i acc = _mm_setzero_si128();
  for (int y = 0; y < h; ++y, a += as, b += bs)
    acc = _mm_add_epi64(acc, _mm_sad_epu8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a)),
                                          _mm_loadu_si128(reinterpret_cast<const __m128i*>(b))));
  return _mm_cvtsi128_si32(acc) + _mm_cvtsi128_si32(_mm_srli_si128(acc, 8));
}
inline int sad4_sse2(const uint8_t* a, int as, const uint8_t* b, int bs, int h) {
  __m128i acc = _mm_setzero_si128();
  for (int y = 0; y < h; y += 2, a += 2 * as, b += 2 * bs) {  // two rows of 4 per psadbw
    int32_t a0, a1, b0, b1;
    std::memcpy(&a0, a, 4); std::memcpy(&a1, a + as, 4);
    std::memcpy(&b0, b, 4); std::memcpy(&b1, b + bs, 4);
    acc = _mm_add_epi64(acc, _mm_sad_epu8(_mm_unpacklo_epi32(_mm_cvtsi32_si128(a0), _mm_cvtsi32_si128(a1)),
                                          _mm_unpacklo_epi32(_mm_cvtsi32_si128(b0), _mm_cvtsi32_si128(b1))));
  }
  return _mm_cvtsi128_si32(acc);
}
inline int sad8_sse2(const uint8_t* a, int as, const uint8_t* b, int bs, int h) {
  __m128i acc = _mm_setzero_si128();
  for (int y = 0; y < h; ++y, a += as, b += bs)
    acc = _mm_add_epi64(acc, _mm_sad_epu8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(a)),
                                          _mm_loadl_epi64(reinterpret_cast<const __m128i*>(b))));
  return _mm_cvtsi128_si32(acc);
}

// Hadamard SATD of two horizontally adjacent 4x4 blocks (an 8x4 area), same value as two
// satd4x4 calls: every 4x4 Hadamard sum is even, so halving the total is exact.
// W4 = true: a single 4x4 block (upper lanes zero contribute nothing).
// Stacked = true: a 4x8 area, its lower 4x4 block packed beside the upper one.
// Avg = true: the second block is the rounded average of b and b2 (a quarter-sample prediction).
template <bool W4, bool Stacked = false, bool Avg = false>
inline int satd8x4_sse2(const uint8_t* a, int as, const uint8_t* b, int bs, const uint8_t* b2 = nullptr) {
  const __m128i z = _mm_setzero_si128();
  __m128i d[4];
  auto row = [](const uint8_t* p, int st, int i) {
    if (Stacked) {
      int32_t r0, r1;
      std::memcpy(&r0, p + i * st, 4); std::memcpy(&r1, p + (i + 4) * st, 4);
      return _mm_unpacklo_epi32(_mm_cvtsi32_si128(r0), _mm_cvtsi32_si128(r1));
    } else if (W4) {
      int32_t r0;
      std::memcpy(&r0, p + i * st, 4);
      return _mm_cvtsi32_si128(r0);
    }
    return _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + i * st));
  };
  for (int i = 0; i < 4; ++i) {
    const __m128i va = row(a, as, i);
    __m128i vb = row(b, bs, i);
    if (Avg) vb = _mm_avg_epu8(vb, row(b2, bs, i));
    d[i] = _mm_sub_epi16(_mm_unpacklo_epi8(va, z), _mm_unpacklo_epi8(vb, z));
  }
  const __m128i s01 = _mm_add_epi16(d[0], d[1]), t01 = _mm_sub_epi16(d[0], d[1]);
  const __m128i s23 = _mm_add_epi16(d[2], d[3]), t23 = _mm_sub_epi16(d[2], d[3]);
  __m128i m[4] = {_mm_add_epi16(s01, s23), _mm_sub_epi16(s01, s23), _mm_sub_epi16(t01, t23), _mm_add_epi16(t01, t23)};
  const __m128i odd = _mm_set_epi16(-1, 0, -1, 0, -1, 0, -1, 0);
  const __m128i hi2 = _mm_set_epi16(-1, -1, 0, 0, -1, -1, 0, 0);
  __m128i acc = z;
  for (int i = 0; i < 4; ++i) {
    // horizontal butterflies inside each group of 4 lanes (signs of outputs do not matter)
    __m128i x = m[i];
    __m128i sw = _mm_shufflehi_epi16(_mm_shufflelo_epi16(x, 0xB1), 0xB1);
    __m128i sum = _mm_add_epi16(x, sw), dif = _mm_sub_epi16(x, sw);
    x = _mm_or_si128(_mm_andnot_si128(odd, sum), _mm_and_si128(odd, dif));
    sw = _mm_shufflehi_epi16(_mm_shufflelo_epi16(x, 0x4E), 0x4E);
    sum = _mm_add_epi16(x, sw); dif = _mm_sub_epi16(x, sw);
    x = _mm_or_si128(_mm_andnot_si128(hi2, sum), _mm_and_si128(hi2, dif));
    x = _mm_max_epi16(x, _mm_sub_epi16(z, x));  // |x|
    acc = _mm_add_epi32(acc, _mm_madd_epi16(x, _mm_set1_epi16(1)));
  }
  acc = _mm_add_epi32(acc, _mm_srli_si128(acc, 8));
  acc = _mm_add_epi32(acc, _mm_srli_si128(acc, 4));
  return _mm_cvtsi128_si32(acc) >> 1;
}

// Hadamard SATD of one 8x8 area (four 4x4 blocks): vertical 4-point transforms, an 8x8
// transpose, then the horizontal transforms whose last butterfly is folded into
// |a+b| + |a-b| = 2 max(|a|, |b|), which also cancels the final halving. Same value as four satd4x4.
inline __m128i abs16(__m128i x) { return _mm_max_epi16(x, _mm_sub_epi16(_mm_setzero_si128(), x)); }
inline void hadamard4_rows(__m128i& a, __m128i& b, __m128i& c, __m128i& d) {
  const __m128i s01 = _mm_add_epi16(a, b), t01 = _mm_sub_epi16(a, b);
  const __m128i s23 = _mm_add_epi16(c, d), t23 = _mm_sub_epi16(c, d);
  a = _mm_add_epi16(s01, s23); b = _mm_sub_epi16(s01, s23);
  c = _mm_sub_epi16(t01, t23); d = _mm_add_epi16(t01, t23);
}
inline void transpose8x8_16(__m128i* r) {
  const __m128i a0 = _mm_unpacklo_epi16(r[0], r[1]), a1 = _mm_unpackhi_epi16(r[0], r[1]);
  const __m128i a2 = _mm_unpacklo_epi16(r[2], r[3]), a3 = _mm_unpackhi_epi16(r[2], r[3]);
  const __m128i a4 = _mm_unpacklo_epi16(r[4], r[5]), a5 = _mm_unpackhi_epi16(r[4], r[5]);
  const __m128i a6 = _mm_unpacklo_epi16(r[6], r[7]), a7 = _mm_unpackhi_epi16(r[6], r[7]);
  const __m128i b0 = _mm_unpacklo_epi32(a0, a2), b1 = _mm_unpackhi_epi32(a0, a2);
  const __m128i b2 = _mm_unpacklo_epi32(a1, a3), b3 = _mm_unpackhi_epi32(a1, a3);
  const __m128i b4 = _mm_unpacklo_epi32(a4, a6), b5 = _mm_unpackhi_epi32(a4, a6);
  const __m128i b6 = _mm_unpacklo_epi32(a5, a7), b7 = _mm_unpackhi_epi32(a5, a7);
  r[0] = _mm_unpacklo_epi64(b0, b4); r[1] = _mm_unpackhi_epi64(b0, b4);
  r[2] = _mm_unpacklo_epi64(b1, b5); r[3] = _mm_unpackhi_epi64(b1, b5);
  r[4] = _mm_unpacklo_epi64(b2, b6); r[5] = _mm_unpackhi_epi64(b2, b6);
  r[6] = _mm_unpacklo_epi64(b3, b7); r[7] = _mm_unpackhi_epi64(b3, b7);
}
template <bool Avg = false>
inline int satd8x8_sse2(const uint8_t* a, int as, const uint8_t* b, int bs, const uint8_t* b2 = nullptr) {
  const __m128i z = _mm_setzero_si128();
  __m128i d[8];
  for (int i = 0; i < 8; ++i) {
    __m128i vb = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(b + i * bs));
    if (Avg) vb = _mm_avg_epu8(vb, _mm_loadl_epi64(reinterpret_cast<const __m128i*>(b2 + i * bs)));
    d[i] = _mm_sub_epi16(_mm_unpacklo_epi8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(a + i * as)), z),
                         _mm_unpacklo_epi8(vb, z));
  }
  hadamard4_rows(d[0], d[1], d[2], d[3]);
  hadamard4_rows(d[4], d[5], d[6], d[7]);
  transpose8x8_16(d);
  __m128i acc = z;
  for (int g = 0; g < 8; g += 4) {
    const __m128i s01 = _mm_add_epi16(d[g], d[g + 1]), t01 = _mm_sub_epi16(d[g], d[g + 1]);
    const __m128i s23 = _mm_add_epi16(d[g + 2], d[g + 3]), t23 = _mm_sub_epi16(d[g + 2], d[g + 3]);
    acc = _mm_add_epi16(acc, _mm_max_epi16(abs16(s01), abs16(s23)));
    acc = _mm_add_epi16(acc, _mm_max_epi16(abs16(t01), abs16(t23)));
  }
  // at most 4 * 2040 per lane: no int16 overflow
  const __m128i sum = _mm_add_epi32(_mm_unpacklo_epi16(acc, z), _mm_unpackhi_epi16(acc, z));
  __m128i t = _mm_add_epi32(sum, _mm_srli_si128(sum, 8));
  t = _mm_add_epi32(t, _mm_srli_si128(t, 4));
  return _mm_cvtsi128_si32(t);
}
#endif

#if defined(__SSE2__)
// One 4x4 Hadamard SATD with the rows packed two per register: vertical butterflies on the
// packed rows, a 4x4 transpose, the horizontal ones the same way, the last folded into
// |a+b| + |a-b| = 2 max(|a|, |b|) (which cancels the halving). Same value as satd4x4.
// Avg = true: the second block is the rounded average of b and b2.
template <bool Avg = false>
inline int satd4x4_sse2(const uint8_t* a, int as, const uint8_t* b, int bs, const uint8_t* b2 = nullptr) {
  const __m128i z = _mm_setzero_si128();
  auto rows2 = [](const uint8_t* p, int st, int i) {
    int32_t r0, r1;
    std::memcpy(&r0, p + i * st, 4); std::memcpy(&r1, p + (i + 1) * st, 4);
    return _mm_unpacklo_epi32(_mm_cvtsi32_si128(r0), _mm_cvtsi32_si128(r1));
  };
  __m128i b01 = rows2(b, bs, 0), b23 = rows2(b, bs, 2);
  if (Avg) {
    b01 = _mm_avg_epu8(b01, rows2(b2, bs, 0));
    b23 = _mm_avg_epu8(b23, rows2(b2, bs, 2));
  }
  const __m128i d01 = _mm_sub_epi16(_mm_unpacklo_epi8(rows2(a, as, 0), z), _mm_unpacklo_epi8(b01, z));
  const __m128i d23 = _mm_sub_epi16(_mm_unpacklo_epi8(rows2(a, as, 2), z), _mm_unpacklo_epi8(b23, z));
  // vertical: [r0+r2 | r1+r3], [r0-r2 | r1-r3] -> rows of the transform (in some order)
  __m128i s = _mm_add_epi16(d01, d23), t = _mm_sub_epi16(d01, d23);
  __m128i u = _mm_unpacklo_epi64(s, t), v = _mm_unpackhi_epi64(s, t);
  const __m128i m0 = _mm_add_epi16(u, v), m1 = _mm_sub_epi16(u, v);
  // transpose the four rows [m0 lo | m0 hi], [m1 lo | m1 hi] into [col0 | col1], [col2 | col3]
  const __m128i x0 = _mm_unpacklo_epi16(m0, m1), x1 = _mm_unpackhi_epi16(m0, m1);
  const __m128i p = _mm_unpacklo_epi32(x0, x1), q = _mm_unpackhi_epi32(x0, x1);
  s = _mm_add_epi16(p, q); t = _mm_sub_epi16(p, q);
  u = _mm_unpacklo_epi64(s, t); v = _mm_unpackhi_epi64(s, t);
  const __m128i au = _mm_max_epi16(u, _mm_sub_epi16(z, u)), av = _mm_max_epi16(v, _mm_sub_epi16(z, v));
  __m128i acc = _mm_madd_epi16(_mm_max_epi16(au, av), _mm_set1_epi16(1));
  acc = _mm_add_epi32(acc, _mm_srli_si128(acc, 8));
  acc = _mm_add_epi32(acc, _mm_srli_si128(acc, 4));
  return _mm_cvtsi128_si32(acc);
}
#endif

#if defined(MVC_PIXEL_AVX2)
const bool kHasAvx2 = use_avx2();

// satd8x8_sse2 on two 8x8 blocks at once, one per 128-bit lane (the unpacks of the transpose
// work within lanes): a 16x8 area, or with Stack8 an 8x16 area (rows y and y + 8 side by side).
// Returns the 8x8 sums as int32 partial sums in the lanes (add up with hsum_avx2).
template <bool Stack8, bool Avg = false>
MVC_AVX2_FN inline __m256i satd2x8x8_avx2(const uint8_t* a, int as, const uint8_t* b, int bs, const uint8_t* b2 = nullptr) {
  __m256i d[8];
  auto load = [](const uint8_t* p, int st, int i) {
    if (Stack8)
      return _mm_unpacklo_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + i * st)),
                                _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + (i + 8) * st)));
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i * st));
  };
  for (int i = 0; i < 8; ++i) {
    __m128i vb = load(b, bs, i);
    if (Avg) vb = _mm_avg_epu8(vb, load(b2, bs, i));
    d[i] = _mm256_sub_epi16(_mm256_cvtepu8_epi16(load(a, as, i)), _mm256_cvtepu8_epi16(vb));
  }
  for (int g = 0; g < 8; g += 4) {  // vertical 4-point transforms
    const __m256i s01 = _mm256_add_epi16(d[g], d[g + 1]), t01 = _mm256_sub_epi16(d[g], d[g + 1]);
    const __m256i s23 = _mm256_add_epi16(d[g + 2], d[g + 3]), t23 = _mm256_sub_epi16(d[g + 2], d[g + 3]);
    d[g] = _mm256_add_epi16(s01, s23); d[g + 1] = _mm256_sub_epi16(s01, s23);
    d[g + 2] = _mm256_sub_epi16(t01, t23); d[g + 3] = _mm256_add_epi16(t01, t23);
  }
  {  // 8x8 transpose in each lane
    const __m256i a0 = _mm256_unpacklo_epi16(d[0], d[1]), a1 = _mm256_unpackhi_epi16(d[0], d[1]);
    const __m256i a2 = _mm256_unpacklo_epi16(d[2], d[3]), a3 = _mm256_unpackhi_epi16(d[2], d[3]);
    const __m256i a4 = _mm256_unpacklo_epi16(d[4], d[5]), a5 = _mm256_unpackhi_epi16(d[4], d[5]);
    const __m256i a6 = _mm256_unpacklo_epi16(d[6], d[7]), a7 = _mm256_unpackhi_epi16(d[6], d[7]);
    const __m256i c0 = _mm256_unpacklo_epi32(a0, a2), c1 = _mm256_unpackhi_epi32(a0, a2);
    const __m256i c2 = _mm256_unpacklo_epi32(a1, a3), c3 = _mm256_unpackhi_epi32(a1, a3);
    const __m256i c4 = _mm256_unpacklo_epi32(a4, a6), c5 = _mm256_unpackhi_epi32(a4, a6);
    const __m256i c6 = _mm256_unpacklo_epi32(a5, a7), c7 = _mm256_unpackhi_epi32(a5, a7);
    d[0] = _mm256_unpacklo_epi64(c0, c4); d[1] = _mm256_unpackhi_epi64(c0, c4);
    d[2] = _mm256_unpacklo_epi64(c1, c5); d[3] = _mm256_unpackhi_epi64(c1, c5);
    d[4] = _mm256_unpacklo_epi64(c2, c6); d[5] = _mm256_unpackhi_epi64(c2, c6);
    d[6] = _mm256_unpacklo_epi64(c3, c7); d[7] = _mm256_unpackhi_epi64(c3, c7);
  }
  __m256i acc = _mm256_setzero_si256();
  for (int g = 0; g < 8; g += 4) {  // horizontal transforms, last butterfly folded as in satd8x8_sse2
    const __m256i s01 = _mm256_add_epi16(d[g], d[g + 1]), t01 = _mm256_sub_epi16(d[g], d[g + 1]);
    const __m256i s23 = _mm256_add_epi16(d[g + 2], d[g + 3]), t23 = _mm256_sub_epi16(d[g + 2], d[g + 3]);
    acc = _mm256_add_epi16(acc, _mm256_max_epi16(_mm256_abs_epi16(s01), _mm256_abs_epi16(s23)));
    acc = _mm256_add_epi16(acc, _mm256_max_epi16(_mm256_abs_epi16(t01), _mm256_abs_epi16(t23)));
  }
  return _mm256_madd_epi16(acc, _mm256_set1_epi16(1));  // at most 4 * 2040 per int16 lane
}
// One 8x8 area: rows y and y + 4 share a register (one per lane), vertical butterflies, then a
// 4x8 transpose per lane leaves columns in register halves for the horizontal butterflies,
// the last folded as in satd8x8_sse2. Same value as four satd4x4.
template <bool Avg = false>
MVC_AVX2_FN inline __m256i satd8x8_avx2(const uint8_t* a, int as, const uint8_t* b, int bs, const uint8_t* b2 = nullptr) {
  __m256i d[4];
  auto rows = [](const uint8_t* p, int st, int i) {
    return _mm_unpacklo_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + i * st)),
                              _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + (i + 4) * st)));
  };
  for (int i = 0; i < 4; ++i) {
    __m128i vb = rows(b, bs, i);
    if (Avg) vb = _mm_avg_epu8(vb, rows(b2, bs, i));
    d[i] = _mm256_sub_epi16(_mm256_cvtepu8_epi16(rows(a, as, i)), _mm256_cvtepu8_epi16(vb));
  }
  const __m256i s01 = _mm256_add_epi16(d[0], d[1]), t01 = _mm256_sub_epi16(d[0], d[1]);
  const __m256i s23 = _mm256_add_epi16(d[2], d[3]), t23 = _mm256_sub_epi16(d[2], d[3]);
  const __m256i v0 = _mm256_add_epi16(s01, s23), v1 = _mm256_sub_epi16(s01, s23);
  const __m256i v2 = _mm256_sub_epi16(t01, t23), v3 = _mm256_add_epi16(t01, t23);
  const __m256i x0 = _mm256_unpacklo_epi16(v0, v1), x1 = _mm256_unpacklo_epi16(v2, v3);
  const __m256i x2 = _mm256_unpackhi_epi16(v0, v1), x3 = _mm256_unpackhi_epi16(v2, v3);
  // per lane: [col 0 | col 1], [col 2 | col 3], [col 4 | col 5], [col 6 | col 7]
  const __m256i c01 = _mm256_unpacklo_epi32(x0, x1), c23 = _mm256_unpackhi_epi32(x0, x1);
  const __m256i c45 = _mm256_unpacklo_epi32(x2, x3), c67 = _mm256_unpackhi_epi32(x2, x3);
  __m256i acc = _mm256_setzero_si256();
  for (int k = 0; k < 2; ++k) {
    const __m256i p = k ? c45 : c01, q = k ? c67 : c23;
    const __m256i s = _mm256_add_epi16(p, q), t = _mm256_sub_epi16(p, q);  // [c0+c2 | c1+c3], [c0-c2 | c1-c3]
    const __m256i x = _mm256_unpacklo_epi64(s, t), y = _mm256_unpackhi_epi64(s, t);
    acc = _mm256_add_epi16(acc, _mm256_max_epi16(_mm256_abs_epi16(x), _mm256_abs_epi16(y)));
  }
  return _mm256_madd_epi16(acc, _mm256_set1_epi16(1));
}
MVC_AVX2_FN inline int hsum_avx2(__m256i v) {
  __m128i t = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  t = _mm_add_epi32(t, _mm_srli_si128(t, 8));
  t = _mm_add_epi32(t, _mm_srli_si128(t, 4));
  return _mm_cvtsi128_si32(t);
}
// SATD of a w x h area with w a multiple of 16 and h of 8, or w = 8 and h a multiple of 16.
template <bool Avg = false>
MVC_AVX2_FN int satd_avx2(const uint8_t* a, int as, const uint8_t* b, int bs, int w, int h, const uint8_t* b2 = nullptr) {
  __m256i acc = _mm256_setzero_si256();
  if (w == 8) {
    for (int y = 0; y < h; y += 16)
      acc = _mm256_add_epi32(acc, satd2x8x8_avx2<true, Avg>(a + y * as, as, b + y * bs, bs, Avg ? b2 + y * bs : nullptr));
  } else {
    for (int y = 0; y < h; y += 8)
      for (int x = 0; x < w; x += 16)
        acc = _mm256_add_epi32(acc, satd2x8x8_avx2<false, Avg>(a + y * as + x, as, b + y * bs + x, bs,
                                                              Avg ? b2 + y * bs + x : nullptr));
  }
  return hsum_avx2(acc);
}
MVC_AVX2_FN int satd8x8_avx2_fn(const uint8_t* a, int as, const uint8_t* b, int bs) {
  return hsum_avx2(satd8x8_avx2(a, as, b, bs));
}
MVC_AVX2_FN int satd_avg8x8_avx2_fn(const uint8_t* a, int as, const uint8_t* b, const uint8_t* b2, int bs) {
  return hsum_avx2(satd8x8_avx2<true>(a, as, b, bs, b2));
}
// satd4x4_sse2 on two 4x4 blocks at once, one per 128-bit lane (every step works within lanes):
// an 8x4 area (left | right block), or with Stacked a 4x8 area (upper | lower block). Same value
// as two satd4x4, in half the instructions of satd8x4_sse2 (no masked butterflies).
template <bool Stacked, bool Avg = false>
MVC_AVX2_FN int satd2x4x4_avx2(const uint8_t* a, int as, const uint8_t* b, int bs, const uint8_t* b2 = nullptr) {
  // rows i and i + 1 of both blocks: [left i | left i+1 | right i | right i+1] as bytes
  auto rows2 = [](const uint8_t* p, int st, int i) {
    if (Stacked) {
      int32_t r[4];
      for (int j = 0; j < 4; ++j) std::memcpy(&r[j], p + (i + (j & 1) + (j & 2) * 2) * st, 4);
      return _mm_setr_epi32(r[0], r[1], r[2], r[3]);
    }
    return _mm_unpacklo_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + i * st)),
                              _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + (i + 1) * st)));
  };
  __m128i b01 = rows2(b, bs, 0), b23 = rows2(b, bs, 2);
  if (Avg) {
    b01 = _mm_avg_epu8(b01, rows2(b2, bs, 0));
    b23 = _mm_avg_epu8(b23, rows2(b2, bs, 2));
  }
  const __m256i d01 = _mm256_sub_epi16(_mm256_cvtepu8_epi16(rows2(a, as, 0)), _mm256_cvtepu8_epi16(b01));
  const __m256i d23 = _mm256_sub_epi16(_mm256_cvtepu8_epi16(rows2(a, as, 2)), _mm256_cvtepu8_epi16(b23));
  __m256i s = _mm256_add_epi16(d01, d23), t = _mm256_sub_epi16(d01, d23);
  __m256i u = _mm256_unpacklo_epi64(s, t), v = _mm256_unpackhi_epi64(s, t);
  const __m256i m0 = _mm256_add_epi16(u, v), m1 = _mm256_sub_epi16(u, v);
  const __m256i x0 = _mm256_unpacklo_epi16(m0, m1), x1 = _mm256_unpackhi_epi16(m0, m1);
  const __m256i p = _mm256_unpacklo_epi32(x0, x1), q = _mm256_unpackhi_epi32(x0, x1);
  s = _mm256_add_epi16(p, q); t = _mm256_sub_epi16(p, q);
  u = _mm256_unpacklo_epi64(s, t); v = _mm256_unpackhi_epi64(s, t);
  return hsum_avx2(_mm256_madd_epi16(_mm256_max_epi16(_mm256_abs_epi16(u), _mm256_abs_epi16(v)), _mm256_set1_epi16(1)));
}
template <int W, int H>
MVC_AVX2_FN int satd_wh_avx2(const uint8_t* a, int as, const uint8_t* b, int bs) {
  return satd_avx2(a, as, b, bs, W, H);
}
template <int W, int H>
MVC_AVX2_FN int satd_avg_wh_avx2(const uint8_t* a, int as, const uint8_t* b, const uint8_t* b2, int bs) {
  return satd_avx2<true>(a, as, b, bs, W, H, b2);
}
template <bool Stacked>
MVC_AVX2_FN int satd2x4x4_avx2_fn(const uint8_t* a, int as, const uint8_t* b, int bs) {
  return satd2x4x4_avx2<Stacked>(a, as, b, bs);
}
template <bool Stacked>
MVC_AVX2_FN int satd_avg2x4x4_avx2_fn(const uint8_t* a, int as, const uint8_t* b, const uint8_t* b2, int bs) {
  return satd2x4x4_avx2<Stacked, true>(a, as, b, bs, b2);
}
// avg_block of a 16-wide block with an even height, two rows per step
MVC_AVX2_FN void avg16_avx2(const uint8_t* a, const uint8_t* b, int st, uint8_t* d, int ds, int h) {
  for (int j = 0; j < h; j += 2, a += 2 * st, b += 2 * st, d += 2 * ds) {
    const __m256i va = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a))),
                                               _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + st)), 1);
    const __m256i vb = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b))),
                                               _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + st)), 1);
    const __m256i v = _mm256_avg_epu8(va, vb);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d), _mm256_castsi256_si128(v));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + ds), _mm256_extracti128_si256(v, 1));
  }
}
#endif
}  // namespace

int sad(const uint8_t* a, int as, const uint8_t* b, int bs, int w, int h) {
#if defined(__SSE2__)
  if (w == 16) return sad16_sse2(a, as, b, bs, h);
  if ((w & 15) == 0) {
    int s = 0;
    for (int x = 0; x < w; x += 16) s += sad16_sse2(a + x, as, b + x, bs, h);
    return s;
  }
  if (w == 8) return sad8_sse2(a, as, b, bs, h);
  if (w == 4 && (h & 1) == 0) return sad4_sse2(a, as, b, bs, h);
#endif
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
#if defined(__SSE2__)
  if (w == 4 && h == 4) return satd4x4_sse2(a, as, b, bs);
#endif
#if defined(MVC_PIXEL_AVX2)
  if (kHasAvx2 && w == 8 && h == 8) return satd8x8_avx2_fn(a, as, b, bs);
  if (kHasAvx2 && (((w & 15) == 0 && (h & 7) == 0) || (w == 8 && (h & 15) == 0))) return satd_avx2(a, as, b, bs, w, h);
#endif
#if defined(__SSE2__)
  if ((w & 7) == 0 && (h & 7) == 0) {
    for (int y = 0; y < h; y += 8)
      for (int x = 0; x < w; x += 8) s += satd8x8_sse2(a + y * as + x, as, b + y * bs + x, bs);
    return s;
  }
  if ((w & 7) == 0) {
    for (int y = 0; y < h; y += 4)
      for (int x = 0; x < w; x += 8) s += satd8x4_sse2<false>(a + y * as + x, as, b + y * bs + x, bs);
    return s;
  }
  if (w == 4) {
    int y = 0;
    for (; y + 8 <= h; y += 8) s += satd8x4_sse2<false, true>(a + y * as, as, b + y * bs, bs);  // 4x8 as one 8x4
    for (; y < h; y += 4) s += satd8x4_sse2<true>(a + y * as, as, b + y * bs, bs);
    return s;
  }
#endif
  for (int y = 0; y < h; y += 4)
    for (int x = 0; x < w; x += 4) s += satd4x4(a + y * as + x, as, b + y * bs + x, bs);
  return s;
}

int64_t ssd(const uint8_t* a, int as, const uint8_t* b, int bs, int w, int h) {
#if defined(__SSE2__)
  if ((w & 15) == 0 || w == 8 || (w == 4 && (h & 1) == 0)) {
    // uint32 lanes: each holds a quarter of the sum, exact for w * h < 2^18 (all block sizes used)
    const __m128i z = _mm_setzero_si128();
    __m128i acc = z;
    if ((w & 15) == 0) {
      for (int y = 0; y < h; ++y, a += as, b += bs)
        for (int x = 0; x < w; x += 16) {
          const __m128i va = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + x));
          const __m128i vb = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + x));
          const __m128i lo = _mm_sub_epi16(_mm_unpacklo_epi8(va, z), _mm_unpacklo_epi8(vb, z));
          const __m128i hi = _mm_sub_epi16(_mm_unpackhi_epi8(va, z), _mm_unpackhi_epi8(vb, z));
          acc = _mm_add_epi32(acc, _mm_add_epi32(_mm_madd_epi16(lo, lo), _mm_madd_epi16(hi, hi)));
        }
    } else if (w == 8) {
      for (int y = 0; y < h; ++y, a += as, b += bs) {
        const __m128i d = _mm_sub_epi16(_mm_unpacklo_epi8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(a)), z),
                                        _mm_unpacklo_epi8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(b)), z));
        acc = _mm_add_epi32(acc, _mm_madd_epi16(d, d));
      }
    } else {
      for (int y = 0; y < h; y += 2, a += 2 * as, b += 2 * bs) {
        int32_t a0, a1, b0, b1;
        std::memcpy(&a0, a, 4); std::memcpy(&a1, a + as, 4);
        std::memcpy(&b0, b, 4); std::memcpy(&b1, b + bs, 4);
        const __m128i va = _mm_unpacklo_epi32(_mm_cvtsi32_si128(a0), _mm_cvtsi32_si128(a1));
        const __m128i vb = _mm_unpacklo_epi32(_mm_cvtsi32_si128(b0), _mm_cvtsi32_si128(b1));
        const __m128i d = _mm_sub_epi16(_mm_unpacklo_epi8(va, z), _mm_unpacklo_epi8(vb, z));
        acc = _mm_add_epi32(acc, _mm_madd_epi16(d, d));
      }
    }
    // lanes are non-negative: widen as unsigned before the final sum
    const __m128i s64 = _mm_add_epi64(_mm_unpacklo_epi32(acc, z), _mm_unpackhi_epi32(acc, z));
    return int64_t(uint64_t(_mm_cvtsi128_si64(s64)) + uint64_t(_mm_cvtsi128_si64(_mm_unpackhi_epi64(s64, s64))));
  }
#endif
  int64_t s = 0;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const int d = int(a[y * as + x]) - int(b[y * bs + x]);
      s += d * d;
    }
  return s;
}

void sub_block(const uint8_t* a, int as, const uint8_t* b, int bs, int16_t* d, int w, int h) {
#if defined(__SSE2__)
  const __m128i z = _mm_setzero_si128();
  if (w >= 16) {
    for (int y = 0; y < h; ++y, a += as, b += bs)
      for (int x = 0; x < w; x += 16, d += 16) {
        const __m128i va = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + x));
        const __m128i vb = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + x));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(d), _mm_sub_epi16(_mm_unpacklo_epi8(va, z), _mm_unpacklo_epi8(vb, z)));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(d + 8), _mm_sub_epi16(_mm_unpackhi_epi8(va, z), _mm_unpackhi_epi8(vb, z)));
      }
    return;
  }
  if (w == 8) {
    for (int y = 0; y < h; ++y, a += as, b += bs, d += 8)
      _mm_storeu_si128(reinterpret_cast<__m128i*>(d),
                       _mm_sub_epi16(_mm_unpacklo_epi8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(a)), z),
                                     _mm_unpacklo_epi8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(b)), z)));
    return;
  }
#endif
  for (int y = 0; y < h; ++y, a += as, b += bs)
    for (int x = 0; x < w; ++x) *d++ = static_cast<int16_t>(int(a[x]) - int(b[x]));
}

void add_clip_block(const uint8_t* p, const int16_t* r, uint8_t* dst, int ds, int w, int h) {
#if defined(__SSE2__)
  const __m128i z = _mm_setzero_si128();
  if (w >= 16) {
    for (int y = 0; y < h; ++y, dst += ds)
      for (int x = 0; x < w; x += 16, p += 16, r += 16) {
        const __m128i vp = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        const __m128i lo = _mm_adds_epi16(_mm_unpacklo_epi8(vp, z), _mm_loadu_si128(reinterpret_cast<const __m128i*>(r)));
        const __m128i hi = _mm_adds_epi16(_mm_unpackhi_epi8(vp, z), _mm_loadu_si128(reinterpret_cast<const __m128i*>(r + 8)));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + x), _mm_packus_epi16(lo, hi));
      }
    return;
  }
  if (w == 8) {
    for (int y = 0; y < h; ++y, dst += ds, p += 8, r += 8) {
      const __m128i v = _mm_adds_epi16(_mm_unpacklo_epi8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)), z),
                                      _mm_loadu_si128(reinterpret_cast<const __m128i*>(r)));
      _mm_storel_epi64(reinterpret_cast<__m128i*>(dst), _mm_packus_epi16(v, v));
    }
    return;
  }
#endif
  for (int y = 0; y < h; ++y, dst += ds)
    for (int x = 0; x < w; ++x, ++p, ++r) {
      const int v = *p + *r;
      dst[x] = static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
    }
}

void avg_block(const uint8_t* a, const uint8_t* b, int st, uint8_t* d, int ds, int w, int h) {
#if defined(MVC_PIXEL_AVX2)
  if (kHasAvx2 && w == 16 && (h & 1) == 0) return avg16_avx2(a, b, st, d, ds, h);
#endif
#if defined(__SSE2__)
  if ((w & 15) == 0) {
    for (int j = 0; j < h; ++j, a += st, b += st, d += ds)
      for (int x = 0; x < w; x += 16)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(d + x), _mm_avg_epu8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + x)),
                                                                         _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + x))));
    return;
  }
  if (w == 8) {
    for (int j = 0; j < h; ++j, a += st, b += st, d += ds)
      _mm_storel_epi64(reinterpret_cast<__m128i*>(d), _mm_avg_epu8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(a)),
                                                                   _mm_loadl_epi64(reinterpret_cast<const __m128i*>(b))));
    return;
  }
  if (w == 4) {
    for (int j = 0; j < h; ++j, a += st, b += st, d += ds) {
      int32_t va, vb;
      std::memcpy(&va, a, 4); std::memcpy(&vb, b, 4);
      const int32_t v = _mm_cvtsi128_si32(_mm_avg_epu8(_mm_cvtsi32_si128(va), _mm_cvtsi32_si128(vb)));
      std::memcpy(d, &v, 4);
    }
    return;
  }
#endif
  for (int j = 0; j < h; ++j, a += st, b += st, d += ds)
    for (int i = 0; i < w; ++i) d[i] = static_cast<uint8_t>((a[i] + b[i] + 1) >> 1);
}

int64_t sum_squares(const int16_t* r, int n) {
#if defined(__SSE2__)
  // int32 lanes hold at most n / 4 squares of |r| <= 255 + 255: exact for n <= 4096
  const __m128i z = _mm_setzero_si128();
  __m128i acc = z;
  for (int i = 0; i < n; i += 8) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r + i));
    acc = _mm_add_epi32(acc, _mm_madd_epi16(v, v));
  }
  const __m128i s64 = _mm_add_epi64(_mm_unpacklo_epi32(acc, z), _mm_unpackhi_epi32(acc, z));
  return int64_t(uint64_t(_mm_cvtsi128_si64(s64)) + uint64_t(_mm_cvtsi128_si64(_mm_unpackhi_epi64(s64, s64))));
#else
  int64_t s = 0;
  for (int i = 0; i < n; ++i) s += int(r[i]) * r[i];
  return s;
#endif
}

namespace {
template <int W, int H>
int sad_wh(const uint8_t* a, int as, const uint8_t* b, int bs) {
#if defined(__SSE2__)
  if (W == 16) return sad16_sse2(a, as, b, bs, H);
  if (W == 8) return sad8_sse2(a, as, b, bs, H);
  return sad4_sse2(a, as, b, bs, H);
#else
  return sad_w<W>(a, as, b, bs, H);
#endif
}
template <int W, int H>
int satd_wh(const uint8_t* a, int as, const uint8_t* b, int bs) {
  int s = 0;
#if defined(__SSE2__)
  if (W == 4 && H == 4) {
    s = satd4x4_sse2(a, as, b, bs);
  } else if (W % 8 == 0 && H % 8 == 0) {
    for (int y = 0; y < H; y += 8)
      for (int x = 0; x < W; x += 8) s += satd8x8_sse2(a + y * as + x, as, b + y * bs + x, bs);
  } else if (W == 4 && H % 8 == 0) {
    for (int y = 0; y < H; y += 8) s += satd8x4_sse2<false, true>(a + y * as, as, b + y * bs, bs);
  } else {
    for (int y = 0; y < H; y += 4)
      for (int x = 0; x < W; x += 8 - 4 * (W == 4))
        s += W == 4 ? satd8x4_sse2<true>(a + y * as + x, as, b + y * bs + x, bs)
                    : satd8x4_sse2<false>(a + y * as + x, as, b + y * bs + x, bs);
  }
#else
  for (int y = 0; y < H; y += 4)
    for (int x = 0; x < W; x += 4) s += satd4x4(a + y * as + x, as, b + y * bs + x, bs);
#endif
  return s;
}
#if defined(__SSE2__)
template <int W, int H>
int satd_avg_wh(const uint8_t* a, int as, const uint8_t* b, const uint8_t* b2, int bs) {
  int s = 0;
  if (W == 4 && H == 4) {
    s = satd4x4_sse2<true>(a, as, b, bs, b2);
  } else if (W % 8 == 0 && H % 8 == 0) {
    for (int y = 0; y < H; y += 8)
      for (int x = 0; x < W; x += 8) s += satd8x8_sse2<true>(a + y * as + x, as, b + y * bs + x, bs, b2 + y * bs + x);
  } else if (W == 4 && H % 8 == 0) {
    for (int y = 0; y < H; y += 8) s += satd8x4_sse2<false, true, true>(a + y * as, as, b + y * bs, bs, b2 + y * bs);
  } else {
    for (int y = 0; y < H; y += 4)
      for (int x = 0; x < W; x += 8 - 4 * (W == 4))
        s += W == 4 ? satd8x4_sse2<true, false, true>(a + y * as + x, as, b + y * bs + x, bs, b2 + y * bs + x)
                    : satd8x4_sse2<false, false, true>(a + y * as + x, as, b + y * bs + x, bs, b2 + y * bs + x);
  }
  return s;
}
#else
template <int W, int H>
int satd_avg_wh(const uint8_t* a, int as, const uint8_t* b, const uint8_t* b2, int bs) {
  uint8_t avg[16 * 16];
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) avg[y * 16 + x] = static_cast<uint8_t>((b[y * bs + x] + b2[y * bs + x] + 1) >> 1);
  return satd_wh<W, H>(a, as, avg, 16);
}
#endif
int size_index(int w, int h) {
  const int iw = w == 4 ? 0 : w == 8 ? 1 : w == 16 ? 2 : -1;
  const int ih = h == 4 ? 0 : h == 8 ? 1 : h == 16 ? 2 : -1;
  return iw < 0 || ih < 0 ? -1 : iw * 3 + ih;
}
}  // namespace

PixelCmp sad_fn(int w, int h) {
  static const PixelCmp t[9] = {sad_wh<4, 4>,  sad_wh<4, 8>,  sad_wh<4, 16>,  sad_wh<8, 4>,  sad_wh<8, 8>,
                                sad_wh<8, 16>, sad_wh<16, 4>, sad_wh<16, 8>, sad_wh<16, 16>};
  const int i = size_index(w, h);
  return i < 0 ? nullptr : t[i];
}

PixelCmp satd_fn(int w, int h) {
  static const PixelCmp t[9] = {satd_wh<4, 4>,  satd_wh<4, 8>,  satd_wh<4, 16>,  satd_wh<8, 4>,  satd_wh<8, 8>,
                                satd_wh<8, 16>, satd_wh<16, 4>, satd_wh<16, 8>, satd_wh<16, 16>};
  const int i = size_index(w, h);
  if (i < 0) return nullptr;
#if defined(MVC_PIXEL_AVX2)
  if (kHasAvx2 && w == 8 && h == 4) return satd2x4x4_avx2_fn<false>;
  if (kHasAvx2 && w == 4 && h == 8) return satd2x4x4_avx2_fn<true>;
  if (kHasAvx2 && w == 8 && h == 8) return satd8x8_avx2_fn;
  if (kHasAvx2 && w == 8 && h == 16) return satd_wh_avx2<8, 16>;
  if (kHasAvx2 && w == 16 && h == 8) return satd_wh_avx2<16, 8>;
  if (kHasAvx2 && w == 16 && h == 16) return satd_wh_avx2<16, 16>;
#endif
  return t[i];
}

PixelCmpAvg satd_avg_fn(int w, int h) {
  static const PixelCmpAvg t[9] = {satd_avg_wh<4, 4>,  satd_avg_wh<4, 8>,  satd_avg_wh<4, 16>,
                                   satd_avg_wh<8, 4>,  satd_avg_wh<8, 8>,  satd_avg_wh<8, 16>,
                                   satd_avg_wh<16, 4>, satd_avg_wh<16, 8>, satd_avg_wh<16, 16>};
  const int i = size_index(w, h);
  if (i < 0) return nullptr;
#if defined(MVC_PIXEL_AVX2)
  if (kHasAvx2 && w == 8 && h == 4) return satd_avg2x4x4_avx2_fn<false>;
  if (kHasAvx2 && w == 4 && h == 8) return satd_avg2x4x4_avx2_fn<true>;
  if (kHasAvx2 && w == 8 && h == 8) return satd_avg8x8_avx2_fn;
  if (kHasAvx2 && w == 8 && h == 16) return satd_avg_wh_avx2<8, 16>;
  if (kHasAvx2 && w == 16 && h == 8) return satd_avg_wh_avx2<16, 8>;
  if (kHasAvx2 && w == 16 && h == 16) return satd_avg_wh_avx2<16, 16>;
#endif
  return t[i];
}

}  // namespace mvc
