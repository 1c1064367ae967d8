// CU / PU / TU decisions by Lagrangian cost J = SSE + lambda * R, with R priced by the syntax
// writer on an estimating CABAC (contexts as of the CTU start). Decisions are written into the
// Frame's per-4x4 records and reconstructed in place; the chosen candidate is re-applied last.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/pixel.h"
#include "hm/hevc.h"
#include "hm/me.h"

namespace mvc {
namespace hevc {

namespace {

struct Cand {
  uint8_t pred = MODE_INTRA, part = PART_2Nx2N;
  uint8_t intra_mode = 1;
  uint8_t nxn[4] = {1, 1, 1, 1};  // PART_NxN luma modes (chroma follows nxn[0])
  MvField mvf[2];
  Mv mvd[2];
  uint8_t merge[2] = {0, 0}, merge_idx[2] = {0, 0}, mvp_idx[2] = {0, 0};
  bool residual = true;
  bool tu_split = false;  // inter: residual quadtree split once below the CU (max_transform_hierarchy_depth_inter 1)
  // a skip: merge motion without residual (coded as cu_skip_flag where the CU is 2Nx2N)
  bool skip() const { return pred == MODE_INTER && merge[0] && !residual; }
};

// P pictures: intra is searched past planar, DC and the MPMs only where one of them comes within
// this factor of the best inter SATD cost (Boxing, QP 30: 1.5 instead of 2 is 2% faster, same rate)
constexpr double kIntraPre = 1.5;
// P pictures: a CU whose best inter candidate codes fewer residual bits than this is not split
// (Boxing, QP 30: 32 was 3% fewer instructions than no threshold for -0.03 dB at the same rate;
// 48 is 1.7% faster again for +0.3% rate)
constexpr double kSplitBits = 48;
// A skip whose luma SATD stays below this share of a quantiser step per sample is kept without
// RD-testing the same merge motion with a residual: coefficients that small quantise away
// (Boxing, QP 30: 3% fewer instructions, +0.1% rate, -0.015 dB). Above QP 30 the step stays that
// of QP 30: at high QPs poor predictions are common and their residual pays (QP 51 with the
// full step: -0.7 dB for -9% rate).
constexpr double kSkipSatdSteps = 0.15;
constexpr int kSkipSatdMaxQp = 30;

// Intra angle search on SATD costs (1e300: not yet evaluated; the caller has evaluated the MPMs):
// planar, DC and every fourth angle, then the neighbours two and one away from the best angle.
// 19 of the 35 modes at most (I pictures, Boxing QP 30: -0.01 dB against all 35).
template <class Eval>
void coarse_to_fine(const double* cost, Eval&& eval) {
  for (int m = 0; m < 35; m += (m < 2 ? 1 : 4)) eval(m);
  for (int d = 2; d >= 1; --d) {
    int ba = 2;
    for (int m = 2; m < 35; ++m) if (cost[m] < cost[ba]) ba = m;
    if (ba - d >= 2) eval(ba - d);
    if (ba + d <= 34) eval(ba + d);
  }
}

// The indices of the k smallest of n costs in ascending order, ties by index (a stable sort's
// first k), without the temporary buffer std::stable_sort allocates.
void stable_smallest(const double* cost, int n, int k, int* out) {
  uint64_t taken = 0;
  for (int j = 0; j < k; ++j) {
    int b = -1;
    for (int i = 0; i < n; ++i)
      if (!((taken >> i) & 1) && (b < 0 || cost[i] < cost[b])) b = i;
    out[j] = b;
    taken |= uint64_t(1) << b;
  }
}

struct Analyser {
  Frame& f;
  const Seq& s;
  const EncoderConfig& cfg;
  double lambda, sqrt_lambda, wc;
  double skip_satd;  // luma SATD per sample below which a skip is kept untested (kSkipSatdSteps)
  CtxSet ctx;
  int qp, qpc;

  Analyser(Frame& fr, const EncoderConfig& c) : f(fr), s(*fr.seq), cfg(c) {
    qp = s.qp;
    qpc = s.qpc;
    const double factor = f.is_p ? 1.0 : 0.57;
    lambda = factor * std::pow(2.0, (qp - 12) / 3.0);
    sqrt_lambda = std::sqrt(lambda);
    wc = std::pow(2.0, (qp - qpc) / 3.0);
    skip_satd = kSkipSatdSteps * std::pow(2.0, (std::min(qp, kSkipSatdMaxQp) - 4) / 6.0);  // steps of 2^((QP - 4) / 6)
    ctx.init(f.is_p, qp);
  }

  Plane& plane(Picture& p, int c) { return c == 0 ? p.y : (c == 1 ? p.u : p.v); }

