// The one CTU syntax writer (7.3.8): sao, coding_quadtree, coding_unit, prediction_unit,
// transform_tree, mvd_coding, residual_coding, with the binarisations and context selection of
// 9.3.3 / 9.3.4.2. It serialises the decision records of a Frame; `cropped` switches texture off in
// P pictures (rqt_root_cbf = 0, all cbf = 0). With an estimating Cabac it prices decisions.
#include <algorithm>
#include <cstring>
#include <cstdlib>

#include "hm/hevc.h"

namespace mvc {
namespace hevc {

namespace {

struct Pos { uint8_t x, y; };

// Scan orders (6.5.3-6.5.5): [scanIdx][blkLog2 0..3][i]
struct Scans {
  Pos s[3][4][64];
  Scans() {
    for (int l = 0; l < 4; ++l) {
      const int n = 1 << l;
      int i = 0, x = 0, y = 0;
      while (i < n * n) {  // up-right diagonal
        while (y >= 0) {
          if (x < n && y < n) s[0][l][i++] = Pos{uint8_t(x), uint8_t(y)};
          --y; ++x;
        }
        y = x; x = 0;
      }
      i = 0;
      for (int yy = 0; yy < n; ++yy) for (int xx = 0; xx < n; ++xx) s[1][l][i++] = Pos{uint8_t(xx), uint8_t(yy)};
      i = 0;
      for (int xx = 0; xx < n; ++xx) for (int yy = 0; yy < n; ++yy) s[2][l][i++] = Pos{uint8_t(xx), uint8_t(yy)};
    }
  }
};
const Scans& scans() {
  static const Scans t;
  return t;
}

constexpr uint8_t kCtxIdxMap4x4[16] = {0, 1, 4, 5, 2, 3, 4, 5, 6, 6, 8, 8, 7, 7, 8, 8};

// sig_coeff_flag context (9.3.4.2.5) of scan position n of a sub-block, ready for each case:
// [log2 - 2][comp > 0][scan_idx][first sub-block][prev_csbf][n], as an offset from CTX_SIG.
struct SigCtx {
  uint8_t t[4][2][3][2][4][16];
  SigCtx() {
    for (int l = 0; l < 4; ++l)
      for (int comp = 0; comp < 2; ++comp)
        for (int si = 0; si < 3; ++si)
          for (int first = 0; first < 2; ++first)
            for (int pc = 0; pc < 4; ++pc)
              for (int n = 0; n < 16; ++n) {
                const Pos p = scans().s[si][2][n];
                const int xp = p.x, yp = p.y, log2 = l + 2;
                int sig;
                if (log2 == 2) sig = kCtxIdxMap4x4[(yp << 2) + xp];
                else if (first && xp + yp == 0) sig = 0;
                else {
                  if (pc == 0) sig = xp + yp == 0 ? 2 : (xp + yp < 3 ? 1 : 0);
                  else if (pc == 1) sig = yp == 0 ? 2 : (yp == 1 ? 1 : 0);
                  else if (pc == 2) sig = xp == 0 ? 2 : (xp == 1 ? 1 : 0);
                  else sig = 2;
                  if (comp == 0 && !first) sig += 3;
                  if (log2 == 3) sig += si == 0 ? 9 : 15;
                  else sig += comp == 0 ? 21 : 12;
                }
                t[l][comp][si][first][pc][n] = static_cast<uint8_t>(comp ? 27 + sig : sig);
              }
  }
};
const SigCtx& sig_ctx() {
  static const SigCtx t;
  return t;
}

int last_prefix(int pos) {
  if (pos < 4) return pos;
  int p = 4;
  while (p < 9 && ((2 + ((p + 1) & 1)) << (((p + 1) >> 1) - 1)) <= pos) ++p;
  return p;
}
inline int group_min(int p) { return p < 4 ? p : (2 + (p & 1)) << ((p >> 1) - 1); }

// The context-coded prefix bins of last_sig_coeff_{x,y}_prefix (9.3.4.2.3) as bin(ctx, value).
template <class Bin>
void last_prefix_bins(int base, int pos, int log2, int comp, Bin&& bin) {
  const int off = comp ? 15 : 3 * (log2 - 2) + ((log2 - 1) >> 2);
  const int shift = comp ? log2 - 2 : (log2 + 1) >> 2;
  const int cmax = (log2 << 1) - 1;
  const int p = last_prefix(pos);
  for (int i = 0; i < p; ++i) bin(base + off + (i >> shift), 1);
  if (p < cmax) bin(base + off + (p >> shift), 0);
}

// Offsets of a 4x4 sub-block's 16 coefficients in scan order, for coefficient rows of stride.
void sub_block_offsets(int scan_idx, int stride, int off4[16]) {
  const Pos* sc4 = scans().s[scan_idx][2];
  for (int n = 0; n < 16; ++n) off4[n] = sc4[n].y * stride + sc4[n].x;
}

// Scan index (sub-block * 16 + position) of the last nonzero coefficient, -1 if none; all-zero
// 4x4 sub-blocks are skipped four rows at a time.
int last_nonzero(const int16_t* cf, int stride, int log2, int scan_idx, const int off4[16]) {
  const int sbl = log2 - 2;
  const Pos* sbscan = scans().s[scan_idx][sbl];
  for (int i = (1 << (2 * sbl)) - 1; i >= 0; --i) {
    const int16_t* b = cf + (sbscan[i].y << 2) * stride + (sbscan[i].x << 2);
    uint64_t any = 0;
    for (int r = 0; r < 4; ++r) {
      uint64_t row;
      std::memcpy(&row, b + r * stride, 8);
      any |= row;
    }
    if (!any) continue;
    for (int n = 15; n >= 0; --n)
      if (b[off4[n]]) return i * 16 + n;
  }
  return -1;
}

// coeff_abs_level_remaining (9.3.3.11): Rice prefix and suffix below 4 << rice, else four ones
// and an Exp-Golomb code of order rice + 1; put(value, n) receives the bypass bins n at a time.
template <class Put>
void abs_level_remaining_bins(int rem, int rice, Put&& put) {
  if (rem < (4 << rice)) {
    const int q = rem >> rice;
    for (int j = 0; j < q; ++j) put(1, 1);
    put(0, 1);
    put(rem & ((1 << rice) - 1), rice);
    return;
  }
  for (int j = 0; j < 4; ++j) put(1, 1);
  int v = rem - (4 << rice), kk = rice + 1;  // EG(k+1) suffix
  while (v >= (1 << kk)) { put(1, 1); v -= 1 << kk; ++kk; }
  put(0, 1);
  put(v, kk);
}

// Where residual_coding's bins go: the arithmetic encoder with its bit accounting, or a cost sum
// with context updates (the analyser's hot path: about four of five residual_coding calls).
struct EncodeSink {
  Cabac& c;
  int cat;
  void bin(int ci, int b) { c.bin(ci, b, cat); }
  void bypass_bits(uint32_t v, int n) { c.bypass_bits(v, n, cat); }
};
struct EstimateSink {
  CtxSet& ctx;
  uint64_t q = 0;  // 1/65536 bit
  void bin(int ci, int b) {
    uint8_t& st = ctx.s[ci];
    q += kCabacTab.qcost[st][b];
    st = kCabacTab.next[st][b];
  }
  void bypass_bits(uint32_t, int n) { q += uint64_t(kQBit) * n; }
};

template <class Sink>
void residual_coding_to(Sink& c, const int16_t* cf, int stride, int log2, int comp, int scan_idx, bool sdh = true) {
  const int sbl = log2 - 2, nsb = 1 << sbl;
  const Pos* sbscan = scans().s[scan_idx][sbl];
  const Pos* sc4 = scans().s[scan_idx][2];
  int off4[16];
  sub_block_offsets(scan_idx, stride, off4);
  auto sb_base = [&](int i) { return cf + (sbscan[i].y << 2) * stride + (sbscan[i].x << 2); };
  const int last = last_nonzero(cf, stride, log2, scan_idx, off4);
  const int last_sb = last >> 4, last_pos = last & 15;
  const int lx = (sbscan[last_sb].x << 2) + sc4[last_pos].x, ly = (sbscan[last_sb].y << 2) + sc4[last_pos].y;
  const int cx = scan_idx == 2 ? ly : lx, cy = scan_idx == 2 ? lx : ly;
  last_prefix_bins(CTX_LAST_X, cx, log2, comp, [&](int ci, int b) { c.bin(ci, b); });
  last_prefix_bins(CTX_LAST_Y, cy, log2, comp, [&](int ci, int b) { c.bin(ci, b); });
  const int px = last_prefix(cx), py = last_prefix(cy);
  if (px > 3) c.bypass_bits(cx - group_min(px), (px >> 1) - 1);
  if (py > 3) c.bypass_bits(cy - group_min(py), (py >> 1) - 1);

  uint8_t csbf[8][8] = {{0}};
  bool first_sb = true;
  int prev_c1 = 1;
  for (int i = last_sb; i >= 0; --i) {
    const int xs = sbscan[i].x, ys = sbscan[i].y;
    const int16_t* sb = sb_base(i);
    uint64_t rows = 0;  // four rows of four 16-bit levels: is any nonzero?
    for (int r = 0; r < 4; ++r) {
      uint64_t row;
      std::memcpy(&row, sb + r * stride, 8);
      rows |= row;
    }
    const bool any = rows != 0;
    int lev[16];
    if (any || i == 0 || i == last_sb)  // only coded sub-blocks read their levels
      for (int n = 0; n < 16; ++n) lev[n] = sb[off4[n]];
    bool infer_dc = false;
    int right = xs + 1 < nsb ? csbf[xs + 1][ys] : 0, below = ys + 1 < nsb ? csbf[xs][ys + 1] : 0;
    if (i < last_sb && i > 0) {
      c.bin(CTX_CSBF + std::min(right + below, 1) + (comp ? 2 : 0), any);
      csbf[xs][ys] = any;
      infer_dc = true;
    } else {
      csbf[xs][ys] = 1;
    }
    if (!csbf[xs][ys]) continue;
    const int prev_csbf = right + (below << 1);
    const uint8_t* sctx = sig_ctx().t[log2 - 2][comp > 0][scan_idx][i == 0][prev_csbf];
    // sig_coeff_flags in reverse scan order (the last position and an inferred DC are not coded),
    // collecting the significant positions idx and their magnitudes al as they are met
    int idx[16], al[16], nsig = 0;
    if (i == last_sb) { idx[0] = last_pos; al[0] = std::abs(lev[last_pos]); nsig = 1; }
    const int start = i == last_sb ? last_pos - 1 : 15;
    for (int n = start; n > 0; --n) {  // branch-free: which levels are nonzero is data
      const int nz = lev[n] != 0;
      c.bin(CTX_SIG + sctx[n], nz);
      infer_dc &= !nz;
      idx[nsig] = n;
      al[nsig] = std::abs(lev[n]);
      nsig += nz;
    }
    if (start >= 0) {
      if (!infer_dc) c.bin(CTX_SIG + sctx[0], lev[0] != 0);
      idx[nsig] = 0;
      al[nsig] = std::abs(lev[0]);
      nsig += lev[0] != 0;
    }
    int ctx_set = (i == 0 || comp > 0) ? 0 : 2;
    if (!first_sb && prev_c1 == 0) ++ctx_set;
    first_sb = false;
    int c1 = 1, first_g1 = -1;
    const int g1base = CTX_G1 + (comp ? 16 : 0);
    for (int k = 0; k < nsig && k < 8; ++k) {
      const int g1 = al[k] > 1;
      c.bin(g1base + ctx_set * 4 + c1, g1);
      if (g1) { c1 = 0; if (first_g1 < 0) first_g1 = k; }
      else if (c1 > 0 && c1 < 3) ++c1;
    }
    prev_c1 = c1;
    if (first_g1 >= 0) c.bin(CTX_G2 + (comp ? 4 : 0) + ctx_set, al[first_g1] > 2);
    // sign_data_hiding: the sign of the first coefficient in scan order follows the parity of the
    // sum; the other signs go out as one bypass string, the first in reverse scan order first
    const int sign_hidden = sdh && nsig > 0 && idx[0] - idx[nsig - 1] > 3;  // (sub-block 0 may hold none)
    uint32_t signs = 0;
    for (int k = 0; k < nsig; ++k) signs = (signs << 1) | (lev[idx[k]] < 0);
    c.bypass_bits(signs >> sign_hidden, nsig - sign_hidden);
    // coeff_abs_level_remaining: only where a level reaches the base its flags allow, which needs
    // a greater1 flag set or a ninth significant coefficient (no flags)
    if (first_g1 < 0 && nsig <= 8) continue;
    int rice = 0;
    for (int k = 0; k < nsig; ++k) {
      const int a = al[k];
      const int base = 1 + (k < 8 ? (a > 1) : 0) + (k == first_g1 ? (a > 2) : 0);
      const int thr = k < 8 ? (k == first_g1 ? 3 : 2) : 1;
      if (base != thr) continue;
      abs_level_remaining_bins(a - base, rice, [&](uint32_t v, int n) { c.bypass_bits(v, n); });
      rice = next_rice(rice, a);
    }
  }
}

void residual_coding(Cabac& c, const int16_t* cf, int stride, int log2, int comp, int scan_idx, bool sdh = true) {
  if (c.estimating()) {
    EstimateSink k{c.ctx};
    residual_coding_to(k, cf, stride, log2, comp, scan_idx, sdh);
    c.add_estimate(k.q);
  } else {
    EncodeSink k{c, comp ? CAT_RESIDUAL_CHROMA : CAT_RESIDUAL_LUMA};
    residual_coding_to(k, cf, stride, log2, comp, scan_idx, sdh);
  }
}

struct Writer {
  Cabac& c;
  const SliceCtx& sc;
  Frame& f;
  const Seq& s;
  bool tex_off;

