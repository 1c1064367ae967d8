// Transforms and quantisation: 8.6.2 scaling (flat, scaling lists off), 8.6.4 inverse DCT/DST;
// the forward transform and quantiser are the encoder-side counterparts.
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "common/pixel.h"
#include "hm/hevc.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

// AVX2 kernels are compiled with a target attribute and chosen at run time (the module must
// run on any x86-64); other CPUs and compilers use the scalar loops, which define the results.
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__)) && !defined(MVC_NO_AVX2)
#define MVC_HM_AVX2 1
#include <immintrin.h>
#define MVC_AVX2_FN __attribute__((target("avx2")))
#endif

namespace mvc {
namespace hevc {

namespace {

// transMatrix (8.6.4.2) built from its 32 distinct magnitudes: entry [k][n] ~ cos((2n+1)k pi / 64).
struct Matrix32 {
  int8_t m[32][32];
  Matrix32() {
    int c[33] = {0};
    const int odd32[16] = {90, 90, 88, 85, 82, 78, 73, 67, 61, 54, 46, 38, 31, 22, 13, 4};
    const int odd16[8] = {90, 87, 80, 70, 57, 43, 25, 9};
    const int odd8[4] = {89, 75, 50, 18};
    for (int i = 0; i < 16; ++i) c[2 * i + 1] = odd32[i];
    for (int i = 0; i < 8; ++i) c[4 * i + 2] = odd16[i];
    for (int i = 0; i < 4; ++i) c[8 * i + 4] = odd8[i];
    c[8] = 83; c[24] = 36; c[16] = 64; c[0] = 64;
    for (int k = 0; k < 32; ++k)
      for (int n = 0; n < 32; ++n) {
        if (k == 0) { m[k][n] = 64; continue; }
        int a = ((2 * n + 1) * k) % 128;
        int sign = 1;
        if (a > 64) a = 128 - a;       // cos(2pi - t) = cos(t)
        if (a > 32) { a = 64 - a; sign = -1; }  // cos(pi - t) = -cos(t)
        m[k][n] = static_cast<int8_t>(sign * c[a]);
      }
  }
};
const Matrix32& mat() {
  static const Matrix32 t;
  return t;
}
constexpr int kDst[4][4] = {{29, 55, 74, 84}, {74, 74, 0, -74}, {84, -29, -74, 55}, {55, -84, 74, -29}};

inline int coef(int log2n, bool dst, int k, int n) {
  if (dst) return kDst[k][n];
  return mat().m[k << (5 - log2n)][n];
}

inline int clip16(int64_t v) { return v < -32768 ? -32768 : (v > 32767 ? 32767 : static_cast<int>(v)); }

}  // namespace

namespace {
// Row-major N-point matrices (rows of transMatrix subsampled for N < 32, or the DST) as int32
// so the loops below vectorise.
struct Mats {
  int32_t m[5][32 * 32];  // index log2n - 1 (1: DST 4x4, 2..5: DCT 4..32)
  Mats() {
    for (int l = 2; l <= 5; ++l)
      for (int k = 0; k < (1 << l); ++k)
        for (int n = 0; n < (1 << l); ++n) m[l - 1][k * (1 << l) + n] = coef(l, false, k, n);
    for (int k = 0; k < 4; ++k)
      for (int n = 0; n < 4; ++n) m[0][k * 4 + n] = kDst[k][n];
  }
};
const Mats kMats;  // built at load time so the hot transforms index it without a guard
inline const int32_t* matrix(int log2n, bool dst) { return kMats.m[dst ? 0 : log2n - 1]; }
}  // namespace

namespace {
// N-point forward / inverse DCT of one vector by even/odd decomposition (the matrix's rows 2k are
// the N/2-point matrix, odd rows are antisymmetric): the same integer sums as the matrix product.
// V is int32_t (one vector) or a GCC vector of int32 (one vector per lane, AVX2 callers): the
// bodies are inlined into their callers and compiled for the caller's instruction set.
#define MVC_GENERIC_INLINE inline __attribute__((always_inline))
template <int N, class V>
MVC_GENERIC_INLINE void fdct1v(const V* x, V* y) {
  if constexpr (N == 2) {
    y[0] = 64 * (x[0] + x[1]);
    y[1] = 64 * (x[0] - x[1]);
  } else {
    constexpr int H = N / 2;
    constexpr int L = N == 4 ? 2 : (N == 8 ? 3 : (N == 16 ? 4 : 5));
    V e[H], o[H], ye[H];
    for (int i = 0; i < H; ++i) { e[i] = x[i] + x[N - 1 - i]; o[i] = x[i] - x[N - 1 - i]; }
    fdct1v<H>(e, ye);
    const int32_t* M = matrix(L, false);
    for (int k = 0; k < H; ++k) {
      const int32_t* mk = M + (2 * k + 1) * N;
      V acc = o[0] * mk[0];
      for (int i = 1; i < H; ++i) acc += o[i] * mk[i];
      y[2 * k] = ye[k];
      y[2 * k + 1] = acc;
    }
  }
}
template <int N, class V>
MVC_GENERIC_INLINE void idct1v(const V* c, V* out) {
  if constexpr (N == 2) {
    out[0] = 64 * (c[0] + c[1]);
    out[1] = 64 * (c[0] - c[1]);
  } else {
    constexpr int H = N / 2;
    constexpr int L = N == 4 ? 2 : (N == 8 ? 3 : (N == 16 ? 4 : 5));
    V ce[H], ev[H], od[H];
    for (int k = 0; k < H; ++k) ce[k] = c[2 * k];
    idct1v<H>(ce, ev);
    const int32_t* M = matrix(L, false);
    for (int i = 0; i < H; ++i) od[i] = c[1] * M[N + i];
    for (int k = 1; k < H; ++k) {
      const int32_t* mk = M + (2 * k + 1) * N;
      for (int i = 0; i < H; ++i) od[i] += c[2 * k + 1] * mk[i];
    }
    for (int i = 0; i < H; ++i) { out[i] = ev[i] + od[i]; out[N - 1 - i] = ev[i] - od[i]; }
  }
}

template <int N>
void fdct2(const int16_t* res, int rs, int32_t* out) {
  constexpr int L = N == 4 ? 2 : (N == 8 ? 3 : (N == 16 ? 4 : 5));
  constexpr int sh1 = L - 1, sh2 = L + 6;
  int32_t tmp[N * N];  // tmp[k][y] (transposed first-stage output)
  int32_t v[N], z[N];
  for (int y = 0; y < N; ++y) {
    for (int x = 0; x < N; ++x) v[x] = res[y * rs + x];
    fdct1v<N>(v, z);
    for (int k = 0; k < N; ++k) tmp[k * N + y] = (z[k] + (1 << (sh1 - 1))) >> sh1;
  }
  for (int x = 0; x < N; ++x) {
    fdct1v<N>(tmp + x * N, z);
    for (int k = 0; k < N; ++k) out[k * N + x] = (z[k] + (1 << (sh2 - 1))) >> sh2;
  }
}
}  // namespace

#if defined(MVC_HM_AVX2)
namespace {
const bool kTrAvx2 = use_avx2();
// The 1-D transforms above, run on 8 (or for N = 4, 4) independent vectors at once: one vector
// per lane, the same int32 operations per lane, so the results are identical.
typedef int32_t v8si __attribute__((vector_size(32)));
typedef int32_t v4si __attribute__((vector_size(16)));

// The 4-point DST (no butterflies): y[k] = sum_n M[k][n] x[n], and its transpose for the inverse.
template <class V>
MVC_AVX2_FN inline void fdst1v(const V* x, V* y) {
  for (int k = 0; k < 4; ++k) y[k] = x[0] * kDst[k][0] + x[1] * kDst[k][1] + x[2] * kDst[k][2] + x[3] * kDst[k][3];
}
template <class V>
MVC_AVX2_FN inline void idst1v(const V* c, V* out) {
  for (int n = 0; n < 4; ++n) out[n] = c[0] * kDst[0][n] + c[1] * kDst[1][n] + c[2] * kDst[2][n] + c[3] * kDst[3][n];
}

MVC_AVX2_FN inline void transpose(v8si* v) {
  __m256i r[8], t[8], u[8];
  for (int i = 0; i < 8; ++i) r[i] = reinterpret_cast<__m256i>(v[i]);
  for (int i = 0; i < 8; i += 2) { t[i] = _mm256_unpacklo_epi32(r[i], r[i + 1]); t[i + 1] = _mm256_unpackhi_epi32(r[i], r[i + 1]); }
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_unpacklo_epi64(t[i], t[i + 2]); u[i + 1] = _mm256_unpackhi_epi64(t[i], t[i + 2]);
    u[i + 2] = _mm256_unpacklo_epi64(t[i + 1], t[i + 3]); u[i + 3] = _mm256_unpackhi_epi64(t[i + 1], t[i + 3]);
  }
  for (int i = 0; i < 4; ++i) {
    v[i] = reinterpret_cast<v8si>(_mm256_permute2x128_si256(u[i], u[i + 4], 0x20));
    v[i + 4] = reinterpret_cast<v8si>(_mm256_permute2x128_si256(u[i], u[i + 4], 0x31));
  }
}
MVC_AVX2_FN inline void transpose(v4si* v) {
  const __m128i r0 = reinterpret_cast<__m128i>(v[0]), r1 = reinterpret_cast<__m128i>(v[1]);
  const __m128i r2 = reinterpret_cast<__m128i>(v[2]), r3 = reinterpret_cast<__m128i>(v[3]);
  const __m128i t0 = _mm_unpacklo_epi32(r0, r1), t1 = _mm_unpacklo_epi32(r2, r3);
  const __m128i t2 = _mm_unpackhi_epi32(r0, r1), t3 = _mm_unpackhi_epi32(r2, r3);
  v[0] = reinterpret_cast<v4si>(_mm_unpacklo_epi64(t0, t1)); v[1] = reinterpret_cast<v4si>(_mm_unpackhi_epi64(t0, t1));
  v[2] = reinterpret_cast<v4si>(_mm_unpacklo_epi64(t2, t3)); v[3] = reinterpret_cast<v4si>(_mm_unpackhi_epi64(t2, t3));
}
// Row i of a W x W tile, widened / as stored, into v[i].
MVC_AVX2_FN inline void load_rows(const int16_t* p, int st, v8si* v) {
  for (int i = 0; i < 8; ++i) v[i] = reinterpret_cast<v8si>(_mm256_cvtepi16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i * st))));
}
MVC_AVX2_FN inline void load_rows(const int16_t* p, int st, v4si* v) {
  for (int i = 0; i < 4; ++i) v[i] = reinterpret_cast<v4si>(_mm_cvtepi16_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + i * st))));
}
template <class V>
MVC_AVX2_FN inline void load_rows(const int32_t* p, int st, V* v) {
  for (size_t i = 0; i < sizeof(V) / 4; ++i) std::memcpy(&v[i], p + i * st, sizeof(V));
}
// Low 16 bits of each lane (the scalar code's int16_t conversion), stored.
MVC_AVX2_FN inline void store16(const v8si& v, int16_t* p) {
  const __m256i x = _mm256_srai_epi32(_mm256_slli_epi32(reinterpret_cast<__m256i>(v), 16), 16);
  const __m256i pk = _mm256_permute4x64_epi64(_mm256_packs_epi32(x, x), 0x08);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_castsi256_si128(pk));
}
MVC_AVX2_FN inline void store16(const v4si& v, int16_t* p) {
  const __m128i x = _mm_srai_epi32(_mm_slli_epi32(reinterpret_cast<__m128i>(v), 16), 16);
  _mm_storel_epi64(reinterpret_cast<__m128i*>(p), _mm_packs_epi32(x, x));
}
MVC_AVX2_FN inline v8si clip16v(v8si v) {
  return reinterpret_cast<v8si>(_mm256_max_epi32(_mm256_min_epi32(reinterpret_cast<__m256i>(v), _mm256_set1_epi32(32767)), _mm256_set1_epi32(-32768)));
}
MVC_AVX2_FN inline v4si clip16v(v4si v) {
  return reinterpret_cast<v4si>(_mm_max_epi32(_mm_min_epi32(reinterpret_cast<__m128i>(v), _mm_set1_epi32(32767)), _mm_set1_epi32(-32768)));
}

