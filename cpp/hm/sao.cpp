// Sample adaptive offset (8.7.3): per-CTB band / edge offset decision by distortion-rate cost
// from per-category statistics, merge-left/up reuse, then application on the deblocked picture.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "hm/hevc.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
// AVX2 kernels (statistics of 16 samples per int16 vector, offsets added with pshufb lookups) are
// chosen at run time; the SSE2 / scalar paths give the same statistics and pictures.
#if defined(__SSE2__) && defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__)) && !defined(MVC_NO_AVX2)
#define MVC_SAO_AVX2 1
#include <immintrin.h>
#define MVC_AVX2_FN __attribute__((target("avx2")))
#endif

#include "common/pixel.h"

namespace mvc {
namespace hevc {

namespace {

constexpr int kEo[4][2][2] = {{{-1, 0}, {1, 0}}, {{0, -1}, {0, 1}}, {{-1, -1}, {1, 1}}, {{1, -1}, {-1, 1}}};
// Offset of edge class k's neighbour a (i = 0) or b (i = 1) from a sample, in a plane of stride.
inline int eo_offset(int k, int i, int stride) { return kEo[k][i][1] * stride + kEo[k][i][0]; }

struct Stats {
  int64_t eo_sum[4][5], eo_cnt[4][5];
  int32_t band_sum[32], band_cnt[32];  // at most 64x64 samples per CTB
  uint32_t band_used;                   // bit b: band_cnt[b] > 0
};

inline int sgn(int v) { return (v > 0) - (v < 0); }
inline int eo_cat(int c, int a, int b) {
  static constexpr int kCat[5] = {1, 2, 0, 3, 4};  // edgeIdx 0..4 -> category (8.7.3.2)
  return kCat[2 + sgn(c - a) + sgn(c - b)];
}

// Columns [xs, xe) and whether row y is usable for edge class k: both neighbours must lie inside
// the picture (8.7.3: SaoTypeIdx 2 leaves a sample unmodified otherwise).
inline bool eo_span(int k, int x0, int w, int y, int pw, int ph, int& xs, int& xe) {
  xs = x0;
  xe = x0 + w;
  if (k != 1) { xs = std::max(xs, 1); xe = std::min(xe, pw - 1); }  // left / right neighbours
  if (k != 0 && (y == 0 || y == ph - 1)) return false;                // upper / lower neighbours
  return xs < xe;
}

#if defined(__SSE2__)
constexpr int8_t kSignSum[4] = {-2, -1, 1, 2};  // sgn(c - a) + sgn(c - b) of edge categories 1..4
// 16 bytes 0xff then 16 zeros: loading at kLanes + 16 - n gives a mask of the first n lanes
alignas(16) constexpr uint8_t kLanes[32] = {255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255};
// Byte mask of lanes [lo, hi) of 16 (both clamped to 0..16).
inline __m128i lane_mask(int lo, int hi) {
  lo = std::clamp(lo, 0, 16);
  hi = std::clamp(hi, 0, 16);
  return _mm_andnot_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kLanes + 16 - lo)),
                          _mm_loadu_si128(reinterpret_cast<const __m128i*>(kLanes + 16 - hi)));
}
// sgn(c - a) of 16 samples (bytes in -1..1); a, c biased by 0x80 for signed compares.
inline __m128i sign_diff(__m128i c, __m128i a) { return _mm_sub_epi8(_mm_cmpgt_epi8(a, c), _mm_cmpgt_epi8(c, a)); }
// sgn(c - a) + sgn(c - b) of 16 samples (bytes in -2..2), biased as for sign_diff.
inline __m128i eo_sign_sum(__m128i cb, __m128i a, __m128i b) { return _mm_add_epi8(sign_diff(cb, a), sign_diff(cb, b)); }
#endif

