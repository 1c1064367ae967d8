// Fractional-sample interpolation (H.264 8.4.2.2): half-sample planes are built once per
// reference picture (6-tap filter), quarter samples are the rounded average of two
// neighbouring full/half samples, chroma is 1/8-sample bilinear.
#include <algorithm>
#include <cstddef>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define JM_HPEL_AVX2 1
#endif

#include "common/pixel.h"
#include "jm/h264.h"

namespace mvc {
namespace h264 {

namespace {
#if defined(JM_HPEL_AVX2)
// Sixteen samples per step of the half-sample filters (same arithmetic as the SSE2 loops in
// build_hpel), compiled for AVX2 and used only where the CPU has it.
const bool kHpelAvx2 = use_avx2();  // honours MVCLASS_NO_AVX2 like every other kernel

__attribute__((target("avx2"))) inline __m256i widen16(const uint8_t* p) {
  return _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
__attribute__((target("avx2"))) inline void store_bytes16(uint8_t* d, __m256i v16) {  // v16: 16 int16 -> 16 clipped bytes
  const __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi16(v16, _mm256_setzero_si256()), 0xD8);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(d), _mm256_castsi256_si128(p));
}
__attribute__((target("avx2"))) inline __m256i tap6(__m256i a, __m256i b, __m256i c, __m256i d, __m256i e, __m256i f) {
  return _mm256_add_epi16(_mm256_add_epi16(a, f), _mm256_sub_epi16(_mm256_mullo_epi16(_mm256_add_epi16(c, d), _mm256_set1_epi16(20)),
                                                                   _mm256_mullo_epi16(_mm256_add_epi16(b, e), _mm256_set1_epi16(5))));
}
// Horizontal half samples of row r for x in [x, xend], 16 at a time; returns the first x left.
__attribute__((target("avx2"))) int hpel_h_avx2(const uint8_t* r, int x, int xend, int16_t* bo, uint8_t* ho) {
  const __m256i c16 = _mm256_set1_epi16(16);
  for (; x + 15 <= xend; x += 16) {
    const __m256i v = tap6(widen16(r + x - 2), widen16(r + x - 1), widen16(r + x), widen16(r + x + 1), widen16(r + x + 2),
                           widen16(r + x + 3));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(bo + x), v);
    store_bytes16(ho + x, _mm256_srai_epi16(_mm256_add_epi16(v, c16), 5));
  }
  return x;
}
// Vertical (from samples) and centre (from the horizontal intermediates) half samples.
__attribute__((target("avx2"))) int hpel_vc_avx2(const uint8_t* const* g, const int16_t* const* b, int x, int xend, uint8_t* vo,
                                                 uint8_t* co) {
  const __m256i c16 = _mm256_set1_epi16(16), one = _mm256_set1_epi16(1), m5 = _mm256_set1_epi16(-5), c20 = _mm256_set1_epi16(20);
  const __m256i p512 = _mm256_set1_epi32(512);
  for (; x + 15 <= xend; x += 16) {
    const __m256i v = tap6(widen16(g[0] + x), widen16(g[1] + x), widen16(g[2] + x), widen16(g[3] + x), widen16(g[4] + x), widen16(g[5] + x));
    store_bytes16(vo + x, _mm256_srai_epi16(_mm256_add_epi16(v, c16), 5));
    __m256i r[6];
    for (int k = 0; k < 6; ++k) r[k] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[k] + x));
    __m256i lo = _mm256_add_epi32(_mm256_add_epi32(_mm256_madd_epi16(_mm256_unpacklo_epi16(r[0], r[5]), one),
                                                   _mm256_madd_epi16(_mm256_unpacklo_epi16(r[1], r[4]), m5)),
                                  _mm256_madd_epi16(_mm256_unpacklo_epi16(r[2], r[3]), c20));
    __m256i hi = _mm256_add_epi32(_mm256_add_epi32(_mm256_madd_epi16(_mm256_unpackhi_epi16(r[0], r[5]), one),
                                                   _mm256_madd_epi16(_mm256_unpackhi_epi16(r[1], r[4]), m5)),
                                  _mm256_madd_epi16(_mm256_unpackhi_epi16(r[2], r[3]), c20));
    lo = _mm256_srai_epi32(_mm256_add_epi32(lo, p512), 10);
    hi = _mm256_srai_epi32(_mm256_add_epi32(hi, p512), 10);
    store_bytes16(co + x, _mm256_packs_epi32(lo, hi));  // in-lane packs keep samples in order
  }
  return x;
}
#endif

}  // namespace