// fdct2<N> with the vectors in lanes: stage 1 transforms W rows at once (tiles transposed so a
// vector holds one column), stage 2 W columns of the transposed intermediate at once.
template <int N, bool Dst = false>
MVC_AVX2_FN void fdct2_avx2(const int16_t* res, int rs, int32_t* out) {
  constexpr int L = N == 4 ? 2 : (N == 8 ? 3 : (N == 16 ? 4 : 5));
  constexpr int sh1 = L - 1, sh2 = L + 6, W = N == 4 ? 4 : 8;
  using V = std::conditional_t<N == 4, v4si, v8si>;
  alignas(32) int32_t tmp[N * N];  // tmp[k][y], as in fdct2
  V x[N], z[N];
  for (int y0 = 0; y0 < N; y0 += W) {
    for (int x0 = 0; x0 < N; x0 += W) {
      load_rows(res + y0 * rs + x0, rs, x + x0);
      transpose(x + x0);  // x[x0 + i]: column x0 + i of rows y0..y0 + W - 1
    }
    if constexpr (Dst) fdst1v(x, z); else fdct1v<N>(x, z);
    for (int k = 0; k < N; ++k) {
      const V t = (z[k] + (1 << (sh1 - 1))) >> sh1;
      std::memcpy(tmp + k * N + y0, &t, sizeof(V));
    }
  }
  for (int x0 = 0; x0 < N; x0 += W) {
    for (int y0 = 0; y0 < N; y0 += W) {
      load_rows(tmp + x0 * N + y0, N, x + y0);
      transpose(x + y0);  // x[y]: tmp[x0..x0 + W - 1][y]
    }
    if constexpr (Dst) fdst1v(x, z); else fdct1v<N>(x, z);
    for (int k = 0; k < N; ++k) {
      const V t = (z[k] + (1 << (sh2 - 1))) >> sh2;
      std::memcpy(out + k * N + x0, &t, sizeof(V));
    }
  }
}