// Edge-offset statistics of class k over one CTB: 16 samples at a time (masked sums with psadbw,
// accumulated over all rows and reduced once), the samples left over sample by sample; the same
// totals either way.
void gather_eo(const Plane& dbk, const Plane& src, int x0, int y0, int w, int h, int k, const int off[2], Stats& st) {
#if defined(__SSE2__)
  const __m128i bias = _mm_set1_epi8(static_cast<char>(0x80)), z = _mm_setzero_si128(), one = _mm_set1_epi8(1);
  __m128i sum_s[4] = {z, z, z, z}, sum_c[4] = {z, z, z, z}, cnt[4] = {z, z, z, z};
  __m128i cat[4];
  for (int i = 0; i < 4; ++i) cat[i] = _mm_set1_epi8(kSignSum[i]);
#endif
  for (int y = y0; y < y0 + h; ++y) {
    int xs, xe;
    if (!eo_span(k, x0, w, y, dbk.width, dbk.height, xs, xe)) continue;
    const uint8_t* p = dbk.at(0, y);
    const uint8_t* q = src.at(0, y);
    int x = xs;
#if defined(__SSE2__)
    // whole 16-sample groups of the CTB row, lanes outside [xs, xe) masked out (picture borders)
    for (x = x0; x + 16 <= x0 + w; x += 16) {
      const __m128i valid = lane_mask(xs - x, xe - x);
      const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + x));
      const __m128i sv = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + x));
      const __m128i a = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + x + off[0])), bias);
      const __m128i b = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + x + off[1])), bias);
      const __m128i e = eo_sign_sum(_mm_xor_si128(c, bias), a, b);
      for (int i = 0; i < 4; ++i) {
        const __m128i m = _mm_and_si128(_mm_cmpeq_epi8(e, cat[i]), valid);
        sum_s[i] = _mm_add_epi64(sum_s[i], _mm_sad_epu8(_mm_and_si128(m, sv), z));
        sum_c[i] = _mm_add_epi64(sum_c[i], _mm_sad_epu8(_mm_and_si128(m, c), z));
        cnt[i] = _mm_add_epi64(cnt[i], _mm_sad_epu8(_mm_and_si128(m, one), z));
      }
    }
    x = std::max(x, xs);
#endif
    for (; x < xe; ++x) {
      const int c = p[x];
      const int ct = eo_cat(c, p[x + off[0]], p[x + off[1]]);
      st.eo_sum[k][ct] += int(q[x]) - c;
      st.eo_cnt[k][ct] += 1;
    }
  }
#if defined(__SSE2__)
  for (int i = 0; i < 4; ++i) {
    const __m128i d = _mm_sub_epi64(sum_s[i], sum_c[i]);
    st.eo_sum[k][i + 1] += _mm_cvtsi128_si64(d) + _mm_cvtsi128_si64(_mm_srli_si128(d, 8));
    st.eo_cnt[k][i + 1] += _mm_cvtsi128_si64(cnt[i]) + _mm_cvtsi128_si64(_mm_srli_si128(cnt[i], 8));
  }
#endif
}

// Band and (with_eo) edge-offset statistics of the columns [x0, x0 + w) of one CTB of the
// deblocked picture against the source, added to st.
void gather_cols(const Plane& dbk, const Plane& src, int x0, int y0, int w, int h, bool with_eo, Stats& st) {
  const int ds = dbk.stride;
  // band histogram in four interleaved copies: neighbouring samples usually share a band, and one
  // copy would serialise their read-modify-write updates
  int32_t bsum[4][32] = {}, bcnt[4][32] = {};
  for (int y = y0; y < y0 + h; ++y) {
    const uint8_t* p = dbk.at(0, y);
    const uint8_t* q = src.at(0, y);
    int x = x0;
    for (; x + 4 <= x0 + w; x += 4)
      for (int j = 0; j < 4; ++j) {
        const int c = p[x + j];
        bsum[j][c >> 3] += int(q[x + j]) - c;
        bcnt[j][c >> 3] += 1;
      }
    for (; x < x0 + w; ++x) {
      const int c = p[x];
      bsum[0][c >> 3] += int(q[x]) - c;
      bcnt[0][c >> 3] += 1;
    }
  }
  for (int b = 0; b < 32; ++b) {
    st.band_sum[b] += bsum[0][b] + bsum[1][b] + bsum[2][b] + bsum[3][b];
    st.band_cnt[b] += bcnt[0][b] + bcnt[1][b] + bcnt[2][b] + bcnt[3][b];
    if (st.band_cnt[b]) st.band_used |= 1u << b;
  }
  if (!with_eo) return;
  for (int k = 0; k < 4; ++k) {
    const int off[2] = {eo_offset(k, 0, ds), eo_offset(k, 1, ds)};
    gather_eo(dbk, src, x0, y0, w, h, k, off, st);
  }
}

#if defined(MVC_SAO_AVX2)
const bool kSaoAvx2 = use_avx2();