  int region_cbf(int x0, int y0, int log2, int bit) const {
    const int n = 1 << log2;
    for (int y = y0; y < y0 + n; y += 4)
      for (int x = x0; x < x0 + n; x += 4)
        if (f.b(x, y).cbf & bit) return 1;
    return 0;
  }

  int scan_idx(int x0, int y0, int log2, int comp) const {
    const Blk& b = f.b(x0, y0);
    if (b.pred != MODE_INTRA) return 0;
    if (!(log2 == 2 || (log2 == 3 && comp == 0))) return 0;
    const int m = comp ? b.intra_chroma : b.intra_luma;
    if (m >= 6 && m <= 14) return 2;
    if (m >= 22 && m <= 30) return 1;
    return 0;
  }

  void residual(int x0, int y0, int log2, int comp) {  // x0, y0 luma position of the TB owner
    if (sc.skip_residual) return;
    const int xc = comp ? x0 >> 1 : x0, yc = comp ? y0 >> 1 : y0;
    bool sdh = sc.sign_hiding;
    if (!f.tq.empty()) {  // the reader's streams: transform_skip_flag, cu_transquant_bypass_flag
      const uint8_t t = f.tq[size_t(y0 >> 2) * s.w4 + size_t(x0 >> 2)];
      const bool bypass = t & 8;
      if (sc.transform_skip && !bypass && log2 == 2)
        c.bin(CTX_TSKIP + (comp ? 1 : 0), (t >> comp) & 1, comp ? CAT_RESIDUAL_CHROMA : CAT_RESIDUAL_LUMA);
      sdh = sdh && !bypass;
    }
    residual_coding(c, f.cf(comp, xc, yc), f.cstride(comp), log2, comp, scan_idx(x0, y0, log2, comp), sdh);
  }

