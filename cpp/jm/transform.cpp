// 4x4 integer transform, Hadamard DC transforms and quantisation (H.264 8.5.10-8.5.12).
#include <algorithm>
#include <cstdlib>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "common/pixel.h"
#include "jm/h264.h"

namespace {
// Rounding offset in 1/64 of the quantisation step. 21/64 (about 1/3) for intra and inter:
// JM 19's adaptive rounding settles near it; calibrated on the Boxing clip (PSNR and rate
// match JM at QP 30, where a fixed 1/6 inter offset lost 1.1 dB).
constexpr int kDzIntra = 21, kDzInter = 21;
}  // namespace

namespace mvc {
namespace h264 {

#if defined(__SSE2__)
namespace {
// 4x4 transpose of int16 lanes 0..3 held in four registers.
inline void transpose4_16(__m128i& a, __m128i& b, __m128i& c, __m128i& d) {
  const __m128i ab = _mm_unpacklo_epi16(a, b), cd = _mm_unpacklo_epi16(c, d);
  const __m128i lo = _mm_unpacklo_epi32(ab, cd), hi = _mm_unpackhi_epi32(ab, cd);
  a = lo; b = _mm_srli_si128(lo, 8); c = hi; d = _mm_srli_si128(hi, 8);
}
// One 1-D core transform stage on four vectors (element k of each input line in vector k).
inline void fdct4_stage(__m128i& v0, __m128i& v1, __m128i& v2, __m128i& v3) {
  const __m128i a0 = _mm_add_epi16(v0, v3), a1 = _mm_add_epi16(v1, v2);
  const __m128i a2 = _mm_sub_epi16(v1, v2), a3 = _mm_sub_epi16(v0, v3);
  v0 = _mm_add_epi16(a0, a1);
  v1 = _mm_add_epi16(_mm_add_epi16(a3, a3), a2);
  v2 = _mm_sub_epi16(a0, a1);
  v3 = _mm_sub_epi16(a3, _mm_add_epi16(a2, a2));
}
}  // namespace
#endif

// Residuals of 8-bit samples keep every intermediate within int16 (|out| <= 9180).
void fdct4(const int16_t* d, int32_t* out) {
#if defined(__SSE2__)
  __m128i r0 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(d));
  __m128i r1 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(d + 4));
  __m128i r2 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(d + 8));
  __m128i r3 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(d + 12));
  transpose4_16(r0, r1, r2, r3);  // rk = sample k of every row
  fdct4_stage(r0, r1, r2, r3);    // rk = row coefficient k of every row
  transpose4_16(r0, r1, r2, r3);  // ri = row i's coefficients
  fdct4_stage(r0, r1, r2, r3);    // ri = output row i
  const __m128i v[4] = {r0, r1, r2, r3};
  for (int i = 0; i < 4; ++i)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 4 * i), _mm_srai_epi32(_mm_unpacklo_epi16(v[i], v[i]), 16));
  return;
#endif
  int32_t t[16];
  for (int i = 0; i < 4; ++i) {  // rows
    const int16_t* r = d + 4 * i;
    const int a0 = r[0] + r[3], a1 = r[1] + r[2], a2 = r[1] - r[2], a3 = r[0] - r[3];
    t[4 * i + 0] = a0 + a1; t[4 * i + 1] = 2 * a3 + a2; t[4 * i + 2] = a0 - a1; t[4 * i + 3] = a3 - 2 * a2;
  }
  for (int j = 0; j < 4; ++j) {  // columns
    const int a0 = t[j] + t[12 + j], a1 = t[4 + j] + t[8 + j], a2 = t[4 + j] - t[8 + j], a3 = t[j] - t[12 + j];
    out[j] = a0 + a1; out[4 + j] = 2 * a3 + a2; out[8 + j] = a0 - a1; out[12 + j] = a3 - 2 * a2;
  }
}

