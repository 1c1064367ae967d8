// The one syntax writer (7.3.4 slice_data, 7.3.5 macroblock_layer, 9.2 CAVLC residual).
// Called twice per picture over the same decision records: the full stream, and the
// cropped stream (texture_off) in which every macroblock carries no residual.
#include <cstdlib>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <vector>

#include "jm/h264.h"

namespace mvc {
namespace h264 {

namespace {

constexpr int kBlkX[16] = {0, 1, 0, 1, 2, 3, 2, 3, 0, 1, 0, 1, 2, 3, 2, 3};
constexpr int kBlkY[16] = {0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3, 2, 2, 3, 3};

struct Cavlc {
  const EncCtx& c;
  SyntaxWriter& w;
  bool texture_off;
  std::vector<uint8_t> nzy, nzc[2];  // total_coeff written in this pass
  int cw4;                           // chroma 4x4 blocks per row

  Cavlc(const EncCtx& ctx, SyntaxWriter& wr, bool off) : c(ctx), w(wr), texture_off(off) {
    nzy.assign(static_cast<size_t>(c.w4) * c.h4, 0);
    cw4 = c.mbw * 2;
    nzc[0].assign(static_cast<size_t>(cw4) * c.mbh * 2, 0);
    nzc[1] = nzc[0];
  }

  static int nc_from(bool a, int na, bool b, int nb) {
    if (a && b) return (na + nb + 1) >> 1;
    return a ? na : b ? nb : 0;
  }
  int nc_luma(int X, int Y) const {
    const bool a = X > 0, b = Y > 0;
    return nc_from(a, a ? nzy[static_cast<size_t>(Y) * c.w4 + X - 1] : 0, b, b ? nzy[static_cast<size_t>(Y - 1) * c.w4 + X] : 0);
  }
  int nc_chroma(int k, int X, int Y) const {
    const bool a = X > 0, b = Y > 0;
    return nc_from(a, a ? nzc[k][static_cast<size_t>(Y) * cw4 + X - 1] : 0, b, b ? nzc[k][static_cast<size_t>(Y - 1) * cw4 + X] : 0);
  }

  void level(int lc, int& sl, int cat) {
    int prefix, suffix_len, suffix;
    if (sl == 0 && lc < 14) { prefix = lc; suffix_len = 0; suffix = 0; }
    else if (sl == 0 && lc < 30) { prefix = 14; suffix_len = 4; suffix = lc - 14; }
    else if (sl > 0 && (lc >> sl) < 15) { prefix = lc >> sl; suffix_len = sl; suffix = lc & ((1 << sl) - 1); }
    else {  // escape: level_prefix >= 15 (>= 16 only in High profiles, which we signal)
      const int v = lc - (sl == 0 ? 30 : (15 << sl));
      prefix = 15;
      while (v - ((1 << (prefix - 3)) - 4096) >= (1 << (prefix - 3))) ++prefix;
      suffix_len = prefix - 3;
      suffix = v - ((1 << (prefix - 3)) - 4096);
    }
    w.u(1, prefix + 1, cat);  // prefix zeros then a one
    if (suffix_len) w.u(static_cast<uint32_t>(suffix), suffix_len, cat);
  }

  // residual_block_cavlc over n coefficients (scan order); returns TotalCoeff.
  int block(const int16_t* lv, int n, int nc, int cat) {
    // vals: non-zero levels from the highest scan position down; runs[k]: zeros immediately
    // before (lower in scan) vals[k]. Read off a bit mask of the non-zero positions.
    uint32_t nzm = 0;
#if defined(__SSE2__)
    if (n >= 15) {  // 15 = AC levels lv[0..14] of a block whose DC sits at lv[-1]: read from there, drop bit 0
      const int16_t* p = lv + n - 16;
      const __m128i z = _mm_setzero_si128();
      const __m128i eq = _mm_packs_epi16(_mm_cmpeq_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)), z),
                                         _mm_cmpeq_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 8)), z));
      nzm = (~static_cast<uint32_t>(_mm_movemask_epi8(eq)) & 0xFFFFu) >> (16 - n);
    } else
