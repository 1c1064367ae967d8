// Parsing slice_segment_data() (7.3.8): sao, coding_quadtree, coding_unit, prediction_unit,
// transform_tree, mvd_coding and residual_coding with the binarisations and context selection of
// 9.3.3 / 9.3.4.2, the inverse of syntax.cpp's writer. It fills a Frame's per-4x4 records and
// coefficient arrays exactly as the encoder's decisions would, so syntax.cpp can write them back;
// motion is derived PU by PU with mvpred.cpp (merge / AMVP / TMVP). Each bin is charged the
// estimated cost the encoder charges (kCabacTab.cost of the state before the bin) to its category.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include "hm/reader.h"

namespace mvc {
namespace hevc {

namespace {

struct CtuReader {
  const SliceReadCtx& sc;
  Frame& f;
  const Seq& s;
  BitReader& br;
  BitCounts& cat;
  cabac::Decoder<BitReader> dec;
  CtxSet ctx;
  int ctu = 0;
  bool qp_coded = false;  // IsCuQpDeltaCoded

  [[noreturn]] void fail(const std::string& what) const { throw ParseError(what, ctu); }

  int bin(int ci, int c) {
    uint8_t& st = ctx.s[ci];
    const uint8_t before = st;
    int b;
    dec.decision(st, b);
    cat[size_t(c)] += kCabacTab.cost[before][b];
    return b;
  }
  int bypass(int c) {
    cat[size_t(c)] += 1.0;
    return dec.bypass();
  }
  uint32_t bypass_bits(int n, int c) {
    uint32_t v = 0;
    for (int i = 0; i < n; ++i) v = (v << 1) | uint32_t(bypass(c));
    return v;
  }
  int terminate(int c) {
    const int b = dec.terminate();
    cat[size_t(c)] += b ? 7.0 : 0.0;
    return b;
  }

  template <class Fn>
  void for_blocks(int x0, int y0, int w, int h, Fn&& fn) {
    for (int y = y0; y < y0 + h && y < s.H; y += 4)
      for (int x = x0; x < x0 + w && x < s.W; x += 4) fn(f.b(x, y));
  }

  // ------------------------------------------------------------------ SAO (7.3.8.3)
  void sao(SaoParam& p, int rx, int ry) {
    p = SaoParam{};
    const int ctb = ry * s.ctu_cols + rx;
    if (rx > 0 && ctb - 1 >= sc.slice_addr) p.merge_left = uint8_t(bin(CTX_SAO_MERGE, CAT_SAO));
    if (ry > 0 && ctb - s.ctu_cols >= sc.slice_addr && !p.merge_left) p.merge_up = uint8_t(bin(CTX_SAO_MERGE, CAT_SAO));
    if (p.merge_left || p.merge_up) return;
    for (int comp = 0; comp < 3; ++comp) {
      if (!(comp == 0 ? sc.sao_luma : sc.sao_chroma)) continue;
      if (comp < 2) {
        int t = bin(CTX_SAO_TYPE, CAT_SAO);
        if (t) t = bypass(CAT_SAO) ? 2 : 1;
        p.type[comp] = uint8_t(t);
      } else {
        p.type[2] = p.type[1];
      }
      const int t = p.type[comp];
      if (!t) continue;
      int abs[4];
      const int cmax = sc.sao_max[comp ? 1 : 0];  // TR, cMax = (1 << (Min(bitDepth, 10) - 5)) - 1
      for (int i = 0; i < 4; ++i) {
        abs[i] = 0;
        while (abs[i] < cmax && bypass(CAT_SAO)) ++abs[i];
      }
      if (t == 1) {
        for (int i = 0; i < 4; ++i)
          p.offset[comp][i] = int8_t(abs[i] && bypass(CAT_SAO) ? -abs[i] : abs[i]);
        p.band_pos[comp] = uint8_t(bypass_bits(5, CAT_SAO));
      } else {
        for (int i = 0; i < 4; ++i) p.offset[comp][i] = int8_t(i < 2 ? abs[i] : -abs[i]);
        if (comp < 2) p.eo_class[comp] = uint8_t(bypass_bits(2, CAT_SAO));
        else p.eo_class[2] = p.eo_class[1];
      }
    }
  }