void fdct4x2(const uint8_t* s, int ss, const uint8_t* p, int ps, int32_t* out) {
#if defined(__SSE2__)
  const __m128i z = _mm_setzero_si128();
  __m128i r[4];  // row i of both blocks: lanes 0-3 the left block, 4-7 the right one
  for (int i = 0; i < 4; ++i)
    r[i] = _mm_sub_epi16(_mm_unpacklo_epi8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(s + i * ss)), z),
                         _mm_unpacklo_epi8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + i * ps)), z));
  // 4x4 transposes of both halves at once
  auto transpose = [](__m128i* v) {
    const __m128i a0 = _mm_unpacklo_epi16(v[0], v[1]), a1 = _mm_unpackhi_epi16(v[0], v[1]);
    const __m128i b0 = _mm_unpacklo_epi16(v[2], v[3]), b1 = _mm_unpackhi_epi16(v[2], v[3]);
    const __m128i l01 = _mm_unpacklo_epi32(a0, b0), l23 = _mm_unpackhi_epi32(a0, b0);
    const __m128i h01 = _mm_unpacklo_epi32(a1, b1), h23 = _mm_unpackhi_epi32(a1, b1);
    v[0] = _mm_unpacklo_epi64(l01, h01); v[1] = _mm_unpackhi_epi64(l01, h01);
    v[2] = _mm_unpacklo_epi64(l23, h23); v[3] = _mm_unpackhi_epi64(l23, h23);
  };
  transpose(r);
  fdct4_stage(r[0], r[1], r[2], r[3]);
  transpose(r);
  fdct4_stage(r[0], r[1], r[2], r[3]);
  for (int i = 0; i < 4; ++i) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 4 * i), _mm_srai_epi32(_mm_unpacklo_epi16(r[i], r[i]), 16));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 16 + 4 * i), _mm_srai_epi32(_mm_unpackhi_epi16(r[i], r[i]), 16));
  }
#else
  for (int k = 0; k < 2; ++k) {
    int16_t d[16];
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < 4; ++x) d[y * 4 + x] = int16_t(s[y * ss + 4 * k + x] - p[y * ps + 4 * k + x]);
    fdct4(d, out + 16 * k);
  }
#endif
}

#if defined(__SSE2__)
namespace {
inline void transpose4_32(__m128i& a, __m128i& b, __m128i& c, __m128i& d) {
  const __m128i ab0 = _mm_unpacklo_epi32(a, b), ab1 = _mm_unpackhi_epi32(a, b);
  const __m128i cd0 = _mm_unpacklo_epi32(c, d), cd1 = _mm_unpackhi_epi32(c, d);
  a = _mm_unpacklo_epi64(ab0, cd0); b = _mm_unpackhi_epi64(ab0, cd0);
  c = _mm_unpacklo_epi64(ab1, cd1); d = _mm_unpackhi_epi64(ab1, cd1);
}
// One 1-D inverse stage (8.5.12.2) on vectors holding element k of four lines in vector k.
inline void idct4_stage(__m128i& v0, __m128i& v1, __m128i& v2, __m128i& v3) {
  const __m128i e = _mm_add_epi32(v0, v2), f = _mm_sub_epi32(v0, v2);
  const __m128i g = _mm_sub_epi32(_mm_srai_epi32(v1, 1), v3), h = _mm_add_epi32(v1, _mm_srai_epi32(v3, 1));
  v0 = _mm_add_epi32(e, h); v1 = _mm_add_epi32(f, g); v2 = _mm_sub_epi32(f, g); v3 = _mm_sub_epi32(e, h);
}
}  // namespace
#endif

