// In-loop deblocking filter (H.264 8.7): per macroblock in raster order, vertical edges then
// horizontal edges, boundary strength from intra/coefficients/motion (8.7.2.1), luma and
// chroma sample filters with the alpha/beta/tc0 tables (8.7.2.3-8.7.2.4).
#include <cstdlib>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "common/pixel.h"
#include "jm/h264.h"

namespace mvc {
namespace h264 {

namespace {

inline int clip3(int lo, int hi, int v) { return v < lo ? lo : v > hi ? hi : v; }

// Filters one line of samples across an edge; p_i = s[-(i+1)*step], q_i = s[i*step] (builds without SSE2).
template <bool chroma>
inline void filter_line(uint8_t* s, int step, int bs, int alpha, int beta, int tc0) {
  const int p0 = s[-step], p1 = s[-2 * step], q0 = s[0], q1 = s[step];
  if (!(std::abs(p0 - q0) < alpha && std::abs(p1 - p0) < beta && std::abs(q1 - q0) < beta)) return;
  if constexpr (chroma) {
    if (bs < 4) {
      const int tc = tc0 + 1;
      const int d = clip3(-tc, tc, ((q0 - p0) * 4 + (p1 - q1) + 4) >> 3);
      s[-step] = clip1(p0 + d);
      s[0] = clip1(q0 - d);
    } else {
      s[-step] = uint8_t((2 * p1 + p0 + q1 + 2) >> 2);
      s[0] = uint8_t((2 * q1 + q0 + p1 + 2) >> 2);
    }
    return;
  }
  const int p2 = s[-3 * step], q2 = s[2 * step];
  const int ap = std::abs(p2 - p0), aq = std::abs(q2 - q0);
  if (bs < 4) {
    const int tc = tc0 + (ap < beta) + (aq < beta);
    const int d = clip3(-tc, tc, ((q0 - p0) * 4 + (p1 - q1) + 4) >> 3);
    s[-step] = clip1(p0 + d);
    s[0] = clip1(q0 - d);
    if (ap < beta) s[-2 * step] = uint8_t(p1 + clip3(-tc0, tc0, (p2 + ((p0 + q0 + 1) >> 1) - (p1 << 1)) >> 1));
    if (aq < beta) s[step] = uint8_t(q1 + clip3(-tc0, tc0, (q2 + ((p0 + q0 + 1) >> 1) - (q1 << 1)) >> 1));
    return;
  }
  const int p3 = s[-4 * step], q3 = s[3 * step];
  const bool strong = std::abs(p0 - q0) < ((alpha >> 2) + 2);
  if (ap < beta && strong) {
    s[-step] = uint8_t((p2 + 2 * p1 + 2 * p0 + 2 * q0 + q1 + 4) >> 3);
    s[-2 * step] = uint8_t((p2 + p1 + p0 + q0 + 2) >> 2);
    s[-3 * step] = uint8_t((2 * p3 + 3 * p2 + p1 + p0 + q0 + 4) >> 3);
  } else {
    s[-step] = uint8_t((2 * p1 + p0 + q1 + 2) >> 2);
  }
  if (aq < beta && strong) {
    s[0] = uint8_t((p1 + 2 * p0 + 2 * q0 + 2 * q1 + q2 + 4) >> 3);
    s[step] = uint8_t((p0 + q0 + q1 + q2 + 2) >> 2);
    s[2 * step] = uint8_t((2 * q3 + 3 * q2 + q1 + q0 + p0 + 4) >> 3);
  } else {
    s[0] = uint8_t((2 * q1 + q0 + p1 + 2) >> 2);
  }
}

// Boundary strength (8.7.2.1) between raster 4x4 block rp of P and rq of Q (both inter).
inline int inter_strength(const Mb& P, int rp, const Mb& Q, int rq) {
  if (P.nz[rp] || Q.nz[rq]) return 2;
  if (P.ref[((rp >> 3) << 1) + ((rp & 3) >> 1)] != Q.ref[((rq >> 3) << 1) + ((rq & 3) >> 1)]) return 1;
  return std::abs(P.mv[rp][0] - Q.mv[rq][0]) >= 4 || std::abs(P.mv[rp][1] - Q.mv[rq][1]) >= 4;
}

// bS of the macroblock's edges: bs[dir][edge][block along edge]; dir 0 = vertical edges.
// Returns false when every bS is 0.
bool mb_strengths(const EncCtx& c, int mbx, int mby, int bs[2][4][4]) {
  const Mb& Q = c.pic.mbs[static_cast<size_t>(mby) * c.mbw + mbx];
  const Mb* nb[2] = {mbx > 0 ? &Q - 1 : nullptr, mby > 0 ? &Q - c.mbw : nullptr};
  const bool qi = is_intra(Q.type);
  // one vector, one reference, no luma coefficients: every inner edge has bS 0
  const bool flat = Q.type == MB_PSKIP || (Q.type == MB_P16x16 && (Q.cbp & 15) == 0);
  for (int dir = 0; dir < 2; ++dir) {
    const Mb* P = nb[dir];
    for (int k = 0; k < 4; ++k) {
      const int rq = dir == 0 ? k * 4 : k;
      bs[dir][0][k] = !P ? 0 : (qi || is_intra(P->type)) ? 4 : inter_strength(*P, dir == 0 ? k * 4 + 3 : 12 + k, Q, rq);
    }
    for (int e = 1; e < 4; ++e)
      for (int k = 0; k < 4; ++k) {
        const int rq = dir == 0 ? k * 4 + e : e * 4 + k;
        bs[dir][e][k] = qi ? 3 : flat ? 0 : inter_strength(Q, dir == 0 ? rq - 1 : rq - 4, Q, rq);
      }
  }
  int any = 0;
  for (int dir = 0; dir < 2; ++dir)
    for (int e = 0; e < 4; ++e) any |= bs[dir][e][0] | bs[dir][e][1] | bs[dir][e][2] | bs[dir][e][3];
  return any != 0;
}

#if defined(__SSE2__)
// Eight lines of one edge at a time in 16-bit lanes: the same arithmetic as filter_line, with
// every branch evaluated for all lanes and blended by masks (bit-exact).
inline __m128i sel(__m128i m, __m128i a, __m128i b) { return _mm_or_si128(_mm_and_si128(m, a), _mm_andnot_si128(m, b)); }
inline __m128i absdiff(__m128i a, __m128i b) { return _mm_max_epi16(_mm_sub_epi16(a, b), _mm_sub_epi16(b, a)); }
inline __m128i clamp(__m128i v, __m128i lim) { return _mm_min_epi16(_mm_max_epi16(v, _mm_sub_epi16(_mm_setzero_si128(), lim)), lim); }

// v[0..7] = p3 p2 p1 p0 q0 q1 q2 q3; bs and tc0 per lane.
void luma_lanes(__m128i* v, __m128i bs, __m128i tc0, int alpha, int beta) {
  const __m128i p3 = v[0], p2 = v[1], p1 = v[2], p0 = v[3], q0 = v[4], q1 = v[5], q2 = v[6], q3 = v[7];
  const __m128i a = _mm_set1_epi16(int16_t(alpha)), b = _mm_set1_epi16(int16_t(beta)), z = _mm_setzero_si128();
  const __m128i two = _mm_set1_epi16(2), four = _mm_set1_epi16(4);
  const __m128i d0 = absdiff(p0, q0);
  const __m128i f = _mm_and_si128(_mm_and_si128(_mm_cmpgt_epi16(bs, z), _mm_cmplt_epi16(d0, a)),
                                  _mm_and_si128(_mm_cmplt_epi16(absdiff(p1, p0), b), _mm_cmplt_epi16(absdiff(q1, q0), b)));
  if (_mm_movemask_epi8(f) == 0) return;
  const __m128i ap = _mm_cmplt_epi16(absdiff(p2, p0), b), aq = _mm_cmplt_epi16(absdiff(q2, q0), b);
  // bS < 4
  const __m128i tc = _mm_sub_epi16(_mm_sub_epi16(tc0, ap), aq);  // masks are -1
  const __m128i delta = clamp(_mm_srai_epi16(_mm_add_epi16(_mm_add_epi16(_mm_slli_epi16(_mm_sub_epi16(q0, p0), 2), _mm_sub_epi16(p1, q1)), four), 3), tc);
  const __m128i avg = _mm_avg_epu16(p0, q0);
  const __m128i np1 = sel(ap, _mm_add_epi16(p1, clamp(_mm_srai_epi16(_mm_sub_epi16(_mm_add_epi16(p2, avg), _mm_add_epi16(p1, p1)), 1), tc0)), p1);
  const __m128i nq1 = sel(aq, _mm_add_epi16(q1, clamp(_mm_srai_epi16(_mm_sub_epi16(_mm_add_epi16(q2, avg), _mm_add_epi16(q1, q1)), 1), tc0)), q1);
  const __m128i np0 = _mm_add_epi16(p0, delta), nq0 = _mm_sub_epi16(q0, delta);
  // bS == 4
  const __m128i strong = _mm_cmplt_epi16(d0, _mm_set1_epi16(int16_t((alpha >> 2) + 2)));
  const __m128i sp = _mm_and_si128(ap, strong), sq = _mm_and_si128(aq, strong);
  const __m128i pq0 = _mm_add_epi16(p0, q0);
  const __m128i sp0 = _mm_srai_epi16(_mm_add_epi16(_mm_add_epi16(_mm_add_epi16(p2, q1), _mm_slli_epi16(_mm_add_epi16(p1, pq0), 1)), four), 3);
  const __m128i sp1 = _mm_srai_epi16(_mm_add_epi16(_mm_add_epi16(p2, p1), _mm_add_epi16(pq0, two)), 2);
  const __m128i sp2 = _mm_srai_epi16(_mm_add_epi16(_mm_add_epi16(_mm_slli_epi16(_mm_add_epi16(p3, p2), 1), _mm_add_epi16(p2, p1)), _mm_add_epi16(pq0, four)), 3);
  const __m128i wp0 = _mm_srai_epi16(_mm_add_epi16(_mm_add_epi16(_mm_add_epi16(p1, p1), _mm_add_epi16(p0, q1)), two), 2);
  const __m128i sq0 = _mm_srai_epi16(_mm_add_epi16(_mm_add_epi16(_mm_add_epi16(q2, p1), _mm_slli_epi16(_mm_add_epi16(q1, pq0), 1)), four), 3);
  const __m128i sq1 = _mm_srai_epi16(_mm_add_epi16(_mm_add_epi16(q2, q1), _mm_add_epi16(pq0, two)), 2);
  const __m128i sq2 = _mm_srai_epi16(_mm_add_epi16(_mm_add_epi16(_mm_slli_epi16(_mm_add_epi16(q3, q2), 1), _mm_add_epi16(q2, q1)), _mm_add_epi16(pq0, four)), 3);
  const __m128i wq0 = _mm_srai_epi16(_mm_add_epi16(_mm_add_epi16(_mm_add_epi16(q1, q1), _mm_add_epi16(q0, p1)), two), 2);
  const __m128i is4 = _mm_and_si128(f, _mm_cmpeq_epi16(bs, four));
  const __m128i norm = _mm_andnot_si128(is4, f);
  v[1] = sel(_mm_and_si128(is4, sp), sp2, p2);
  v[2] = sel(is4, sel(sp, sp1, p1), sel(norm, np1, p1));
  v[3] = sel(is4, sel(sp, sp0, wp0), sel(norm, np0, p0));
  v[4] = sel(is4, sel(sq, sq0, wq0), sel(norm, nq0, q0));
  v[5] = sel(is4, sel(sq, sq1, q1), sel(norm, nq1, q1));
  v[6] = sel(_mm_and_si128(is4, sq), sq2, q2);
}

// v[0..3] = p1 p0 q0 q1 (chroma).
void chroma_lanes(__m128i* v, __m128i bs, __m128i tc0, int alpha, int beta) {
  const __m128i p1 = v[0], p0 = v[1], q0 = v[2], q1 = v[3];
  const __m128i a = _mm_set1_epi16(int16_t(alpha)), b = _mm_set1_epi16(int16_t(beta)), z = _mm_setzero_si128();
  const __m128i two = _mm_set1_epi16(2), four = _mm_set1_epi16(4);
  const __m128i f = _mm_and_si128(_mm_and_si128(_mm_cmpgt_epi16(bs, z), _mm_cmplt_epi16(absdiff(p0, q0), a)),
                                  _mm_and_si128(_mm_cmplt_epi16(absdiff(p1, p0), b), _mm_cmplt_epi16(absdiff(q1, q0), b)));
  if (_mm_movemask_epi8(f) == 0) return;
  const __m128i tc = _mm_add_epi16(tc0, _mm_set1_epi16(1));
  const __m128i delta = clamp(_mm_srai_epi16(_mm_add_epi16(_mm_add_epi16(_mm_slli_epi16(_mm_sub_epi16(q0, p0), 2), _mm_sub_epi16(p1, q1)), four), 3), tc);
  const __m128i wp0 = _mm_srai_epi16(_mm_add_epi16(_mm_add_epi16(_mm_add_epi16(p1, p1), _mm_add_epi16(p0, q1)), two), 2);
  const __m128i wq0 = _mm_srai_epi16(_mm_add_epi16(_mm_add_epi16(_mm_add_epi16(q1, q1), _mm_add_epi16(q0, p1)), two), 2);
  const __m128i is4 = _mm_cmpeq_epi16(bs, four);
  v[1] = sel(f, sel(is4, wp0, _mm_add_epi16(p0, delta)), p0);
  v[2] = sel(f, sel(is4, wq0, _mm_sub_epi16(q0, delta)), q0);
}

// 8 rows of 8 bytes -> 4 vectors holding two transposed rows each (columns 2k, 2k+1).
inline void transpose8x8(const __m128i* r, __m128i* t) {
  const __m128i a = _mm_unpacklo_epi8(r[0], r[1]), b = _mm_unpacklo_epi8(r[2], r[3]);
  const __m128i c = _mm_unpacklo_epi8(r[4], r[5]), d = _mm_unpacklo_epi8(r[6], r[7]);
  const __m128i ablo = _mm_unpacklo_epi16(a, b), abhi = _mm_unpackhi_epi16(a, b);
  const __m128i cdlo = _mm_unpacklo_epi16(c, d), cdhi = _mm_unpackhi_epi16(c, d);
  t[0] = _mm_unpacklo_epi32(ablo, cdlo); t[1] = _mm_unpackhi_epi32(ablo, cdlo);
  t[2] = _mm_unpacklo_epi32(abhi, cdhi); t[3] = _mm_unpackhi_epi32(abhi, cdhi);
}
inline __m128i ld8(const uint8_t* p) { return _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)); }

// Eight lines across a vertical edge at s (s[0] = q0), rows s + i*stride: four sample columns each
// side as 16-bit lanes v[0..7] (p3..q3); store_cols writes them back.
void load_cols(const uint8_t* s, int stride, __m128i* v) {
  __m128i r[8], t[4];
  for (int i = 0; i < 8; ++i) r[i] = ld8(s - 4 + i * stride);
  transpose8x8(r, t);
  const __m128i z = _mm_setzero_si128();
  for (int k = 0; k < 4; ++k) { v[2 * k] = _mm_unpacklo_epi8(t[k], z); v[2 * k + 1] = _mm_unpackhi_epi8(t[k], z); }
}
void store_cols(uint8_t* s, int stride, const __m128i* v) {
  __m128i r[8], t[4];
  for (int k = 0; k < 8; ++k) r[k] = _mm_packus_epi16(v[k], v[k]);
  transpose8x8(r, t);
  for (int k = 0; k < 4; ++k) {
    _mm_storel_epi64(reinterpret_cast<__m128i*>(s - 4 + (2 * k) * stride), t[k]);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(s - 4 + (2 * k + 1) * stride), _mm_unpackhi_epi64(t[k], t[k]));
  }
}