  void transform_tree(int x0, int y0, int xb, int yb, int log2, int depth, int blk, int max_depth, bool intra_split,
                      bool intra, bool force_split0, int pcb, int pcr, bool inter_split = false) {
    int split;
    if (log2 <= s.max_tb_log2 && log2 > s.min_tb_log2 && depth < max_depth && !(intra_split && depth == 0)) {
      split = force_split0 ? (depth == 0) : (f.b(x0, y0).tu_depth > depth);
      c.bin(CTX_SPLIT_TF + 5 - log2, split, CAT_CBP_QP);
    } else {  // inferred (7.4.9.8), interSplitFlag included
      split = log2 > s.max_tb_log2 || (intra_split && depth == 0) || (inter_split && depth == 0);
    }
    int cb = 0, cr = 0;
    if (log2 > 2) {
      if (depth == 0 || pcb) {
        cb = tex_off ? 0 : region_cbf(x0, y0, log2, 2);
        c.bin(CTX_CBF_CHROMA + depth, cb, CAT_CBP_QP);
      }
      if (depth == 0 || pcr) {
        cr = tex_off ? 0 : region_cbf(x0, y0, log2, 4);
        c.bin(CTX_CBF_CHROMA + depth, cr, CAT_CBP_QP);
      }
    } else {
      cb = pcb;
      cr = pcr;
    }
    if (split) {
      const int h = 1 << (log2 - 1);
      transform_tree(x0, y0, x0, y0, log2 - 1, depth + 1, 0, max_depth, intra_split, intra, force_split0, cb, cr, inter_split);
      transform_tree(x0 + h, y0, x0, y0, log2 - 1, depth + 1, 1, max_depth, intra_split, intra, force_split0, cb, cr, inter_split);
      transform_tree(x0, y0 + h, x0, y0, log2 - 1, depth + 1, 2, max_depth, intra_split, intra, force_split0, cb, cr, inter_split);
      transform_tree(x0 + h, y0 + h, x0, y0, log2 - 1, depth + 1, 3, max_depth, intra_split, intra, force_split0, cb, cr, inter_split);
      return;
    }
    int cy = 1;
    const bool chroma_here = log2 > 2;
    if (intra || depth != 0 || (chroma_here ? (cb || cr) : false)) {
      cy = tex_off ? 0 : (f.b(x0, y0).cbf & 1);
      c.bin(CTX_CBF_LUMA + (depth == 0 ? 1 : 0), cy, CAT_CBP_QP);
    }
    if (sc.cu_qp_delta && !qp_coded && (cy || cb || cr)) {  // 7.3.8.10 (the reader's streams)
      cu_qp_delta(f.dqp[size_t(y0 >> 2) * s.w4 + size_t(x0 >> 2)]);
      qp_coded = true;
    }
    if (cy) residual(x0, y0, log2, 0);
    if (chroma_here) {
      if (cb) residual(x0, y0, log2 - 1, 1);
      if (cr) residual(x0, y0, log2 - 1, 2);
    } else if (blk == 3) {
      if (cb) residual(xb, yb, 2, 1);
      if (cr) residual(xb, yb, 2, 2);
    }
  }