void idct4_add(int32_t* c, uint8_t* dst, int stride) {
#if defined(__SSE2__)
  {
    __m128i r0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(c)), r1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(c + 4));
    __m128i r2 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(c + 8)), r3 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(c + 12));
    transpose4_32(r0, r1, r2, r3);  // rk = element k of every row
    idct4_stage(r0, r1, r2, r3);    // rk = row results k
    transpose4_32(r0, r1, r2, r3);  // ri = row i's results
    idct4_stage(r0, r1, r2, r3);    // ri = output row i
    const __m128i r32 = _mm_set1_epi32(32), z = _mm_setzero_si128();
    const __m128i lo = _mm_packs_epi32(_mm_srai_epi32(_mm_add_epi32(r0, r32), 6), _mm_srai_epi32(_mm_add_epi32(r1, r32), 6));
    const __m128i hi = _mm_packs_epi32(_mm_srai_epi32(_mm_add_epi32(r2, r32), 6), _mm_srai_epi32(_mm_add_epi32(r3, r32), 6));
    auto px = [&](int i) { int32_t v; std::memcpy(&v, dst + i * stride, 4); return _mm_cvtsi32_si128(v); };
    // saturating adds: a residual beyond int16 clips to 0 or 255 either way
    const __m128i p01 = _mm_unpacklo_epi8(_mm_unpacklo_epi32(px(0), px(1)), z), p23 = _mm_unpacklo_epi8(_mm_unpacklo_epi32(px(2), px(3)), z);
    const __m128i out = _mm_packus_epi16(_mm_adds_epi16(p01, lo), _mm_adds_epi16(p23, hi));
    const int32_t o0 = _mm_cvtsi128_si32(out), o1 = _mm_cvtsi128_si32(_mm_srli_si128(out, 4));
    const int32_t o2 = _mm_cvtsi128_si32(_mm_srli_si128(out, 8)), o3 = _mm_cvtsi128_si32(_mm_srli_si128(out, 12));
    std::memcpy(dst, &o0, 4); std::memcpy(dst + stride, &o1, 4);
    std::memcpy(dst + 2 * stride, &o2, 4); std::memcpy(dst + 3 * stride, &o3, 4);
    return;
  }
#endif
  int32_t t[16];
  for (int i = 0; i < 4; ++i) {
    const int32_t* r = c + 4 * i;
    const int e = r[0] + r[2], f = r[0] - r[2], g = (r[1] >> 1) - r[3], h = r[1] + (r[3] >> 1);
    t[4 * i + 0] = e + h; t[4 * i + 1] = f + g; t[4 * i + 2] = f - g; t[4 * i + 3] = e - h;
  }
  for (int j = 0; j < 4; ++j) {
    const int e = t[j] + t[8 + j], f = t[j] - t[8 + j], g = (t[4 + j] >> 1) - t[12 + j], h = t[4 + j] + (t[12 + j] >> 1);
    const int r[4] = {e + h, f + g, f - g, e - h};
    for (int i = 0; i < 4; ++i) dst[i * stride + j] = clip1(dst[i * stride + j] + ((r[i] + 32) >> 6));
  }
}

// |coef| <= 9180 for 8-bit residuals and MF <= 13107, so every product fits 32 bits.
int quant4(const int32_t* coef, int16_t* lv, int qp, bool intra, int start) {
  const int qbits = 15 + qp / 6;
  const int f = ((1 << qbits) >> 6) * (intra ? kDzIntra : kDzInter);
  const int* mf = kQuantMF[qp % 6];
  alignas(16) int16_t q[16];
#if defined(__SSE2__)
  const __m128i vf = _mm_set1_epi32(f), sh = _mm_cvtsi32_si128(qbits);
  __m128i any = _mm_setzero_si128();
  const __m128i keep0 = start ? _mm_set_epi16(-1, -1, -1, -1, -1, -1, -1, 0) : _mm_set1_epi16(-1);  // DC counts from start 0
  for (int h = 0; h < 16; h += 8) {  // |c| and mf fit 16 bits; their product is rebuilt in 32
    const __m128i c0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(coef + h));
    const __m128i c1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(coef + h + 4));
    const __m128i c16 = _mm_packs_epi32(c0, c1);
    const __m128i sgn = _mm_srai_epi16(c16, 15);
    const __m128i a = _mm_sub_epi16(_mm_xor_si128(c16, sgn), sgn);
    const __m128i m = _mm_packs_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(mf + h)),
                                      _mm_loadu_si128(reinterpret_cast<const __m128i*>(mf + h + 4)));
    const __m128i plo = _mm_mullo_epi16(a, m), phi = _mm_mulhi_epu16(a, m);
    const __m128i l0 = _mm_sra_epi32(_mm_add_epi32(_mm_unpacklo_epi16(plo, phi), vf), sh);
    const __m128i l1 = _mm_sra_epi32(_mm_add_epi32(_mm_unpackhi_epi16(plo, phi), vf), sh);
    const __m128i l = _mm_packs_epi32(l0, l1);
    any = _mm_or_si128(any, h == 0 ? _mm_and_si128(l, keep0) : l);
    _mm_store_si128(reinterpret_cast<__m128i*>(q + h), _mm_sub_epi16(_mm_xor_si128(l, sgn), sgn));
  }
  if (_mm_movemask_epi8(_mm_cmpeq_epi16(any, _mm_setzero_si128())) == 0xFFFF) {  // the usual inter block
    std::fill(lv + start, lv + 16, int16_t(0));
    return 0;
  }