// Per-lane bS and tc0 of 8 lanes: luma lanes 0-3 take bs[0], 4-7 bs[1]; chroma lanes 2g, 2g+1 take bs[g].
inline int tc0_of(int b, int qp) { return b > 0 && b < 4 ? kTc0[qp][b - 1] : 0; }
inline __m128i luma_lanes_of(int b0, int b1) {
  return _mm_unpacklo_epi64(_mm_set1_epi16(int16_t(b0)), _mm_set1_epi16(int16_t(b1)));
}
inline __m128i chroma_lanes_of(int b0, int b1, int b2, int b3) {
  return _mm_setr_epi16(int16_t(b0), int16_t(b0), int16_t(b1), int16_t(b1), int16_t(b2), int16_t(b2), int16_t(b3), int16_t(b3));
}

void luma_edge(Plane& Y, int x, int y, bool vertical, const int* bs4, int qp, int alpha, int beta) {
  const int st = Y.stride;
  uint8_t* s = Y.at(x, y);
  for (int half = 0; half < 2; ++half) {
    const int* bs = bs4 + 2 * half;
    if (!bs[0] && !bs[1]) continue;
    const __m128i b = luma_lanes_of(bs[0], bs[1]), t = luma_lanes_of(tc0_of(bs[0], qp), tc0_of(bs[1], qp));
    __m128i v[8];
    if (vertical) {
      uint8_t* r = s + 8 * half * st;
      load_cols(r, st, v);
      luma_lanes(v, b, t, alpha, beta);
      store_cols(r, st, v);
    } else {
      uint8_t* r = s + 8 * half;
      const __m128i z = _mm_setzero_si128();
      for (int k = 0; k < 8; ++k) v[k] = _mm_unpacklo_epi8(ld8(r + (k - 4) * st), z);
      luma_lanes(v, b, t, alpha, beta);
      for (int k = 1; k < 7; ++k) _mm_storel_epi64(reinterpret_cast<__m128i*>(r + (k - 4) * st), _mm_packus_epi16(v[k], v[k]));
    }
  }
}