  // Transform, quantise and reconstruct one TB whose prediction is already in rec; a TB whose
  // coefficients do not pay for themselves (J = SSE + lambda * R) is dropped. Returns its cbf.
  int code_tb(int c, int xc, int yc, int log2n, int mode, bool allow) {
    const int n = 1 << log2n;
    const bool intra = mode >= 0;
    Plane& rp = plane(f.rec, c);
    const Plane& sp = c == 0 ? f.src.y : (c == 1 ? f.src.u : f.src.v);
    if (!allow) return 0;  // levels of a TB with cbf = 0 are never read: they are left as they are
    int16_t res[32 * 32];
    uint8_t pred[32 * 32];
    uint8_t* r0 = rp.at(xc, yc);
    const uint8_t* s0 = sp.at(xc, yc);
    copy_rect(pred, n, r0, rp.stride, n, n);
    sub_block(s0, sp.stride, pred, n, res, n, n);
    int32_t co[32 * 32];
    const bool dst = intra && c == 0 && log2n == 2;
    forward_transform(res, n, co, log2n, dst);
    int16_t q[32 * 32];
    const int qq = c ? qpc : qp;
    const double w = c ? wc : 1.0;
    const Rdoq rd{&ctx, lambda / w, c};
    const int nz = quantize(co, q, log2n, qq, intra, scan_idx_for(mode, log2n, c), cfg.rdoq ? &rd : nullptr);
    if (!nz) return 0;
    const double d_zero = double(sum_squares(res, n * n));
    dequantize(q, n, co, log2n, qq);
    inverse_transform(co, res, log2n, dst);
    add_clip_block(pred, res, r0, rp.stride, n, n);
    const double d_coded = double(ssd(s0, sp.stride, r0, rp.stride, n, n));
    const double rbits = residual_bits(ctx, q, n, log2n, c, scan_idx_for(mode, log2n, c));
    if (w * d_zero <= w * d_coded + lambda * (rbits + 1.0)) {
      copy_rect(r0, rp.stride, pred, n, n, n);
      return 0;
    }
    res_bits_ += rbits;
    int16_t* lev = f.cf(c, xc, yc);
    const int ls = f.cstride(c);
    copy_rect(lev, ls, q, n, n, n);
    return 1;
  }

  // apply() clears every cbf of the CU first, so only coded TBs need their bit set
  void set_cbf(int x0, int y0, int n, int bit, int v) {
    if (!v) return;
    for (int y = y0; y < y0 + n; y += 4)
      for (int x = x0; x < x0 + n; x += 4) f.b(x, y).cbf |= static_cast<uint8_t>(bit);
  }

  double distortion(int x0, int y0, int n) {
    const double dl = double(ssd(f.src.y.at(x0, y0), f.src.y.stride, f.rec.y.at(x0, y0), f.rec.y.stride, n, n));
    const int h = n >> 1;
    const double du = double(ssd(f.src.u.at(x0 / 2, y0 / 2), f.src.u.stride, f.rec.u.at(x0 / 2, y0 / 2), f.rec.u.stride, h, h));
    const double dv = double(ssd(f.src.v.at(x0 / 2, y0 / 2), f.src.v.stride, f.rec.v.at(x0 / 2, y0 / 2), f.rec.v.stride, h, h));
    return dl + wc * (du + dv);
  }

  // CU syntax priced on the estimating CABAC; the residual's own bits were priced by code_tb.
  double rate_cu(int x0, int y0, int log2) {
    Cabac est(true);
    est.ctx = ctx;
    SliceCtx sc{&s, &f, false, false, false, true};
    write_coding_unit(est, sc, x0, y0, log2);
    return est.cost() + res_bits_;
  }
  double res_bits_ = 0;  // residual_coding() bits of the TBs coded by the current apply()