#else
  for (int i = 0; i < 16; ++i) {
    const int c = coef[i];
    const int l = (std::abs(c) * mf[i] + f) >> qbits;
    q[i] = static_cast<int16_t>(c < 0 ? -l : l);
  }
#endif
  int nnz = 0;
  for (int i = start; i < 16; ++i) {
    const int l = q[kZigzag[i]];
    nnz += l != 0;
    lv[i] = static_cast<int16_t>(l);
  }
  return nnz;
}

bool quant4_zero(const int32_t* coef, int qp, bool intra, int start) {
#if defined(__SSE2__)
  // |c| * mf >= limit  <=>  |c| >= ceil(limit / mf): one int16 threshold per (qp, rounding, position)
  struct Thresholds { int16_t t[52][2][16]; };
  static const Thresholds tab = [] {
    Thresholds r{};
    for (int q = 0; q < 52; ++q)
      for (int k = 0; k < 2; ++k) {
        const int qbits = 15 + q / 6;
        const int64_t limit = (int64_t(1) << qbits) - ((1 << qbits) >> 6) * (k ? kDzIntra : kDzInter);
        for (int i = 0; i < 16; ++i) {
          const int64_t mf = kQuantMF[q % 6][i];
          r.t[q][k][i] = static_cast<int16_t>(std::min<int64_t>((limit + mf - 1) / mf, 32767));
        }
      }
    return r;
  }();
  const int16_t* thr = tab.t[qp][intra ? 1 : 0];
  __m128i v[4];
  for (int i = 0; i < 4; ++i) {
    const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(coef + 4 * i));
    const __m128i sgn = _mm_srai_epi32(c, 31);
    v[i] = _mm_sub_epi32(_mm_xor_si128(c, sgn), sgn);
  }
  const __m128i lo = _mm_packs_epi32(v[0], v[1]), hi = _mm_packs_epi32(v[2], v[3]);
  const __m128i one = _mm_set1_epi16(1);
  const __m128i t0 = _mm_sub_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(thr)), one);
  const __m128i t1 = _mm_sub_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(thr + 8)), one);
  int mask = _mm_movemask_epi8(_mm_or_si128(_mm_cmpgt_epi16(lo, t0), _mm_cmpgt_epi16(hi, t1)));
  // lanes 0..7 of the OR hold positions i and i + 8; position 0 (lane 0 of lo) is checked apart
  if (start > 0) {
    const bool pos8 = _mm_movemask_epi8(_mm_cmpgt_epi16(hi, t1)) & 3;
    mask &= ~3;
    if (pos8) mask |= 1;
  }
  return mask == 0;
#else
  const int qbits = 15 + qp / 6;
  const int f = ((1 << qbits) >> 6) * (intra ? kDzIntra : kDzInter);
  const int* mf = kQuantMF[qp % 6];
  const int limit = (1 << qbits) - f;  // a level is non-zero iff |c| * mf >= limit
  int any = 0;
  for (int i = start; i < 16; ++i) any |= std::abs(coef[i]) * mf[i] >= limit;
  return !any;
#endif
}