void chroma_edge(Plane& P, int x, int y, bool vertical, const int* bs4, int qp, int alpha, int beta) {
  if (!bs4[0] && !bs4[1] && !bs4[2] && !bs4[3]) return;
  const int st = P.stride;
  uint8_t* s = P.at(x, y);
  const __m128i b = chroma_lanes_of(bs4[0], bs4[1], bs4[2], bs4[3]);
  const __m128i t = chroma_lanes_of(tc0_of(bs4[0], qp), tc0_of(bs4[1], qp), tc0_of(bs4[2], qp), tc0_of(bs4[3], qp));
  if (vertical) {
    __m128i v[8];
    load_cols(s, st, v);
    chroma_lanes(v + 2, b, t, alpha, beta);
    store_cols(s, st, v);
  } else {
    const __m128i z = _mm_setzero_si128();
    __m128i v[4];
    for (int k = 0; k < 4; ++k) v[k] = _mm_unpacklo_epi8(ld8(s + (k - 2) * st), z);
    chroma_lanes(v, b, t, alpha, beta);
    for (int k = 1; k < 3; ++k) _mm_storel_epi64(reinterpret_cast<__m128i*>(s + (k - 2) * st), _mm_packus_epi16(v[k], v[k]));
  }
}
#endif

}  // namespace