// Fills everything outside [x0, x1] x [y0, y1] of p by replicating the nearest core sample.
static void replicate_core(Plane& p, int x0, int x1, int y0, int y1) {
  const int left = x0 + p.pad, right = p.width + p.pad - 1 - x1;
  for (int y = y0; y <= y1; ++y) {
    uint8_t* row = p.at(0, y);
    std::memset(row - p.pad, row[x0], static_cast<size_t>(left));
    std::memset(row + x1 + 1, row[x1], static_cast<size_t>(right));
  }
  for (int y = -p.pad; y < y0; ++y) std::memcpy(p.at(-p.pad, y), p.at(-p.pad, y0), static_cast<size_t>(p.stride));
  for (int y = y1 + 1; y < p.height + p.pad; ++y) std::memcpy(p.at(-p.pad, y), p.at(-p.pad, y1), static_cast<size_t>(p.stride));
}

void RefPic::build_hpel() {
  const Plane& g = pic.y;
  for (Plane* p : {&hpel_h, &hpel_v, &hpel_c})  // recycled pictures keep their planes: every sample is rewritten
    if (p->width != g.width || p->height != g.height || p->pad != g.pad) p->alloc(g.width, g.height, g.pad);
  // Only a core 3 samples beyond the picture is filtered: further out every tap reads the same
  // replicated edge sample, so the half-sample planes replicate their core's edges (filled below).
  // Taps clamped to the core equal taps clamped to the picture for the same reason.
  const int x0 = -3, x1 = g.width + 1, y0 = -3, y1 = g.height + 1;
  const int W = x1 - x0 + 1, H = y1 - y0 + 1;
  thread_local std::vector<int16_t> b1;  // kept between pictures: no page faults per picture
  b1.resize(static_cast<size_t>(W) * H);
  for (int y = y0; y <= y1; ++y) {
    const uint8_t* r = g.at(0, y);
    int16_t* bo = b1.data() + static_cast<size_t>(y - y0) * W;
    uint8_t* ho = hpel_h.at(0, y);
    auto tap = [&](int x, int v) { bo[x - x0] = static_cast<int16_t>(v); ho[x] = clip1((v + 16) >> 5); };
    for (int x = x0; x <= x1; ++x) {
      if (x == x0 + 2) {  // interior: no clamping needed
#if defined(JM_HPEL_AVX2)
        if (kHpelAvx2) x = hpel_h_avx2(r, x, x1 - 3, bo - x0, ho);
#endif
#if defined(__SSE2__)
        const __m128i z = _mm_setzero_si128(), c5 = _mm_set1_epi16(5), c20 = _mm_set1_epi16(20), c16 = _mm_set1_epi16(16);
        for (; x + 7 <= x1 - 3; x += 8) {
          auto ld = [&](int k) { return _mm_unpacklo_epi8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(r + x + k)), z); };
          const __m128i v = _mm_add_epi16(
              _mm_add_epi16(ld(-2), ld(3)),
              _mm_sub_epi16(_mm_mullo_epi16(_mm_add_epi16(ld(0), ld(1)), c20), _mm_mullo_epi16(_mm_add_epi16(ld(-1), ld(2)), c5)));
          _mm_storeu_si128(reinterpret_cast<__m128i*>(bo + (x - x0)), v);
          _mm_storel_epi64(reinterpret_cast<__m128i*>(ho + x), _mm_packus_epi16(_mm_srai_epi16(_mm_add_epi16(v, c16), 5), z));
        }
#endif
        for (; x <= x1 - 3; ++x)
          tap(x, r[x - 2] - 5 * r[x - 1] + 20 * r[x] + 20 * r[x + 1] - 5 * r[x + 2] + r[x + 3]);
        if (x > x1) break;
      }
      auto s = [&](int k) { return int(r[std::min(std::max(x + k, x0), x1)]); };
      tap(x, s(-2) - 5 * s(-1) + 20 * s(0) + 20 * s(1) - 5 * s(2) + s(3));
    }
  }
  for (int y = y0; y <= y1; ++y) {
    const int16_t* rows[6];
    const uint8_t* grows[6];
    for (int k = 0; k < 6; ++k) {
      const int yy = std::min(std::max(y + k - 2, y0), y1);
      rows[k] = b1.data() + static_cast<size_t>(yy - y0) * W;
      grows[k] = g.at(0, yy);
    }
    uint8_t* vo = hpel_v.at(0, y);
    uint8_t* co = hpel_c.at(0, y);
    int x = x0;
#if defined(JM_HPEL_AVX2)
    if (kHpelAvx2) {
      const int16_t* brows[6];
      for (int k = 0; k < 6; ++k) brows[k] = rows[k] - x0;
      x = hpel_vc_avx2(grows, brows, x, x1, vo, co);
    }
#endif
#if defined(__SSE2__)
    {
      const __m128i z = _mm_setzero_si128(), c5 = _mm_set1_epi16(5), c20 = _mm_set1_epi16(20), c16 = _mm_set1_epi16(16);
      const __m128i one = _mm_set1_epi16(1), m5 = _mm_set1_epi16(-5), p512 = _mm_set1_epi32(512);
      for (; x + 7 <= x1; x += 8) {
        auto g = [&](int k) { return _mm_unpacklo_epi8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(grows[k] + x)), z); };
        const __m128i v = _mm_add_epi16(
            _mm_add_epi16(g(0), g(5)),
            _mm_sub_epi16(_mm_mullo_epi16(_mm_add_epi16(g(2), g(3)), c20), _mm_mullo_epi16(_mm_add_epi16(g(1), g(4)), c5)));
        _mm_storel_epi64(reinterpret_cast<__m128i*>(vo + x), _mm_packus_epi16(_mm_srai_epi16(_mm_add_epi16(v, c16), 5), z));
        auto b = [&](int k) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[k] + (x - x0))); };
        const __m128i b0 = b(0), b1v = b(1), b2 = b(2), b3 = b(3), b4 = b(4), b5 = b(5);
        const __m128i c20x = _mm_set1_epi16(20);
        __m128i lo = _mm_add_epi32(_mm_add_epi32(_mm_madd_epi16(_mm_unpacklo_epi16(b0, b5), one),
                                                 _mm_madd_epi16(_mm_unpacklo_epi16(b1v, b4), m5)),
                                   _mm_madd_epi16(_mm_unpacklo_epi16(b2, b3), c20x));
        __m128i hi = _mm_add_epi32(_mm_add_epi32(_mm_madd_epi16(_mm_unpackhi_epi16(b0, b5), one),
                                                 _mm_madd_epi16(_mm_unpackhi_epi16(b1v, b4), m5)),
                                   _mm_madd_epi16(_mm_unpackhi_epi16(b2, b3), c20x));
        lo = _mm_srai_epi32(_mm_add_epi32(lo, p512), 10);
        hi = _mm_srai_epi32(_mm_add_epi32(hi, p512), 10);
        _mm_storel_epi64(reinterpret_cast<__m128i*>(co + x), _mm_packus_epi16(_mm_packs_epi32(lo, hi), z));
      }
    }
