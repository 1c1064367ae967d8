// Fractional sample interpolation (8.5.3.3.3): 8-tap luma and 4-tap chroma filters with the
// standard's 14-bit intermediate precision, then default weighted (uni) prediction (8.5.3.3.4.2).
#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

// SSE2 (x86-64 baseline) kernels, AVX2 ones chosen at run time; other CPUs run the scalar loops.
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__SSE2__) && defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__)) && !defined(MVC_NO_AVX2)
#define MVC_MC_AVX2 1
#include <immintrin.h>
#endif

#include "common/pixel.h"
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

#if defined(MVC_MC_AVX2)
#define MVC_AVX2_FN __attribute__((target("avx2")))
const bool kMcAvx2 = use_avx2();

MVC_AVX2_FN inline void store_u8x16(uint8_t* o, __m256i v16) {
  const __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi16(v16, v16), 0x08);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(o), _mm256_castsi256_si128(p));
}
// 16 samples of v16 (or, !full, the low lane's 8) as bytes
MVC_AVX2_FN inline void store_u8(uint8_t* o, __m256i v16, bool full) {
  if (full) store_u8x16(o, v16);
  else _mm_storel_epi64(reinterpret_cast<__m128i*>(o), _mm_packus_epi16(_mm256_castsi256_si128(v16), _mm256_castsi256_si128(v16)));
}
MVC_AVX2_FN inline __m256i tap_pair8(const int* c, int k) {  // taps k, k + 1 as pmaddubsw bytes
  // taps are signed: c[k + 1] * 256, not << 8 (a left shift of a negative value is UB)
  return _mm256_set1_epi16(static_cast<int16_t>(c[k + 1] * 256 | (c[k] & 0xff)));
}
MVC_AVX2_FN inline __m256i tap_pair16(const int* c, int k) {  // taps k, k + 1 as pmaddwd words
  return _mm256_set1_epi32(static_cast<int>((static_cast<uint32_t>(c[k + 1]) << 16) | (static_cast<uint32_t>(c[k]) & 0xffffu)));
}
// The luma 8-tap passes in AVX2 with interp()'s arithmetic, 16 outputs per step (8 in the low lane
// for a tail): horizontal and vertical-on-samples sums take sample pairs times tap pairs through
// pmaddubsw (every partial sum of the HEVC luma taps fits in 16 bits, so they equal the 16-bit
// sums of the SSE2 and scalar loops), vertical sums on the 16-bit intermediate use pmaddwd.
struct LumaTaps {
  __m256i hp[4], shuf[4];  // horizontal: byte tap pairs and the sample-pair shuffles
  __m256i vb[4], vw[4];    // vertical: byte tap pairs (on samples), word tap pairs (on 16-bit sums)
};
MVC_AVX2_FN void luma_taps(int fx, int fy, LumaTaps& t) {
  const int* cx = kLuma[fx];
  const int* cy = kLuma[fy];
  for (int k = 0; k < 4; ++k) {
    t.hp[k] = tap_pair8(cx, 2 * k);
    alignas(32) int8_t idx[32];
    for (int i = 0; i < 16; ++i) idx[i] = idx[16 + i] = static_cast<int8_t>(2 * k + (i >> 1) + (i & 1));
    t.shuf[k] = _mm256_load_si256(reinterpret_cast<const __m256i*>(idx));
    t.vb[k] = tap_pair8(cy, 2 * k);
    t.vw[k] = tap_pair16(cy, 2 * k);
  }
}
// horizontal sums of outputs x .. x + 15 (r: sample x - 3; lane 0 reads samples x - 3 .. x + 12,
// lane 1 x + 5 .. x + 20)
MVC_AVX2_FN inline __m256i luma_h16(const LumaTaps& t, const uint8_t* r) {
  const __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r))),
                                            _mm_loadu_si128(reinterpret_cast<const __m128i*>(r + 8)), 1);
  __m256i acc = _mm256_maddubs_epi16(_mm256_shuffle_epi8(v, t.shuf[0]), t.hp[0]);
  for (int k = 1; k < 4; ++k) acc = _mm256_add_epi16(acc, _mm256_maddubs_epi16(_mm256_shuffle_epi8(v, t.shuf[k]), t.hp[k]));
  return acc;
}
MVC_AVX2_FN inline __m128i luma_h8(const LumaTaps& t, const uint8_t* r) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r));
  __m128i acc = _mm_maddubs_epi16(_mm_shuffle_epi8(v, _mm256_castsi256_si128(t.shuf[0])), _mm256_castsi256_si128(t.hp[0]));
  for (int k = 1; k < 4; ++k)
    acc = _mm_add_epi16(acc, _mm_maddubs_epi16(_mm_shuffle_epi8(v, _mm256_castsi256_si128(t.shuf[k])), _mm256_castsi256_si128(t.hp[k])));
  return acc;
}
// (h + 32) >> 6 of horizontal sums: a horizontal-only phase
MVC_AVX2_FN inline __m256i luma_round_h(__m256i h) { return _mm256_srai_epi16(_mm256_add_epi16(h, _mm256_set1_epi16(32)), 6); }
// vertical filter on samples of output (x .. x + 15 or 7) at p, rows p - 3 st .. p + 4 st; rounded
MVC_AVX2_FN inline __m256i luma_v_u8(const LumaTaps& t, const uint8_t* p, int st, bool full) {
  __m256i acc = _mm256_setzero_si256();
  for (int k = 0; k < 4; ++k) {
    const uint8_t* ra = p + (2 * k - 3) * st;
    const __m128i a = full ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(ra)) : _mm_loadl_epi64(reinterpret_cast<const __m128i*>(ra));
    const __m128i b = full ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(ra + st)) : _mm_loadl_epi64(reinterpret_cast<const __m128i*>(ra + st));
    const __m256i pk = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_unpacklo_epi8(a, b)), _mm_unpackhi_epi8(a, b), 1);
    acc = _mm256_add_epi16(acc, _mm256_maddubs_epi16(pk, t.vb[k]));
  }
  return luma_round_h(acc);
}
// vertical filter on the 16-bit horizontal sums m (rows m .. m + 7 ms, the output's rows -3 .. 4);
// ((v >> 6) + 32) >> 6, per lane in sample order
MVC_AVX2_FN inline __m256i luma_v_w(const LumaTaps& t, const int16_t* m, int ms, bool full) {
  const __m256i r32 = _mm256_set1_epi32(32);
  __m256i lo = _mm256_setzero_si256(), hi = _mm256_setzero_si256();
  for (int k = 0; k < 4; ++k) {
    const int16_t* pa = m + 2 * k * ms;
    const __m256i ra = full ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(pa)) : _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(pa)));
    const __m256i rb = full ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(pa + ms)) : _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(pa + ms)));
    lo = _mm256_add_epi32(lo, _mm256_madd_epi16(_mm256_unpacklo_epi16(ra, rb), t.vw[k]));
    hi = _mm256_add_epi32(hi, _mm256_madd_epi16(_mm256_unpackhi_epi16(ra, rb), t.vw[k]));
  }
  lo = _mm256_srai_epi32(_mm256_add_epi32(_mm256_srai_epi32(lo, 6), r32), 6);
  hi = _mm256_srai_epi32(_mm256_add_epi32(_mm256_srai_epi32(hi, 6), r32), 6);
  return _mm256_packs_epi32(lo, hi);
}
// Rows of build_subpel_planes (w16 samples): horizontal sums, their horizontal-only phase, and a
// vertical phase on samples p (rows of stride st) or on sums m (stride ms).
MVC_AVX2_FN void luma_h_row_avx2(const LumaTaps& t, const uint8_t* r, int16_t* d, int w16) {
  for (int x = 0; x < w16; x += 16) _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + x), luma_h16(t, r + x));
}
MVC_AVX2_FN void luma_hout_row_avx2(const int16_t* m, uint8_t* o, int w16) {
  for (int x = 0; x < w16; x += 16) store_u8x16(o + x, luma_round_h(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(m + x))));
}
MVC_AVX2_FN void luma_v_row_avx2(const LumaTaps& t, const uint8_t* p, int st, const int16_t* m, int ms, uint8_t* o, int w16) {
  for (int x = 0; x < w16; x += 16) store_u8x16(o + x, m ? luma_v_w(t, m + x, ms, true) : luma_v_u8(t, p + x, st, true));
}
// Per-block luma interpolation for widths that are multiples of 8 (o: sample (0, 0), padded).
MVC_AVX2_FN void interp_luma_avx2(const uint8_t* o, int st, int fx, int fy, int w, int h, uint8_t* dst, int ds) {
  LumaTaps t;
  luma_taps(fx, fy, t);
  const int w16 = w & ~15;
  if (!fy) {  // horizontal only
    for (int y = 0; y < h; ++y) {
      const uint8_t* r = o + y * st - 3;
      uint8_t* d = dst + y * ds;
      for (int x = 0; x < w16; x += 16) store_u8x16(d + x, luma_round_h(luma_h16(t, r + x)));
      if (w16 < w) store_u8(d + w16, luma_round_h(_mm256_castsi128_si256(luma_h8(t, r + w16))), false);
    }
    return;
  }
  if (!fx) {  // vertical only, on the samples
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; x += 16) store_u8(dst + y * ds + x, luma_v_u8(t, o + y * st + x, st, x + 16 <= w), x + 16 <= w);
    return;
  }
  alignas(32) int16_t mid[(64 + 7) * 64];
  for (int y = 0; y < h + 7; ++y) {  // rows -3 .. h + 3
    const uint8_t* r = o + (y - 3) * st - 3;
    int16_t* m = mid + y * w;
    for (int x = 0; x < w16; x += 16) _mm256_storeu_si256(reinterpret_cast<__m256i*>(m + x), luma_h16(t, r + x));
    if (w16 < w) _mm_storeu_si128(reinterpret_cast<__m128i*>(m + w16), luma_h8(t, r + w16));
  }
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; x += 16) store_u8(dst + y * ds + x, luma_v_w(t, mid + y * w + x, w, x + 16 <= w), x + 16 <= w);
}
#endif

