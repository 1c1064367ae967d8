// Deblocking filter (8.7.2): transform/prediction edges on the 8x8 grid, boundary strength,
// luma strong/normal filters and the chroma filter; vertical edges of the whole picture first.
#include <algorithm>
#include <cstdlib>
#include <utility>
#include <vector>

#include "common/pixel.h"
#include "hm/hevc.h"

namespace mvc {
namespace hevc {

namespace {
constexpr uint8_t kBeta[52] = {0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  6,  7,
                               8,  9,  10, 11, 12, 13, 14, 15, 16, 17, 18, 20, 22, 24, 26, 28, 30, 32,
                               34, 36, 38, 40, 42, 44, 46, 48, 50, 52, 54, 56, 58, 60, 62, 64};
constexpr uint8_t kTc[54] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                             2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 5, 5, 6, 6, 7, 8, 9, 10, 11, 13, 14, 16, 18, 20, 22, 24};

int boundary_strength(const Blk& p, const Blk& q, bool tu_edge) {
  if (p.pred == MODE_INTRA || q.pred == MODE_INTRA) return 2;
  if (tu_edge && ((p.cbf & 1) || (q.cbf & 1))) return 1;
  if (p.mvf.ref != q.mvf.ref) return 1;
  if (std::abs(p.mvf.mv.x - q.mvf.mv.x) >= 4 || std::abs(p.mvf.mv.y - q.mvf.mv.y) >= 4) return 1;
  return 0;
}

// Filters one 4-sample luma segment; P[i*step] = p_i along the edge normal, lines advance by `along`.
void luma_segment(uint8_t* q0ptr, int step, int along, int bs, int qp) {
  const int beta = kBeta[std::clamp(qp, 0, 51)];
  const int tc = kTc[std::clamp(qp + 2 * (bs - 1), 0, 53)];
  auto P = [&](int line, int i) -> uint8_t& { return q0ptr[line * along - (i + 1) * step]; };
  auto Q = [&](int line, int i) -> uint8_t& { return q0ptr[line * along + i * step]; };
  const int dp0 = std::abs(P(0, 2) - 2 * P(0, 1) + P(0, 0)), dp3 = std::abs(P(3, 2) - 2 * P(3, 1) + P(3, 0));
  const int dq0 = std::abs(Q(0, 2) - 2 * Q(0, 1) + Q(0, 0)), dq3 = std::abs(Q(3, 2) - 2 * Q(3, 1) + Q(3, 0));
  const int dpq0 = dp0 + dq0, dpq3 = dp3 + dq3, dp = dp0 + dp3, dq = dq0 + dq3, d = dpq0 + dpq3;
  if (d >= beta) return;
  auto dsam = [&](int l, int dpq) {
    return 2 * dpq < (beta >> 2) && std::abs(P(l, 3) - P(l, 0)) + std::abs(Q(l, 0) - Q(l, 3)) < (beta >> 3) &&
           std::abs(P(l, 0) - Q(l, 0)) < ((5 * tc + 1) >> 1);
  };
  const bool strong = dsam(0, dpq0) && dsam(3, dpq3);
  const bool dEp = dp < ((beta + (beta >> 1)) >> 3), dEq = dq < ((beta + (beta >> 1)) >> 3);
  for (int l = 0; l < 4; ++l) {
    const int p0 = P(l, 0), p1 = P(l, 1), p2 = P(l, 2), p3 = P(l, 3);
    const int q0 = Q(l, 0), q1 = Q(l, 1), q2 = Q(l, 2), q3 = Q(l, 3);
    if (strong) {
      P(l, 0) = static_cast<uint8_t>(std::clamp((p2 + 2 * p1 + 2 * p0 + 2 * q0 + q1 + 4) >> 3, p0 - 2 * tc, p0 + 2 * tc));
      P(l, 1) = static_cast<uint8_t>(std::clamp((p2 + p1 + p0 + q0 + 2) >> 2, p1 - 2 * tc, p1 + 2 * tc));
      P(l, 2) = static_cast<uint8_t>(std::clamp((2 * p3 + 3 * p2 + p1 + p0 + q0 + 4) >> 3, p2 - 2 * tc, p2 + 2 * tc));
      Q(l, 0) = static_cast<uint8_t>(std::clamp((p1 + 2 * p0 + 2 * q0 + 2 * q1 + q2 + 4) >> 3, q0 - 2 * tc, q0 + 2 * tc));
      Q(l, 1) = static_cast<uint8_t>(std::clamp((p0 + q0 + q1 + q2 + 2) >> 2, q1 - 2 * tc, q1 + 2 * tc));
      Q(l, 2) = static_cast<uint8_t>(std::clamp((p0 + q0 + q1 + 3 * q2 + 2 * q3 + 4) >> 3, q2 - 2 * tc, q2 + 2 * tc));
    } else {
      int delta = (9 * (q0 - p0) - 3 * (q1 - p1) + 8) >> 4;
      if (std::abs(delta) >= tc * 10) continue;
      delta = std::clamp(delta, -tc, tc);
      P(l, 0) = clip1(p0 + delta);
      Q(l, 0) = clip1(q0 - delta);
      if (dEp) P(l, 1) = clip1(p1 + std::clamp((((p2 + p0 + 1) >> 1) - p1 + delta) >> 1, -(tc >> 1), tc >> 1));
      if (dEq) Q(l, 1) = clip1(q1 + std::clamp((((q2 + q0 + 1) >> 1) - q1 - delta) >> 1, -(tc >> 1), tc >> 1));
    }
  }
}

void chroma_segment(uint8_t* q0ptr, int step, int along, int lines, int tc) {
  for (int l = 0; l < lines; ++l) {
    uint8_t* q = q0ptr + l * along;
    const int p0 = q[-step], p1 = q[-2 * step], q0 = q[0], q1 = q[step];
    const int delta = std::clamp((((q0 - p0) * 4) + p1 - q1 + 4) >> 3, -tc, tc);
    q[-step] = clip1(p0 + delta);
    q[0] = clip1(q0 - delta);
  }
}
}  // namespace

void deblock_picture(Frame& f) {
  const Seq& s = *f.seq;
  const int qp = s.qp;
  const int tcc = kTc[std::clamp(chroma_qp(qp) + 2, 0, 53)];
  std::vector<std::pair<int, int>> chroma_edges;  // luma positions of the chroma segments to filter
  for (int dir = 0; dir < 2; ++dir) {  // 0: vertical edges, 1: horizontal edges
    const int tu_bit = dir == 0 ? 1 : 4, pu_bit = dir == 0 ? 2 : 8;
    // only units on the 8x8 grid, past the picture's first column (row), can start an edge; the
    // luma edges 8 samples apart are independent, so each is filtered as its strength is known
    const int x_first = dir == 0 ? 8 : 0, x_step = dir == 0 ? 8 : 4, y_first = dir == 0 ? 0 : 8, y_step = dir == 0 ? 4 : 8;
    Plane& Y = f.rec.y;
    chroma_edges.clear();
    for (int y = y_first; y < s.H; y += y_step)
      for (int x = x_first; x < s.W; x += x_step) {
        const Blk& q = f.b(x, y);
        if (!(q.edge & (tu_bit | pu_bit))) continue;
        const Blk& p = dir == 0 ? f.b(x - 4, y) : f.b(x, y - 4);
        const int b = boundary_strength(p, q, q.edge & tu_bit);
        if (!b) continue;
        if (dir == 0) luma_segment(Y.at(x, y), 1, Y.stride, b, qp);
        else luma_segment(Y.at(x, y), Y.stride, 1, b, qp);
        // chroma: bS 2 on the 8x8 chroma grid (every second luma edge)
        if (b == 2 && ((dir == 0 ? x : y) & 15) == 0) chroma_edges.emplace_back(x, y);
      }
    for (int c = 1; c < 3; ++c) {
      Plane& C = c == 1 ? f.rec.u : f.rec.v;
      for (const auto& [x, y] : chroma_edges) {
        if (dir == 0) chroma_segment(C.at(x / 2, y / 2), 1, C.stride, 2, tcc);
        else chroma_segment(C.at(x / 2, y / 2), C.stride, 1, 2, tcc);
      }
    }
  }
}

}  // namespace hevc
}  // namespace mvc