  // ------------------------------------------------------------------ residual_coding (7.3.8.11)
  int last_prefix(int base, int log2, int comp) {
    const int off = comp ? 15 : 3 * (log2 - 2) + ((log2 - 1) >> 2);
    const int shift = comp ? log2 - 2 : (log2 + 1) >> 2;
    const int cmax = (log2 << 1) - 1;
    int p = 0;
    while (p < cmax && bin(base + off + (p >> shift), comp ? CAT_RESIDUAL_CHROMA : CAT_RESIDUAL_LUMA)) ++p;
    return p;
  }

  int abs_level_remaining(int rice, int c) {
    int prefix = 0;
    while (bypass(c)) {
      if (++prefix > 32) fail("coeff_abs_level_remaining prefix longer than 32 bins");
    }
    if (prefix <= 3) return (prefix << rice) + int(bypass_bits(rice, c));
    const int len = prefix - 3 + rice;
    if (len > 24) fail("coeff_abs_level_remaining out of range");
    const int64_t v = ((int64_t(1) << (prefix - 3)) + 2) * (int64_t(1) << rice) + bypass_bits(len, c);
    if (v > 32768) fail("coeff_abs_level_remaining out of range");
    return int(v);
  }

  void residual(int16_t* cf, int stride, int log2, int comp, int scan_idx, bool hiding_allowed) {
    const int c = comp ? CAT_RESIDUAL_CHROMA : CAT_RESIDUAL_LUMA;
    const int n = 1 << log2, sbl = log2 - 2, nsb = 1 << sbl;
    for (int y = 0; y < n; ++y) std::memset(cf + y * stride, 0, sizeof(int16_t) * size_t(n));
    const uint16_t* scan = cached_scan(scan_idx, log2);
    int px = last_prefix(CTX_LAST_X, log2, comp);
    int py = last_prefix(CTX_LAST_Y, log2, comp);
    auto value = [&](int p) {
      if (p <= 3) return p;
      const int len = (p >> 1) - 1;
      return ((2 + (p & 1)) << len) + int(bypass_bits(len, c));
    };
    int cx = value(px), cy = value(py);
    if (scan_idx == 2) std::swap(cx, cy);
    if (cx >= n || cy >= n) fail("last significant coefficient outside the transform block");
    const int last_raster = cy * n + cx;
    int last = -1;
    for (int k = 0; k < n * n; ++k)
      if (scan[k] == last_raster) { last = k; break; }
    if (last < 0) fail("last significant coefficient not in the scan");
    const int last_sb = last >> 4, last_pos = last & 15;
    uint8_t csbf[8][8] = {{0}};
    bool first_sb = true;
    int prev_c1 = 1;
    for (int i = last_sb; i >= 0; --i) {
      const int org = scan[i * 16];  // the sub-block's first scan position is its top-left corner
      const int xs = (org % n) >> 2, ys = (org / n) >> 2;
      const int right = xs + 1 < nsb ? csbf[xs + 1][ys] : 0, below = ys + 1 < nsb ? csbf[xs][ys + 1] : 0;
      bool infer_dc = false;
      if (i < last_sb && i > 0) {
        csbf[xs][ys] = uint8_t(bin(CTX_CSBF + std::min(right + below, 1) + (comp ? 2 : 0), c));
        infer_dc = true;
      } else {
        csbf[xs][ys] = 1;
      }
      if (!csbf[xs][ys]) continue;
      const int prev_csbf = right + (below << 1);
      const uint8_t* sctx = sig_ctx_row(log2, comp, scan_idx, i == 0, prev_csbf);
      int idx[16], nsig = 0;
      if (i == last_sb) idx[nsig++] = last_pos;
      const int start = i == last_sb ? last_pos - 1 : 15;
      for (int k = start; k > 0; --k) {
        if (bin(CTX_SIG + sctx[k], c)) { idx[nsig++] = k; infer_dc = false; }
      }
      if (start >= 0) {
        const int dc = infer_dc ? 1 : bin(CTX_SIG + sctx[0], c);
        if (dc) idx[nsig++] = 0;
      }
      int ctx_set = (i == 0 || comp > 0) ? 0 : 2;
      if (!first_sb && prev_c1 == 0) ++ctx_set;
      first_sb = false;
      int c1 = 1, first_g1 = -1;
      int al[16];
      const int g1base = CTX_G1 + (comp ? 16 : 0);
      for (int k = 0; k < nsig; ++k) al[k] = 1;
      for (int k = 0; k < nsig && k < 8; ++k) {
        const int g1 = bin(g1base + ctx_set * 4 + c1, c);
        if (g1) { al[k] = 2; c1 = 0; if (first_g1 < 0) first_g1 = k; }
        else if (c1 > 0 && c1 < 3) ++c1;
      }
      prev_c1 = c1;
      if (first_g1 >= 0 && bin(CTX_G2 + (comp ? 4 : 0) + ctx_set, c)) al[first_g1] = 3;
      const int sign_hidden = hiding_allowed && nsig > 0 && idx[0] - idx[nsig - 1] > 3;
      int neg[16];
      for (int k = 0; k < nsig; ++k) neg[k] = k < nsig - sign_hidden ? bypass(c) : 0;
      if (first_g1 >= 0 || nsig > 8) {
        int rice = 0;
        for (int k = 0; k < nsig; ++k) {
          const int base = al[k];
          const int thr = k < 8 ? (k == first_g1 ? 3 : 2) : 1;
          if (base != thr) continue;
          al[k] = base + abs_level_remaining(rice, c);
          if (al[k] > 32768) fail("coefficient level out of range");
          rice = next_rice(rice, al[k]);
        }
      }
      if (sign_hidden) {
        int sum = 0;
        for (int k = 0; k < nsig; ++k) sum += al[k];
        if (sum & 1) neg[nsig - 1] = 1;
      }
      for (int k = 0; k < nsig; ++k) {
        const int v = neg[k] ? -al[k] : al[k];
        if (v > 32767) fail("coefficient level out of range");
        const int r = scan[i * 16 + idx[k]];
        cf[(r / n) * stride + (r % n)] = int16_t(v);
      }
    }
  }