#endif
    for (; x <= x1; ++x) {
      const int i = x - x0;
      const int v = grows[0][x] - 5 * grows[1][x] + 20 * grows[2][x] + 20 * grows[3][x] - 5 * grows[4][x] + grows[5][x];
      vo[x] = clip1((v + 16) >> 5);
      const int j = rows[0][i] - 5 * rows[1][i] + 20 * rows[2][i] + 20 * rows[3][i] - 5 * rows[4][i] + rows[5][i];
      co[x] = clip1((j + 512) >> 10);
    }
  }
  for (Plane* p : {&hpel_h, &hpel_v, &hpel_c}) replicate_core(*p, x0, x1, y0, y1);
}

void mc_luma(const RefPic& r, int x, int y, int mvx, int mvy, int w, int h, uint8_t* dst, int ds) {
  const uint8_t *a, *b;
  const int st = mc_luma_src(r, x, y, mvx, mvy, w, h, &a, &b);
  if (a == b) {
    for (int j = 0; j < h; ++j, a += st, dst += ds) std::copy(a, a + w, dst);
  } else {
    avg_block(a, b, st, dst, ds, w, h);
  }
}

const uint8_t* mc_luma_ref(const RefPic& r, int x, int y, int mvx, int mvy, int w, int h, uint8_t* buf, int buf_stride,
                           int* stride_out) {
  const uint8_t *a, *b;
  const int st = mc_luma_src(r, x, y, mvx, mvy, w, h, &a, &b);
  if (a == b) { *stride_out = st; return a; }  // full or half sample: read the plane in place
  avg_block(a, b, st, buf, buf_stride, w, h);
  *stride_out = buf_stride;
  return buf;
}