// idct2<N> with the vectors in lanes: stage 1 on W columns at once (rows of in are vectors),
// stage 2 on W rows of the intermediate at once (tiles transposed in and out).
template <int N, bool Dst = false>
MVC_AVX2_FN void idct2_avx2(const int32_t* in, int16_t* res) {
  constexpr int W = N == 4 ? 4 : 8;
  using V = std::conditional_t<N == 4, v4si, v8si>;
  alignas(32) int32_t tmp[N * N];  // tmp[y][x], as in idct2
  V c[N], v[N];
  for (int x0 = 0; x0 < N; x0 += W) {
    for (int k = 0; k < N; ++k) std::memcpy(&c[k], in + k * N + x0, sizeof(V));
    if constexpr (Dst) idst1v(c, v); else idct1v<N>(c, v);
    for (int y = 0; y < N; ++y) {
      const V t = clip16v((v[y] + 64) >> 7);
      std::memcpy(tmp + y * N + x0, &t, sizeof(V));
    }
  }
  for (int y0 = 0; y0 < N; y0 += W) {
    for (int k0 = 0; k0 < N; k0 += W) {
      load_rows(tmp + y0 * N + k0, N, c + k0);
      transpose(c + k0);  // c[k]: tmp[y0..y0 + W - 1][k]
    }
    if constexpr (Dst) idst1v(c, v); else idct1v<N>(c, v);
    for (int x0 = 0; x0 < N; x0 += W) {
      for (int i = 0; i < W; ++i) v[x0 + i] = (v[x0 + i] + (1 << 11)) >> 12;
      transpose(v + x0);  // v[x0 + i]: row y0 + i, columns x0..x0 + W - 1
      for (int i = 0; i < W; ++i) store16(v[x0 + i], res + (y0 + i) * N + x0);
    }
  }
}
}  // namespace
#endif