void dequant4(const int16_t* lv, int32_t* coef, int qp, int start) {
  const int* v = kDequantV[qp % 6];
  const int sh = qp / 6;
  for (int i = start; i < 16; ++i) {
    const int pos = kZigzag[i];
    coef[pos] = lv[i] * v[pos] * (1 << sh);  // levels are signed: multiply, a left shift of a negative is UB
  }
}

static void hadamard4(const int32_t* in, int32_t* out) {
  int32_t t[16];
  for (int i = 0; i < 4; ++i) {
    const int32_t* r = in + 4 * i;
    const int s01 = r[0] + r[1], d01 = r[0] - r[1], s23 = r[2] + r[3], d23 = r[2] - r[3];
    t[4 * i + 0] = s01 + s23; t[4 * i + 1] = s01 - s23; t[4 * i + 2] = d01 - d23; t[4 * i + 3] = d01 + d23;
  }
  for (int j = 0; j < 4; ++j) {
    const int s01 = t[j] + t[4 + j], d01 = t[j] - t[4 + j], s23 = t[8 + j] + t[12 + j], d23 = t[8 + j] - t[12 + j];
    out[j] = s01 + s23; out[4 + j] = s01 - s23; out[8 + j] = d01 - d23; out[12 + j] = d01 + d23;
  }
}

int quant_dc_luma(const int32_t* dc, int16_t* lv, int qp, bool intra) {
  int32_t h[16];
  hadamard4(dc, h);
  const int qbits = 15 + qp / 6;
  const int f = ((1 << qbits) >> 6) * (intra ? kDzIntra : kDzInter);
  const int mf = kQuantMF[qp % 6][0];
  int nnz = 0;
  for (int i = 0; i < 16; ++i) {
    const int pos = kZigzag[i];
    const int c = h[pos] >> 1;
    int l = static_cast<int>((static_cast<int64_t>(std::abs(c)) * mf + 2 * f) >> (qbits + 1));
    if (l) { ++nnz; if (c < 0) l = -l; }
    lv[i] = static_cast<int16_t>(l);
  }
  return nnz;
}

void dequant_dc_luma(const int16_t* lv, int32_t* dc, int qp) {
  int32_t c[16], f[16];
  for (int i = 0; i < 16; ++i) c[kZigzag[i]] = lv[i];
  hadamard4(c, f);
  const int ls = 16 * kDequantV[qp % 6][0];
  for (int i = 0; i < 16; ++i) {
    if (qp >= 36) dc[i] = f[i] * ls * (1 << (qp / 6 - 6));
    else dc[i] = (f[i] * ls + (1 << (5 - qp / 6))) >> (6 - qp / 6);
  }
}

int quant_dc_chroma(const int32_t* c, int16_t* lv, int qp, bool intra) {
  const int d[4] = {c[0] + c[1] + c[2] + c[3], c[0] - c[1] + c[2] - c[3], c[0] + c[1] - c[2] - c[3],
                    c[0] - c[1] - c[2] + c[3]};
  const int qbits = 15 + qp / 6;
  const int f = ((1 << qbits) >> 6) * (intra ? kDzIntra : kDzInter);
  const int mf = kQuantMF[qp % 6][0];
  int nnz = 0;
  for (int i = 0; i < 4; ++i) {
    int l = static_cast<int>((static_cast<int64_t>(std::abs(d[i])) * mf + 2 * f) >> (qbits + 1));
    if (l) { ++nnz; if (d[i] < 0) l = -l; }
    lv[i] = static_cast<int16_t>(l);
  }
  return nnz;
}

void dequant_dc_chroma(const int16_t* c, int32_t* dc, int qp) {
  const int f[4] = {c[0] + c[1] + c[2] + c[3], c[0] - c[1] + c[2] - c[3], c[0] + c[1] - c[2] - c[3],
                    c[0] - c[1] - c[2] + c[3]};
  const int ls = 16 * kDequantV[qp % 6][0];
  for (int i = 0; i < 4; ++i) dc[i] = (f[i] * ls * (1 << (qp / 6))) >> 5;
}

}  // namespace h264
}  // namespace mvc