  void residual_at(int x0, int y0, int log2, int comp) {  // (x0, y0): luma position of the TB owner
    const Blk& b = f.b(x0, y0);
    const int mode = b.pred == MODE_INTRA ? (comp ? b.intra_chroma : b.intra_luma) : -1;
    const int xc = comp ? x0 >> 1 : x0, yc = comp ? y0 >> 1 : y0;
    uint8_t& t = f.tq[size_t(y0 >> 2) * s.w4 + size_t(x0 >> 2)];
    const bool bypass = t & 8;
    if (sc.transform_skip && !bypass && log2 == 2 &&
        bin(CTX_TSKIP + (comp ? 1 : 0), comp ? CAT_RESIDUAL_CHROMA : CAT_RESIDUAL_LUMA))
      t = uint8_t(t | (1 << comp));
    residual(f.cf(comp, xc, yc), f.cstride(comp), log2, comp, scan_idx_for(mode, log2, comp), sc.sign_hiding && !bypass);
  }

  // ------------------------------------------------------------------ transform_tree (7.3.8.8)
  void transform_tree(int x0, int y0, int xb, int yb, int log2, int depth, int blk, int max_depth, bool intra_split,
                      bool intra, bool inter_split, int pcb, int pcr) {
    int split;
    if (log2 <= s.max_tb_log2 && log2 > s.min_tb_log2 && depth < max_depth && !(intra_split && depth == 0)) {
      split = bin(CTX_SPLIT_TF + 5 - log2, CAT_CBP_QP);
    } else {
      split = log2 > s.max_tb_log2 || (intra_split && depth == 0) || (inter_split && depth == 0);
    }
    int cb = 0, cr = 0;
    if (log2 > 2) {
      if (depth == 0 || pcb) cb = bin(CTX_CBF_CHROMA + depth, CAT_CBP_QP);
      if (depth == 0 || pcr) cr = bin(CTX_CBF_CHROMA + depth, CAT_CBP_QP);
    } else {
      cb = pcb;
      cr = pcr;
    }
    if (split) {
      const int h = 1 << (log2 - 1);
      transform_tree(x0, y0, x0, y0, log2 - 1, depth + 1, 0, max_depth, intra_split, intra, inter_split, cb, cr);
      transform_tree(x0 + h, y0, x0, y0, log2 - 1, depth + 1, 1, max_depth, intra_split, intra, inter_split, cb, cr);
      transform_tree(x0, y0 + h, x0, y0, log2 - 1, depth + 1, 2, max_depth, intra_split, intra, inter_split, cb, cr);
      transform_tree(x0 + h, y0 + h, x0, y0, log2 - 1, depth + 1, 3, max_depth, intra_split, intra, inter_split, cb, cr);
      return;
    }
    int cy = 1;
    const bool chroma_here = log2 > 2;
    if (intra || depth != 0 || cb || cr) cy = bin(CTX_CBF_LUMA + (depth == 0 ? 1 : 0), CAT_CBP_QP);
    if (sc.cu_qp_delta && !qp_coded && (cy || cb || cr)) {  // 7.3.8.10 cu_qp_delta_abs / sign
      int a = 0;
      while (a < 5 && bin(CTX_DQP + (a ? 1 : 0), CAT_CBP_QP)) ++a;
      if (a == 5) {
        int k = 0;
        while (bypass(CAT_CBP_QP)) {
          a += 1 << k;
          if (++k > 16) fail("cu_qp_delta_abs out of range");
        }
        a += int(bypass_bits(k, CAT_CBP_QP));
      }
      const int v = a && bypass(CAT_CBP_QP) ? -a : a;
      if (v < -(26 + sc.qp_bd_offset / 2) || v > 25 + sc.qp_bd_offset / 2) fail("CuQpDeltaVal out of range");
      f.dqp[size_t(y0 >> 2) * s.w4 + size_t(x0 >> 2)] = int8_t(v);
      qp_coded = true;
    }
    const int n = 1 << log2;
    for_blocks(x0, y0, n, n, [&](Blk& b) {
      b.tu_depth = uint8_t(depth);
      b.cbf = uint8_t((b.cbf & ~1) | cy);
    });
    if (cy) residual_at(x0, y0, log2, 0);
    if (chroma_here) {
      for_blocks(x0, y0, n, n, [&](Blk& b) { b.cbf = uint8_t((b.cbf & 1) | (cb << 1) | (cr << 2)); });
      if (cb) residual_at(x0, y0, log2 - 1, 1);
      if (cr) residual_at(x0, y0, log2 - 1, 2);
    } else if (blk == 3) {
      for_blocks(xb, yb, 8, 8, [&](Blk& b) { b.cbf = uint8_t((b.cbf & 1) | (cb << 1) | (cr << 2)); });
      if (cb) residual_at(xb, yb, 2, 1);
      if (cr) residual_at(xb, yb, 2, 2);
    }
  }

