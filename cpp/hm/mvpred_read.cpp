// Motion vector prediction for the reader (8.5.3.2): merge candidates (spatial, temporal,
// combined bi-predictive, zero), AMVP and temporal candidates for P and B slices, the parallel
// merge level and singleMCLFlag. The encoder's mvpred.cpp covers only its own P-slice choices.
#include <algorithm>
#include <cstdlib>

#include "hm/reader.h"

namespace mvc {
namespace hevc {

namespace {

const std::vector<const RefPic*>& list_of(const Frame& f, int X) { return X ? f.refs1 : f.refs; }

PuMotion motion_at(const Frame& f, int x, int y) {
  const size_t i = size_t(y >> 2) * f.seq->w4 + size_t(x >> 2);
  PuMotion m;
  m.m[0] = f.blk[i].mvf;
  if (!f.bb.empty()) m.m[1] = f.bb[i].mvf1;
  return m;
}

// 8.5.3.2.8 / 8.5.3.2.9: temporal candidate of list X for ref_idx.
bool temporal(const MvCtx& c, const PuGeom& g, int X, int ref_idx, Mv& out) {
  const Frame& f = *c.f;
  if (!c.col) return false;
  const Seq& s = *f.seq;
  const RefPic* col = c.col;
  const auto& lx = list_of(f, X);
  if (ref_idx < 0 || ref_idx >= int(lx.size())) return false;
  auto col_at = [&](int x, int y) -> bool {
    x = (x >> 4) << 4;
    y = (y >> 4) << 4;
    const size_t i = size_t(y >> 2) * s.w4 + size_t(x >> 2);
    if (i >= col->mvf.size()) return false;
    const MvField m0 = col->mvf[i];
    const MvField m1 = i < col->mvf1.size() ? col->mvf1[i] : MvField{};
    if (m0.ref < 0 && m1.ref < 0) return false;  // intra (or no motion)
    MvField m;
    int list_col;
    if (m0.ref < 0) { m = m1; list_col = 1; }
    else if (m1.ref < 0) { m = m0; list_col = 0; }
    else if (c.no_backward) { m = X ? m1 : m0; list_col = X; }
    else { list_col = c.col_from_l0 ? 1 : 0; m = list_col ? m1 : m0; }
    const auto& pocs = list_col ? col->ref_pocs1 : col->ref_pocs;
    if (m.ref >= int(pocs.size())) return false;
    const int col_diff = col->poc - pocs[size_t(m.ref)];
    const int cur_diff = f.poc - lx[size_t(ref_idx)]->poc;
    out = col_diff == cur_diff ? m.mv : scale_mv(m.mv, col_diff, cur_diff);
    return true;
  };
  const int xbr = g.xPb + g.w, ybr = g.yPb + g.h;
  if ((g.yPb >> s.ctu_log2) == (ybr >> s.ctu_log2) && ybr < s.H && xbr < s.W && col_at(xbr, ybr)) return true;
  return col_at(g.xPb + (g.w >> 1), g.yPb + (g.h >> 1));
}

}  // namespace

PuMotion merge_motion(const MvCtx& c, PuGeom g, int merge_idx) {
  const Frame& f = *c.f;
  const int orig_w = g.w, orig_h = g.h;
  if (c.par_mrg_log2 > 2 && g.nCbS == 8) {  // singleMCLFlag: one list for the whole CU
    g.xPb = g.xCb; g.yPb = g.yCb; g.w = g.h = g.nCbS; g.partIdx = 0;
  }
  const int x = g.xPb, y = g.yPb, w = g.w, h = g.h, L = c.par_mrg_log2;
  auto avail = [&](int xn, int yn) {
    if ((x >> L) == (xn >> L) && (y >> L) == (yn >> L)) return false;
    return avail_pb(f, g, xn, yn);
  };
  const bool second_vert = g.partIdx == 1 && (g.part == PART_Nx2N || g.part == PART_nLx2N || g.part == PART_nRx2N);
  const bool second_hor = g.partIdx == 1 && (g.part == PART_2NxN || g.part == PART_2NxnU || g.part == PART_2NxnD);
  PuMotion list[5];
  int n = 0;
  const bool vA1 = !second_vert && avail(x - 1, y + h - 1);
  const bool vB1 = !second_hor && avail(x + w - 1, y - 1);
  const bool vB0 = avail(x + w, y - 1);
  const bool vA0 = avail(x - 1, y + h);
  const bool vB2 = avail(x - 1, y - 1);
  const PuMotion A1 = vA1 ? motion_at(f, x - 1, y + h - 1) : PuMotion{};
  const PuMotion B1 = vB1 ? motion_at(f, x + w - 1, y - 1) : PuMotion{};
  const PuMotion B0 = vB0 ? motion_at(f, x + w, y - 1) : PuMotion{};
  const PuMotion A0 = vA0 ? motion_at(f, x - 1, y + h) : PuMotion{};
  const PuMotion B2 = vB2 ? motion_at(f, x - 1, y - 1) : PuMotion{};
  auto done = [&]() { return n > merge_idx; };
  if (vA1) list[n++] = A1;
  if (vB1 && !(vA1 && B1 == A1)) list[n++] = B1;
  if (vB0 && !(vB1 && B0 == B1)) list[n++] = B0;
  if (vA0 && !(vA1 && A0 == A1)) list[n++] = A0;
  if (n < 4 && vB2 && !(vA1 && B2 == A1) && !(vB1 && B2 == B1)) list[n++] = B2;
  if (!done() && n < c.max_merge) {
    PuMotion t;
    Mv mv;
    if (temporal(c, g, 0, 0, mv)) t.m[0] = MvField{mv, 0};
    if (f.is_b && temporal(c, g, 1, 0, mv)) t.m[1] = MvField{mv, 0};
    if (t.m[0].ref >= 0 || t.m[1].ref >= 0) list[n++] = t;
  }
  const int num_orig = n;
  if (!done() && f.is_b && num_orig > 1 && num_orig < c.max_merge) {  // 8.5.3.2.4
    static constexpr int l0i[12] = {0, 1, 0, 2, 1, 2, 0, 3, 1, 3, 2, 3}, l1i[12] = {1, 0, 2, 0, 2, 1, 3, 0, 3, 1, 3, 2};
    for (int k = 0; k < num_orig * (num_orig - 1) && n < c.max_merge && !done(); ++k) {
      const PuMotion& a = list[l0i[k]];
      const PuMotion& b = list[l1i[k]];
      if (a.m[0].ref >= 0 && b.m[1].ref >= 0 &&
          (f.refs[size_t(a.m[0].ref)] != f.refs1[size_t(b.m[1].ref)] || a.m[0].mv != b.m[1].mv)) {
        PuMotion cb;
        cb.m[0] = a.m[0];
        cb.m[1] = b.m[1];
        list[n++] = cb;
      }
    }
  }
  const int num_ref = f.is_b ? int(std::min(f.refs.size(), f.refs1.size())) : int(f.refs.size());
  for (int zero = 0; n < 5 && !done(); ++zero) {  // 8.5.3.2.5
    const int8_t r = int8_t(zero < num_ref ? zero : 0);
    PuMotion z;
    z.m[0] = MvField{Mv{}, r};
    if (f.is_b) z.m[1] = MvField{Mv{}, r};
    list[n++] = z;
  }
  PuMotion out = list[merge_idx];
  if (out.m[0].ref >= 0 && out.m[1].ref >= 0 && orig_w + orig_h == 12) out.m[1] = MvField{};  // 8.5.3.2.2
  return out;
}

void amvp_motion(const MvCtx& c, const PuGeom& g, int X, int ref_idx, Mv out[2]) {
  const Frame& f = *c.f;
  const int Y = 1 - X;
  const int x = g.xPb, y = g.yPb, w = g.w, h = g.h;
  const auto& lx = list_of(f, X);
  const auto& ly = list_of(f, Y);
  const RefPic* target = lx[size_t(ref_idx)];
  auto ref_pic = [&](int list, int8_t r) -> const RefPic* {
    const auto& l = list ? f.refs1 : f.refs;
    return r >= 0 && r < int(l.size()) ? l[size_t(r)] : nullptr;
  };
  (void)ly;
  // same picture from LX, then LY
  auto same = [&](const PuMotion& m, Mv& mv) {
    if (m.m[X].ref >= 0 && ref_pic(X, m.m[X].ref) == target) { mv = m.m[X].mv; return true; }
    if (m.m[Y].ref >= 0 && ref_pic(Y, m.m[Y].ref) == target) { mv = m.m[Y].mv; return true; }
    return false;
  };
  // any picture, scaled
  auto scaled = [&](const PuMotion& m, Mv& mv) {
    for (int l : {X, Y}) {
      if (m.m[l].ref < 0) continue;
      const RefPic* p = ref_pic(l, m.m[l].ref);
      if (!p) continue;
      mv = p == target ? m.m[l].mv : scale_mv(m.m[l].mv, f.poc - p->poc, f.poc - target->poc);
      return true;
    }
    return false;
  };
  const int ax[2] = {x - 1, x - 1}, ay[2] = {y + h, y + h - 1};
  bool availA[2];
  for (int k = 0; k < 2; ++k) availA[k] = avail_pb(f, g, ax[k], ay[k]);
  const bool is_scaled = availA[0] || availA[1];
  bool fa = false;
  Mv mvA;
  for (int k = 0; k < 2 && !fa; ++k)
    if (availA[k]) fa = same(motion_at(f, ax[k], ay[k]), mvA);
  for (int k = 0; k < 2 && !fa; ++k)
    if (availA[k]) fa = scaled(motion_at(f, ax[k], ay[k]), mvA);
  const int bx[3] = {x + w, x + w - 1, x - 1}, by[3] = {y - 1, y - 1, y - 1};
  bool availB[3];
  for (int k = 0; k < 3; ++k) availB[k] = avail_pb(f, g, bx[k], by[k]);
  bool fb = false;
  Mv mvB;
  for (int k = 0; k < 3 && !fb; ++k)
    if (availB[k]) fb = same(motion_at(f, bx[k], by[k]), mvB);
  if (!is_scaled && fb) { fa = true; mvA = mvB; }
  if (!is_scaled) {
    fb = false;
    for (int k = 0; k < 3 && !fb; ++k)
      if (availB[k]) fb = scaled(motion_at(f, bx[k], by[k]), mvB);
  }
  Mv list[3];
  int n = 0;
  if (fa) list[n++] = mvA;
  if (fb && !(fa && mvA == mvB)) list[n++] = mvB;
  if (n < 2) {
    Mv col;
    if (temporal(c, g, X, ref_idx, col)) list[n++] = col;
  }
  while (n < 2) list[n++] = Mv{};
  out[0] = list[0];
  out[1] = list[1];
}

}  // namespace hevc
}  // namespace mvc
