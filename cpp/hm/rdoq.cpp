// Rate-distortion optimised quantisation (RDOQ). Each level of a TB is chosen again among
// round(|c| / step), one less, and zero, by D + lambda * R, with R estimated from the CABAC context
// states of residual_coding(): sig_coeff_flag, coeff_abs_level_greater1/2 with their context sets,
// the Rice-coded remainder and the sign. Inner 4x4 sub-blocks may then be dropped whole
// (coded_sub_block_flag = 0), and the last significant position moves back where that costs
// less. Levels are the encoder's choice: whatever this picks is written and decoded normatively.
#include <algorithm>

#include "hm/hevc.h"

namespace mvc {
namespace hevc {

int rdoq_levels(const int32_t* c, int16_t* level, int log2n, int scan_idx, double to_level, double qstep,
                const Rdoq& r) {
  const int n = 1 << log2n, nsbw = 1 << (log2n - 2);
  const uint16_t* scan = cached_scan(scan_idx, log2n);
  const CtxSet& ctx = *r.ctx;
  const int comp = r.comp;
  const double lam = r.lambda, q2 = qstep * qstep;
  auto bits = [&](int ci, int b) { return Cabac::bin_cost(ctx.s[ci], b); };

  // the last dead-zone level in scan order stays the last candidate
  const int last = last_nonzero_in_scan(level, log2n, scan_idx);
  if (last < 0) return 0;
  float lf[32 * 32];  // unrounded magnitudes in level units, in scan order
  for (int k = 0; k <= last; ++k) lf[k] = static_cast<float>(std::abs(double(c[scan[k]])) * to_level);

  // Per scan position up to last: the chosen level, its cost J = D + lambda * R (sig flag included
  // where coded), the part of J that is the sig flag, and the distortion of level 0.
  int lev[32 * 32];
  double J[32 * 32], sigj[32 * 32], d0[32 * 32];
  double csbf_j[64] = {0};  // lambda * bits of each sub-block's coded_sub_block_flag (0: inferred)
  uint8_t csbf[8][8] = {{0}};
  const int last_sb = last >> 4;
  const int g1base = CTX_G1 + (comp ? 16 : 0), g2base = CTX_G2 + (comp ? 4 : 0);
  int prev_c1 = 1;
  bool first_sb = true;
  for (int sb = last_sb; sb >= 0; --sb) {
    const int p0 = scan[sb * 16];
    const int xs = (p0 & (n - 1)) >> 2, ys = (p0 >> log2n) >> 2;
    const int right = xs + 1 < nsbw ? csbf[xs + 1][ys] : 0, below = ys + 1 < nsbw ? csbf[xs][ys + 1] : 0;
    const uint8_t* sctx = sig_ctx_row(log2n, comp, scan_idx, sb == 0, right + (below << 1));
    int ctx_set = (sb == 0 || comp) ? 0 : 2;
    if (!first_sb && prev_c1 == 0) ++ctx_set;
    int c1 = 1, nsig = 0, rice = 0;
    bool g2_done = false;
    const int top = sb == last_sb ? (last & 15) : 15;
    for (int i = top; i >= 0; --i) {
      const int k = sb * 16 + i;
      const double v = lf[k];
      d0[k] = v * v * q2;
      const bool sig_coded = k != last;
      const int sc = CTX_SIG + sctx[i];
      double best_j = sig_coded ? d0[k] + lam * bits(sc, 0) : 1e300;
      int best = 0;
      const double s1 = sig_coded ? lam * bits(sc, 1) : 0.0;
      const int lmax = std::min(static_cast<int>(v + 0.5), 32767);
      for (int l = lmax; l >= std::max(1, lmax - 1); --l) {
        double b = 1.0;  // sign
        int base = 1, thr = 1;
        if (nsig < 8) {
          b += bits(g1base + ctx_set * 4 + c1, l > 1);
          base += l > 1;
          thr = 2;
          if (l > 1 && !g2_done) {
            b += bits(g2base + ctx_set, l > 2);
            base += l > 2;
            thr = 3;
          }
        }
        if (base == thr) b += abs_level_remaining_bits(l - base, rice);
        const double e = v - l;
        const double j = e * e * q2 + s1 + lam * b;
        if (j < best_j) { best_j = j; best = l; }
      }
      lev[k] = best;
      J[k] = best_j;
      sigj[k] = best ? s1 : 0.0;
      if (!best) continue;
      int base = 1, thr = 1;
      if (nsig < 8) {
        base += best > 1;
        thr = 2;
        if (best > 1 && !g2_done) { base += best > 2; thr = 3; g2_done = true; }
        if (best > 1) c1 = 0;
        else if (c1 > 0 && c1 < 3) ++c1;
      }
      if (base == thr) rice = next_rice(rice, best);
      ++nsig;
    }
    bool coded = true;
    if (sb < last_sb && sb > 0) {  // coded_sub_block_flag is sent: dropping the sub-block may pay
      const int cs = CTX_CSBF + std::min(right + below, 1) + (comp ? 2 : 0);
      double jc = lam * bits(cs, 1), jz = lam * bits(cs, 0);
      for (int i = 0; i < 16; ++i) { jc += J[sb * 16 + i]; jz += d0[sb * 16 + i]; }
      coded = nsig > 0 && jc < jz;
      csbf_j[sb] = coded ? lam * bits(cs, 1) : lam * bits(cs, 0);
      if (!coded)
        for (int i = 0; i < 16; ++i) { const int k = sb * 16 + i; lev[k] = 0; J[k] = d0[k]; sigj[k] = 0; }
    }
    csbf[xs][ys] = coded;
    if (coded) { prev_c1 = c1; first_sb = false; }
  }

  // The last significant position: every nonzero level is a candidate; positions after it cost
  // their distortion at level 0 and no bits, its own sig flag is implied.
  double after[32 * 32 + 1];
  after[last + 1] = 0;
  for (int k = last; k >= 0; --k) after[k] = after[k + 1] + d0[k];
  double lx[32], ly[32];
  for (int i = 0; i < n; ++i) lx[i] = ly[i] = -1;
  double before = 0;  // J of the positions before k, with the flags of their coded sub-blocks
  int best_k = -1;
  double best_cost = 1e300;
  for (int k = 0; k <= last; ++k) {
    if ((k & 15) == 0 && k) before += csbf_j[(k >> 4) - 1];
    if (lev[k]) {
      const int pos = scan[k];
      int cx = pos & (n - 1), cy = pos >> log2n;
      if (scan_idx == 2) std::swap(cx, cy);
      if (lx[cx] < 0) lx[cx] = last_coord_bits(ctx, CTX_LAST_X, cx, log2n, comp);
      if (ly[cy] < 0) ly[cy] = last_coord_bits(ctx, CTX_LAST_Y, cy, log2n, comp);
      const double cost = before + J[k] - sigj[k] + lam * (lx[cx] + ly[cy]) + after[k + 1];
      if (cost < best_cost) { best_cost = cost; best_k = k; }
    }
    before += J[k];
  }
  int nz = 0;  // levels after last were zero already
  for (int k = 0; k <= last; ++k) {
    const int p = scan[k], l = k <= best_k ? lev[k] : 0;
    level[p] = static_cast<int16_t>(c[p] < 0 ? -l : l);
    nz += l != 0;
  }
  return nz;
}

}  // namespace hevc
}  // namespace mvc