  bool qp_coded = false;  // IsCuQpDeltaCoded

  void cu_qp_delta(int v) {  // cu_qp_delta_abs: TR prefix (cMax 5, contexts 0 then 1), EG0 suffix; sign
    const int a = std::abs(v);
    for (int i = 0; i < 5 && i <= a; ++i) {
      if (i == a) { c.bin(CTX_DQP + (i ? 1 : 0), 0, CAT_CBP_QP); break; }
      c.bin(CTX_DQP + (i ? 1 : 0), 1, CAT_CBP_QP);
    }
    if (a >= 5) {
      int rest = a - 5, k = 0;
      while (rest >= (1 << k)) { c.bypass(1, CAT_CBP_QP); rest -= 1 << k; ++k; }
      c.bypass(0, CAT_CBP_QP);
      c.bypass_bits(uint32_t(rest), k, CAT_CBP_QP);
    }
    if (a) c.bypass(v < 0, CAT_CBP_QP);
  }

  void merge_idx(int v) {  // TR, cMax = MaxNumMergeCand - 1, first bin context coded
    const int cmax = sc.max_merge - 1;
    if (cmax <= 0) return;
    c.bin(CTX_MERGE_IDX, v > 0, CAT_MERGE);
    for (int i = 1; i < cmax && i <= v; ++i) c.bypass(i < v, CAT_MERGE);
  }