void forward_transform(const int16_t* res, int rs, int32_t* out, int log2n, bool dst) {
#if defined(MVC_HM_AVX2)
  if (dst && log2n == 2 && kTrAvx2) {
    fdct2_avx2<4, true>(res, rs, out);
    return;
  }
  if (!dst && kTrAvx2) {
    switch (log2n) {
      case 2: fdct2_avx2<4>(res, rs, out); return;
      case 3: fdct2_avx2<8>(res, rs, out); return;
      case 4: fdct2_avx2<16>(res, rs, out); return;
      case 5: fdct2_avx2<32>(res, rs, out); return;
      default: break;
    }
  }
#endif
  if (!dst) {
    switch (log2n) {
      case 2: fdct2<4>(res, rs, out); return;
      case 3: fdct2<8>(res, rs, out); return;
      case 4: fdct2<16>(res, rs, out); return;
      case 5: fdct2<32>(res, rs, out); return;
      default: break;
    }
  }

  const int n = 1 << log2n;
  const int32_t* M = matrix(log2n, dst);
  const int sh1 = log2n - 1, sh2 = log2n + 6;  // 8-bit video
  int32_t tmp[32 * 32];  // tmp[k][y] (transposed) = sum_x M[k][x] res[y][x]
  for (int y = 0; y < n; ++y) {
    int32_t r[32];
    for (int x = 0; x < n; ++x) r[x] = res[y * rs + x];
    for (int k = 0; k < n; ++k) {
      const int32_t* mk = M + k * n;
      int32_t s = 0;
      for (int x = 0; x < n; ++x) s += mk[x] * r[x];
      tmp[k * n + y] = (s + (1 << (sh1 - 1))) >> sh1;
    }
  }
  for (int k = 0; k < n; ++k) {  // out[k][x] = sum_y M[k][y] tmp[x][y]
    const int32_t* mk = M + k * n;
    for (int x = 0; x < n; ++x) {
      const int32_t* t = tmp + x * n;
      int32_t s = 0;
      for (int y = 0; y < n; ++y) s += mk[y] * t[y];
      out[k * n + x] = (s + (1 << (sh2 - 1))) >> sh2;
    }
  }
}