// Per-lane sums of diff over the lanes whose key equals k[j] and their counts, 16 lanes per
// vector. A lane gains at most 255 in magnitude per vector: the 16-bit sums s, c are exact for 128
// vectors, then flush() adds them to 32-bit totals.
struct KeySums {
  __m256i k[4], s[4], c[4];
};
MVC_AVX2_FN inline void key_sums_init(KeySums& a, int k0, int k1, int k2, int k3) {
  const int k[4] = {k0, k1, k2, k3};
  for (int j = 0; j < 4; ++j) {
    a.k[j] = _mm256_set1_epi16(static_cast<int16_t>(k[j]));
    a.s[j] = a.c[j] = _mm256_setzero_si256();
  }
}
MVC_AVX2_FN inline void key_sums_add(KeySums& a, __m256i key, __m256i diff) {
  for (int j = 0; j < 4; ++j) {
    const __m256i m = _mm256_cmpeq_epi16(key, a.k[j]);
    a.s[j] = _mm256_add_epi16(a.s[j], _mm256_and_si256(m, diff));
    a.c[j] = _mm256_sub_epi16(a.c[j], m);
  }
}
// Adds the sums to out[0..3], the counts to out[4..7] (widened by madd; two rounds of hadd leave
// [total 0 | 1 | 2 | 3] per 128-bit lane) and restarts them.
MVC_AVX2_FN inline void key_sums_flush(KeySums& a, int32_t out[8]) {
  const __m256i one = _mm256_set1_epi16(1);
  __m256i s[4], c[4];
  for (int j = 0; j < 4; ++j) {
    s[j] = _mm256_madd_epi16(a.s[j], one);
    c[j] = _mm256_madd_epi16(a.c[j], one);
    a.s[j] = a.c[j] = _mm256_setzero_si256();
  }
  const __m256i hs = _mm256_hadd_epi32(_mm256_hadd_epi32(s[0], s[1]), _mm256_hadd_epi32(s[2], s[3]));
  const __m256i hc = _mm256_hadd_epi32(_mm256_hadd_epi32(c[0], c[1]), _mm256_hadd_epi32(c[2], c[3]));
  __m128i* o = reinterpret_cast<__m128i*>(out);
  _mm_storeu_si128(o, _mm_add_epi32(_mm_loadu_si128(o), _mm_add_epi32(_mm256_castsi256_si128(hs), _mm256_extracti128_si256(hs, 1))));
  _mm_storeu_si128(o + 1, _mm_add_epi32(_mm_loadu_si128(o + 1), _mm_add_epi32(_mm256_castsi256_si128(hc), _mm256_extracti128_si256(hc, 1))));
}

// Smallest of 16 bytes.
MVC_AVX2_FN inline int hmin_epu8(__m128i v) {
  return _mm_cvtsi128_si32(_mm_minpos_epu16(_mm_cvtepu8_epi16(_mm_min_epu8(v, _mm_srli_si128(v, 8))))) & 0xff;
}

// One vector of errors (src - dbk) and band indices from 16 samples c of dbk and s of src.
MVC_AVX2_FN inline void band_diff(__m128i c, __m128i s, __m256i& band, __m256i& diff) {
  const __m256i c16 = _mm256_cvtepu8_epi16(c);
  diff = _mm256_sub_epi16(_mm256_cvtepu8_epi16(s), c16);
  band = _mm256_srli_epi16(c16, 3);
}
MVC_AVX2_FN inline __m128i load_rows8(const uint8_t* p, int stride) {  // 8 samples of two rows
  return _mm_unpacklo_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)),
                            _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + stride)));
}