  // ------------------------------------------------------------------ prediction_unit (7.3.8.6)
  int merge_idx() {
    const int cmax = sc.max_merge - 1;
    if (cmax <= 0) return 0;
    int v = bin(CTX_MERGE_IDX, CAT_MERGE);
    while (v > 0 && v < cmax && bypass(CAT_MERGE)) ++v;
    return v;
  }

  int mvd_component_abs(int g0, int g1) {
    if (!g0) return 0;
    if (!g1) return 1;
    int k = 1, v = 0;
    while (bypass(CAT_MVD)) {
      v += 1 << k;
      if (++k > 16) fail("abs_mvd_minus2 out of range");
    }
    v += int(bypass_bits(k, CAT_MVD));
    return v + 2;
  }

  Mv mvd_coding() {
    const int gx = bin(CTX_MVD_G0, CAT_MVD), gy = bin(CTX_MVD_G0, CAT_MVD);
    const int g1x = gx ? bin(CTX_MVD_G1, CAT_MVD) : 0, g1y = gy ? bin(CTX_MVD_G1, CAT_MVD) : 0;
    int ax = mvd_component_abs(gx, g1x);
    if (ax && bypass(CAT_MVD)) ax = -ax;
    int ay = mvd_component_abs(gy, g1y);
    if (ay && bypass(CAT_MVD)) ay = -ay;
    if (ax < -32768 || ax > 32767 || ay < -32768 || ay > 32767) fail("mvd out of range");
    return Mv{int16_t(ax), int16_t(ay)};
  }

