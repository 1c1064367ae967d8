// In-loop deblocking filter (H.264 8.7): per macroblock in raster order, vertical edges then
// horizontal edges, boundary strength from intra/coefficients/motion (8.7.2.1), luma and
// chroma sample filters with the alpha/beta/tc0 tables (8.7.2.3-8.7.2.4).
#include <cstdlib>

#include "jm/h264.h"

namespace mvc {
namespace h264 {

namespace {

inline uint8_t clip1(int v) { return static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v); }
inline int clip3(int lo, int hi, int v) { return v < lo ? lo : v > hi ? hi : v; }

// Filters one line of samples across an edge; p_i = s[-(i+1)*step], q_i = s[i*step].
template <bool chroma>
inline void filter_line(uint8_t* s, int step, int bs, int alpha, int beta, int tc0) {
  const int p0 = s[-step], p1 = s[-2 * step], q0 = s[0], q1 = s[step];
  if (!(std::abs(p0 - q0) < alpha && std::abs(p1 - p0) < beta && std::abs(q1 - q0) < beta)) return;
  if constexpr (chroma) {
    if (bs < 4) {
      const int tc = tc0 + 1;
      const int d = clip3(-tc, tc, (((q0 - p0) << 2) + (p1 - q1) + 4) >> 3);
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
    const int d = clip3(-tc, tc, (((q0 - p0) << 2) + (p1 - q1) + 4) >> 3);
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

// Boundary strength between 4x4 blocks P (xp, yp) and Q (xq, yq), picture 4x4 units.
int strength(const EncCtx& c, int xp, int yp, int xq, int yq, bool mb_edge) {
  const Mb& P = c.mbs[static_cast<size_t>(yp >> 2) * c.mbw + (xp >> 2)];
  const Mb& Q = c.mbs[static_cast<size_t>(yq >> 2) * c.mbw + (xq >> 2)];
  if (is_intra(P.type) || is_intra(Q.type)) return mb_edge ? 4 : 3;
  const int rp = (yp & 3) * 4 + (xp & 3), rq = (yq & 3) * 4 + (xq & 3);
  if (P.nz[rp] || Q.nz[rq]) return 2;
  if (P.ref[((yp & 3) >> 1) * 2 + ((xp & 3) >> 1)] != Q.ref[((yq & 3) >> 1) * 2 + ((xq & 3) >> 1)]) return 1;
  if (std::abs(P.mv[rp][0] - Q.mv[rq][0]) >= 4 || std::abs(P.mv[rp][1] - Q.mv[rq][1]) >= 4) return 1;
  return 0;
}

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
      for (int e = 0; e < 4; ++e)
        for (int k = 0; k < 4; ++k) {
          const int X = mbx * 4 + e, Yb = mby * 4 + k;  // vertical edge e, block row k
          bs[0][e][k] = (e == 0 && mbx == 0) ? 0 : strength(c, X - 1, Yb, X, Yb, e == 0);
          const int X2 = mbx * 4 + k, Y2 = mby * 4 + e;  // horizontal edge e, block column k
          bs[1][e][k] = (e == 0 && mby == 0) ? 0 : strength(c, X2, Y2 - 1, X2, Y2, e == 0);
        }
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
    }
}

}  // namespace h264
}  // namespace mvc