  // Writes the candidate into the records, predicts, codes the residual and reconstructs.
  // skip_j: the cost of the same merge candidate as a skip, just priced; returned unchanged where
  // the residual drops entirely (the CU then is that skip, in records and reconstruction)
  double apply(const Cand& cd, int x0, int y0, int log2, int depth, const double* skip_j = nullptr) {
    const int n = 1 << log2;
    const int tlog2 = std::min(log2, s.max_tb_log2) - (cd.tu_split ? 1 : 0), tn = 1 << tlog2;
    const bool intra = cd.pred == MODE_INTRA;
    const int h = n >> 1;
    res_bits_ = 0;
    ++state_;
    // the records of each PU (intra NxN: of each 4x4 quadrant) once, then copied to its 4x4 units
    // with their edge bits (a per-unit rebuild was 3% of a P picture)
    Blk proto[4];
    for (int q = 0; q < 4; ++q) {
      Blk& b = proto[q];
      b.pred = cd.pred;
      b.part = cd.part;
      b.cu_log2 = static_cast<uint8_t>(log2);
      b.depth = static_cast<uint8_t>(depth);
      b.tu_depth = static_cast<uint8_t>(cd.part == PART_NxN ? 1 : log2 - tlog2);
      b.cbf = 0;
      b.root_cbf = 0;
      if (intra) {
        b.mvf = MvField{};
        b.mvd = Mv{};
        b.merge = 0;
        b.intra_luma = cd.part == PART_NxN ? cd.nxn[q] : cd.intra_mode;
        b.intra_chroma = cd.part == PART_NxN ? cd.nxn[0] : cd.intra_mode;
        b.chroma_syntax = 4;
      } else {
        const int pi = q & 1;  // inter PUs: index 0 and 1 below
        b.mvf = cd.mvf[pi];
        b.mvd = cd.merge[pi] ? Mv{} : cd.mvd[pi];
        b.merge = cd.merge[pi];
        b.merge_idx = cd.merge_idx[pi];
        b.mvp_idx = cd.mvp_idx[pi];
        b.intra_luma = 1;
      }
    }
    // which proto a unit takes: its lower half adds ysel, its right half xsel
    const int ysel = cd.part == PART_NxN ? 2 : (cd.part == PART_2NxN ? 1 : 0);
    const int xsel = cd.part == PART_NxN || cd.part == PART_Nx2N ? 1 : 0;
    // edge bits: TU edge left 1, PU edge left 2 (by column); TU edge top 4, PU edge top 8 (by row)
    uint8_t col_edge[16];
    for (int i = 0, dx = 0; dx < n; ++i, dx += 4)
      col_edge[i] = static_cast<uint8_t>(((dx & (tn - 1)) == 0 ? 1 : 0) | (dx == 0 || (cd.part == PART_Nx2N && dx == h) ? 2 : 0));
    for (int dy = 0; dy < n; dy += 4) {
      const int row_edge = ((dy & (tn - 1)) == 0 ? 4 : 0) | (dy == 0 || (cd.part == PART_2NxN && dy == h) ? 8 : 0);
      const int qy = dy >= h ? ysel : 0;
      Blk* row = &f.b(x0, y0 + dy);
      for (int i = 0; i < (n >> 2); ++i) {
        row[i] = proto[qy + (4 * i >= h ? xsel : 0)];
        row[i].edge = static_cast<uint8_t>(col_edge[i] | row_edge);
      }
    }
    if (intra && cd.part == PART_NxN) {  // four 4x4 luma TBs (DST), chroma 4x4 with the first PU's mode
      for (int i = 0; i < 4; ++i) {
        const int tx = x0 + (i & 1) * 4, ty = y0 + (i >> 1) * 4;
        intra_predict(f, 0, tx, ty, 2, cd.nxn[i], f.rec.y.at(tx, ty), f.rec.y.stride);
        set_cbf(tx, ty, 4, 1, code_tb(0, tx, ty, 2, cd.nxn[i], cd.residual));
      }
      for (int c = 1; c < 3; ++c) {
        Plane& p = plane(f.rec, c);
        intra_predict(f, c, x0 / 2, y0 / 2, 2, cd.nxn[0], p.at(x0 / 2, y0 / 2), p.stride);
        set_cbf(x0, y0, 8, 1 << c, code_tb(c, x0 / 2, y0 / 2, 2, cd.nxn[0], cd.residual));
      }
    } else if (intra) {
      for (int ty = y0; ty < y0 + n; ty += tn)
        for (int tx = x0; tx < x0 + n; tx += tn) {
          intra_predict(f, 0, tx, ty, tlog2, cd.intra_mode, f.rec.y.at(tx, ty), f.rec.y.stride);
          set_cbf(tx, ty, tn, 1, code_tb(0, tx, ty, tlog2, cd.intra_mode, cd.residual));
          for (int c = 1; c < 3; ++c) {
            Plane& p = plane(f.rec, c);
            intra_predict(f, c, tx / 2, ty / 2, tlog2 - 1, cd.intra_mode, p.at(tx / 2, ty / 2), p.stride);
            set_cbf(tx, ty, tn, 1 << c, code_tb(c, tx / 2, ty / 2, tlog2 - 1, cd.intra_mode, cd.residual));
          }
        }
    } else {
      const int np = cd.part == PART_2Nx2N ? 1 : 2;
      // the same motion was often predicted by the previous candidate (with / without residual)
      const bool cached = mcache_.valid && mcache_.x == x0 && mcache_.y == y0 && mcache_.log2 == log2 &&
                          mcache_.part == cd.part && mcache_.mvf[0] == cd.mvf[0] && (np == 1 || mcache_.mvf[1] == cd.mvf[1]);
      if (cached) {
        copy_rect(f.rec.y.at(x0, y0), f.rec.y.stride, mcache_.y_pred, 64, n, n);
        copy_rect(f.rec.u.at(x0 / 2, y0 / 2), f.rec.u.stride, mcache_.u_pred, 32, h, h);
        copy_rect(f.rec.v.at(x0 / 2, y0 / 2), f.rec.v.stride, mcache_.v_pred, 32, h, h);
      }
      for (int pi = 0; pi < (cached ? 0 : np); ++pi) {
        const int px = x0 + (cd.part == PART_Nx2N ? pi * h : 0), py = y0 + (cd.part == PART_2NxN ? pi * h : 0);
        const int pw = cd.part == PART_Nx2N ? h : n, ph = cd.part == PART_2NxN ? h : n;
        const RefPic* r = f.refs[cd.mvf[pi].ref];
        const Mv mv = cd.mvf[pi].mv;
        {
          uint8_t buf[64 * 64];
          int st;
          const uint8_t* p = predict_luma(*r, px, py, pw, ph, mv, buf, st);
          copy_rect(f.rec.y.at(px, py), f.rec.y.stride, p, st, pw, ph);
        }
        mc_chroma(r->rec.u, r->rec.v, px / 2, py / 2, pw / 2, ph / 2, mv, f.rec.u.at(px / 2, py / 2), f.rec.u.stride,
                  f.rec.v.at(px / 2, py / 2), f.rec.v.stride);
      }
      if (!cached) {
        mcache_.valid = true;
        mcache_.x = x0; mcache_.y = y0; mcache_.log2 = log2; mcache_.part = cd.part;
        mcache_.mvf[0] = cd.mvf[0]; mcache_.mvf[1] = cd.mvf[1];
        copy_rect(mcache_.y_pred, 64, f.rec.y.at(x0, y0), f.rec.y.stride, n, n);
        copy_rect(mcache_.u_pred, 32, f.rec.u.at(x0 / 2, y0 / 2), f.rec.u.stride, h, h);
        copy_rect(mcache_.v_pred, 32, f.rec.v.at(x0 / 2, y0 / 2), f.rec.v.stride, h, h);
      }
      int any = 0;
      for (int ty = y0; ty < y0 + n; ty += tn)
        for (int tx = x0; tx < x0 + n; tx += tn) {
          const int a = code_tb(0, tx, ty, tlog2, -1, cd.residual);
          const int u = code_tb(1, tx / 2, ty / 2, tlog2 - 1, -1, cd.residual);
          const int v = code_tb(2, tx / 2, ty / 2, tlog2 - 1, -1, cd.residual);
          set_cbf(tx, ty, tn, 1, a);
          set_cbf(tx, ty, tn, 2, u);
          set_cbf(tx, ty, tn, 4, v);
          any |= a | u | v;
        }
      const bool to_skip = !any && cd.part == PART_2Nx2N && cd.merge[0];
      // records as set above unless the residual is coded, the CU becomes a skip or its TBs were split
      if (any || to_skip || tlog2 != log2)
        for (int y = y0; y < y0 + n; y += 4)
          for (int x = x0; x < x0 + n; x += 4) {
            Blk& b = f.b(x, y);
            b.root_cbf = static_cast<uint8_t>(any);
            if (to_skip) b.pred = MODE_SKIP;
            if (!any) b.tu_depth = 0;
          }
      if (to_skip && skip_j) return *skip_j;
    }
    const double d = distortion(x0, y0, n);
    return d + lambda * rate_cu(x0, y0, log2);
  }