// Edge class K's statistics of a CTB (w a multiple of 16) from the errors diff stored by
// gather_avx2: sgn(c - a) + sgn(c - b) summed as it is computed, column group by column group,
// rows and columns the class leaves unmodified excluded by row range and lane masks. The
// sign towards b, D = sgn(c - b), is kept: it is -sgn(c' - a') of the sample c' whose neighbour a'
// is c. That sample is the next one of the row for the horizontal class (one lane on: the group
// before gives lane 0), the one below for the vertical class, and the one below and right (left)
// for 135 (45) degrees: the row before gives the sign, with one lane from the group before (after;
// the groups of 45 degrees go from right to left). Each run of at most 128 vectors starts from the
// D of the row before it; the first group of the classes but the vertical one has no group before
// and takes sgn(c - a) itself.
template <int K>
MVC_AVX2_FN void eo_stats_avx2(const Plane& dbk, int x0, int y0, int w, int h, const __m256i* diff, Stats& st) {
  const __m128i bias = _mm_set1_epi8(static_cast<char>(0x80)), all = _mm_set1_epi8(-1);
  auto load = [&](const uint8_t* q) { return _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q)), bias); };
  const int g = w / 16, rows_per_run = 128 / g, ds = dbk.stride;
  const int oa = eo_offset(K, 0, ds), ob = eo_offset(K, 1, ds);
  // 8.7.3: both neighbours inside the picture
  const int ya = K && y0 == 0 ? 1 : y0, yb = K && y0 + h == dbk.height ? y0 + h - 1 : y0 + h;
  __m128i cols[4] = {all, all, all, all};
  if (K != 1 && x0 == 0) cols[0] = lane_mask(1, 16);
  if (K != 1 && x0 + w == dbk.width) cols[g - 1] = _mm_and_si128(cols[g - 1], lane_mask(0, 15));
  KeySums a;
  key_sums_init(a, kSignSum[0], kSignSum[1], kSignSum[2], kSignSum[3]);
  int32_t r[8] = {};
  // D of the group done before, from the row before the run on (K = 0: from the run's first row)
  __m128i edge[65];
  for (int yc = ya; yc < yb; yc += rows_per_run) {
    const int ye = std::min(yb, yc + rows_per_run);
    for (int n = 0; n < g; ++n) {
      const int j = K == 3 ? g - 1 - n : n;
      // the rows of group j; chain: a group before left its D in edge, store: one after reads it
      auto rows = [&](auto chain, auto store) MVC_AVX2_FN {
        constexpr bool kChain = decltype(chain)::value, kStore = decltype(store)::value;
        const uint8_t* p = dbk.at(x0 + 16 * j, yc);
        const __m256i* df = diff + (yc - y0) * g + j;
        // D of the row before: of this group (t) and of the group before (eo)
        __m128i t = K ? sign_diff(load(p - ds), load(p - ds + ob)) : all, eo = all;
        if constexpr (K >= 2 && kChain) eo = edge[0];
        if constexpr (K >= 2 && kStore) edge[0] = t;
        KeySums l = a;  // a local copy stays in registers
        const __m128i valid = cols[j];
        __m128i below = load(p);  // K = 1: the row below, loaded for the row before
        for (int i = K ? 1 : 0; i <= ye - yc - (K ? 0 : 1); ++i, p += ds, df += g) {
          const __m128i c = K == 1 ? below : load(p);
          below = load(p + ob);
          const __m128i dn = sign_diff(c, below);
          __m128i neg_a;  // -sgn(c - a)
          if constexpr (K == 1) neg_a = t;
          else if constexpr (!kChain) neg_a = sign_diff(load(p + oa), c);
          else if constexpr (K == 0) neg_a = _mm_alignr_epi8(dn, edge[i], 15);
          else if constexpr (K == 2) neg_a = _mm_alignr_epi8(t, eo, 15);
          else neg_a = _mm_alignr_epi8(eo, t, 1);
          if constexpr (K >= 2 && kChain) eo = edge[i];
          if constexpr (kStore) edge[i] = dn;
          t = dn;
          const __m128i e = _mm_sub_epi8(dn, neg_a);
          key_sums_add(l, _mm256_cvtepi8_epi16(K == 1 ? e : _mm_and_si128(e, valid)), *df);
        }
        a = l;
      };
      using No = std::false_type;
      using Yes = std::true_type;
      if constexpr (K == 1) rows(No{}, No{});
      else if (n == 0) g > 1 ? rows(No{}, Yes{}) : rows(No{}, No{});
      else n + 1 < g ? rows(Yes{}, Yes{}) : rows(Yes{}, No{});
    }
    key_sums_flush(a, r);
  }
  for (int j = 0; j < 4; ++j) {
    st.eo_sum[K][j + 1] += r[j];
    st.eo_cnt[K][j + 1] += r[4 + j];
  }
}

// gather_cols for w a multiple of 16, or (kPairs) w = 8 with h even and no edge classes (two rows
// per vector), 16 samples per int16 vector: the errors (src - dbk) and band indices of the CTB are
// stored once, the band sums taken four bands at a time from the lowest to
// the highest band the samples reach, the edge classes' sums by eo_stats_avx2.
template <bool kPairs>
MVC_AVX2_FN void gather_avx2(const Plane& dbk, const Plane& src, int x0, int y0, int w, int h, bool with_eo, Stats& st) {
  __m256i band[64 * 64 / 16], diff[64 * 64 / 16];
  const int n = kPairs ? h / 2 : w / 16 * h;
  __m128i lo = _mm_set1_epi8(-1), hi = _mm_setzero_si128();
  for (int y = y0, i = 0; y < y0 + h; y += kPairs ? 2 : 1) {
    const uint8_t* p = dbk.at(x0, y);
    const uint8_t* q = src.at(x0, y);
    for (int x = 0; x < w; x += 16, ++i) {
      const __m128i c = kPairs ? load_rows8(p, dbk.stride) : _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + x));
      band_diff(c, kPairs ? load_rows8(q, src.stride) : _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + x)), band[i], diff[i]);
      lo = _mm_min_epu8(lo, c);
      hi = _mm_max_epu8(hi, c);
    }
  }
  const int bmin = hmin_epu8(lo) >> 3, bmax = (255 - hmin_epu8(_mm_xor_si128(hi, _mm_set1_epi8(-1)))) >> 3;
  for (int b = bmin; b <= bmax; b += 4) {
    KeySums a;
    key_sums_init(a, b, b + 1, b + 2, b + 3);
    int32_t r[8] = {};
    for (int i0 = 0; i0 < n; i0 += 128) {
      for (int i = i0; i < std::min(n, i0 + 128); ++i) key_sums_add(a, band[i], diff[i]);
      key_sums_flush(a, r);
    }
    for (int j = 0; j < 4 && b + j <= bmax; ++j) {
      st.band_sum[b + j] += r[j];
      st.band_cnt[b + j] += r[4 + j];
      if (r[4 + j]) st.band_used |= 1u << (b + j);
    }
  }
  if (kPairs || !with_eo) return;
  eo_stats_avx2<0>(dbk, x0, y0, w, h, diff, st);
  eo_stats_avx2<1>(dbk, x0, y0, w, h, diff, st);
  eo_stats_avx2<2>(dbk, x0, y0, w, h, diff, st);
  eo_stats_avx2<3>(dbk, x0, y0, w, h, diff, st);
}
#endif

