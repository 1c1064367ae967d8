// The one syntax writer (7.3.4 slice_data, 7.3.5 macroblock_layer, 9.2 CAVLC residual).
// Called twice per picture over the same decision records: the full stream, and the
// cropped stream (texture_off) in which every macroblock carries no residual.
#include <cstdlib>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <array>
#include <vector>

#include "jm/syntax.h"

namespace mvc {
namespace h264 {

namespace {


// The CAVLC writer's pass over one slice.
struct Cavlc {
  const SliceSyntax& s;
  const PicSyntax& pic;
  SyntaxWriter& w;
  bool texture_off;
  CavlcCounts tc;  // TotalCoeff written so far (nC)
  int qp_prev;     // QP_Y of the previous macroblock written

  Cavlc(const SliceSyntax& sl, const PicSyntax& p, SyntaxWriter& wr, bool off)
      : s(sl), pic(p), w(wr), texture_off(off), tc(p), qp_prev(sl.qp) {}
  int nc_luma(int mb, int bx, int by) const { return tc.nc_luma(mb, bx, by); }
  int nc_chroma(int mb, int k, int cx, int cy) const { return tc.nc_chroma(mb, k, cx, cy); }

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

  void ref_idx(int ref, int num) {  // te(v)
    if (num <= 1) return;
    if (num == 2) w.u(ref ? 0 : 1, 1, CAT_REF_IDX);
    else w.ue(static_cast<uint32_t>(ref), CAT_REF_IDX);
  }
  void mvd(const int16_t* d) {
    w.se(d[0], CAT_MVD);
    w.se(d[1], CAT_MVD);
  }

  void mb_type(const Mb& m, int cbp) {
    const int intra_off = s.type == SLICE_I ? 0 : s.type == SLICE_P ? 5 : 23;
    const int cbpl = cbp & 15, cbpc = cbp >> 4;
    const bool pcm = m.type == MB_IPCM && !texture_off;
    switch (m.type) {
      case MB_I4x4: case MB_I8x8: w.ue(intra_off, CAT_MB_TYPE); break;
      case MB_I16x16: w.ue(intra_off + 1 + m.i16_mode + 4 * cbpc + (cbpl ? 12 : 0), CAT_MB_TYPE); break;
      case MB_IPCM: w.ue(pcm ? intra_off + 25 : intra_off + 1 + 2, CAT_MB_TYPE); break;  // cropped: I16x16 DC
      case MB_P16x16: w.ue(0, CAT_MB_TYPE); break;
      case MB_P16x8: w.ue(1, CAT_MB_TYPE); break;
      case MB_P8x16: w.ue(2, CAT_MB_TYPE); break;
      case MB_P8x8: w.ue(m.p8x8_ref0 ? 4 : 3, CAT_MB_TYPE); break;
      default: w.ue(b_mb_type_code(m), CAT_MB_TYPE); break;
    }
  }

  void pcm_samples(int mb) {
    w.bw.align_zero();  // pcm_alignment_zero_bits (charged below with the samples)
    const uint8_t* p = &pic.pcm[size_t(mb) * 384];
    const int n = s.chroma_format_idc ? 384 : 256;
    for (int i = 0; i < n; ++i) w.bw.put(p[i], 8);
  }