namespace {
template <int N>
void idct2(const int32_t* in, int16_t* res) {
  int32_t tmp[N * N], col[N], v[N];
  int last_row = -1;
  for (int k = 0; k < N; ++k)
    for (int x = 0; x < N; ++x)
      if (in[k * N + x]) last_row = k;
  if (last_row < 0) {
    for (int i = 0; i < N * N; ++i) res[i] = 0;
    return;
  }
  for (int x = 0; x < N; ++x) {  // first stage (columns), clipped to 16 bits
    bool any = false;
    for (int k = 0; k < N; ++k) { col[k] = k <= last_row ? in[k * N + x] : 0; any |= col[k] != 0; }
    if (!any) { for (int y = 0; y < N; ++y) tmp[y * N + x] = 0; continue; }
    idct1v<N>(col, v);
    for (int y = 0; y < N; ++y) tmp[y * N + x] = clip16((int64_t(v[y]) + 64) >> 7);
  }
  for (int y = 0; y < N; ++y) {  // second stage (rows), bdShift = 20 - BitDepth
    idct1v<N>(tmp + y * N, v);
    for (int x = 0; x < N; ++x) res[y * N + x] = static_cast<int16_t>((v[x] + (1 << 11)) >> 12);
  }
}
}  // namespace

void inverse_transform(const int32_t* in, int16_t* res, int log2n, bool dst) {
#if defined(MVC_HM_AVX2)
  if (dst && log2n == 2 && kTrAvx2) {
    idct2_avx2<4, true>(in, res);
    return;
  }
  if (!dst && kTrAvx2) {
    switch (log2n) {
      case 2: idct2_avx2<4>(in, res); return;
      case 3: idct2_avx2<8>(in, res); return;
      case 4: idct2_avx2<16>(in, res); return;
      case 5: idct2_avx2<32>(in, res); return;
      default: break;
    }
  }
#endif
  if (!dst) {
    switch (log2n) {
      case 2: idct2<4>(in, res); return;
      case 3: idct2<8>(in, res); return;
      case 4: idct2<16>(in, res); return;
      case 5: idct2<32>(in, res); return;
      default: break;
    }
  }
  const int n = 1 << log2n;
  const int32_t* M = matrix(log2n, dst);
  int last_row = -1;
  for (int k = 0; k < n; ++k)
    for (int x = 0; x < n; ++x)
      if (in[k * n + x]) last_row = k;
  int32_t tmp[32 * 32];
  for (int y = 0; y < n; ++y) {  // 8.6.4.2 first stage (columns): tmp[y][x] = sum_k M[k][y] in[k][x]
    int32_t acc[32] = {0};
    for (int k = 0; k <= last_row; ++k) {
      const int32_t m = M[k * n + y];
      const int32_t* row = in + k * n;
      for (int x = 0; x < n; ++x) acc[x] += m * row[x];
    }
    for (int x = 0; x < n; ++x) tmp[y * n + x] = clip16((int64_t(acc[x]) + 64) >> 7);
  }
  for (int y = 0; y < n; ++y) {  // second stage (rows), bdShift = 20 - BitDepth
    int32_t acc[32] = {0};
    const int32_t* t = tmp + y * n;
    for (int k = 0; k < n; ++k) {
      const int32_t v = t[k];
      if (!v) continue;
      const int32_t* mk = M + k * n;
      for (int x = 0; x < n; ++x) acc[x] += v * mk[x];
    }
    for (int x = 0; x < n; ++x) res[y * n + x] = static_cast<int16_t>((acc[x] + (1 << 11)) >> 12);
  }
}