  struct McCache {  // inter prediction of the last inter candidate applied
    bool valid = false;
    int x = 0, y = 0, log2 = 0, part = 0;
    MvField mvf[2];
    uint8_t y_pred[64 * 64], u_pred[32 * 32], v_pred[32 * 32];
  } mcache_;

  // The state apply() leaves in a CU (reconstruction, levels, 4x4 records), kept for the best
  // candidate of each quadtree depth so the winner is restored by copying, not re-coded.
  struct Snap {
    uint8_t y[64 * 64], u[32 * 32], v[32 * 32];
    int16_t cy[64 * 64], cu[32 * 32], cv[32 * 32];
    Blk blk[16 * 16];
    double res_bits = 0;  // residual bits of the candidate
  };
  // one per quadtree depth, kept per thread from picture to picture (allocating and zeroing
  // them per picture cost about 2% of a P-picture)
  static std::vector<Snap>& snaps() {
    thread_local std::vector<Snap> v(5);
    return v;
  }
  std::vector<Snap>& snap_ = snaps();

  // w x h elements between strided buffers; the common row sizes as constant-size copies (inlined
  // moves instead of a memcpy call per row: snapshots are many short rows)
  template <int B>
  static void copy_rows(uint8_t* d, size_t ds, const uint8_t* s, size_t ss, int h) {
    for (int y = 0; y < h; ++y, d += ds, s += ss) std::memcpy(d, s, B);
  }
  template <typename T>
  static void copy_rect(T* dst, int ds, const T* src, int ss, int w, int h) {
    const size_t b = w * sizeof(T), db = ds * sizeof(T), sb = ss * sizeof(T);
    uint8_t* d = reinterpret_cast<uint8_t*>(dst);
    const uint8_t* s = reinterpret_cast<const uint8_t*>(src);
    switch (b) {
      case 4: return copy_rows<4>(d, db, s, sb, h);
      case 8: return copy_rows<8>(d, db, s, sb, h);
      case 16: return copy_rows<16>(d, db, s, sb, h);
      case 32: return copy_rows<32>(d, db, s, sb, h);
      case 64: return copy_rows<64>(d, db, s, sb, h);
      default:
        for (int y = 0; y < h; ++y, d += db, s += sb) std::memcpy(d, s, b);
    }
  }

  // state_ counts changes to the records and reconstruction; saved_at_[d] is the count snap_[d]
  // was taken at, so a restore with nothing changed since copies nothing
  uint64_t state_ = 0, saved_at_[5] = {~0ull, ~0ull, ~0ull, ~0ull, ~0ull};

  void save(int depth, int x0, int y0, int log2) {
    saved_at_[depth] = state_;
    Snap& sn = snap_[depth];
    sn.res_bits = res_bits_;
    const int n = 1 << log2, h = n >> 1, n4 = n >> 2;
    copy_rect(sn.y, n, f.rec.y.at(x0, y0), f.rec.y.stride, n, n);
    copy_rect(sn.u, h, f.rec.u.at(x0 / 2, y0 / 2), f.rec.u.stride, h, h);
    copy_rect(sn.v, h, f.rec.v.at(x0 / 2, y0 / 2), f.rec.v.stride, h, h);
    if (res_bits_ > 0) {  // levels only where a TB was coded: those of cbf = 0 TBs are never read
      copy_rect(sn.cy, n, f.cf(0, x0, y0), f.cstride(0), n, n);
      copy_rect(sn.cu, h, f.cf(1, x0 / 2, y0 / 2), f.cstride(1), h, h);
      copy_rect(sn.cv, h, f.cf(2, x0 / 2, y0 / 2), f.cstride(2), h, h);
    }
    copy_rect(sn.blk, n4, &f.b(x0, y0), s.w4, n4, n4);
  }