#if defined(MVC_MC_AVX2)
// 4-tap chroma interpolation of a Cb and a Cr block together (4 or 8 wide: Cb in the low lane,
// Cr in the high one), interp()'s arithmetic: tap pairs through pmaddubsw on sample pairs
// (horizontal, and vertical on samples; every pair sum of the chroma taps fits in 16 bits), then
// pmaddwd on the 16-bit horizontal sums.
// sums of outputs 0..7 of a Cb row (low lane) and a Cr row (high lane); ru, rv at sample -1
MVC_AVX2_FN inline __m256i chroma_hrow(const uint8_t* ru, const uint8_t* rv, __m256i s0, __m256i s1, __m256i h01, __m256i h23) {
  const __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(ru))),
                                            _mm_loadu_si128(reinterpret_cast<const __m128i*>(rv)), 1);
  return _mm256_add_epi16(_mm256_maddubs_epi16(_mm256_shuffle_epi8(v, s0), h01), _mm256_maddubs_epi16(_mm256_shuffle_epi8(v, s1), h23));
}
MVC_AVX2_FN inline __m128i chroma_row_pairs(const uint8_t* p, int st) {  // samples of rows 0 and 1 interleaved
  return _mm_unpacklo_epi8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)), _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + st)));
}
MVC_AVX2_FN inline void chroma_store(int w, __m256i v16, uint8_t* du, uint8_t* dv) {  // Cb low lane, Cr high
  const __m256i b = _mm256_packus_epi16(v16, v16);
  const __m128i lo = _mm256_castsi256_si128(b), hi = _mm256_extracti128_si256(b, 1);
  if (w == 8) {
    _mm_storel_epi64(reinterpret_cast<__m128i*>(du), lo);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(dv), hi);
  } else {
    const int32_t a = _mm_cvtsi128_si32(lo), c = _mm_cvtsi128_si32(hi);
    std::memcpy(du, &a, 4);
    std::memcpy(dv, &c, 4);
  }
}
MVC_AVX2_FN void interp_chroma_uv_avx2(const uint8_t* ou, int su, const uint8_t* ov, int sv, int fx, int fy, int w, int h,
                                       uint8_t* du, int dsu, uint8_t* dv, int dsv) {
  const int* cx = kChroma[fx];
  const int* cy = kChroma[fy];
  const __m256i s0 = _mm256_setr_epi8(0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8);
  const __m256i s1 = _mm256_setr_epi8(2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10);
  const __m256i h01 = tap_pair8(cx, 0), h23 = tap_pair8(cx, 2), v01 = tap_pair8(cy, 0), v23 = tap_pair8(cy, 2);
  const __m256i r32w = _mm256_set1_epi16(32), r32d = _mm256_set1_epi32(32);
  if (!fy) {
    for (int y = 0; y < h; ++y)
      chroma_store(w, _mm256_srai_epi16(_mm256_add_epi16(chroma_hrow(ou + y * su - 1, ov + y * sv - 1, s0, s1, h01, h23), r32w), 6),
                   du + y * dsu, dv + y * dsv);
    return;
  }
  if (!fx) {  // vertical only, on sample pairs of rows k and k + 1
    for (int y = 0; y < h; ++y) {
      const uint8_t* pu = ou + (y - 1) * su;
      const uint8_t* pv = ov + (y - 1) * sv;
      const __m256i a = _mm256_inserti128_si256(_mm256_castsi128_si256(chroma_row_pairs(pu, su)), chroma_row_pairs(pv, sv), 1);
      const __m256i b = _mm256_inserti128_si256(_mm256_castsi128_si256(chroma_row_pairs(pu + 2 * su, su)), chroma_row_pairs(pv + 2 * sv, sv), 1);
      const __m256i acc = _mm256_add_epi16(_mm256_maddubs_epi16(a, v01), _mm256_maddubs_epi16(b, v23));
      chroma_store(w, _mm256_srai_epi16(_mm256_add_epi16(acc, r32w), 6), du + y * dsu, dv + y * dsv);
    }
    return;
  }
  __m256i mid[32 + 3];
  for (int y = 0; y < h + 3; ++y) mid[y] = chroma_hrow(ou + (y - 1) * su - 1, ov + (y - 1) * sv - 1, s0, s1, h01, h23);
  const __m256i p01 = tap_pair16(cy, 0), p23 = tap_pair16(cy, 2);
  for (int y = 0; y < h; ++y) {
    __m256i lo = _mm256_add_epi32(_mm256_madd_epi16(_mm256_unpacklo_epi16(mid[y], mid[y + 1]), p01),
                                  _mm256_madd_epi16(_mm256_unpacklo_epi16(mid[y + 2], mid[y + 3]), p23));
    __m256i hi = _mm256_add_epi32(_mm256_madd_epi16(_mm256_unpackhi_epi16(mid[y], mid[y + 1]), p01),
                                  _mm256_madd_epi16(_mm256_unpackhi_epi16(mid[y + 2], mid[y + 3]), p23));
    lo = _mm256_srai_epi32(_mm256_add_epi32(_mm256_srai_epi32(lo, 6), r32d), 6);
    hi = _mm256_srai_epi32(_mm256_add_epi32(_mm256_srai_epi32(hi, 6), r32d), 6);
    chroma_store(w, _mm256_packs_epi32(lo, hi), du + y * dsu, dv + y * dsv);
  }
}
#endif

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

