// Motion estimation: predictive start (AMVP / merge / zero candidates), a shrinking diamond
// search and a small diamond at integer pel, then half-pel (square) and quarter-pel (cross)
// refinement on SATD.
// Costs are SAD/SATD + sqrt(lambda) * estimated mvd bits (HM's motion lambda).
#include <algorithm>
#include <cstdlib>
#include <vector>

#include "common/pixel.h"
#include "hm/me.h"

namespace mvc {
namespace hevc {

int mvd_bits_1d(int v) {
  v = std::abs(v);
  if (v == 0) return 1;
  if (v == 1) return 3;
  int x = v - 2, k = 1, bits = 3;  // greater0, greater1, sign
  while (x >= (1 << k)) { x -= 1 << k; ++k; ++bits; }
  return bits + 1 + k;
}

namespace {
// mvd_bits_1d for |v| < kBitsN (quarter-pel differences of any vector inside the padded window)
constexpr int kBitsN = 4096;
const uint8_t* mvd_bits_table() {
  static const auto t = [] {
    static uint8_t b[kBitsN];
    for (int v = 0; v < kBitsN; ++v) b[v] = static_cast<uint8_t>(mvd_bits_1d(v));
    return b;
  }();
  return t;
}
inline int mvd_bits_fast(const uint8_t* t, int v) {
  v = std::abs(v);
  return v < kBitsN ? t[v] : mvd_bits_1d(v);
}
}  // namespace

MeResult motion_search(const MeInput& in) {
  const Plane& ref = in.ref->rec.y;
  const int x = in.x, y = in.y, w = in.w, h = in.h;
  const uint8_t* src = in.src->at(x, y);
  const int ss = in.src->stride;
  const uint8_t* bt = mvd_bits_table();
  auto bits = [&](Mv mv, int& idx) {
    const int b0 = mvd_bits_fast(bt, mv.x - in.mvp[0].x) + mvd_bits_fast(bt, mv.y - in.mvp[0].y);
    const int b1 = mvd_bits_fast(bt, mv.x - in.mvp[1].x) + mvd_bits_fast(bt, mv.y - in.mvp[1].y);
    idx = b1 < b0 ? 1 : 0;
    return std::min(b0, b1) + 1;
  };
  // integer search window keeps the block inside the padded reference
  const int lo_x = -ref.pad + 4 - x, hi_x = ref.width + ref.pad - 4 - w - x;
  const int lo_y = -ref.pad + 4 - y, hi_y = ref.height + ref.pad - 4 - h - y;
  const int cx = std::clamp((in.mvp[0].x + 2) >> 2, lo_x, hi_x), cy = std::clamp((in.mvp[0].y + 2) >> 2, lo_y, hi_y);
  const int r = in.range;
  // a point visited once never wins again (the best cost only falls): one stamp per window point
  const int side = 2 * r + 1;
  thread_local std::vector<uint32_t> stamp;
  thread_local uint32_t gen = 0;
  if (stamp.size() < size_t(side) * side) stamp.assign(size_t(side) * side, 0);
  if (++gen == 0) { std::fill(stamp.begin(), stamp.end(), 0); gen = 1; }
  // the search window: within range of the centre and inside the padded reference
  const int wx0 = std::max(lo_x, cx - r), wx1 = std::min(hi_x, cx + r);
  const int wy0 = std::max(lo_y, cy - r), wy1 = std::min(hi_y, cy + r);
  const long st0 = long(r - cy) * side + (r - cx);  // where vector (0, 0)'s stamp would be
  uint32_t* const stamps = stamp.data();
  auto ok = [&](int mx, int my) {
    if (mx < wx0 || mx > wx1 || my < wy0 || my > wy1) return false;
    uint32_t& st = stamps[st0 + long(my) * side + mx];
    if (st == gen) return false;
    st = gen;
    return true;
  };
  const PixelCmp sadf = (w <= 16 && h <= 16) ? sad_fn(w, h) : nullptr;
  const uint8_t* const ref0 = ref.at(x, y);
  const int rs = ref.stride;
  auto icost = [&](int mx, int my) {
    int idx;
    const uint8_t* rp = ref0 + my * rs + mx;
    const int d = sadf ? sadf(src, ss, rp, rs) : sad(src, ss, rp, rs, w, h);
    return d + in.sqrt_lambda * bits(Mv{int16_t(mx * 4), int16_t(my * 4)}, idx);
  };
  int bx = cx, by = cy;
  ok(bx, by);
  double best = icost(bx, by);
  auto try_int = [&](int mx, int my) {
    if (!ok(mx, my)) return false;
    const double c = icost(mx, my);
    if (c < best) { best = c; bx = mx; by = my; return true; }
    return false;
  };
  try_int((in.mvp[1].x + 2) >> 2, (in.mvp[1].y + 2) >> 2);
  try_int(0, 0);
  for (int i = 0; i < in.n_extra; ++i) try_int((in.extra[i].x + 2) >> 2, (in.extra[i].y + 2) >> 2);
  // the four points step away from the best so far; whether the best moved
  auto diamond = [&](int step) {
    const int sx = bx, sy = by;
    try_int(sx - step, sy); try_int(sx + step, sy); try_int(sx, sy - step); try_int(sx, sy + step);
    return bx != sx || by != sy;
  };
  // shrinking diamond pattern around the best start (a square one: same rate on Boxing, QP 30, for
  // 0.6% more instructions)
  for (int step = std::min(8, std::max(1, r / 2)); in.wide && step >= 2; step >>= 1) diamond(step);
  for (int it = 0; it < 2 * r; ++it)  // small diamond until it stops moving
    if (!diamond(1)) break;
  // fractional refinement with SATD of the interpolated block
  uint8_t pred[64 * 64];
  Mv bm{int16_t(bx * 4), int16_t(by * 4)};
  MeResult res;
  res.int_cost = best;
  res.refined = best <= in.frac_above;
  const BlockSatd satdf(w, h);
  auto fcost = [&](Mv mv) {
    int idx;
    int st;
    const uint8_t* p = predict_luma_est(*in.ref, x, y, w, h, mv, pred, st);
    return satdf(src, ss, p, st) + in.sqrt_lambda * bits(mv, idx);
  };
  res.cost = 1e300;  // unrefined: the integer vector, never preferred by cost
  if (res.refined) {
    res.cost = fcost(bm);
    // half pel: the eight neighbours; quarter pel: the four direct ones only (Boxing, QP 30: 2%
    // fewer instructions, +0.5% rate at +0.01 dB); each in row order
    static constexpr int8_t kHalf[8][2] = {{-2, -2}, {0, -2}, {2, -2}, {-2, 0}, {2, 0}, {-2, 2}, {0, 2}, {2, 2}};
    static constexpr int8_t kQuarter[4][2] = {{0, -1}, {-1, 0}, {1, 0}, {0, 1}};
    auto refine = [&](const int8_t (*d)[2], int n) {
      const Mv c0 = bm;
      for (int i = 0; i < n; ++i) {
        const Mv m{int16_t(c0.x + d[i][0]), int16_t(c0.y + d[i][1])};
        const double c = fcost(m);
        if (c < res.cost) { res.cost = c; bm = m; }
      }
    };
    refine(kHalf, 8);
    refine(kQuarter, 4);
  }
  res.mv = bm;
  bits(bm, res.mvp_idx);
  return res;
}

}  // namespace hevc
}  // namespace mvc