  void restore(int depth, int x0, int y0, int log2) {
    if (saved_at_[depth] == state_) return;
    saved_at_[depth] = state_;
    const Snap& sn = snap_[depth];
    const int n = 1 << log2, h = n >> 1, n4 = n >> 2;
    copy_rect(f.rec.y.at(x0, y0), f.rec.y.stride, sn.y, n, n, n);
    copy_rect(f.rec.u.at(x0 / 2, y0 / 2), f.rec.u.stride, sn.u, h, h, h);
    copy_rect(f.rec.v.at(x0 / 2, y0 / 2), f.rec.v.stride, sn.v, h, h, h);
    if (sn.res_bits > 0) {
      copy_rect(f.cf(0, x0, y0), f.cstride(0), sn.cy, n, n, n);
      copy_rect(f.cf(1, x0 / 2, y0 / 2), f.cstride(1), sn.cu, h, h, h);
      copy_rect(f.cf(2, x0 / 2, y0 / 2), f.cstride(2), sn.cv, h, h, h);
    }
    copy_rect(&f.b(x0, y0), s.w4, sn.blk, n4, n4, n4);
  }

  // Keeps candidate c, just applied at cost j, as its CU's best where it costs less (snapshot taken).
  bool keep_if_better(double j, const Cand& c, Cand& best, double& bestJ, int depth, int x0, int y0, int log2) {
    if (!(j < bestJ)) return false;
    bestJ = j;
    best = c;
    save(depth, x0, y0, log2);
    return true;
  }

  double split_flag_cost(int x0, int y0, int log2, int depth, int split) {
    if (log2 <= s.min_cb_log2) return 0;
    int inc = 0;
    if (s.zavail(x0, y0, x0 - 1, y0) && f.b(x0 - 1, y0).depth > depth) ++inc;
    if (s.zavail(x0, y0, x0, y0 - 1) && f.b(x0, y0 - 1).depth > depth) ++inc;
    return lambda * Cabac::bin_cost(ctx.s[CTX_SPLIT_CU + inc], split);
  }

  // SATD of intra mode m's luma prediction of the block at (x, y) plus sqrt(lambda) * its
  // estimated mode bits (2 as one of the MPMs cand, else 6).
  double intra_mode_cost(const IntraRefs& refs, int m, const int cand[3], const BlockSatd& sd, int x, int y,
                         uint8_t* pred) {
    intra_pred_mode(refs, m, pred, 32);
    const bool mpm = m == cand[0] || m == cand[1] || m == cand[2];
    return sd(f.src.y.at(x, y), f.src.y.stride, pred, 32) + sqrt_lambda * (mpm ? 2.0 : 6.0);
  }

  // Luma intra mode search on SATD, then full RD on the best few.
  void intra_candidates(int x0, int y0, int log2, Cand& best, double& bestJ, int depth) {
    const int tlog2 = std::min(log2, s.max_tb_log2), tn = 1 << tlog2;
    int cand[3];
    intra_mpm(f, x0, y0, cand);
    uint8_t pred[32 * 32];
    double cost[35];
    IntraRefs refs;
    intra_refs(f, 0, x0, y0, tlog2, refs);
    const BlockSatd sd(tn, tn);
    auto eval = [&](int m) {
      if (cost[m] >= 1e299) cost[m] = intra_mode_cost(refs, m, cand, sd, x0, y0, pred);
    };
    for (int m = 0; m < 35; ++m) cost[m] = 1e300;
    // planar, DC and the MPMs first: in P pictures, where none comes near the inter prediction,
    // intra is not searched further
    eval(0); eval(1);
    for (int k = 0; k < 3; ++k) eval(cand[k]);
    if (f.is_p) {
      double pre = 1e300;
      for (int m = 0; m < 35; ++m) pre = std::min(pre, cost[m]);
      if (pre >= kIntraPre * inter_satd_) return;
    }
    coarse_to_fine(cost, eval);
    // intra rarely wins in P pictures; in I pictures a third RD candidate gained 0.01 dB for 2.5%
    // of the picture's time (Boxing, QP 30)
    const int nrd = f.is_p ? 1 : 2;
    int order[3];
    stable_smallest(cost, 35, nrd, order);
    // P pictures: full RD on intra only where its SATD cost comes within 20% of the best inter prediction's
    if (f.is_p && cost[order[0]] >= 1.2 * inter_satd_) return;
    for (int i = 0; i < nrd; ++i) {
      Cand c;
      c.pred = MODE_INTRA;
      c.intra_mode = static_cast<uint8_t>(order[i]);
      keep_if_better(apply(c, x0, y0, log2, depth), c, best, bestJ, depth, x0, y0, log2);
    }
    // PART_NxN, each 4x4 PU picking its mode on SATD in turn (P pictures: only where intra already wins)
    if (log2 == 3 && s.min_cb_log2 == 3 && (!f.is_p || best.pred == MODE_INTRA)) {
      Cand c;
      c.pred = MODE_INTRA;
      c.part = PART_NxN;
      const BlockSatd sd4(4, 4);
      for (int i = 0; i < 4; ++i) {
        const int tx = x0 + (i & 1) * 4, ty = y0 + (i >> 1) * 4;
        intra_mpm(f, tx, ty, cand);
        intra_refs(f, 0, tx, ty, 2, refs);
        double cm[35];
        for (int m = 0; m < 35; ++m) cm[m] = 1e300;
        auto eval4 = [&](int m) {
          if (cm[m] >= 1e299) cm[m] = intra_mode_cost(refs, m, cand, sd4, tx, ty, pred);
        };
        for (int k = 0; k < 3; ++k) eval4(cand[k]);
        coarse_to_fine(cm, eval4);
        int bm;
        stable_smallest(cm, 35, 1, &bm);
        c.nxn[i] = static_cast<uint8_t>(bm);
        ++state_;
        for (int y = ty; y < ty + 4; y += 4)  // later PUs' MPMs and references see this one
          for (int x = tx; x < tx + 4; x += 4) { f.b(x, y).pred = MODE_INTRA; f.b(x, y).intra_luma = c.nxn[i]; }
        intra_predict(f, 0, tx, ty, 2, c.nxn[i], f.rec.y.at(tx, ty), f.rec.y.stride);
        code_tb(0, tx, ty, 2, c.nxn[i], true);
      }
      keep_if_better(apply(c, x0, y0, log2, depth), c, best, bestJ, depth, x0, y0, log2);
    }
  }