#if defined(__SSE2__)
// 8 (or, with W4, 4) samples from p as 16-bit lanes; W4 reads only 4 bytes.
template <bool W4>
inline __m128i load_u8x8(const uint8_t* p) {
  if (W4) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return _mm_unpacklo_epi8(_mm_cvtsi32_si128(v), _mm_setzero_si128());
  }
  return _mm_unpacklo_epi8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)), _mm_setzero_si128());
}
template <bool W4>
inline void store_u8x8(uint8_t* p, __m128i v16) {
  const __m128i b = _mm_packus_epi16(v16, v16);
  if (W4) {
    const int32_t v = _mm_cvtsi128_si32(b);
    std::memcpy(p, &v, 4);
  } else {
    _mm_storel_epi64(reinterpret_cast<__m128i*>(p), b);
  }
}

// The passes of interp() with SSE2 for widths that are multiples of 4 (W4: width 4), same
// arithmetic: horizontal sums are exact in 16 bits (at most 112 * 255), vertical sums on the
// 14-bit intermediate use pmaddwd on pairs of taps.
template <int TAPS, bool W4>
void interp_sse2(const uint8_t* o, int st, int fx, int fy, const int* cx, const int* cy, int w, int h, uint8_t* dst,
                 int ds) {
  constexpr int half = TAPS / 2 - 1;
  const int step = W4 ? 4 : 8;
  __m128i hc[TAPS], vp[TAPS / 2];
  for (int k = 0; k < TAPS; ++k) hc[k] = _mm_set1_epi16(static_cast<int16_t>(cx[k]));
  for (int k = 0; k < TAPS / 2; ++k)
    vp[k] = _mm_set1_epi32(static_cast<int>((static_cast<uint32_t>(cy[2 * k + 1]) << 16) | (static_cast<uint32_t>(cy[2 * k]) & 0xffffu)));
  const __m128i r32 = _mm_set1_epi16(32);
  if (!fx) {  // vertical only, on the samples: exact in 16 bits
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; x += step) {
        __m128i acc = _mm_setzero_si128();
        for (int k = 0; k < TAPS; ++k)
          acc = _mm_add_epi16(acc, _mm_mullo_epi16(load_u8x8<W4>(o + (y + k - half) * st + x), _mm_set1_epi16(static_cast<int16_t>(cy[k]))));
        store_u8x8<W4>(dst + y * ds + x, _mm_srai_epi16(_mm_add_epi16(acc, r32), 6));
      }
    return;
  }
  alignas(16) int16_t mid[(64 + 8) * 64];
  const int y0 = fy ? -half : 0, rows = fy ? h + TAPS - 1 : h;
  for (int y = 0; y < rows; ++y) {
    const uint8_t* r = o + (y + y0) * st - half;
    for (int x = 0; x < w; x += step) {
      __m128i acc = _mm_setzero_si128();
      for (int k = 0; k < TAPS; ++k) acc = _mm_add_epi16(acc, _mm_mullo_epi16(load_u8x8<W4>(r + x + k), hc[k]));
      if (W4) _mm_storel_epi64(reinterpret_cast<__m128i*>(mid + y * w + x), acc);
      else _mm_storeu_si128(reinterpret_cast<__m128i*>(mid + y * w + x), acc);
    }
  }
  if (!fy) {
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; x += step) {
        const __m128i m = W4 ? _mm_loadl_epi64(reinterpret_cast<const __m128i*>(mid + y * w + x))
                             : _mm_loadu_si128(reinterpret_cast<const __m128i*>(mid + y * w + x));
        store_u8x8<W4>(dst + y * ds + x, _mm_srai_epi16(_mm_add_epi16(m, r32), 6));
      }
    return;
  }
  const __m128i r32d = _mm_set1_epi32(32);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; x += step) {
      __m128i lo = _mm_setzero_si128(), hi = _mm_setzero_si128();
      for (int k = 0; k < TAPS / 2; ++k) {
        const int16_t* pa = mid + (y + 2 * k) * w + x;
        const __m128i ra = W4 ? _mm_loadl_epi64(reinterpret_cast<const __m128i*>(pa)) : _mm_loadu_si128(reinterpret_cast<const __m128i*>(pa));
        const __m128i rb = W4 ? _mm_loadl_epi64(reinterpret_cast<const __m128i*>(pa + w)) : _mm_loadu_si128(reinterpret_cast<const __m128i*>(pa + w));
        lo = _mm_add_epi32(lo, _mm_madd_epi16(_mm_unpacklo_epi16(ra, rb), vp[k]));
        if (!W4) hi = _mm_add_epi32(hi, _mm_madd_epi16(_mm_unpackhi_epi16(ra, rb), vp[k]));
      }
      lo = _mm_srai_epi32(_mm_add_epi32(_mm_srai_epi32(lo, 6), r32d), 6);
      hi = _mm_srai_epi32(_mm_add_epi32(_mm_srai_epi32(hi, 6), r32d), 6);
      store_u8x8<W4>(dst + y * ds + x, _mm_packs_epi32(lo, hi));
    }
}
#endif

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
#if defined(MVC_MC_AVX2)
  if (TAPS == 8 && kMcAvx2 && (w & 7) == 0) return interp_luma_avx2(o, st, fx, fy, w, h, dst, ds);