// Band and (with_eo) edge-offset statistics of one CTB of the deblocked picture against the source.
void gather(const Plane& dbk, const Plane& src, int x0, int y0, int w, int h, bool with_eo, Stats& st) {
  std::memset(&st, 0, sizeof(st));
  int x = x0;
#if defined(MVC_SAO_AVX2)
  if (kSaoAvx2 && w >= 16) {
    gather_avx2<false>(dbk, src, x0, y0, w & ~15, h, with_eo, st);
    x += w & ~15;
  } else if (kSaoAvx2 && w == 8 && h % 2 == 0 && !with_eo) {  // the chroma CTBs of 16x16 CTUs
    gather_avx2<true>(dbk, src, x0, y0, 8, h, false, st);
    x += 8;
  }
#endif
  if (x < x0 + w) gather_cols(dbk, src, x, y0, x0 + w - x, h, with_eo, st);
}

// Distortion change of adding offset o to n samples whose error sum is s: n*o^2 - 2*o*s (exact).
inline int64_t dd(int64_t s, int64_t n, int o) { return n * o * o - 2 * int64_t(o) * s; }

// The mean error s / n rounded half away from zero (as lround), clamped to [lo, hi].
int best_offset(int64_t s, int64_t n, int lo, int hi) {
  if (!n) return 0;
  // a CTB has at most 64 x 64 samples of error at most 255: 32-bit division is exact (and fast)
  const int32_t m = static_cast<int32_t>(2 * std::llabs(s) + n) / static_cast<int32_t>(2 * n);
  return std::clamp(s < 0 ? -m : m, lo, hi);
}

struct CompChoice {
  double dist = 0, bits = 0;
  uint8_t type = 0, eo_class = 0, band_pos = 0;
  int8_t off[4] = {0, 0, 0, 0};
};

// Bins of one SAO offset of magnitude a: truncated unary (cMax 7) plus, for band offsets, its sign.
inline int offset_bits1(int a, bool band) { return a + (a < 7 ? 1 : 0) + (band && a ? 1 : 0); }

double offset_bits(const int8_t* o, bool band) {
  double b = 0;
  for (int i = 0; i < 4; ++i) b += offset_bits1(std::abs(o[i]), band);
  return b;
}

CompChoice eo_choice(const Stats& st, int k) {
  CompChoice c;
  c.type = 2;
  c.eo_class = static_cast<uint8_t>(k);
  for (int i = 0; i < 4; ++i) {
    const int cat = i + 1;
    const int o = cat <= 2 ? best_offset(st.eo_sum[k][cat], st.eo_cnt[k][cat], 0, 7)
                           : best_offset(st.eo_sum[k][cat], st.eo_cnt[k][cat], -7, 0);
    c.off[i] = static_cast<int8_t>(o);
    c.dist += dd(st.eo_sum[k][cat], st.eo_cnt[k][cat], o);
  }
  c.bits = offset_bits(c.off, false) + 2;
  return c;
}