  void inter_candidates(int x0, int y0, int log2, Cand& best, double& bestJ, int depth) {
    const int n = 1 << log2;
    PuGeom g{x0, y0, n, x0, y0, n, n, 0, PART_2Nx2N};
    int& best_rc = inter_rc_;  // rqt_root_cbf the best candidate ended with
    best_rc = 1;
    MvField mc[5];
    merge_candidates(f, g, mc);
    // merge / skip: rank by SATD, RD-check the best two as skip and the best with residual
    uint8_t pred[64 * 64];
    const BlockSatd sd(n, n);
    double mcost[5];
    int order[5];
    for (int i = 0; i < 5; ++i) {
      order[i] = i;
      mcost[i] = 1e300;
      bool dup = false;
      for (int k = 0; k < i; ++k) dup |= mc[k] == mc[i];
      if (dup) continue;
      int st;
      const uint8_t* p = predict_luma_est(*f.refs[mc[i].ref], x0, y0, n, n, mc[i].mv, pred, st);
      mcost[i] = sd(f.src.y.at(x0, y0), f.src.y.stride, p, st) + sqrt_lambda * (i + 1);
    }
    stable_smallest(mcost, 5, 5, order);
    inter_satd_ = mcost[order[0]];
    for (int k = 0; k < 2; ++k) {
      if (mcost[order[k]] >= 1e299) break;
      if (k && mcost[order[k]] > mcost[order[0]]) break;  // a second skip that predicts worse (ties aside) rarely wins
      Cand c;
      c.pred = MODE_INTER;
      c.merge[0] = 1;
      c.merge_idx[0] = static_cast<uint8_t>(order[k]);
      c.mvf[0] = mc[order[k]];
      double skip_j = 0;
      for (int res = 0; res < 2; ++res) {
        if (k > 0 && res) break;
        if (res && best.skip() && mcost[order[k]] < skip_satd * n * n) return;
        c.residual = res;
        const double j = apply(c, x0, y0, log2, depth, res ? &skip_j : nullptr);
        skip_j = j;
        if (keep_if_better(j, c, best, bestJ, depth, x0, y0, log2)) best_rc = f.b(x0, y0).root_cbf;
        // the residual dropped and the skip was best: the CU holds that skip again, as saved
        else if (res && !f.b(x0, y0).root_cbf && best.skip() && best.merge_idx[0] == c.merge_idx[0])
          saved_at_[depth] = state_;
        // early skip: the best merge candidate's residual does not pay for itself, so the CU is a skip
        if (res && !f.b(x0, y0).root_cbf && best.skip()) return;
      }
    }
    // AMVP 2Nx2N
    Mv extra[6];  // [5]: the best vector of the references searched so far (first: the parent CU's)
    for (int i = 0; i < 5; ++i) extra[i] = mc[i].mv;
    extra[5] = depth > 0 ? me_mv_[depth - 1] : Mv{};
    Cand c;
    double best_me = 1e300, best_int = 1e300 / 4;
    const int nref = static_cast<int>(f.refs.size());
    double int_cost[16];  // integer-pel cost per reference (1e300: not searched)
    std::fill(int_cost, int_cost + 16, 1e300);
    for (int r = 0; r < nref; ++r) {
      if (depth > 0 && r != 0 && r != me_ref_[depth - 1]) continue;  // below the CTU: reference 0 and the parent's
      // older references only while the previous one still matched reference 0 at integer pel
      // (Boxing, QP 30: 1.4% fewer instructions for +0.1% rate)
      if (depth == 0 && r >= 2 && int_cost[r - 1] > int_cost[0]) continue;
      Mv mvp[2];
      amvp_candidates(f, g, r, mvp);
      MeInput in;
      in.src = &f.src.y;
      in.ref = f.refs[r];
      in.x = x0; in.y = y0; in.w = n; in.h = n;
      in.mvp[0] = mvp[0]; in.mvp[1] = mvp[1];
      in.extra = extra; in.n_extra = (r || depth > 0) ? 6 : 5;
      // later references and smaller CUs start from a vector already found: no wide pattern
      in.wide = r == 0 && depth == 0;
      in.range = cfg.search_range;
      in.sqrt_lambda = sqrt_lambda;
      in.frac_above = best_int;  // a reference already worse at integer pel is not refined
      MeResult mr = motion_search(in);
      best_int = std::min(best_int, mr.int_cost);
      int_cost[r] = mr.int_cost;
      if (!mr.refined) continue;
      const double rc = mr.cost + sqrt_lambda * (nref > 1 ? std::min(r + 1, nref - 1) : 0);
      inter_satd_ = std::min(inter_satd_, mr.cost);
      if (r == 0 || rc < best_me) extra[5] = mr.mv;
      if (rc < best_me) {
        best_me = rc;
        c = Cand{};
        c.pred = MODE_INTER;
        c.mvf[0] = MvField{mr.mv, static_cast<int8_t>(r)};
        c.mvp_idx[0] = static_cast<uint8_t>(mr.mvp_idx);
        c.mvd[0] = Mv{int16_t(mr.mv.x - mvp[mr.mvp_idx].x), int16_t(mr.mv.y - mvp[mr.mvp_idx].y)};
      }
    }
    // the same motion as the merge candidate already RD-tested both ways costs more to signal: skip it
    me_ref_[depth] = c.mvf[0].ref;
    me_mv_[depth] = c.mvf[0].mv;
    const bool same_as_merge = mcost[order[0]] < 1e299 && c.mvf[0] == mc[order[0]];
    // nor does motion that predicts worse than the best merge candidate (SATD + signalling bits)
    const bool worse_than_merge = best_me >= mcost[order[0]];
    for (int res = 1; res >= 0 && !same_as_merge && !worse_than_merge; --res) {  // with residual, and motion only (rqt_root_cbf = 0)
      c.residual = res;
      const double j = apply(c, x0, y0, log2, depth);
      if (keep_if_better(j, c, best, bestJ, depth, x0, y0, log2)) best_rc = f.b(x0, y0).root_cbf;
      if (res && !f.b(x0, y0).root_cbf) break;  // the residual was dropped anyway
    }
    // rectangular partitions: each PU picks merge or AMVP motion by SATD cost, searching the
    // reference the 2Nx2N search preferred; not tried when motion alone already predicts the CU
    // cbf fast mode: where the best 2Nx2N candidate codes no residual, rectangular PUs rarely pay
    if (best.pred == MODE_INTER && (!best.residual || !best_rc)) return;
    // only in CUs of the smallest size: a larger CU reaches the same motion boundary by splitting
    // (Boxing, QP 30, CTU 16: 2NxN / Nx2N at 16x16 cost 10% of the time and saved 0.6% of the rate)
    const int rect_parts = log2 == s.min_cb_log2 ? PART_Nx2N : PART_2NxN - 1;
    const int rect_ref = c.mvf[0].ref;
    for (int part = PART_2NxN; part <= rect_parts; ++part) {
      Cand rc;
      rc.pred = MODE_INTER;
      rc.part = static_cast<uint8_t>(part);
      const int h = n >> 1;
      double rect_cost = 0;
      for (int pi = 0; pi < 2; ++pi) {
        PuGeom pg{x0, y0, n, x0, y0, n, n, pi, part};
        if (part == PART_2NxN) { pg.yPb = y0 + pi * h; pg.h = h; }
        else { pg.xPb = x0 + pi * h; pg.w = h; }
        const PuChoice pc = best_pu(pg, rect_ref, c.mvf[0].mv);
        rect_cost += pc.cost;
        rc.mvf[pi] = pc.mvf;
        rc.mvd[pi] = pc.mvd;
        rc.merge[pi] = pc.merge;
        rc.merge_idx[pi] = pc.merge_idx;
        rc.mvp_idx[pi] = pc.mvp_idx;
        ++state_;
        for (int y = pg.yPb; y < pg.yPb + pg.h; y += 4)  // the second PU's candidates read this one
          for (int x = pg.xPb; x < pg.xPb + pg.w; x += 4) {
            Blk& b = f.b(x, y);
            b.pred = MODE_INTER;
            b.mvf = pc.mvf;
          }
      }
      // full RD only for a split whose two PUs predict better (SATD + motion bits) than one 2Nx2N
      if (rect_cost >= inter_satd_) continue;
      keep_if_better(apply(rc, x0, y0, log2, depth), rc, best, bestJ, depth, x0, y0, log2);
    }
    try_tu_split(x0, y0, log2, best, bestJ, depth);
  }

