// Motion vector prediction (8.5.3.2): merge candidates, AMVP and temporal (TMVP) candidates,
// for P slices (list 0 only, short-term references only).
#include <algorithm>
#include <cstdlib>

#include "hm/hevc.h"

namespace mvc {
namespace hevc {

// 6.4.2 availability of a neighbouring prediction block, then "not intra".
bool avail_pb(const Frame& f, const PuGeom& g, int xn, int yn) {
  const Seq& s = *f.seq;
  bool same_cb = xn >= g.xCb && yn >= g.yCb && xn < g.xCb + g.nCbS && yn < g.yCb + g.nCbS;
  bool a;
  if (!same_cb) a = s.zavail(g.xPb, g.yPb, xn, yn);
  else a = !((g.w << 1) == g.nCbS && (g.h << 1) == g.nCbS && g.partIdx == 1 && g.yCb + g.h <= yn && g.xCb + g.w > xn);
  return a && f.b(xn, yn).pred != MODE_INTRA;
}

// 8.5.3.2.8 scaling of a vector by POC distances (tb / td).
Mv scale_mv(Mv mv, int td, int tb) {
  td = std::clamp(td, -128, 127);
  tb = std::clamp(tb, -128, 127);
  if (td == tb || td == 0) return mv;  // the scale is then 1; td 0 only in a non-conforming stream
  const int tx = (16384 + (std::abs(td) >> 1)) / td;
  const int dsf = std::clamp((tb * tx + 32) >> 6, -4096, 4095);
  auto sc = [&](int v) {
    const int p = dsf * v;
    const int r = (std::abs(p) + 127) >> 8;
    return static_cast<int16_t>(std::clamp(p < 0 ? -r : r, -32768, 32767));
  };
  return Mv{sc(mv.x), sc(mv.y)};
}

namespace {

// 8.5.3.2.8 temporal luma motion vector prediction for ref_idx.
bool temporal_mv(const Frame& f, const PuGeom& g, int ref_idx, Mv& out) {
  if (!f.tmvp || f.refs.empty()) return false;
  const Seq& s = *f.seq;
  const RefPic* col = f.refs[0];
  auto col_at = [&](int x, int y, Mv& mv) -> bool {
    x = (x >> 4) << 4;
    y = (y >> 4) << 4;
    const MvField& m = col->mvf[(y >> 2) * s.w4 + (x >> 2)];
    if (m.ref < 0) return false;
    const int col_diff = col->poc - col->ref_pocs[m.ref];
    const int cur_diff = f.poc - f.refs[ref_idx]->poc;
    mv = scale_mv(m.mv, col_diff, cur_diff);
    return true;
  };
  const int xbr = g.xPb + g.w, ybr = g.yPb + g.h;
  if ((g.yPb >> s.ctu_log2) == (ybr >> s.ctu_log2) && ybr < s.H && xbr < s.W && col_at(xbr, ybr, out)) return true;
  return col_at(g.xPb + (g.w >> 1), g.yPb + (g.h >> 1), out);
}

}  // namespace

void merge_candidates(const Frame& f, const PuGeom& g, MvField out[5]) {
  const int x = g.xPb, y = g.yPb, w = g.w, h = g.h;
  int n = 0;
  const bool second_vert = (g.part == PART_Nx2N) && g.partIdx == 1;
  const bool second_hor = (g.part == PART_2NxN) && g.partIdx == 1;
  // availability (6.4.2) drives the pruning comparisons; the flags say what enters the list
  const bool vA1 = !second_vert && avail_pb(f, g, x - 1, y + h - 1);
  const bool vB1 = !second_hor && avail_pb(f, g, x + w - 1, y - 1);
  const bool vB0 = avail_pb(f, g, x + w, y - 1);
  const bool vA0 = avail_pb(f, g, x - 1, y + h);
  const bool vB2 = avail_pb(f, g, x - 1, y - 1);
  const MvField A1 = vA1 ? f.b(x - 1, y + h - 1).mvf : MvField{};
  const MvField B1 = vB1 ? f.b(x + w - 1, y - 1).mvf : MvField{};
  const MvField B0 = vB0 ? f.b(x + w, y - 1).mvf : MvField{};
  const MvField A0 = vA0 ? f.b(x - 1, y + h).mvf : MvField{};
  const MvField B2 = vB2 ? f.b(x - 1, y - 1).mvf : MvField{};
  if (vA1) out[n++] = A1;
  if (vB1 && !(vA1 && B1 == A1)) out[n++] = B1;
  if (vB0 && !(vB1 && B0 == B1)) out[n++] = B0;
  if (vA0 && !(vA1 && A0 == A1)) out[n++] = A0;
  if (n < 4 && vB2 && !(vA1 && B2 == A1) && !(vB1 && B2 == B1)) out[n++] = B2;
  Mv col;
  if (temporal_mv(f, g, 0, col)) out[n++] = MvField{col, 0};
  const int num_ref = static_cast<int>(f.refs.size());
  for (int zero = 0; n < 5; ++zero) out[n++] = MvField{Mv{}, static_cast<int8_t>(zero < num_ref ? zero : 0)};
}

void amvp_candidates(const Frame& f, const PuGeom& g, int ref_idx, Mv out[2]) {
  const int x = g.xPb, y = g.yPb, w = g.w, h = g.h;
  const int cur_ref_poc = f.refs[ref_idx]->poc;
  auto scaled = [&](const MvField& m) {
    return scale_mv(m.mv, f.poc - f.refs[m.ref]->poc, f.poc - cur_ref_poc);
  };
  const int ax[2] = {x - 1, x - 1}, ay[2] = {y + h, y + h - 1};
  bool availA[2];
  for (int k = 0; k < 2; ++k) availA[k] = avail_pb(f, g, ax[k], ay[k]);
  const bool is_scaled = availA[0] || availA[1];
  bool fa = false;
  Mv mvA;
  for (int k = 0; k < 2 && !fa; ++k)
    if (availA[k] && f.b(ax[k], ay[k]).mvf.ref == ref_idx) { fa = true; mvA = f.b(ax[k], ay[k]).mvf.mv; }
  for (int k = 0; k < 2 && !fa; ++k)
    if (availA[k]) { fa = true; mvA = scaled(f.b(ax[k], ay[k]).mvf); }

  const int bx[3] = {x + w, x + w - 1, x - 1}, by[3] = {y - 1, y - 1, y - 1};
  bool availB[3];
  for (int k = 0; k < 3; ++k) availB[k] = avail_pb(f, g, bx[k], by[k]);
  bool fb = false;
  Mv mvB;
  for (int k = 0; k < 3 && !fb; ++k)
    if (availB[k] && f.b(bx[k], by[k]).mvf.ref == ref_idx) { fb = true; mvB = f.b(bx[k], by[k]).mvf.mv; }
  if (!is_scaled && fb) { fa = true; mvA = mvB; }
  if (!is_scaled) {
    fb = false;
    for (int k = 0; k < 3 && !fb; ++k)
      if (availB[k]) { fb = true; mvB = scaled(f.b(bx[k], by[k]).mvf); }
  }
  Mv list[3];
  int n = 0;
  if (fa) list[n++] = mvA;
  if (fb && !(fa && mvA == mvB)) list[n++] = mvB;
  if (n < 2) {
    Mv col;
    if (temporal_mv(f, g, ref_idx, col)) list[n++] = col;
  }
  while (n < 2) list[n++] = Mv{};
  out[0] = list[0];
  out[1] = list[1];
}

}  // namespace hevc
}  // namespace mvc