#endif
#if defined(__SSE2__)
  if (w == 4) return interp_sse2<TAPS, true>(o, st, fx, fy, cx, cy, w, h, dst, ds);
  if ((w & 7) == 0) return interp_sse2<TAPS, false>(o, st, fx, fy, cx, cy, w, h, dst, ds);
#endif
  int16_t mid[(64 + 8) * 64];
  int rows;
  const int16_t* m;
  if (fx) {  // horizontal pass (shift1 = BitDepth - 8 = 0); all rows the vertical pass needs
    const int y0 = fy ? -half : 0;
    rows = fy ? h + TAPS - 1 : h;
    for (int y = 0; y < rows; ++y) {
      const uint8_t* r = o + (y + y0) * st - half;
      int16_t* d = mid + y * w;
      int32_t acc[64];
      std::fill_n(acc, w, 0);
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
      int32_t acc[64];
      std::fill_n(acc, w, 0);
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
    int32_t acc[64];
    std::fill_n(acc, w, 0);
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

void mc_chroma(const Plane& u, const Plane& v, int xc, int yc, int w, int h, Mv mv, uint8_t* du, int dsu, uint8_t* dv, int dsv) {
  const int fx = mv.x & 7, fy = mv.y & 7;  // chroma mv in 1/8 sample units (4:2:0)
  const int xi = xc + (mv.x >> 3), yi = yc + (mv.y >> 3);
#if defined(MVC_MC_AVX2)
  if (kMcAvx2 && (w == 4 || w == 8) && h <= 32 && (fx || fy)) {
    // windows of (w + 3) x (h + 3) samples; the kernel's 16-byte row loads may read past a
    // gathered window's row, so the buffers leave room after the last one
    uint8_t tu[(8 + 3) * (32 + 3) + 16], tv[(8 + 3) * (32 + 3) + 16];
    int su, sv;
    const uint8_t* wu = window(u, xi - 1, yi - 1, w + 3, h + 3, tu, su);
    const uint8_t* wv = window(v, xi - 1, yi - 1, w + 3, h + 3, tv, sv);
    interp_chroma_uv_avx2(wu + su + 1, su, wv + sv + 1, sv, fx, fy, w, h, du, dsu, dv, dsv);
    return;
  }
#endif
  interp<4>(u, xi, yi, fx, fy, kChroma[fx], kChroma[fy], w, h, du, dsu);
  interp<4>(v, xi, yi, fx, fy, kChroma[fx], kChroma[fy], w, h, dv, dsv);
}


// The half-sample phases (2, 8 and 10; see RefPic::sub): the horizontal half phase is filtered once
// into a 16-bit plane that its vertical half phase then reads (the same arithmetic as interp(), so
// the planes equal per-block interpolation exactly).
void build_subpel_planes(const Plane& ref, Plane* sub, int margin) {
  const int x0 = -margin, y0 = -margin, w = ref.width + 2 * margin, h = ref.height + 2 * margin;
  for (int ph : kHalfPhases)  // reused planes keep their buffers: every sample read is rewritten below
    if (sub[ph].width != ref.width || sub[ph].height != ref.height || sub[ph].pad != ref.pad)
      sub[ph].alloc(ref.width, ref.height, ref.pad);
  if (margin + 4 > ref.pad) {  // too little padding for direct access: per-block path clamps
    for (int ph : kHalfPhases) {
      const int fx = ph & 3, fy = ph >> 2;
      for (int y = y0; y < y0 + h; y += 64)
        for (int x = x0; x < x0 + w; x += 64)
          interp<8>(ref, x, y, fx, fy, kLuma[fx], kLuma[fy], std::min(64, x0 + w - x), std::min(64, y0 + h - y),
                    sub[ph].at(x, y), sub[ph].stride);
    }
    return;
  }
  const int rows = h + 7;
#if defined(__SSE2__)
  const int wv = w & ~7;  // SSE2 part; the remaining columns run the scalar loops
  const __m128i zero = _mm_setzero_si128();
#else
  const int wv = 0;
#endif
#if defined(MVC_MC_AVX2)
  const int w16 = kMcAvx2 ? (w & ~15) : 0;  // AVX2 part, before the SSE2 one
  LumaTaps taps;  // the half-sample filter both ways
  if (w16) luma_taps(2, 2, taps);
#else
  const int w16 = 0;
#endif
  // every intermediate sample read below is written first: no need to zero the buffer
  std::unique_ptr<int16_t[]> mid_buf(new int16_t[static_cast<size_t>(rows) * w + 8]);
  int16_t* const mid = mid_buf.get();
  for (int fx = 0; fx < 4; fx += 2) {  // integer and half horizontal phase
    const int* cx = kLuma[fx];
    if (fx) {
      for (int y = 0; y < rows; ++y) {  // rows y0-3 .. y0+h+3
        const uint8_t* r = ref.at(x0 - 3, y0 - 3 + y);
        int16_t* d = mid + static_cast<size_t>(y) * w;
#if defined(MVC_MC_AVX2)
        luma_h_row_avx2(taps, r, d, w16);
#endif
#if defined(__SSE2__)
        for (int x = w16; x < wv; x += 8) {  // partial sums stay within 112 * 255: exact in 16 bits
          __m128i acc = zero;
          for (int k = 0; k < 8; ++k) {
            if (!cx[k]) continue;
            const __m128i v = _mm_unpacklo_epi8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(r + x + k)), zero);
            acc = _mm_add_epi16(acc, _mm_mullo_epi16(v, _mm_set1_epi16(static_cast<int16_t>(cx[k]))));
          }
          _mm_storeu_si128(reinterpret_cast<__m128i*>(d + x), acc);
        }
#endif
        for (int x = wv; x < w; ++x) {
          int sacc = 0;
          for (int k = 0; k < 8; ++k) sacc += cx[k] * r[x + k];
          d[x] = static_cast<int16_t>(sacc);
        }
      }
      for (int y = 0; y < h; ++y) {
        const int16_t* m = mid + static_cast<size_t>(y + 3) * w;
        uint8_t* o = sub[fx].at(x0, y0 + y);
#if defined(MVC_MC_AVX2)
        luma_hout_row_avx2(m, o, w16);
#endif
#if defined(__SSE2__)
        for (int x = w16; x < wv; x += 8) {
          const __m128i v = _mm_srai_epi16(_mm_add_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(m + x)), _mm_set1_epi16(32)), 6);
          _mm_storel_epi64(reinterpret_cast<__m128i*>(o + x), _mm_packus_epi16(v, v));
        }
#endif
        for (int x = wv; x < w; ++x) o[x] = clip1((m[x] + 32) >> 6);
      }
    }