  // Residual quadtree: the best inter candidate again with its TBs split once (CUs up to the max TB).
  void try_tu_split(int x0, int y0, int log2, Cand& best, double& bestJ, int depth) {
    // not below 32x32: at 16x16 the split TBs cost a full RD pass for +0.2% rate (Boxing, QP 30)
    if (best.pred != MODE_INTER || !best.residual || best.tu_split || log2 > s.max_tb_log2 || log2 < 5) return;
    Cand c = best;
    c.tu_split = true;
    const double j = apply(c, x0, y0, log2, depth);
    if (f.b(x0, y0).root_cbf) keep_if_better(j, c, best, bestJ, depth, x0, y0, log2);
  }

  struct PuChoice {
    MvField mvf;
    Mv mvd;
    uint8_t merge = 0, merge_idx = 0, mvp_idx = 0;
    double cost = 1e300;
  };

  // start_mv: the CU's 2Nx2N motion, a search start good enough to drop the wide pattern
  PuChoice best_pu(const PuGeom& g, int only_ref, Mv start_mv) {
    PuChoice best;
    MvField mc[5];
    merge_candidates(f, g, mc);
    uint8_t pred[64 * 64];
    const BlockSatd sd(g.w, g.h);
    for (int i = 0; i < 5; ++i) {
      bool dup = false;
      for (int k = 0; k < i; ++k) dup |= mc[k] == mc[i];
      if (dup) continue;
      int st;
      const uint8_t* p = predict_luma_est(*f.refs[mc[i].ref], g.xPb, g.yPb, g.w, g.h, mc[i].mv, pred, st);
      const double c = sd(f.src.y.at(g.xPb, g.yPb), f.src.y.stride, p, st) + sqrt_lambda * (i + 2);
      if (c < best.cost) {
        best = PuChoice{};
        best.cost = c;
        best.mvf = mc[i];
        best.merge = 1;
        best.merge_idx = static_cast<uint8_t>(i);
      }
    }
    Mv extra[6];
    for (int i = 0; i < 5; ++i) extra[i] = mc[i].mv;
    extra[5] = start_mv;
    const int nref = static_cast<int>(f.refs.size());
    for (int r = 0; r < nref; ++r) {
      if (only_ref >= 0 && r != only_ref) continue;
      Mv mvp[2];
      amvp_candidates(f, g, r, mvp);
      MeInput in;
      in.src = &f.src.y;
      in.ref = f.refs[r];
      in.x = g.xPb; in.y = g.yPb; in.w = g.w; in.h = g.h;
      in.mvp[0] = mvp[0]; in.mvp[1] = mvp[1];
      in.extra = extra; in.n_extra = 6;
      in.wide = false;
      in.range = cfg.search_range;
      in.sqrt_lambda = sqrt_lambda;
      const MeResult mr = motion_search(in);
      const double c = mr.cost + sqrt_lambda * (1 + (nref > 1 ? std::min(r + 1, nref - 1) : 0));
      if (c < best.cost) {
        best = PuChoice{};
        best.cost = c;
        best.mvf = MvField{mr.mv, static_cast<int8_t>(r)};
        best.mvp_idx = static_cast<uint8_t>(mr.mvp_idx);
        best.mvd = Mv{int16_t(mr.mv.x - mvp[mr.mvp_idx].x), int16_t(mr.mv.y - mvp[mr.mvp_idx].y)};
      }
    }
    return best;
  }