void deblock_picture(EncCtx& c) {
  const int ia = c.qp, iac = c.qpc;  // one QP for the picture; filter offsets 0
  const int alpha = kAlpha[ia], beta = kBeta[ia], alphac = kAlpha[iac], betac = kBeta[iac];
  if (alpha == 0 && alphac == 0) return;
  Plane& Y = c.rec.y;
  Plane* C[2] = {&c.rec.u, &c.rec.v};
  for (int mby = 0; mby < c.mbh; ++mby)
    for (int mbx = 0; mbx < c.mbw; ++mbx) {
      int bs[2][4][4];  // [dir][edge][block along edge]
      if (!mb_strengths(c, mbx, mby, bs)) continue;  // no edge of this macroblock is filtered
#if defined(__SSE2__)
      for (int dir = 0; dir < 2; ++dir) {
        const bool vert = dir == 0;
        for (int e = 0; e < 4; ++e)
          luma_edge(Y, mbx * 16 + (vert ? 4 * e : 0), mby * 16 + (vert ? 0 : 4 * e), vert, bs[dir][e], ia, alpha, beta);
        for (int k = 0; k < 2; ++k)
          for (int e = 0; e < 2; ++e)
            chroma_edge(*C[k], mbx * 8 + (vert ? 4 * e : 0), mby * 8 + (vert ? 0 : 4 * e), vert, bs[dir][2 * e], iac, alphac, betac);
      }
#else
      for (int dir = 0; dir < 2; ++dir) {
        const int step = dir == 0 ? 1 : Y.stride, along = dir == 0 ? Y.stride : 1;
        for (int e = 0; e < 4; ++e) {
          uint8_t* s = dir == 0 ? Y.at(mbx * 16 + 4 * e, mby * 16) : Y.at(mbx * 16, mby * 16 + 4 * e);
          for (int k = 0; k < 4; ++k, s += 4 * along) {
            const int b = bs[dir][e][k];
            if (!b) continue;
            const int tc0 = kTc0[ia][b < 4 ? b - 1 : 0];
            for (int i = 0; i < 4; ++i) filter_line<false>(s + i * along, step, b, alpha, beta, tc0);
          }
        }
        for (int k = 0; k < 2; ++k) {
          Plane& P = *C[k];
          for (int e = 0; e < 2; ++e)
            for (int i = 0; i < 8; ++i) {
              const int b = bs[dir][2 * e][i >> 1];
              if (!b) continue;
              uint8_t* s = dir == 0 ? P.at(mbx * 8 + 4 * e, mby * 8 + i) : P.at(mbx * 8 + i, mby * 8 + 4 * e);
              filter_line<true>(s, dir == 0 ? 1 : P.stride, b, alphac, betac, kTc0[iac][b < 4 ? b - 1 : 0]);
            }
        }
      }
#endif
    }
}

}  // namespace h264
}  // namespace mvc