namespace {
#if defined(MVC_HM_AVX2)
const bool kHasAvx2 = use_avx2();

// The dead-zone quantiser of quantize() on count (a multiple of 16) coefficients, exact in 32-bit
// lanes: with |c| = h * 2^16 + l (h <= 2^15, l < 2^16), scale < 2^15, add < 2^26 and shift >= 16,
// (|c| * scale + add) >> shift = (h * scale + ((l * scale + add) >> 16)) >> (shift - 16), where
// l * scale + add < 2^32 and the level before clipping < 2^31 (the 32767 clip is packs' saturation).
MVC_AVX2_FN inline __m256i quant_mag_avx2(__m256i vc, __m256i vscale, __m256i vadd, __m128i vshift) {
  const __m256i a = _mm256_abs_epi32(vc);  // |INT32_MIN| reads as 2^31 unsigned, as llabs gives
  const __m256i low = _mm256_srli_epi32(
      _mm256_add_epi32(_mm256_mullo_epi32(_mm256_and_si256(a, _mm256_set1_epi32(0xffff)), vscale), vadd), 16);
  return _mm256_srl_epi32(_mm256_add_epi32(_mm256_mullo_epi32(_mm256_srli_epi32(a, 16), vscale), low), vshift);
}
MVC_AVX2_FN int quant_levels_avx2(const int32_t* c, int16_t* level, int count, int32_t scale, int32_t add, int shift) {
  const __m256i vscale = _mm256_set1_epi32(scale), vadd = _mm256_set1_epi32(add);
  const __m128i vshift = _mm_cvtsi32_si128(shift - 16);
  int zeros = 0;
  for (int i = 0; i < count; i += 16) {
    const __m256i c0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c + i));
    const __m256i c1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c + i + 8));
    // packs interleave 128-bit lanes: l0..3 l8..11 | l4..7 l12..15, the same for the signs
    const __m256i m0 = quant_mag_avx2(c0, vscale, vadd, vshift), m1 = quant_mag_avx2(c1, vscale, vadd, vshift);
    const __m256i l = _mm256_sign_epi16(_mm256_packs_epi32(m0, m1), _mm256_packs_epi32(c0, c1));
    zeros += __builtin_popcount(static_cast<unsigned>(_mm256_movemask_epi8(_mm256_cmpeq_epi16(l, _mm256_setzero_si256()))));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(level + i), _mm256_permute4x64_epi64(l, 0xD8));
  }
  return count - zeros / 2;
}
#endif

// Coefficient scans of scan_order(), built once per scan and size, and for the 4x4 scan (the
// order inside every sub-block) the scan-position mask of each raster mask half: bit k of
// to_scan[s][h][m] is set where the raster index 8h + bit of m sits at scan position k.
struct ScanTables {
  uint16_t* t[3][6] = {};
  uint16_t buf[3][16 + 64 + 256 + 1024];
  uint16_t to_scan[3][2][256] = {};
  ScanTables() {
    for (int s = 0; s < 3; ++s) {
      uint16_t* p = buf[s];
      for (int l = 2; l <= 5; ++l) {
        t[s][l] = p;
        scan_order(s, l, p);
        p += 1 << (2 * l);
      }
      for (int k = 0; k < 16; ++k) {
        const int r = t[s][2][k];
        for (int m = 0; m < 256; ++m)
          if (m >> (r & 7) & 1) to_scan[s][r >> 3][m] |= static_cast<uint16_t>(1u << k);
      }
    }
  }
};
const ScanTables kScans;