  int ref_idx(int nref) {
    int ref = 0;
    if (nref > 1) {
      while (ref < nref - 1) {
        const int b = ref < 2 ? bin(CTX_REF_IDX + ref, CAT_REF_IDX) : bypass(CAT_REF_IDX);
        if (!b) break;
        ++ref;
      }
    }
    return ref;
  }

  // Syntax and motion of one PU (x, y, w, h) of the CU at (xc, yc) of size n.
  void prediction_unit(int xc, int yc, int n, int x, int y, int w, int h, int part_idx, int part, bool skip) {
    const PuGeom g{xc, yc, n, x, y, w, h, part_idx, part};
    int merge = 1, midx = 0, dir = 1, ref[2] = {-1, -1}, mvp[2] = {0, 0};
    Mv mvd[2] = {};
    if (!skip) merge = bin(CTX_MERGE_FLAG, CAT_MERGE);
    PuMotion pm;
    if (merge) {
      midx = merge_idx();
      pm = merge_motion(sc.mv, g, midx);
      dir = (pm.m[0].ref >= 0 ? 1 : 0) | (pm.m[1].ref >= 0 ? 2 : 0);
    } else {
      if (f.is_b) {  // inter_pred_idc (9.3.4.2.2: ctxInc CtDepth, or 4)
        if (w + h != 12 && bin(CTX_INTER_DIR + f.b(xc, yc).depth, CAT_MB_TYPE)) dir = 3;
        else dir = bin(CTX_INTER_DIR + 4, CAT_MB_TYPE) ? 2 : 1;
      }
      for (int X = 0; X < 2; ++X) {
        if (!(dir & (1 << X))) continue;
        const auto& list = X ? f.refs1 : f.refs;
        ref[X] = ref_idx(int(list.size()));
        if (X == 1 && f.mvd_l1_zero && dir == 3) mvd[1] = Mv{};
        else mvd[X] = mvd_coding();
        mvp[X] = bin(CTX_MVP, CAT_MVP_IDX);
        Mv pred[2];
        amvp_motion(sc.mv, g, X, ref[X], pred);
        // (8-272..8-275): the sum wraps to 16 bits
        pm.m[X].ref = int8_t(ref[X]);
        pm.m[X].mv.x = int16_t(uint16_t(pred[mvp[X]].x + mvd[X].x));
        pm.m[X].mv.y = int16_t(uint16_t(pred[mvp[X]].y + mvd[X].y));
      }
    }
    for_blocks(x, y, w, h, [&](Blk& b) {
      b.mvf = pm.m[0];
      b.mvd = mvd[0];
      b.merge = uint8_t(merge);
      b.merge_idx = uint8_t(midx);
      b.mvp_idx = uint8_t(mvp[0]);
    });
    if (f.is_b)
      for (int yy = y; yy < y + h && yy < s.H; yy += 4)
        for (int xx = x; xx < x + w && xx < s.W; xx += 4) {
          BlkB& b = f.bb[size_t(yy >> 2) * s.w4 + size_t(xx >> 2)];
          b.mvf1 = pm.m[1];
          b.mvd1 = mvd[1];
          b.dir = uint8_t(dir);
          b.mvp1 = uint8_t(mvp[1]);
        }
  }