CompChoice band_choice(const Stats& st, double lambda) {
  // Only the bands [bmin, bmax] have samples: the others have offset 0, no distortion change and
  // one bin, and windows of them alone all cost j0; the windows [lo, hi] reaching a nonempty band
  // are summed, in order, from per band offsets (independent of the band position), distortion
  // changes and bins. The distortions are integers, so window sums in int64 equal the double sums.
  const int bmin = __builtin_ctz(st.band_used), bmax = 31 - __builtin_clz(st.band_used);
  const int lo = std::max(0, bmin - 3), hi = std::min(28, bmax);
  int off[32], bits[32];
  int64_t dist[32];
  for (int b = lo; b <= hi + 3; ++b) {
    if (!st.band_cnt[b]) { off[b] = 0; dist[b] = 0; bits[b] = offset_bits1(0, true); continue; }
    off[b] = best_offset(st.band_sum[b], st.band_cnt[b], -7, 7);
    dist[b] = dd(st.band_sum[b], st.band_cnt[b], off[b]);
    bits[b] = offset_bits1(std::abs(off[b]), true);
  }
  const double j0 = lambda * (4.0 * offset_bits1(0, true) + 5);
  int best_p = 0;
  double bestJ = lo > 0 ? j0 : 1e300;  // window 0 is empty and comes first
  int64_t d4 = dist[lo] + dist[lo + 1] + dist[lo + 2] + dist[lo + 3];
  int b4 = bits[lo] + bits[lo + 1] + bits[lo + 2] + bits[lo + 3];
  for (int p = lo; p <= hi; ++p) {
    if (p > lo) { d4 += dist[p + 3] - dist[p - 1]; b4 += bits[p + 3] - bits[p - 1]; }
    const double j = double(d4) + lambda * (double(b4) + 5);
    if (j < bestJ) { bestJ = j; best_p = p; }
  }
  if (hi < 28 && j0 < bestJ) best_p = hi + 1;  // the first empty window after them
  CompChoice best;
  best.type = 1;
  best.band_pos = static_cast<uint8_t>(best_p);
  int nbits = 5;
  for (int i = 0; i < 4; ++i) {
    const int b = best_p + i;
    const bool set = b >= lo && b <= hi + 3;
    best.off[i] = static_cast<int8_t>(set ? off[b] : 0);
    best.dist += set ? double(dist[b]) : 0.0;
    nbits += set ? bits[b] : offset_bits1(0, true);
  }
  best.bits = double(nbits);
  return best;
}

// Distortion change of applying params p (component comp) to a CTB with stats st.
double param_dist(const SaoParam& p, int comp, const Stats& st) {
  const int t = p.type[comp];
  double d = 0;
  if (t == 2) {
    for (int i = 0; i < 4; ++i) d += dd(st.eo_sum[p.eo_class[comp]][i + 1], st.eo_cnt[p.eo_class[comp]][i + 1], p.offset[comp][i]);
  } else if (t == 1) {
    for (int i = 0; i < 4; ++i) {
      const int band = (p.band_pos[comp] + i) & 31;
      d += dd(st.band_sum[band], st.band_cnt[band], p.offset[comp][i]);
    }
  }
  return d;
}

#if defined(MVC_SAO_AVX2)
// Offset tables for pshufb: the positive and the negative parts of o[0..n) (the rest 0). Adding
// the first with unsigned saturation and subtracting the second with it is clip3(0, 255, c + o).
struct OffsetTables {
  __m128i pos, neg;
};
OffsetTables offset_tables(const int* o, int n) {
  alignas(16) int8_t pos[16] = {}, neg[16] = {};
  for (int i = 0; i < n; ++i) {
    pos[i] = static_cast<int8_t>(std::max(o[i], 0));
    neg[i] = static_cast<int8_t>(std::max(-o[i], 0));
  }
  return {_mm_load_si128(reinterpret_cast<const __m128i*>(pos)), _mm_load_si128(reinterpret_cast<const __m128i*>(neg))};
}
MVC_AVX2_FN inline __m128i add_offsets(__m128i c, const OffsetTables& t, __m128i idx) {
  return _mm_subs_epu8(_mm_adds_epu8(c, _mm_shuffle_epi8(t.pos, idx)), _mm_shuffle_epi8(t.neg, idx));
}
// Band offsets on the samples [x, xe) of a row, 16 at a time; returns where it stopped. The table
// index is (band - band_pos) & 31, moved to 128 and above (pshufb gives 0) unless it is below 16.
MVC_AVX2_FN int apply_band_row_avx2(const uint8_t* d, uint8_t* o, int x, int xe, int band_pos, const OffsetTables& t) {
  const __m128i bp = _mm_set1_epi8(static_cast<char>(band_pos)), m31 = _mm_set1_epi8(31), up = _mm_set1_epi8(0x70);
  for (; x + 16 <= xe; x += 16) {
    const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(d + x));
    // the bits shifted in from the next byte are above bit 4 and masked off
    const __m128i rel = _mm_and_si128(_mm_sub_epi8(_mm_srli_epi16(c, 3), bp), m31);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(o + x), add_offsets(c, t, _mm_adds_epu8(rel, up)));
  }
  return x;
}
// Edge offsets on the samples [x, xe) of a row, 16 at a time, the table indexed by
// sgn(c - a) + sgn(c - b) + 2; returns where it stopped.
MVC_AVX2_FN int apply_eo_row_avx2(const uint8_t* d, uint8_t* o, int x, int xe, int oa, int ob, const OffsetTables& t) {
  const __m128i bias = _mm_set1_epi8(static_cast<char>(0x80)), two = _mm_set1_epi8(2);
  for (; x + 16 <= xe; x += 16) {
    const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(d + x));
    const __m128i a = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(d + x + oa)), bias);
    const __m128i b = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(d + x + ob)), bias);
    const __m128i e = eo_sign_sum(_mm_xor_si128(c, bias), a, b);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(o + x), add_offsets(c, t, _mm_add_epi8(e, two)));
  }
  return x;
}
#endif