// Bit 4y + x of nz / odd: level[y * n + x] of the 4x4 sub-block at lv is nonzero / odd.
inline void subblock_masks(const int16_t* lv, int n, unsigned& nz, unsigned& odd) {
#if defined(__SSE2__)
  auto rows = [&](int y) {
    return _mm_unpacklo_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(lv + y * n)),
                              _mm_loadl_epi64(reinterpret_cast<const __m128i*>(lv + (y + 1) * n)));
  };
  const __m128i a = rows(0), b = rows(2), zero = _mm_setzero_si128();
  nz = 0xffffu & ~static_cast<unsigned>(_mm_movemask_epi8(_mm_packs_epi16(_mm_cmpeq_epi16(a, zero), _mm_cmpeq_epi16(b, zero))));
  odd = static_cast<unsigned>(_mm_movemask_epi8(_mm_packs_epi16(_mm_slli_epi16(a, 15), _mm_slli_epi16(b, 15))));
#else
  nz = odd = 0;
  for (int r = 0; r < 16; ++r) {
    const int v = lv[(r >> 2) * n + (r & 3)];
    nz |= static_cast<unsigned>(v != 0) << r;
    odd |= static_cast<unsigned>(v & 1) << r;
  }
#endif
}
}  // namespace

const uint16_t* cached_scan(int scan_idx, int log2n) { return kScans.t[scan_idx][log2n]; }

int quantize(const int32_t* c, int16_t* level, int log2n, int qp, bool intra, int scan_idx, const Rdoq* rdoq) {
  static constexpr int kScale[6] = {26214, 23302, 20560, 18396, 16384, 14564};
  const int n = 1 << log2n;
  const int shift = 14 + qp / 6 + (15 - 8 - log2n);
  const int64_t add = int64_t(intra ? 171 : 85) << (shift - 9);
  const double inv = 1.0 / double(int64_t(1) << shift);
  const int64_t scale = kScale[qp % 6];
  int nz = 0;
#if defined(MVC_HM_AVX2)
  if (kHasAvx2) {
    nz = quant_levels_avx2(c, level, n * n, static_cast<int32_t>(scale), static_cast<int32_t>(add), shift);
  } else
#endif
  for (int i = 0; i < n * n; ++i) {
    const int64_t a = std::llabs(int64_t(c[i])) * scale;
    int64_t l = (a + add) >> shift;
    if (l > 32767) l = 32767;
    level[i] = static_cast<int16_t>(c[i] < 0 ? -l : l);
    nz += l != 0;
  }
  if (!nz) return 0;
  if (rdoq) {  // level = coefficient * scale / 2^shift; one level is 2^(14 + qp/6) / scale in orthonormal units
    nz = rdoq_levels(c, level, log2n, scan_idx, double(scale) * inv, double(int64_t(1) << (14 + qp / 6)) / double(scale), *rdoq);
    if (!nz) return 0;
  }
  // unrounded level magnitude, needed only by the parity fix below
  auto exact = [&](int i) { return static_cast<float>(double(std::llabs(int64_t(c[i])) * scale) * inv); };
  // Sign data hiding (7.3.8.11): where the sub-block's first and last nonzero levels are more than 3
  // scan positions apart, the parity of the level sum gives the first level's sign; fix the parity
  // with the +-1 change that costs least squared quantisation error.
  const uint16_t* scan = kScans.t[scan_idx][log2n];
  const uint16_t(*to_scan)[256] = kScans.to_scan[scan_idx];
  for (int sb = 0; sb < (n * n) / 16; ++sb) {
    const uint16_t* p = scan + sb * 16;
    unsigned nzr, odd;  // raster masks; p[0] is the sub-block's top-left sample (every 4x4 scan starts there)
    subblock_masks(level + p[0], n, nzr, odd);
    if (!nzr) continue;
    const unsigned nzs = to_scan[0][nzr & 255] | to_scan[1][nzr >> 8];  // the nonzero levels by scan position
    const int first = __builtin_ctz(nzs), last = 31 - __builtin_clz(nzs);
    if (last - first <= 3) continue;
    const bool negative = level[p[first]] < 0;
    if ((__builtin_popcount(odd) & 1) == (negative ? 1 : 0)) continue;  // the level sum's parity
    double best = 1e30;
    int bk = -1, bd = 0;
    for (int k = first; k <= last; ++k) {
      const int q = std::abs(level[p[k]]);
      const double e = exact(p[k]) - q;  // exact - chosen, in level units
      if (q < 32767) {
        const double up = 1.0 - 2.0 * e;  // (q + 1 - v)^2 - (q - v)^2
        if (up < best && !(k == first && q == 0)) { best = up; bk = k; bd = +1; }
      }
      if (q > 0 && !(q == 1 && (k == first || k == last))) {
        const double dn = 1.0 + 2.0 * e;
        if (dn < best) { best = dn; bk = k; bd = -1; }
      }
    }
    if (bk < 0) continue;
    int16_t& l = level[p[bk]];
    const int q = std::abs(l) + bd;
    const bool neg = l ? l < 0 : c[p[bk]] < 0;
    if (l == 0) ++nz;
    l = static_cast<int16_t>(neg ? -q : q);
  }
  return nz;
}