  // ------------------------------------------------------------------ coding_unit (7.3.8.5)
  void coding_unit(int x0, int y0, int log2, int depth) {
    const int n = 1 << log2;
    const uint8_t tq_bypass = sc.transquant_bypass && bin(CTX_TQ_BYPASS, CAT_MB_TYPE) ? 8 : 0;
    for (int yy = y0; yy < y0 + n && yy < s.H; yy += 4)
      for (int xx = x0; xx < x0 + n && xx < s.W; xx += 4) f.tq[size_t(yy >> 2) * s.w4 + size_t(xx >> 2)] = tq_bypass;
    int pred = MODE_INTRA;
    if (f.is_p) {
      int inc = 0;
      if (s.zavail(x0, y0, x0 - 1, y0) && f.b(x0 - 1, y0).pred == MODE_SKIP) ++inc;
      if (s.zavail(x0, y0, x0, y0 - 1) && f.b(x0, y0 - 1).pred == MODE_SKIP) ++inc;
      if (bin(CTX_SKIP + inc, CAT_SKIP)) pred = MODE_SKIP;
      else pred = bin(CTX_PRED_MODE, CAT_MB_TYPE) ? MODE_INTRA : MODE_INTER;
    }
    int part = PART_2Nx2N;
    if (pred == MODE_INTRA) {
      if (log2 == s.min_cb_log2 && !bin(CTX_PART_MODE, CAT_MB_TYPE)) part = PART_NxN;
      if (part == PART_NxN && log2 == 3 && s.min_tb_log2 > 2) fail("intra NxN with 4x4 blocks below the minimum transform size");
    } else if (pred == MODE_INTER) {  // Table 9-43 (9.3.3.7)
      if (!bin(CTX_PART_MODE, CAT_MB_TYPE)) {
        const bool hor = bin(CTX_PART_MODE + 1, CAT_MB_TYPE);
        if (sc.amp && log2 > s.min_cb_log2) {
          if (bin(CTX_PART_MODE + 3, CAT_MB_TYPE)) part = hor ? PART_2NxN : PART_Nx2N;
          else if (hor) part = bypass(CAT_MB_TYPE) ? PART_2NxnD : PART_2NxnU;
          else part = bypass(CAT_MB_TYPE) ? PART_nRx2N : PART_nLx2N;
        } else if (hor) {
          part = PART_2NxN;
        } else if (log2 == s.min_cb_log2 && log2 > 3) {
          part = bin(CTX_PART_MODE + 2, CAT_MB_TYPE) ? PART_Nx2N : PART_NxN;
        } else {
          part = PART_Nx2N;
        }
      }
    }
    if (f.is_b)
      for (int yy = y0; yy < y0 + n && yy < s.H; yy += 4)
        for (int xx = x0; xx < x0 + n && xx < s.W; xx += 4) f.bb[size_t(yy >> 2) * s.w4 + size_t(xx >> 2)] = BlkB{};
    for_blocks(x0, y0, n, n, [&](Blk& b) {
      b = Blk{};
      b.pred = uint8_t(pred);
      b.part = uint8_t(part);
      b.cu_log2 = uint8_t(log2);
      b.depth = uint8_t(depth);
    });
    if (pred == MODE_SKIP) {
      prediction_unit(x0, y0, n, x0, y0, n, n, 0, PART_2Nx2N, true);
      return;
    }
    const bool intra = pred == MODE_INTRA;
    if (intra) {
      const int np = part == PART_NxN ? 4 : 1, h = n >> 1, pw = np == 4 ? h : n;
      int flag[4];
      for (int i = 0; i < np; ++i) flag[i] = bin(CTX_PREV_INTRA, CAT_INTRA_MODE);
      int first_mode = 1;
      for (int i = 0; i < np; ++i) {
        const int px = x0 + (np == 4 ? (i & 1) * h : 0), py = y0 + (np == 4 ? (i >> 1) * h : 0);
        int cand[3];
        intra_mpm(f, px, py, cand);
        int mode;
        if (flag[i]) {
          int idx = bypass(CAT_INTRA_MODE);
          if (idx) idx += bypass(CAT_INTRA_MODE);
          mode = cand[idx];
        } else {
          mode = int(bypass_bits(5, CAT_INTRA_MODE));
          std::sort(cand, cand + 3);
          for (int k = 0; k < 3; ++k)
            if (mode >= cand[k]) ++mode;
        }
        if (i == 0) first_mode = mode;
        for_blocks(px, py, pw, pw, [&](Blk& b) { b.intra_luma = uint8_t(mode); });
      }
      int cs = 4;
      if (bin(CTX_CHROMA_MODE, CAT_INTRA_MODE)) cs = int(bypass_bits(2, CAT_INTRA_MODE));
      static constexpr int kChroma[4] = {0, 26, 10, 1};  // Table 8-2
      const int cm = cs == 4 ? first_mode : (kChroma[cs] == first_mode ? 34 : kChroma[cs]);
      for_blocks(x0, y0, n, n, [&](Blk& b) {
        b.chroma_syntax = uint8_t(cs);
        b.intra_chroma = uint8_t(cm);
      });
    } else {
      int r[4][4];
      const int np = pu_rects(part, x0, y0, n, r);
      for (int k = 0; k < np; ++k) prediction_unit(x0, y0, n, r[k][0], r[k][1], r[k][2], r[k][3], k, part, false);
    }
    int root = 1;
    if (!intra && !(part == PART_2Nx2N && f.b(x0, y0).merge)) root = bin(CTX_RQT_ROOT, CAT_CBP_QP);
    for_blocks(x0, y0, n, n, [&](Blk& b) { b.root_cbf = uint8_t(root); });
    if (!root) return;
    const bool isplit = intra && part == PART_NxN;
    const int maxd = intra ? s.max_tr_depth_intra + (isplit ? 1 : 0) : s.max_tr_depth_inter;
    const bool inter_split = !intra && s.max_tr_depth_inter == 0 && part != PART_2Nx2N;
    transform_tree(x0, y0, x0, y0, log2, 0, 0, maxd, isplit, intra, inter_split, 0, 0);
  }