void apply_ctb(const Plane& dbk, Plane& out, int x0, int y0, int w, int h, const SaoParam& p, int comp) {
  const int t = p.type[comp];
  if (!t) return;
  if (t == 1) {
    int table[32] = {0};
    for (int k = 0; k < 4; ++k) table[(k + p.band_pos[comp]) & 31] = p.offset[comp][k];
#if defined(MVC_SAO_AVX2)
    const int o4[4] = {p.offset[comp][0], p.offset[comp][1], p.offset[comp][2], p.offset[comp][3]};
    const OffsetTables bt = offset_tables(o4, 4);
#endif
    for (int y = y0; y < y0 + h; ++y) {
      const uint8_t* d = dbk.at(0, y);
      uint8_t* o = out.at(0, y);
      int x = x0;
#if defined(MVC_SAO_AVX2)
      if (kSaoAvx2) x = apply_band_row_avx2(d, o, x, x0 + w, p.band_pos[comp], bt);
#endif
      for (; x < x0 + w; ++x) o[x] = static_cast<uint8_t>(std::clamp(d[x] + table[d[x] >> 3], 0, 255));
    }
    return;
  }
  const int k = p.eo_class[comp];
  const int offs[5] = {0, p.offset[comp][0], p.offset[comp][1], p.offset[comp][2], p.offset[comp][3]};
  const int ds = dbk.stride;
  const int oa = eo_offset(k, 0, ds), ob = eo_offset(k, 1, ds);
#if defined(MVC_SAO_AVX2)
  const int by_sign_sum[5] = {offs[1], offs[2], 0, offs[3], offs[4]};  // edgeIdx order (eo_cat)
  const OffsetTables et = offset_tables(by_sign_sum, 5);
#endif
#if defined(__SSE2__)
  const __m128i bias = _mm_set1_epi8(static_cast<char>(0x80)), z = _mm_setzero_si128();
  __m128i ov[4];
  for (int i = 0; i < 4; ++i) ov[i] = _mm_set1_epi16(static_cast<int16_t>(offs[i + 1]));
#endif
  for (int y = y0; y < y0 + h; ++y) {
    int xs, xe;
    if (!eo_span(k, x0, w, y, dbk.width, dbk.height, xs, xe)) continue;
    const uint8_t* d = dbk.at(0, y);
    uint8_t* o = out.at(0, y);
    int x = xs;
#if defined(MVC_SAO_AVX2)
    if (kSaoAvx2) x = apply_eo_row_avx2(d, o, x, xe, oa, ob, et);
#endif
#if defined(__SSE2__)
    for (; x + 16 <= xe; x += 16) {
      const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(d + x));
      const __m128i a = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(d + x + oa)), bias);
      const __m128i b = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(d + x + ob)), bias);
      const __m128i e = eo_sign_sum(_mm_xor_si128(c, bias), a, b);
      __m128i lo = _mm_unpacklo_epi8(c, z), hi = _mm_unpackhi_epi8(c, z);
      for (int i = 0; i < 4; ++i) {
        const __m128i m = _mm_cmpeq_epi8(e, _mm_set1_epi8(kSignSum[i]));  // bytes -1 / 0, widened to words
        lo = _mm_add_epi16(lo, _mm_and_si128(_mm_unpacklo_epi8(m, m), ov[i]));
        hi = _mm_add_epi16(hi, _mm_and_si128(_mm_unpackhi_epi8(m, m), ov[i]));
      }
      _mm_storeu_si128(reinterpret_cast<__m128i*>(o + x), _mm_packus_epi16(lo, hi));
    }
#endif
    for (; x < xe; ++x) {
      const int c = d[x];
      o[x] = static_cast<uint8_t>(std::clamp(c + offs[eo_cat(c, d[x + oa], d[x + ob])], 0, 255));
    }
  }
}

}  // namespace

