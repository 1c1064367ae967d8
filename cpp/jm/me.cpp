// Motion estimation: EPZS-like predictive search. Integer stage on SAD with the Lagrangian
// mv cost (lambda_motion * real mvd code length), then half- and quarter-sample refinement
// on SATD, as JM does with RDO off.
#include <algorithm>
#include <climits>

#include "common/pixel.h"
#include "jm/h264.h"

namespace mvc {
namespace h264 {

namespace {
struct Search {
  const EncCtx& c;
  const MeQuery& q;
  int xmin = 0, xmax = 0, ymin = 0, ymax = 0;  // integer mv limits
  PixelCmp sadf = q.sad, satdf = q.satd;
  PixelCmpAvg satd_avgf = q.satd_avg;
  int mv_cost(int mx, int my) const {  // quarter-sample mv
    if (in_table)  // every mvd of this search indexes the tables directly
      return c.lam_of_bits.data()[c.mvd_len.data()[mx + offx] + c.mvd_len.data()[my + offy]] + q.ref_cost;
    return c.mv_lambda_bits(c.mv_bits(mx - q.mvp[0]) + c.mv_bits(my - q.mvp[1])) + q.ref_cost;
  }
  // Checks once that the vectors [x0, x1] x [y0, y1] (quarter samples) give mvds inside the tables.
  bool in_table = false;
  int offx = 0, offy = 0;
  void cover(int x0, int x1, int y0, int y1) {
    const int h = c.mvd_half;
    in_table = x0 - q.mvp[0] >= -h && x1 - q.mvp[0] <= h && y0 - q.mvp[1] >= -h && y1 - q.mvp[1] <= h;
    offx = h - q.mvp[0];
    offy = h - q.mvp[1];
  }
  // Sub-sample stage: when every position within `reach` quarter samples of (mx0, my0) lies
  // inside mc_luma_src's clamping limits, sources are addressed directly from the plane bases.
  const uint8_t* base[4] = {};
  ptrdiff_t origin = 0;
  int pstride = 0;
  bool direct = false;
  void prepare_subpel(int mx0, int my0, int reach) {
    const Plane& g = q.ref->pic.y;
    const int lo = -g.pad + 3;
    direct = q.x + ((mx0 - reach) >> 2) >= lo && q.x + ((mx0 + reach) >> 2) <= g.width + g.pad - q.w - 4 &&
             q.y + ((my0 - reach) >> 2) >= lo && q.y + ((my0 + reach) >> 2) <= g.height + g.pad - q.h - 4;
    base[0] = g.data.data(); base[1] = q.ref->hpel_h.data.data();
    base[2] = q.ref->hpel_v.data.data(); base[3] = q.ref->hpel_c.data.data();
    pstride = g.stride;
    origin = static_cast<ptrdiff_t>(q.y + g.pad) * pstride + q.x + g.pad;
  }
  int satd_at(int mx, int my) const {
    const uint8_t *a, *b;
    int st = pstride;
    if (direct) {
      const ptrdiff_t off = origin + static_cast<ptrdiff_t>(my >> 2) * st + (mx >> 2);
      const QpelSrc* k = kQpelSrc[(my & 3) * 4 + (mx & 3)];
      a = base[k[0].plane] + off + k[0].dy * st + k[0].dx;
      b = base[k[1].plane] + off + k[1].dy * st + k[1].dx;
    } else {
      st = mc_luma_src(*q.ref, q.x, q.y, mx, my, q.w, q.h, &a, &b);
    }
    const int d = a == b ? satdf(q.src, q.src_stride, a, st) : satd_avgf(q.src, q.src_stride, a, b, st);
    return d + mv_cost(mx, my);
  }
};
}  // namespace

int motion_search_int(const EncCtx& c, const MeQuery& q, const int (*cand)[2], int ncand, int mv_out[2]) {
  Search s{c, q};
  const Plane& g = q.ref->pic.y;
  const int px = (q.mvp[0] + 2) >> 2, py = (q.mvp[1] + 2) >> 2;
  s.xmin = std::max(px - q.range, -g.pad + 4 - q.x);
  s.xmax = std::min(px + q.range, g.width + g.pad - 4 - q.w - q.x);
  s.ymin = std::max(std::max(py - q.range, -g.pad + 4 - q.y), -500);
  s.ymax = std::min(std::min(py + q.range, g.height + g.pad - 4 - q.h - q.y), 500);
  if (s.xmin > s.xmax) s.xmin = s.xmax = std::min(std::max(0, -g.pad + 4 - q.x), g.width + g.pad - 4 - q.w - q.x);
  if (s.ymin > s.ymax) s.ymin = s.ymax = std::min(std::max(0, -g.pad + 4 - q.y), g.height + g.pad - 4 - q.h - q.y);
  auto clampx = [&](int v) { return std::min(std::max(v, s.xmin), s.xmax); };
  auto clampy = [&](int v) { return std::min(std::max(v, s.ymin), s.ymax); };
  s.cover(4 * s.xmin, 4 * s.xmax, 4 * s.ymin, 4 * s.ymax);

  const PixelCmp sadf = s.sadf;
  const uint8_t* const src = q.src;
  const uint8_t* const org = g.at(q.x, q.y);
  const int ss = q.src_stride, rs = g.stride;
  int bx = clampx(px), by = clampy(py);
  int best = sadf(src, ss, org + by * rs + bx, rs) + s.mv_cost(bx * 4, by * 4);
  auto try_int = [&](int ix, int iy) {
    ix = clampx(ix); iy = clampy(iy);
    if (ix == bx && iy == by) return false;
    const int mc = s.mv_cost(ix * 4, iy * 4);
    if (mc >= best) return false;  // SAD >= 0: cannot win
    const int cst = sadf(src, ss, org + iy * rs + ix, rs) + mc;
    if (cst < best) { best = cst; bx = ix; by = iy; return true; }
    return false;
  };
  try_int(0, 0);
  for (int i = 0; i < ncand; ++i) try_int((cand[i][0] + 2) >> 2, (cand[i][1] + 2) >> 2);
  // Hexagon descent, then a square refinement (x264 "hex").
  static const int hex[6][2] = {{-2, 0}, {-1, 2}, {1, 2}, {2, 0}, {1, -2}, {-1, -2}};
  // After a move along hex[i], the points i+2, i+3 and i+4 around the new centre are the old
  // centre and two of its hexagon, already evaluated: they cannot win, so only three are new.
  for (int it = 0, moved = -1; it < q.max_iter; ++it) {
    const int cx = bx, cy = by;
    int best_dir = -1;
    for (int j = 0; j < 6; ++j) {
      if (moved >= 0 && ((j - moved + 6) % 6 >= 2 && (j - moved + 6) % 6 <= 4)) continue;
      if (try_int(cx + hex[j][0], cy + hex[j][1])) best_dir = j;
    }
    if (best_dir < 0) break;
    // a point clamped to the window breaks the geometry: then all six are evaluated next time
    moved = (bx == cx + hex[best_dir][0] && by == cy + hex[best_dir][1]) ? best_dir : -1;
  }
  {
    const int cx = bx, cy = by;
    for (int dy = -1; dy <= 1; ++dy)
      for (int dx = -1; dx <= 1; ++dx)
        if (dx || dy) try_int(cx + dx, cy + dy);
  }
  mv_out[0] = bx * 4; mv_out[1] = by * 4;
  return best;
}

int motion_refine(const EncCtx& c, const MeQuery& q, int mv[2]) {
  Search s{c, q};
  int mx = mv[0], my = mv[1];
  s.prepare_subpel(mx, my, 6);  // two half-sample and two quarter-sample steps at most
  s.cover(mx - 6, mx + 6, my - 6, my + 6);
  int bestq = s.satd_at(mx, my);
  static const int dia[4][2] = {{0, -1}, {-1, 0}, {1, 0}, {0, 1}};
  // Half-sample then quarter-sample diamond, twice at most each; the previous centre is not re-evaluated.
  for (int step = 2; step >= 1; --step) {
    int px = 1 << 30, py = 0;
    for (int it = 0; it < 2; ++it) {
      const int cx = mx, cy = my;
      for (auto& d : dia) {
        const int x = cx + step * d[0], y = cy + step * d[1];
        if (x == px && y == py) continue;
        const int cst = s.satd_at(x, y);
        if (cst < bestq) { bestq = cst; mx = x; my = y; }
      }
      if (mx == cx && my == cy) break;
      px = cx; py = cy;
    }
  }
  mv[0] = mx; mv[1] = my;
  return bestq;
}

}  // namespace h264
}  // namespace mvc