  void mvd_coding(Mv d) {
    const int ax = std::abs(d.x), ay = std::abs(d.y);
    c.bin(CTX_MVD_G0, ax > 0, CAT_MVD);
    c.bin(CTX_MVD_G0, ay > 0, CAT_MVD);
    if (ax) c.bin(CTX_MVD_G1, ax > 1, CAT_MVD);
    if (ay) c.bin(CTX_MVD_G1, ay > 1, CAT_MVD);
    for (int k = 0; k < 2; ++k) {
      const int a = k ? ay : ax, neg = (k ? d.y : d.x) < 0;
      if (!a) continue;
      if (a > 1) {  // abs_mvd_minus2: EG1
        int v = a - 2, kk = 1;
        while (v >= (1 << kk)) { c.bypass(1, CAT_MVD); v -= 1 << kk; ++kk; }
        c.bypass(0, CAT_MVD);
        c.bypass_bits(v, kk, CAT_MVD);
      }
      c.bypass(neg, CAT_MVD);
    }
  }

  void ref_idx(int r, int nref) {
    if (nref <= 1) return;
    for (int i = 0; i < nref - 1 && i <= r; ++i) {
      const int bit = i < r;
      if (i < 2) c.bin(CTX_REF_IDX + i, bit, CAT_REF_IDX);
      else c.bypass(bit, CAT_REF_IDX);
    }
  }

  void prediction_unit(int x, int y, int w = 0, int h = 0) {
    const Blk& b = f.b(x, y);
    c.bin(CTX_MERGE_FLAG, b.merge, CAT_MERGE);
    if (b.merge) { merge_idx(b.merge_idx); return; }
    if (f.is_b) {  // the reader's B slices: inter_pred_idc, then each list used
      const BlkB& bb = f.bb[size_t(y >> 2) * s.w4 + size_t(x >> 2)];
      if (w + h != 12) c.bin(CTX_INTER_DIR + b.depth, bb.dir == 3, CAT_MB_TYPE);
      if (bb.dir != 3 || w + h == 12) c.bin(CTX_INTER_DIR + 4, bb.dir == 2, CAT_MB_TYPE);
      if (bb.dir & 1) {
        ref_idx(b.mvf.ref, static_cast<int>(f.refs.size()));
        mvd_coding(b.mvd);
        c.bin(CTX_MVP, b.mvp_idx, CAT_MVP_IDX);
      }
      if (bb.dir & 2) {
        ref_idx(bb.mvf1.ref, static_cast<int>(f.refs1.size()));
        if (!(f.mvd_l1_zero && bb.dir == 3)) mvd_coding(bb.mvd1);
        c.bin(CTX_MVP, bb.mvp1, CAT_MVP_IDX);
      }
      return;
    }
    ref_idx(b.mvf.ref, static_cast<int>(f.refs.size()));
    mvd_coding(b.mvd);
    c.bin(CTX_MVP, b.mvp_idx, CAT_MVP_IDX);
  }