void sao_decide_and_apply(Frame& f, std::vector<SaoParam>& params, double lambda) {
  const Seq& s = *f.seq;
  params.assign(static_cast<size_t>(s.ctu_cols) * s.ctu_rows, SaoParam{});
  Picture& dbk = f.sao_tmp;  // bordered: the edge classes' 16-sample loads may reach one sample past a row
  if (dbk.y.width != s.W || dbk.y.height != s.H || dbk.y.pad != 16) dbk.alloc(s.W, s.H, 16);
  for (int c = 0; c < 3; ++c) {
    const Plane& r = c == 0 ? f.rec.y : (c == 1 ? f.rec.u : f.rec.v);
    Plane& d = c == 0 ? dbk.y : (c == 1 ? dbk.u : dbk.v);
    for (int y = 0; y < r.height; ++y) std::memcpy(d.at(0, y), r.at(0, y), r.width);
  }
  std::vector<Stats> st(3);
  for (int ry = 0; ry < s.ctu_rows; ++ry)
    for (int rx = 0; rx < s.ctu_cols; ++rx) {
      SaoParam& p = params[ry * s.ctu_cols + rx];
      double chroma_w = 1.0;
      // With 16x16 CTBs FFmpeg (7.x) applies chroma edge offsets to not-yet-deblocked neighbours at
      // CTB corners (libde265 matches us); band offsets only there keep every decoder bit-exact.
      const int chroma_eo_classes = s.ctu == 16 ? 0 : 4;
      for (int c = 0; c < 3; ++c) {
        const int sh = c ? 1 : 0;
        const int x0 = (rx << s.ctu_log2) >> sh, y0 = (ry << s.ctu_log2) >> sh;
        const int w = std::min(s.ctu >> sh, (s.W >> sh) - x0), h = std::min(s.ctu >> sh, (s.H >> sh) - y0);
        const Plane& d = c == 0 ? dbk.y : (c == 1 ? dbk.u : dbk.v);
        const Plane& src = c == 0 ? f.src.y : (c == 1 ? f.src.u : f.src.v);
        gather(d, src, x0, y0, w, h, c == 0 || chroma_eo_classes > 0, st[c]);
      }
      // luma
      double J = 0;
      {
        CompChoice best;  // off
        double bj = lambda * 1.0;
        for (int k = 0; k < 4; ++k) {
          CompChoice e = eo_choice(st[0], k);
          const double j = e.dist + lambda * (e.bits + 2);
          if (j < bj) { bj = j; best = e; }
        }
        CompChoice b = band_choice(st[0], lambda);
        if (b.dist + lambda * (b.bits + 2) < bj) { bj = b.dist + lambda * (b.bits + 2); best = b; }
        p.type[0] = best.type; p.eo_class[0] = best.eo_class; p.band_pos[0] = best.band_pos;
        std::memcpy(p.offset[0], best.off, 4);
        J += bj;
      }
      // chroma: Cb and Cr share the type and the edge class
      {
        double bj = lambda * 1.0 * chroma_w;
        CompChoice bu, bv;
        for (int k = 0; k < chroma_eo_classes; ++k) {
          CompChoice u = eo_choice(st[1], k), v = eo_choice(st[2], k);
          const double j = u.dist + v.dist + lambda * (u.bits + v.bits - 2 + 2);
          if (j < bj) { bj = j; bu = u; bv = v; }
        }
        CompChoice u = band_choice(st[1], lambda), v = band_choice(st[2], lambda);
        const double jb = u.dist + v.dist + lambda * (u.bits + v.bits + 2);
        if (jb < bj) { bj = jb; bu = u; bv = v; }
        p.type[1] = p.type[2] = bu.type;
        p.eo_class[1] = p.eo_class[2] = bu.eo_class;
        p.band_pos[1] = bu.band_pos; p.band_pos[2] = bv.band_pos;
        std::memcpy(p.offset[1], bu.off, 4);
        std::memcpy(p.offset[2], bv.off, 4);
        J += bj;
      }
      // merge candidates
      auto merge_cost = [&](const SaoParam& q) {
        double d = 0;
        for (int c = 0; c < 3; ++c) d += param_dist(q, c, st[c]);
        return d + lambda * 1.0;
      };
      SaoParam chosen = p;
      double cj = J + lambda * ((rx > 0) + (ry > 0));
      if (rx > 0) {
        SaoParam q = params[ry * s.ctu_cols + rx - 1];
        const double j = merge_cost(q);
        if (j < cj) { cj = j; chosen = q; chosen.merge_left = 1; chosen.merge_up = 0; }
      }
      if (ry > 0) {
        SaoParam q = params[(ry - 1) * s.ctu_cols + rx];
        const double j = merge_cost(q) + lambda * (rx > 0);
        if (j < cj) { cj = j; chosen = q; chosen.merge_left = 0; chosen.merge_up = 1; }
      }
      p = chosen;
      if (!(p.merge_left || p.merge_up)) { p.merge_left = 0; p.merge_up = 0; }
      for (int c = 0; c < 3; ++c) {
        const int sh = c ? 1 : 0;
        const int x0 = (rx << s.ctu_log2) >> sh, y0 = (ry << s.ctu_log2) >> sh;
        const int w = std::min(s.ctu >> sh, (s.W >> sh) - x0), h = std::min(s.ctu >> sh, (s.H >> sh) - y0);
        const Plane& d = c == 0 ? dbk.y : (c == 1 ? dbk.u : dbk.v);
        Plane& o = c == 0 ? f.rec.y : (c == 1 ? f.rec.u : f.rec.v);
        apply_ctb(d, o, x0, y0, w, h, p, c);
      }
    }
}

}  // namespace hevc
}  // namespace mvc