  void macroblock(const Mb& m, int mb) {
    const bool pcm_off = m.type == MB_IPCM && texture_off;
    const MbType type = pcm_off ? MB_I16x16 : m.type;
    const int cbp = texture_off ? 0 : m.cbp;
    const int cbpl = cbp & 15, cbpc = cbp >> 4;
    if (type == MB_IPCM) {
      mb_type(m, cbp);
      const uint64_t before = w.bw.bits();
      pcm_samples(mb);
      const double bits = double(w.bw.bits() - before);
      (*w.counts)[CAT_RESIDUAL_LUMA] += bits * (s.chroma_format_idc ? 256.0 / 384.0 : 1.0);
      (*w.counts)[CAT_RESIDUAL_CHROMA] += bits - bits * (s.chroma_format_idc ? 256.0 / 384.0 : 1.0);
      tc.clear(mb, 16);
      return;
    }
    mb_type(m, cbp);
    if (type == MB_P8x8 || type == MB_B8x8) {
      for (int k = 0; k < 4; ++k) w.ue(m.sub[k], CAT_MB_TYPE);
      for (int k = 0; k < 4; ++k)
        if (!m.p8x8_ref0 && (sub_pred(m, k) & 1)) ref_idx(m.ref[k], s.num_ref[0]);
      for (int k = 0; k < 4; ++k)
        if (sub_pred(m, k) & 2) ref_idx(m.ref1[k], s.num_ref[1]);
      for (int l = 0; l < 2; ++l)
        for (int k = 0; k < 4; ++k) {
          const int pr = sub_pred(m, k), sh = sub_shape(m, k);
          if (!(pr & (1 << l))) continue;
          const int x8 = (k & 1) * 2, y8 = (k >> 1) * 2;
          for (int j = 0; j < kSubN[sh]; ++j) {
            const int r = (y8 + kSubXY[sh][j][1]) * 4 + x8 + kSubXY[sh][j][0];
            mvd(l ? m.mvd1[r] : m.mvd[r]);
          }
        }
    } else {
      if (s.transform_8x8_mode && (type == MB_I4x4 || type == MB_I8x8)) w.u(type == MB_I8x8, 1, CAT_INTRA_MODE);
      if (type == MB_I4x4) {
        for (int k = 0; k < 16; ++k) {
          const int bx = kBlkX[k], by = kBlkY[k];
          const int pm = intra_pred_mode(pic, mb, bx, by, s.constrained_intra_pred), mode = m.i4_mode[by * 4 + bx];
          if (mode == pm) w.u(1, 1, CAT_INTRA_MODE);
          else w.u(static_cast<uint32_t>(mode < pm ? mode : mode - 1), 4, CAT_INTRA_MODE);  // flag 0 + 3 bits
        }
      } else if (type == MB_I8x8) {
        for (int k = 0; k < 4; ++k) {
          const int bx = (k & 1) * 2, by = (k >> 1) * 2;
          const int pm = intra_pred_mode(pic, mb, bx, by, s.constrained_intra_pred), mode = m.i4_mode[by * 4 + bx];
          if (mode == pm) w.u(1, 1, CAT_INTRA_MODE);
          else w.u(static_cast<uint32_t>(mode < pm ? mode : mode - 1), 4, CAT_INTRA_MODE);
        }
      }
      if (is_intra(type)) {
        if (s.chroma_format_idc) w.ue(pcm_off ? 0 : m.chroma_mode, CAT_INTRA_MODE);
      } else if (type != MB_BDIRECT && type != MB_PSKIP && type != MB_BSKIP) {
        const int np = mb_parts(m);
        for (int p = 0; p < np; ++p)
          if (part_pred(m, p) & 1) ref_idx(m.ref[part_8x8(m, p)], s.num_ref[0]);
        for (int p = 0; p < np; ++p)
          if (part_pred(m, p) & 2) ref_idx(m.ref1[part_8x8(m, p)], s.num_ref[1]);
        for (int l = 0; l < 2; ++l)
          for (int p = 0; p < np; ++p)
            if (part_pred(m, p) & (1 << l)) {
              const int k = part_8x8(m, p), r = (k >> 1) * 8 + (k & 1) * 2;
              mvd(l ? m.mvd1[r] : m.mvd[r]);
            }
      }
    }
    if (type != MB_I16x16) {
      const bool intra = type == MB_I4x4 || type == MB_I8x8;
      const int code = s.chroma_format_idc ? (intra ? kCbpIntraToCode[cbp] : kCbpInterToCode[cbp])
                                           : kCbpToCode400[intra][cbpl];
      w.ue(static_cast<uint32_t>(code), CAT_CBP_QP);
      if (!is_intra(type) && inter_t8x8_flag_present(s, m, cbpl)) w.u(m.t8x8, 1, CAT_INTRA_MODE);
    }
    tc.clear(mb);
    if (cbp == 0 && type != MB_I16x16) return;
    auto& nl = tc.luma[size_t(mb)];
    auto& nc = tc.chroma[size_t(mb)];
    int dqp = m.qp_delta;
    if (texture_off) {  // keep the macroblock's QP: only I16x16 sends mb_qp_delta here
      dqp = ((m.qp - qp_prev + 52 + 26) % 52) - 26;
    }
    w.se(dqp, CAT_CBP_QP);
    qp_prev = (qp_prev + dqp + 52) % 52;
    // residual( 0, 15 )
    static const int16_t kZero[16] = {};
    const bool t8 = type == MB_I8x8 || (m.t8x8 && !is_intra(type));
    if (type == MB_I16x16) block(texture_off ? kZero : m.luma_dc, 16, nc_luma(mb, 0, 0), CAT_RESIDUAL_LUMA);
    for (int k = 0; k < 16; ++k) {
      const int bx = kBlkX[k], by = kBlkY[k], r = by * 4 + bx;
      int n = 0;
      if (cbpl & (1 << (k >> 2))) {
        if (type == MB_I16x16) n = block(m.luma[r] + 1, 15, nc_luma(mb, bx, by), CAT_RESIDUAL_LUMA);
        else if (t8) {
          int16_t lv[16];
          const int16_t* l8 = luma8(m, k >> 2);
          for (int i = 0; i < 16; ++i) lv[i] = l8[4 * i + (k & 3)];
          n = block(lv, 16, nc_luma(mb, bx, by), CAT_RESIDUAL_LUMA);
        } else n = block(m.luma[r], 16, nc_luma(mb, bx, by), CAT_RESIDUAL_LUMA);
      }
      nl[size_t(r)] = uint8_t(n);
    }
    if (!s.chroma_format_idc) return;
    if (cbpc)
      for (int k = 0; k < 2; ++k) block(m.chroma_dc[k], 4, -1, CAT_RESIDUAL_CHROMA);
    if (cbpc == 2)
      for (int k = 0; k < 2; ++k)
        for (int b = 0; b < 4; ++b)
          nc[size_t(4 * k + b)] = uint8_t(block(m.chroma_ac[k][b] + 1, 15, nc_chroma(mb, k, b & 1, b >> 1), CAT_RESIDUAL_CHROMA));
  }
};

}  // namespace

void write_slice_data_cavlc(const SliceSyntax& s, const PicSyntax& pic, SyntaxWriter& w, bool texture_off) {
  Cavlc cv(s, pic, w, texture_off);
  uint32_t skip_run = 0;
  const int n = pic.mbw * pic.mbh;
  for (int mb = s.first_mb; mb < n && pic.slice_id[size_t(mb)] == s.id; ++mb) {
    const Mb& m = pic.mbs[size_t(mb)];
    if (s.type != SLICE_I) {
      if (m.type == MB_PSKIP || m.type == MB_BSKIP) {  // nz stays 0; QP_Y = QP_Y,PRED
        cv.tc.clear(mb);
        ++skip_run;
        continue;
      }
      w.ue(skip_run, CAT_SKIP);
      skip_run = 0;
    }
    cv.macroblock(m, mb);
  }
  if (s.type != SLICE_I && skip_run) w.ue(skip_run, CAT_SKIP);
}

}  // namespace h264
}  // namespace mvc