  void coding_unit(int x0, int y0, int log2) {
    const Blk& cu = f.b(x0, y0);
    const int n = 1 << log2;
    if (sc.transquant_bypass) c.bin(CTX_TQ_BYPASS, (f.tq[size_t(y0 >> 2) * s.w4 + size_t(x0 >> 2)] >> 3) & 1, CAT_MB_TYPE);
    if (f.is_p) {
      int inc = 0;
      if (s.zavail(x0, y0, x0 - 1, y0) && written_skip(f.b(x0 - 1, y0))) ++inc;
      if (s.zavail(x0, y0, x0, y0 - 1) && written_skip(f.b(x0, y0 - 1))) ++inc;
      const bool skip = written_skip(cu);
      c.bin(CTX_SKIP + inc, skip, CAT_SKIP);
      if (skip) { merge_idx(cu.merge_idx); return; }
      c.bin(CTX_PRED_MODE, cu.pred == MODE_INTRA, CAT_MB_TYPE);
    }
    const bool intra = cu.pred == MODE_INTRA;
    if (!intra || log2 == s.min_cb_log2) {
      if (intra) c.bin(CTX_PART_MODE, cu.part == PART_2Nx2N, CAT_MB_TYPE);
      else {
        c.bin(CTX_PART_MODE, cu.part == PART_2Nx2N, CAT_MB_TYPE);
        if (cu.part != PART_2Nx2N && sc.amp && log2 > s.min_cb_log2) {  // Table 9-43 with AMP
          const bool hor = cu.part == PART_2NxN || cu.part == PART_2NxnU || cu.part == PART_2NxnD;
          c.bin(CTX_PART_MODE + 1, hor, CAT_MB_TYPE);
          const bool sym = cu.part == PART_2NxN || cu.part == PART_Nx2N;
          c.bin(CTX_PART_MODE + 3, sym, CAT_MB_TYPE);
          if (!sym) c.bypass(cu.part == PART_2NxnD || cu.part == PART_nRx2N, CAT_MB_TYPE);
        } else if (cu.part != PART_2Nx2N) {
          c.bin(CTX_PART_MODE + 1, cu.part == PART_2NxN, CAT_MB_TYPE);
          if (cu.part != PART_2NxN && log2 == s.min_cb_log2 && log2 > 3)
            c.bin(CTX_PART_MODE + 2, cu.part == PART_Nx2N, CAT_MB_TYPE);
        }
      }
    }
    if (intra) {
      const int np = cu.part == PART_NxN ? 4 : 1, h = n >> 1;
      int px[4], py[4], flag[4], idx[4];
      for (int i = 0; i < np; ++i) {
        px[i] = x0 + (np == 4 ? (i & 1) * h : 0);
        py[i] = y0 + (np == 4 ? (i >> 1) * h : 0);
        int cand[3];
        intra_mpm(f, px[i], py[i], cand);
        const int m = f.b(px[i], py[i]).intra_luma;
        idx[i] = -1;
        for (int k = 0; k < 3; ++k) if (cand[k] == m) idx[i] = k;
        flag[i] = idx[i] >= 0;
        if (!flag[i]) {
          std::sort(cand, cand + 3);
          int rem = m;
          for (int k = 2; k >= 0; --k) if (m > cand[k]) --rem;
          idx[i] = rem;
        }
        c.bin(CTX_PREV_INTRA, flag[i], CAT_INTRA_MODE);
      }
      for (int i = 0; i < np; ++i) {
        if (flag[i]) {
          c.bypass(idx[i] > 0, CAT_INTRA_MODE);
          if (idx[i] > 0) c.bypass(idx[i] > 1, CAT_INTRA_MODE);
        } else {
          c.bypass_bits(idx[i], 5, CAT_INTRA_MODE);
        }
      }
      if (cu.chroma_syntax == 4) c.bin(CTX_CHROMA_MODE, 0, CAT_INTRA_MODE);
      else { c.bin(CTX_CHROMA_MODE, 1, CAT_INTRA_MODE); c.bypass_bits(cu.chroma_syntax, 2, CAT_INTRA_MODE); }
    } else if (cu.part == PART_2Nx2N) {
      prediction_unit(x0, y0, n, n);
    } else {
      int r[4][4];
      const int np = pu_rects(cu.part, x0, y0, n, r);
      for (int k = 0; k < np; ++k) prediction_unit(r[k][0], r[k][1], r[k][2], r[k][3]);
    }
    int root = 1;
    bool force_split0 = false;
    if (!intra && !(cu.part == PART_2Nx2N && cu.merge)) {
      root = tex_off ? 0 : cu.root_cbf;
      c.bin(CTX_RQT_ROOT, root, CAT_CBP_QP);
    } else if (!intra && tex_off) {
      force_split0 = true;  // rqt_root_cbf is inferred 1 here: split once so every cbf_luma is coded (as 0)
    }
    if (!root) return;
    const bool isplit = intra && cu.part == PART_NxN;
    const int maxd = intra ? s.max_tr_depth_intra + (isplit ? 1 : 0) : s.max_tr_depth_inter;
    const bool inter_split = !intra && s.max_tr_depth_inter == 0 && cu.part != PART_2Nx2N;
    transform_tree(x0, y0, x0, y0, log2, 0, 0, maxd, isplit, intra, force_split0, 0, 0, inter_split);
  }