  int me_ref_[5] = {0, 0, 0, 0, 0};  // reference of the 2Nx2N motion search per depth
  Mv me_mv_[5];                      // and its vector
  double inter_satd_ = 1e300;  // best luma SATD + sqrt(lambda) * bits among the 2Nx2N inter candidates
  int inter_rc_ = 1;  // rqt_root_cbf of the best inter candidate of the last inter_candidates()

  double quadtree(int x0, int y0, int log2, int depth) {
    const int n = 1 << log2;
    const bool inside = x0 + n <= s.W && y0 + n <= s.H;
    double jns = 1e300;
    Cand best;
    if (inside) {
      if (f.is_p) inter_candidates(x0, y0, log2, best, jns, depth);
      // P pictures: intra is not tried where the best inter candidate (a skip included) codes no residual
      const bool inter_without_residual = f.is_p && best.pred == MODE_INTER && !best.residual;
      if (!inter_without_residual) intra_candidates(x0, y0, log2, best, jns, depth);
      jns += split_flag_cost(x0, y0, log2, depth, 0);
      const bool skip_best = best.skip();
      // early CU termination: motion alone predicts the CU (no residual coded), smaller CUs rarely pay
      const bool no_residual = best.pred != MODE_INTRA && (!best.residual || !inter_rc_);
      const bool light = f.is_p && best.pred != MODE_INTRA && snap_[depth].res_bits < kSplitBits;
      if (log2 == s.min_cb_log2 || skip_best || no_residual || light) {
        restore(depth, x0, y0, log2);
        return jns;
      }
    }
    double js = inside ? split_flag_cost(x0, y0, log2, depth, 1) : 0;
    const int h = n >> 1;
    for (int k = 0; k < 4; ++k) {
      const int x1 = x0 + (k & 1) * h, y1 = y0 + (k >> 1) * h;
      if (x1 < s.W && y1 < s.H) js += quadtree(x1, y1, log2 - 1, depth + 1);
      if (inside && js > jns) break;
    }
    if (inside && jns <= js) {
      restore(depth, x0, y0, log2);
      return jns;
    }
    return js;
  }

  void advance_contexts(int x0, int y0) {
    Cabac est(true);
    est.ctx = ctx;
    SliceCtx sc{&s, &f, false, false, false};
    write_coding_quadtree(est, sc, x0, y0, s.ctu_log2, 0);
    ctx = est.ctx;
  }
};

}  // namespace

void analyse_picture(Frame& f, const EncoderConfig& cfg) {
  Analyser a(f, cfg);
  const Seq& s = *f.seq;
  for (int ry = 0; ry < s.ctu_rows; ++ry) {
    if (cfg.interrupt()) throw Interrupted();
    for (int rx = 0; rx < s.ctu_cols; ++rx) {
      a.quadtree(rx << s.ctu_log2, ry << s.ctu_log2, s.ctu_log2, 0);
      a.advance_contexts(rx << s.ctu_log2, ry << s.ctu_log2);
    }
  }
}

}  // namespace hevc
}  // namespace mvc