#endif
    for (int i = 0; i < n; ++i) nzm |= uint32_t(lv[i] != 0) << i;
    int vals[16], runs[16], total = 0;
    const int last = nzm ? 31 - __builtin_clz(nzm) : -1;
    for (int prev = last; nzm; ++total) {
      const int i = 31 - __builtin_clz(nzm);
      nzm &= ~(1u << i);
      vals[total] = lv[i];
      if (total) runs[total - 1] = prev - i - 1;
      prev = i;
      if (!nzm) runs[total] = i;
    }
    int t1 = 0;
    while (t1 < total && t1 < 3 && std::abs(vals[t1]) == 1) ++t1;
    if (nc == -1) {
      w.u(kChromaDcTokenBits[total][t1], kChromaDcTokenLen[total][t1], cat);
    } else {
      const int tab = nc < 2 ? 0 : nc < 4 ? 1 : nc < 8 ? 2 : 3;
      w.u(kCoeffTokenBits[tab][total][t1], kCoeffTokenLen[tab][total][t1], cat);
    }
    if (!total) return 0;
    int sl = (total > 10 && t1 < 3) ? 1 : 0;
    for (int i = 0; i < total; ++i) {
      const int v = vals[i];
      if (i < t1) { w.u(v < 0 ? 1 : 0, 1, cat); continue; }
      int lc = v > 0 ? 2 * v - 2 : -2 * v - 1;
      if (i == t1 && t1 < 3) lc -= 2;
      level(lc, sl, cat);
      if (sl == 0) sl = 1;
      if (std::abs(v) > (3 << (sl - 1)) && sl < 6) ++sl;
    }
    const int tz = last + 1 - total;
    if (total < n) {
      if (n == 4) w.u(kChromaDcTotalZerosBits[total - 1][tz], kChromaDcTotalZerosLen[total - 1][tz], cat);
      else w.u(kTotalZerosBits[total - 1][tz], kTotalZerosLen[total - 1][tz], cat);
    }
    int zl = tz;
    for (int i = 0; i < total - 1 && zl > 0; ++i) {
      const int t = (zl > 7 ? 7 : zl) - 1;
      w.u(kRunBits[t][runs[i]], kRunLen[t][runs[i]], cat);
      zl -= runs[i];
    }
    return total;
  }

  int pred_mode(int X, int Y) const {  // 8.3.1.1 from the records
    if (X == 0 || Y == 0) return 2;
    auto mode = [&](int x, int y) {
      const Mb& n = c.mbs[static_cast<size_t>(y >> 2) * c.mbw + (x >> 2)];
      return n.type == MB_I4x4 ? int(n.i4_mode[(y & 3) * 4 + (x & 3)]) : 2;
    };
    const int a = mode(X - 1, Y), b = mode(X, Y - 1);
    return a < b ? a : b;
  }

  void ref_idx(int ref) {
    if (c.num_ref_active <= 1) return;
    if (c.num_ref_active == 2) w.u(ref ? 0 : 1, 1, CAT_REF_IDX);
    else w.ue(static_cast<uint32_t>(ref), CAT_REF_IDX);
  }
  void mvd(const Mb& m, int r) {
    w.se(m.mvd[r][0], CAT_MVD);
    w.se(m.mvd[r][1], CAT_MVD);
  }

  void macroblock(const Mb& m, int mbx, int mby) {
    const int cbp = texture_off ? 0 : m.cbp;
    const int cbpl = cbp & 15, cbpc = cbp >> 4;
    const int intra_off = c.idr ? 0 : 5;
    switch (m.type) {
      case MB_I4x4: w.ue(intra_off, CAT_MB_TYPE); break;
      case MB_I16x16: w.ue(intra_off + 1 + m.i16_mode + 4 * cbpc + (cbpl ? 12 : 0), CAT_MB_TYPE); break;
      case MB_P16x16: w.ue(0, CAT_MB_TYPE); break;
      case MB_P16x8: w.ue(1, CAT_MB_TYPE); break;
      case MB_P8x16: w.ue(2, CAT_MB_TYPE); break;
      default: w.ue(3, CAT_MB_TYPE); break;
    }
    if (m.type == MB_I4x4) {
      for (int k = 0; k < 16; ++k) {
        const int bx = kBlkX[k], by = kBlkY[k];
        const int pm = pred_mode(mbx * 4 + bx, mby * 4 + by), mode = m.i4_mode[by * 4 + bx];
        if (mode == pm) w.u(1, 1, CAT_INTRA_MODE);
        else { w.u(0, 1, CAT_INTRA_MODE); w.u(mode < pm ? mode : mode - 1, 3, CAT_INTRA_MODE); }
      }
    }
    if (is_intra(m.type)) w.ue(m.chroma_mode, CAT_INTRA_MODE);
    switch (m.type) {
      case MB_P16x16: ref_idx(m.ref[0]); mvd(m, 0); break;
      case MB_P16x8: ref_idx(m.ref[0]); ref_idx(m.ref[2]); mvd(m, 0); mvd(m, 8); break;
      case MB_P8x16: ref_idx(m.ref[0]); ref_idx(m.ref[1]); mvd(m, 0); mvd(m, 2); break;
      case MB_P8x8: {
        for (int k = 0; k < 4; ++k) w.ue(m.sub[k], CAT_MB_TYPE);
        for (int k = 0; k < 4; ++k) ref_idx(m.ref[k]);
        static const int kSub[4][4][2] = {{{0, 0}}, {{0, 0}, {0, 1}}, {{0, 0}, {1, 0}}, {{0, 0}, {1, 0}, {0, 1}, {1, 1}}};
        static const int kN[4] = {1, 2, 2, 4};
        for (int k = 0; k < 4; ++k) {
          const int x8 = (k & 1) * 2, y8 = (k >> 1) * 2;
          for (int j = 0; j < kN[m.sub[k]]; ++j) mvd(m, (y8 + kSub[m.sub[k]][j][1]) * 4 + x8 + kSub[m.sub[k]][j][0]);
        }
        break;
      }
      default: break;
    }
    if (m.type != MB_I16x16)
      w.ue(m.type == MB_I4x4 ? kCbpIntraToCode[cbp] : kCbpInterToCode[cbp], CAT_CBP_QP);
    if (cbp > 0 || m.type == MB_I16x16) w.se(0, CAT_CBP_QP);  // mb_qp_delta: fixed QP
    // residual( 0, 15 )
    static const int16_t kZero[16] = {};
    const int X0 = mbx * 4, Y0 = mby * 4;
    if (m.type == MB_I16x16) block(texture_off ? kZero : m.luma_dc, 16, nc_luma(X0, Y0), CAT_RESIDUAL_LUMA);
    for (int k = 0; k < 16; ++k) {
      const int bx = kBlkX[k], by = kBlkY[k], r = by * 4 + bx;
      const int X = X0 + bx, Y = Y0 + by;
      int tc = 0;
      if (cbpl & (1 << (k >> 2))) {
        if (m.type == MB_I16x16) tc = block(m.luma[r] + 1, 15, nc_luma(X, Y), CAT_RESIDUAL_LUMA);
        else tc = block(m.luma[r], 16, nc_luma(X, Y), CAT_RESIDUAL_LUMA);
      }
      nzy[static_cast<size_t>(Y) * c.w4 + X] = uint8_t(tc);
    }
    if (cbpc)
      for (int k = 0; k < 2; ++k) block(m.chroma_dc[k], 4, -1, CAT_RESIDUAL_CHROMA);
    for (int k = 0; k < 2; ++k)
      for (int b = 0; b < 4; ++b) {
        const int X = mbx * 2 + (b & 1), Y = mby * 2 + (b >> 1);
        int tc = 0;
        if (cbpc == 2) tc = block(m.chroma_ac[k][b] + 1, 15, nc_chroma(k, X, Y), CAT_RESIDUAL_CHROMA);
        nzc[k][static_cast<size_t>(Y) * cw4 + X] = uint8_t(tc);
      }
  }
};

}  // namespace

void write_slice_data(const EncCtx& c, SyntaxWriter& w, bool texture_off) {
  Cavlc cv(c, w, texture_off);
  uint32_t skip_run = 0;
  for (int mby = 0; mby < c.mbh; ++mby)
    for (int mbx = 0; mbx < c.mbw; ++mbx) {
      const Mb& m = c.mbs[static_cast<size_t>(mby) * c.mbw + mbx];
      if (!c.idr) {
        if (m.type == MB_PSKIP) { ++skip_run; continue; }  // nz stays 0
        w.ue(skip_run, CAT_SKIP);
        skip_run = 0;
      }
      cv.macroblock(m, mbx, mby);
    }
  if (!c.idr && skip_run) w.ue(skip_run, CAT_SKIP);
}

}  // namespace h264
}  // namespace mvc