  void coding_quadtree(int x0, int y0, int log2, int depth) {
    const int n = 1 << log2;
    if (sc.cu_qp_delta && log2 >= sc.log2_min_dqp) qp_coded = false;
    int split;
    if (x0 + n <= s.W && y0 + n <= s.H && log2 > s.min_cb_log2) {
      int inc = 0;
      if (s.zavail(x0, y0, x0 - 1, y0) && f.b(x0 - 1, y0).depth > depth) ++inc;
      if (s.zavail(x0, y0, x0, y0 - 1) && f.b(x0, y0 - 1).depth > depth) ++inc;
      split = bin(CTX_SPLIT_CU + inc, CAT_MB_TYPE);
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
      coding_unit(x0, y0, log2, depth);
    }
  }
};

}  // namespace

int read_slice_data(const SliceReadCtx& sc, BitReader& br, int first_ctu, BitCounts& cats, std::vector<SaoParam>& sao) {
  Frame& f = *sc.f;
  const Seq& s = *sc.seq;
  CtuReader r{sc, f, s, br, cats, {}, {}, first_ctu};
  r.ctx.init_type(sc.init_type, sc.qp);
  br.mb = first_ctu;
  r.dec.start(br);
  const int nctu = s.ctu_cols * s.ctu_rows;
  sao.resize(size_t(nctu));
  CtxSet wpp_saved = r.ctx;  // 9.3.2.4 storage: the contexts after the second CTU of a row
  for (int i = first_ctu; i < nctu; ++i) {
    r.ctu = br.mb = i;
    const int rx = i % s.ctu_cols, ry = i / s.ctu_cols;
    if (sc.entropy_sync && rx == 0) {
      // 9.3.1: at the first CTU of a row, synchronise with the top-right CTU when it is available
      // (same slice: its address is not below the slice's), else initialise
      const int tr = (ry - 1) * s.ctu_cols + 1;
      if (ry > 0 && s.ctu_cols > 1 && tr >= sc.slice_addr) r.ctx = wpp_saved;
      else r.ctx.init_type(sc.init_type, sc.qp);
    }
    if (sc.sao_luma || sc.sao_chroma) r.sao(sao[size_t(i)], rx, ry);
    else sao[size_t(i)] = SaoParam{};
    r.coding_quadtree(rx << s.ctu_log2, ry << s.ctu_log2, s.ctu_log2, 0);
    if (sc.entropy_sync && rx == 1) wpp_saved = r.ctx;
    if (r.terminate(CAT_END)) return i + 1;
    if (sc.entropy_sync && (i + 1) % s.ctu_cols == 0) {
      // end_of_subset_one_bit, byte_alignment() (its one bit is the last bit of the arithmetic
      // code's flush, read by the decoder), then a new substream
      if (!r.terminate(CAT_END)) r.fail("end_of_subset_one_bit is 0");
      while (br.pos() & 7) {
        if (br.u1()) r.fail("nonzero alignment bit after a substream");
      }
      r.dec.start(br);
    }
  }
  throw ParseError("end_of_slice_segment_flag missing after the last CTU of the picture", nctu - 1);
}

}  // namespace hevc
}  // namespace mvc