  // cu_skip_flag as written: a merged 2Nx2N CU whose residual is dropped where no transform split
  // is possible (max_transform_hierarchy_depth_inter 0: cbf_luma would be inferred 1) is written
  // as the skipped CU with the same merge candidate, which it equals without residual.
  bool written_skip(const Blk& b) const {
    return b.pred == MODE_SKIP ||
           (tex_off && s.max_tr_depth_inter == 0 && b.pred == MODE_INTER && b.part == PART_2Nx2N && b.merge);
  }

  void coding_quadtree(int x0, int y0, int log2, int depth) {
    const int n = 1 << log2;
    if (sc.cu_qp_delta && log2 >= sc.log2_min_dqp) qp_coded = false;
    int split;
    if (x0 + n <= s.W && y0 + n <= s.H && log2 > s.min_cb_log2) {
      split = f.b(x0, y0).cu_log2 < log2;
      int inc = 0;
      if (s.zavail(x0, y0, x0 - 1, y0) && f.b(x0 - 1, y0).depth > depth) ++inc;
      if (s.zavail(x0, y0, x0, y0 - 1) && f.b(x0, y0 - 1).depth > depth) ++inc;
      c.bin(CTX_SPLIT_CU + inc, split, CAT_MB_TYPE);
    } else {
      split = log2 > s.min_cb_log2;
    }
    if (split) {
      const int h = n >> 1;
      for (int k = 0; k < 4; ++k) {
        const int x1 = x0 + (k & 1) * h, y1 = y0 + (k >> 1) * h;
        if (x1 < s.W && y1 < s.H) coding_quadtree(x1, y1, log2 - 1, depth + 1);
      }
    } else {
      coding_unit(x0, y0, log2);
    }
  }
};

}  // namespace

void scan_order(int scan_idx, int log2n, uint16_t* out) {
  const int sbl = log2n - 2, n = 1 << log2n;
  const Pos* sbscan = scans().s[scan_idx][sbl];
  const Pos* sc4 = scans().s[scan_idx][2];
  int k = 0;
  for (int i = 0; i < (1 << (2 * sbl)); ++i)
    for (int j = 0; j < 16; ++j)
      out[k++] = static_cast<uint16_t>(((sbscan[i].y << 2) + sc4[j].y) * n + (sbscan[i].x << 2) + sc4[j].x);
}

int scan_idx_for(int intra_mode, int log2, int comp) {
  if (intra_mode < 0 || !(log2 == 2 || (log2 == 3 && comp == 0))) return 0;
  if (intra_mode >= 6 && intra_mode <= 14) return 2;
  if (intra_mode >= 22 && intra_mode <= 30) return 1;
  return 0;
}

int last_nonzero_in_scan(const int16_t* level, int log2, int scan_idx) {
  int off4[16];
  sub_block_offsets(scan_idx, 1 << log2, off4);
  return last_nonzero(level, 1 << log2, log2, scan_idx, off4);
}

int abs_level_remaining_bits(int rem, int rice) {
  int b = 0;
  abs_level_remaining_bins(rem, rice, [&](uint32_t, int n) { b += n; });
  return b;
}

const uint8_t* sig_ctx_row(int log2, int comp, int scan_idx, bool first_sb, int prev_csbf) {
  return sig_ctx().t[log2 - 2][comp > 0][scan_idx][first_sb][prev_csbf];
}

double last_coord_bits(const CtxSet& ctx, int base, int pos, int log2, int comp) {
  double b = 0;
  last_prefix_bins(base, pos, log2, comp, [&](int ci, int v) { b += Cabac::bin_cost(ctx.s[ci], v); });
  const int p = last_prefix(pos);
  return b + (p > 3 ? (p >> 1) - 1 : 0);  // the suffix, bypass coded
}

double residual_bits(const CtxSet& ctx, const int16_t* cf, int stride, int log2, int comp, int scan_idx) {
  CtxSet scratch = ctx;
  EstimateSink k{scratch};
  residual_coding_to(k, cf, stride, log2, comp, scan_idx);
  return double(k.q) / kQBit;
}

int intra_mpm(const Frame& f, int x, int y, int cand[3]) {
  const Seq& s = *f.seq;
  int a = 1, b = 1;
  if (s.zavail(x, y, x - 1, y) && f.b(x - 1, y).pred == MODE_INTRA) a = f.b(x - 1, y).intra_luma;
  if (s.zavail(x, y, x, y - 1) && f.b(x, y - 1).pred == MODE_INTRA && y - 1 >= ((y >> s.ctu_log2) << s.ctu_log2))
    b = f.b(x, y - 1).intra_luma;
  if (a == b) {
    if (a < 2) { cand[0] = 0; cand[1] = 1; cand[2] = 26; }
    else { cand[0] = a; cand[1] = 2 + ((a + 29) % 32); cand[2] = 2 + ((a - 2 + 1) % 32); }
  } else {
    cand[0] = a; cand[1] = b;
    cand[2] = (a != 0 && b != 0) ? 0 : ((a != 1 && b != 1) ? 1 : 26);
  }
  return 3;
}

void write_sao(Cabac& c, const SliceCtx& sc, const SaoParam& p, int rx, int ry) {
  const int ctb = ry * sc.seq->ctu_cols + rx;
  if (rx > 0 && ctb - 1 >= sc.slice_addr) c.bin(CTX_SAO_MERGE, p.merge_left, CAT_SAO);
  if (ry > 0 && ctb - sc.seq->ctu_cols >= sc.slice_addr && !p.merge_left) c.bin(CTX_SAO_MERGE, p.merge_up, CAT_SAO);
  if (p.merge_left || p.merge_up) return;
  for (int comp = 0; comp < 3; ++comp) {
    if (!(comp == 0 ? sc.sao_luma : sc.sao_chroma)) continue;
    const int t = p.type[comp];
    if (comp < 2) {
      c.bin(CTX_SAO_TYPE, t != 0, CAT_SAO);
      if (t) c.bypass(t == 2, CAT_SAO);
    }
    if (!t) continue;
    const int cmax = sc.sao_max[comp ? 1 : 0];
    for (int i = 0; i < 4; ++i) {
      const int a = std::abs(p.offset[comp][i]);
      for (int k = 0; k < a; ++k) c.bypass(1, CAT_SAO);
      if (a < cmax) c.bypass(0, CAT_SAO);
    }
    if (t == 1) {
      for (int i = 0; i < 4; ++i)
        if (p.offset[comp][i]) c.bypass(p.offset[comp][i] < 0, CAT_SAO);
      c.bypass_bits(p.band_pos[comp], 5, CAT_SAO);
    } else if (comp < 2) {
      c.bypass_bits(p.eo_class[comp], 2, CAT_SAO);
    }
  }
}

void write_coding_quadtree(Cabac& c, const SliceCtx& sc, int x0, int y0, int log2, int depth) {
  Writer w{c, sc, *sc.f, *sc.seq, sc.cropped && (sc.f->is_p || sc.crop_intra_pictures)};
  w.coding_quadtree(x0, y0, log2, depth);
}

void write_coding_unit(Cabac& c, const SliceCtx& sc, int x0, int y0, int log2) {
  Writer w{c, sc, *sc.f, *sc.seq, sc.cropped && (sc.f->is_p || sc.crop_intra_pictures)};
  w.coding_unit(x0, y0, log2);
}

}  // namespace hevc
}  // namespace mvc