#if defined(MVC_MC_AVX2)
    for (int y = 0; y < h && w16; ++y) {  // the vertical half phase of this horizontal phase
      uint8_t* o = sub[8 + fx].at(x0, y0 + y);
      if (fx) luma_v_row_avx2(taps, nullptr, 0, mid + static_cast<size_t>(y) * w, w, o, w16);
      else luma_v_row_avx2(taps, ref.at(x0, y0 + y), ref.stride, nullptr, 0, o, w16);
    }
#endif
    const int* cy = kLuma[2];  // the vertical half phase, SSE2 and scalar columns
    Plane& op = sub[8 + fx];
#if defined(__SSE2__)
    __m128i cpair[4];
    for (int k = 0; k < 4; ++k)
      cpair[k] = _mm_set1_epi32(static_cast<int>((static_cast<uint32_t>(cy[2 * k + 1]) << 16) | (static_cast<uint32_t>(cy[2 * k]) & 0xffffu)));
#endif
    for (int y = 0; y < h; ++y) {
      uint8_t* o = op.at(x0, y0 + y);
#if defined(__SSE2__)
      for (int x = w16; x < wv; x += 8) {  // pairs of taps through pmaddwd, exact 32-bit sums
        __m128i lo = zero, hi = zero;
        for (int k = 0; k < 4; ++k) {
          __m128i ra, rb;
          if (fx) {
            ra = _mm_loadu_si128(reinterpret_cast<const __m128i*>(mid + static_cast<size_t>(y + 2 * k) * w + x));
            rb = _mm_loadu_si128(reinterpret_cast<const __m128i*>(mid + static_cast<size_t>(y + 2 * k + 1) * w + x));
          } else {
            ra = _mm_unpacklo_epi8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(ref.at(x0 + x, y0 + y + 2 * k - 3))), zero);
            rb = _mm_unpacklo_epi8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(ref.at(x0 + x, y0 + y + 2 * k - 2))), zero);
          }
          lo = _mm_add_epi32(lo, _mm_madd_epi16(_mm_unpacklo_epi16(ra, rb), cpair[k]));
          hi = _mm_add_epi32(hi, _mm_madd_epi16(_mm_unpackhi_epi16(ra, rb), cpair[k]));
        }
        if (fx) {
          lo = _mm_srai_epi32(lo, 6);
          hi = _mm_srai_epi32(hi, 6);
        }
        lo = _mm_srai_epi32(_mm_add_epi32(lo, _mm_set1_epi32(32)), 6);
        hi = _mm_srai_epi32(_mm_add_epi32(hi, _mm_set1_epi32(32)), 6);
        const __m128i p16 = _mm_packs_epi32(lo, hi);
        _mm_storel_epi64(reinterpret_cast<__m128i*>(o + x), _mm_packus_epi16(p16, p16));
      }