#if defined(MVC_HM_AVX2)
namespace {
// dequantize() in 32-bit lanes for blocks where max |level| * scale + round < 2^31 (checked by the
// caller); packs_epi32's saturation is the clip to 16 bits.
MVC_AVX2_FN inline void dequant8_avx2(__m128i l16, int32_t* o, __m256i vs, __m256i vr, __m128i vbd) {
  __m256i v = _mm256_sra_epi32(_mm256_add_epi32(_mm256_mullo_epi32(_mm256_cvtepi16_epi32(l16), vs), vr), vbd);
  v = _mm256_permute4x64_epi64(_mm256_packs_epi32(v, v), 0x08);  // saturate to int16, in order
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(o), _mm256_cvtepi16_epi32(_mm256_castsi256_si128(v)));
}
MVC_AVX2_FN void dequant_avx2(const int16_t* level, int ls, int32_t* out, int n, int32_t scale, int bd) {
  const __m256i vs = _mm256_set1_epi32(scale), vr = _mm256_set1_epi32(1 << (bd - 1));
  const __m128i vbd = _mm_cvtsi32_si128(bd);
  if (n == 4) {
    for (int y = 0; y < 4; y += 2)
      dequant8_avx2(_mm_unpacklo_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(level + y * ls)),
                                       _mm_loadl_epi64(reinterpret_cast<const __m128i*>(level + (y + 1) * ls))),
                    out + y * 4, vs, vr, vbd);
    return;
  }
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; x += 8)
      dequant8_avx2(_mm_loadu_si128(reinterpret_cast<const __m128i*>(level + y * ls + x)), out + y * n + x, vs, vr, vbd);
}
MVC_AVX2_FN int max_abs_level_avx2(const int16_t* level, int ls, int n) {
  __m128i m = _mm_setzero_si128();
  if (n == 4) {
    for (int y = 0; y < 4; ++y)
      m = _mm_max_epu16(m, _mm_abs_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(level + y * ls))));
  } else {
    for (int y = 0; y < n; ++y)
      for (int x = 0; x < n; x += 8)
        m = _mm_max_epu16(m, _mm_abs_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(level + y * ls + x))));
  }
  // unsigned max: |-32768| reads as 32768
  m = _mm_max_epu16(m, _mm_srli_si128(m, 8));
  m = _mm_max_epu16(m, _mm_srli_si128(m, 4));
  m = _mm_max_epu16(m, _mm_srli_si128(m, 2));
  return _mm_extract_epi16(m, 0);
}
}  // namespace
#endif

void dequantize(const int16_t* level, int ls, int32_t* out, int log2n, int qp) {
  static constexpr int kLevel[6] = {40, 45, 51, 57, 64, 72};
  const int n = 1 << log2n;
  const int bd = 8 + log2n - 5;  // bdShift = BitDepth + Log2(nTbS) + 10 - 15 (with m = 16 folded in: +4)
  const int64_t scale = int64_t(16) * kLevel[qp % 6] << (qp / 6);
#if defined(MVC_HM_AVX2)
  if (kHasAvx2 && int64_t(max_abs_level_avx2(level, ls, n)) * scale + (int64_t(1) << (bd - 1)) < (int64_t(1) << 31)) {
    dequant_avx2(level, ls, out, n, static_cast<int32_t>(scale), bd);
    return;
  }
#endif
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x) {
      const int64_t v = (int64_t(level[y * ls + x]) * scale + (int64_t(1) << (bd - 1))) >> bd;
      out[y * n + x] = clip16(v);
    }
}

}  // namespace hevc
}  // namespace mvc