void mc_chroma(const Plane& p, int x, int y, int mvx, int mvy, int w, int h, uint8_t* dst, int ds) {
  const int ix = std::min(std::max(x + (mvx >> 3), -p.pad + 1), p.width + p.pad - w - 2);
  const int iy = std::min(std::max(y + (mvy >> 3), -p.pad + 1), p.height + p.pad - h - 2);
  const int fx = mvx & 7, fy = mvy & 7;
  const int wa = (8 - fx) * (8 - fy), wb = fx * (8 - fy), wc = (8 - fx) * fy, wd = fx * fy;
  const uint8_t* s = p.at(ix, iy);
#if defined(__SSE2__)
  if (w == 8 || w == 4) {  // every weighted sum is at most 64 * 255 + 32: exact in 16 bits
    const __m128i z = _mm_setzero_si128(), r32 = _mm_set1_epi16(32);
    const __m128i ka = _mm_set1_epi16(static_cast<int16_t>(wa)), kb = _mm_set1_epi16(static_cast<int16_t>(wb));
    const __m128i kc = _mm_set1_epi16(static_cast<int16_t>(wc)), kd = _mm_set1_epi16(static_cast<int16_t>(wd));
    auto ld = [&](const uint8_t* q) {
      if (w == 8) return _mm_unpacklo_epi8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(q)), z);
      int32_t v;
      std::memcpy(&v, q, 4);
      return _mm_unpacklo_epi8(_mm_cvtsi32_si128(v), z);
    };
    for (int j = 0; j < h; ++j, s += p.stride, dst += ds) {
      const __m128i v = _mm_srli_epi16(
          _mm_add_epi16(_mm_add_epi16(_mm_add_epi16(_mm_mullo_epi16(ld(s), ka), _mm_mullo_epi16(ld(s + 1), kb)),
                                      _mm_add_epi16(_mm_mullo_epi16(ld(s + p.stride), kc),
                                                    _mm_mullo_epi16(ld(s + p.stride + 1), kd))),
                        r32),
          6);
      const __m128i packed = _mm_packus_epi16(v, z);
      if (w == 8) {
        _mm_storel_epi64(reinterpret_cast<__m128i*>(dst), packed);
      } else {
        const int32_t o = _mm_cvtsi128_si32(packed);
        std::memcpy(dst, &o, 4);
      }
    }
    return;
  }
#endif
  for (int j = 0; j < h; ++j, s += p.stride, dst += ds)
    for (int i = 0; i < w; ++i)
      dst[i] = static_cast<uint8_t>((wa * s[i] + wb * s[i + 1] + wc * s[i + p.stride] + wd * s[i + p.stride + 1] + 32) >> 6);
}

}  // namespace h264
}  // namespace mvc