#endif
      for (int x = wv; x < w; ++x) {
        int sacc = 0;
        for (int k = 0; k < 8; ++k)
          sacc += cy[k] * (fx ? int(mid[static_cast<size_t>(y + k) * w + x]) : int(*ref.at(x0 + x, y0 + y + k - 3)));
        o[x] = fx ? clip1(((sacc >> 6) + 32) >> 6) : clip1((sacc + 32) >> 6);
      }
    }
  }
}

const uint8_t* predict_luma_quarter_est(const RefPic& r, int x, int y, int w, int h, Mv mv, uint8_t* buf, int& stride) {
  // the two neighbours on the half-sample grid: across the odd component(s); with both odd, the
  // horizontal half sample in the nearer row and the vertical one in the nearer column
  const int fx = mv.x & 3, fy = mv.y & 3, bx = mv.x - fx, by = mv.y - fy;
  Mv a = mv, b = mv;
  if ((fx & 1) && (fy & 1)) {
    a = Mv{int16_t(bx + 2), int16_t(by + fy - 1 + (fy >> 1) * 2)};
    b = Mv{int16_t(bx + fx - 1 + (fx >> 1) * 2), int16_t(by + 2)};
  } else if (fx & 1) {
    a.x = int16_t(mv.x - 1);
    b.x = int16_t(mv.x + 1);
  } else {
    a.y = int16_t(mv.y - 1);
    b.y = int16_t(mv.y + 1);
  }
  int sa, sb;
  const uint8_t* pa = r.qpel(x, y, w, h, a, sa);
  const uint8_t* pb = pa ? r.qpel(x, y, w, h, b, sb) : nullptr;
  if (!pb || sa != sb) {  // beyond the planes' margin: the exact prediction (rare)
    mc_luma(r.rec.y, x, y, w, h, mv, buf, 64);
  } else {
    avg_block(pa, pb, sa, buf, 64, w, h);
  }
  stride = 64;
  return buf;
}

}  // namespace hevc
}  // namespace mvc
