// CAVLC slice_data() reader (7.3.4, 7.3.5, 9.2): the inverse of cavlc.cpp's writer, over the same
// macroblock records and code tables. Every bit read is charged to the category the writer
// charges it to, so reading a stream we wrote reproduces the encoder's counts.
#include <array>
#include <cstdlib>
#include <string>
#include <vector>

#include "jm/syntax.h"

namespace mvc {
namespace h264 {

namespace {


struct CavlcReader {
  const SliceSyntax& s;
  PicSyntax& pic;
  BitReader& br;
  BitCounts& counts;
  int qp_prev;

  CavlcReader(const SliceSyntax& sl, PicSyntax& p, BitReader& b, BitCounts& c)
      : s(sl), pic(p), br(b), counts(c), qp_prev(sl.qp), tcs(p) {}

  uint32_t u(int n, int cat) { counts[cat] += n; return br.u(n); }
  uint32_t ue(int cat) { const size_t p = br.pos(); const uint32_t v = br.ue(); counts[cat] += double(br.pos() - p); return v; }
  int32_t se(int cat) { const size_t p = br.pos(); const int32_t v = br.se(); counts[cat] += double(br.pos() - p); return v; }

  // A code of a VLC table given as lengths / code values; returns its index, charging its bits.
  int vlc(const uint8_t* len, const uint8_t* bits, int n, int cat, const char* what) {
    const uint32_t look = br.peek(16);
    for (int i = 0; i < n; ++i) {
      const int l = len[i];
      if (l && (look >> (16 - l)) == bits[i]) { br.skip(size_t(l)); counts[cat] += l; return i; }
    }
    br.fail(std::string("invalid ") + what + " code");
  }

  CavlcCounts tcs;  // TotalCoeff read so far (nC)
  int nc_luma(int mb, int bx, int by) const { return tcs.nc_luma(mb, bx, by); }
  int nc_chroma(int mb, int k, int cx, int cy) const { return tcs.nc_chroma(mb, k, cx, cy); }

  // residual_block_cavlc (7.3.5.3.2, 9.2) of n coefficients into lv (scan order); returns TotalCoeff.
  int block(int16_t* lv, int n, int nc, int cat) {
    for (int i = 0; i < n; ++i) lv[i] = 0;
    int tc, t1;
    if (nc == -1) {
      const int i = vlc(&kChromaDcTokenLen[0][0], &kChromaDcTokenBits[0][0], 5 * 4, cat, "chroma DC coeff_token");
      tc = i / 4; t1 = i % 4;
    } else {
      const int tab = nc < 2 ? 0 : nc < 4 ? 1 : nc < 8 ? 2 : 3;
      const int i = vlc(&kCoeffTokenLen[tab][0][0], &kCoeffTokenBits[tab][0][0], 17 * 4, cat, "coeff_token");
      tc = i / 4; t1 = i % 4;
    }
    if (tc == 0) return 0;
    if (tc > n || t1 > tc) br.fail("coeff_token TotalCoeff exceeds the block size");
    int vals[16], runs[16];
    int sl = (tc > 10 && t1 < 3) ? 1 : 0;
    for (int i = 0; i < tc; ++i) {
      if (i < t1) { vals[i] = u(1, cat) ? -1 : 1; continue; }
      int prefix = 0;
      while (u(1, cat) == 0)
        if (++prefix > 28) br.fail("level_prefix too long");
      int lc = (prefix < 15 ? prefix : 15) << sl;
      const int ssize = (prefix == 14 && sl == 0) ? 4 : prefix >= 15 ? prefix - 3 : sl;
      if (ssize > 0) lc += static_cast<int>(u(ssize, cat));
      if (prefix >= 15 && sl == 0) lc += 15;
      if (prefix >= 16) lc += (1 << (prefix - 3)) - 4096;
      if (i == t1 && t1 < 3) lc += 2;
      const int v = (lc % 2 == 0) ? (lc + 2) >> 1 : (-lc - 1) >> 1;
      if (v > 32767 || v < -32768) br.fail("coefficient level out of range");
      vals[i] = v;
      if (sl == 0) sl = 1;
      if (std::abs(v) > (3 << (sl - 1)) && sl < 6) ++sl;
    }
    int zl = 0;
    if (tc < n) {
      zl = n == 4 ? vlc(kChromaDcTotalZerosLen[tc - 1], kChromaDcTotalZerosBits[tc - 1], 4, cat, "total_zeros")
                  : vlc(kTotalZerosLen[tc - 1], kTotalZerosBits[tc - 1], 16, cat, "total_zeros");
      if (zl > n - tc) br.fail("total_zeros exceeds the block size");
    }
    for (int i = 0; i < tc - 1; ++i) {
      int r = 0;
      if (zl > 0) {
        const int t = (zl > 7 ? 7 : zl) - 1;
        r = vlc(kRunLen[t], kRunBits[t], 16, cat, "run_before");
        if (r > zl) br.fail("run_before exceeds zerosLeft");
      }
      runs[i] = r;
      zl -= r;
    }
    runs[tc - 1] = zl;
    int pos = -1;
    for (int i = tc - 1; i >= 0; --i) {
      pos += runs[i] + 1;
      if (pos >= n) br.fail("coefficient position beyond the block");
      lv[pos] = int16_t(vals[i]);
    }
    return tc;
  }

  int ref_idx(int num) {  // te(v)
    if (num <= 1) return 0;
    int r;
    if (num == 2) r = u(1, CAT_REF_IDX) ? 0 : 1;
    else {
      const uint32_t v = ue(CAT_REF_IDX);
      if (v >= uint32_t(num)) br.fail("ref_idx beyond num_ref_idx_active");
      r = int(v);
    }
    return r;
  }
  void mvd(int16_t* d) {
    for (int c = 0; c < 2; ++c) {
      const int32_t v = se(CAT_MVD);
      if (v < -32768 || v > 32767) br.fail("mvd out of range");
      d[c] = int16_t(v);
    }
  }
  static void fill_mvd(int16_t (*dst)[2], int x, int y, int w, int h, const int16_t* d) {
    for (int yy = y; yy < y + h; ++yy)
      for (int xx = x; xx < x + w; ++xx) { dst[yy * 4 + xx][0] = d[0]; dst[yy * 4 + xx][1] = d[1]; }
  }

  void intra_type(Mb& m, uint32_t it) {
    if (it == 0) m.type = MB_I4x4;
    else if (it <= 24) {
      m.type = MB_I16x16;
      m.i16_mode = uint8_t((it - 1) % 4);
      m.cbp = uint8_t((((it - 1) / 4) % 3) << 4 | (it >= 13 ? 15 : 0));
    } else if (it == 25) m.type = MB_IPCM;
    else br.fail("mb_type out of range");
  }

  void macroblock(int mbaddr) {
    Mb& m = pic.mbs[size_t(mbaddr)];
    reset_except_levels(m);  // block() clears the levels of each block it reads
    const uint32_t t = ue(CAT_MB_TYPE);
    if (s.type == SLICE_I) intra_type(m, t);
    else if (s.type == SLICE_P) {
      if (t < 5) {
        static const MbType kP[5] = {MB_P16x16, MB_P16x8, MB_P8x16, MB_P8x8, MB_P8x8};
        m.type = kP[t];
        m.p8x8_ref0 = t == 4;
      } else intra_type(m, t - 5);
    } else {
      if (t < 23) set_b_mb_type(m, int(t));
      else intra_type(m, t - 23);
    }
    m.qp = uint8_t(qp_prev);
    m.ref[0] = m.ref[1] = m.ref[2] = m.ref[3] = -1;  // set below for the partitions that use list 0
    if (m.type == MB_IPCM) {
      const size_t p0 = br.pos();
      while (br.pos() & 7)
        if (br.u1()) br.fail("pcm_alignment_zero_bit is not 0");
      uint8_t* p = &pic.pcm[size_t(mbaddr) * 384];
      const int n = s.chroma_format_idc ? 384 : 256;
      for (int i = 0; i < n; ++i) p[i] = uint8_t(br.u(8));
      const double bits = double(br.pos() - p0);
      const double luma = bits * (s.chroma_format_idc ? 256.0 / 384.0 : 1.0);
      counts[CAT_RESIDUAL_LUMA] += luma;
      counts[CAT_RESIDUAL_CHROMA] += bits - luma;
      for (auto& z : m.nz) z = 16;
      tcs.clear(mbaddr, 16);
      m.cbp = 0x2F;
      return;
    }
    if (m.type == MB_P8x8 || m.type == MB_B8x8) {
      for (int k = 0; k < 4; ++k) {
        const uint32_t st = ue(CAT_MB_TYPE);
        if (st >= (m.type == MB_B8x8 ? 13u : 4u)) br.fail("sub_mb_type out of range");
        m.sub[k] = uint8_t(st);
      }
      for (int k = 0; k < 4; ++k)
        if (sub_pred(m, k) & 1) m.ref[k] = int8_t(m.p8x8_ref0 ? 0 : ref_idx(s.num_ref[0]));
      for (int k = 0; k < 4; ++k)
        if (sub_pred(m, k) & 2) m.ref1[k] = int8_t(ref_idx(s.num_ref[1]));
      for (int l = 0; l < 2; ++l)
        for (int k = 0; k < 4; ++k) {
          const int pr = sub_pred(m, k), sh = sub_shape(m, k);
          if (!(pr & (1 << l))) continue;
          const int x8 = (k & 1) * 2, y8 = (k >> 1) * 2;
          for (int j = 0; j < kSubN[sh]; ++j) {
            int16_t d[2];
            mvd(d);
            fill_mvd(l ? m.mvd1 : m.mvd, x8 + kSubXY[sh][j][0], y8 + kSubXY[sh][j][1], kSubW[sh], kSubH[sh], d);
          }
        }
    } else {
      if (s.transform_8x8_mode && m.type == MB_I4x4 && u(1, CAT_INTRA_MODE)) { m.type = MB_I8x8; m.t8x8 = true; }
      if (m.type == MB_I4x4 || m.type == MB_I8x8) {
        const bool b8 = m.type == MB_I8x8;
        for (int k = 0; k < (b8 ? 4 : 16); ++k) {
          const int bx = b8 ? (k & 1) * 2 : kBlkX[k], by = b8 ? (k >> 1) * 2 : kBlkY[k];
          const int pm = intra_pred_mode(pic, mbaddr, bx, by, s.constrained_intra_pred);
          int mode = pm;
          if (!u(1, CAT_INTRA_MODE)) {
            const int rem = int(u(3, CAT_INTRA_MODE));
            mode = rem < pm ? rem : rem + 1;
          }
          for (int y = by; y < by + (b8 ? 2 : 1); ++y)
            for (int x = bx; x < bx + (b8 ? 2 : 1); ++x) m.i4_mode[y * 4 + x] = int8_t(mode);
        }
      }
      if (is_intra(m.type)) {
        if (s.chroma_format_idc) {
          const uint32_t cm = ue(CAT_INTRA_MODE);
          if (cm > 3) br.fail("intra_chroma_pred_mode out of range");
          m.chroma_mode = uint8_t(cm);
        }
      } else if (m.type != MB_BDIRECT) {
        const int np = mb_parts(m);
        for (int p = 0; p < np; ++p)
          if (part_pred(m, p) & 1) m.ref[part_8x8(m, p)] = int8_t(ref_idx(s.num_ref[0]));
        for (int p = 0; p < np; ++p)
          if (part_pred(m, p) & 2) m.ref1[part_8x8(m, p)] = int8_t(ref_idx(s.num_ref[1]));
        for (int l = 0; l < 2; ++l)
          for (int p = 0; p < np; ++p)
            if (part_pred(m, p) & (1 << l)) {
              const int k = part_8x8(m, p);
              int16_t d[2];
              mvd(d);
              const int w = np == 1 ? 4 : parts_16x8(m) ? 4 : 2, h = np == 1 ? 4 : parts_16x8(m) ? 2 : 4;
              fill_mvd(l ? m.mvd1 : m.mvd, (k & 1) * 2, (k >> 1) * 2, w, h, d);
            }
        // the partition's other 8x8 blocks share its reference index
        if (np == 2) {
          const int o = parts_16x8(m) ? 1 : 2;
          m.ref[o] = m.ref[0]; m.ref1[o] = m.ref1[0];
          m.ref[3] = m.ref[part_8x8(m, 1)]; m.ref1[3] = m.ref1[part_8x8(m, 1)];
        } else if (np == 1) {
          m.ref[1] = m.ref[2] = m.ref[3] = m.ref[0];
          m.ref1[1] = m.ref1[2] = m.ref1[3] = m.ref1[0];
        }
      }
    }
    if (m.type != MB_I16x16) {
      const bool intra = m.type == MB_I4x4 || m.type == MB_I8x8;
      const uint32_t code = ue(CAT_CBP_QP);
      if (s.chroma_format_idc) {
        if (code >= 48) br.fail("coded_block_pattern out of range");
        m.cbp = intra ? kCodeToCbpIntra[code] : kCodeToCbpInter[code];
      } else {
        if (code >= 16) br.fail("coded_block_pattern out of range");
        m.cbp = kCodeToCbp400[intra][code];
      }
      if (inter_t8x8_flag_present(s, m, m.cbp & 15)) m.t8x8 = u(1, CAT_INTRA_MODE) != 0;
    }
    const int cbpl = m.cbp & 15, cbpc = m.cbp >> 4;
    tcs.clear(mbaddr);
    if (m.cbp == 0 && m.type != MB_I16x16) return;
    const int32_t dqp = se(CAT_CBP_QP);
    if (dqp < -26 || dqp > 25) br.fail("mb_qp_delta out of range");
    m.qp_delta = int8_t(dqp);
    qp_prev = (qp_prev + dqp + 52) % 52;
    m.qp = uint8_t(qp_prev);
    const bool t8 = m.type == MB_I8x8 || (m.t8x8 && !is_intra(m.type));
    if (m.type == MB_I16x16) block(m.luma_dc, 16, nc_luma(mbaddr, 0, 0), CAT_RESIDUAL_LUMA);
    for (int k = 0; k < 16; ++k) {
      const int bx = kBlkX[k], by = kBlkY[k], r = by * 4 + bx;
      int tc = 0;
      if (cbpl & (1 << (k >> 2))) {
        if (m.type == MB_I16x16) tc = block(m.luma[r] + 1, 15, nc_luma(mbaddr, bx, by), CAT_RESIDUAL_LUMA);
        else if (t8) {
          int16_t lv[16];
          tc = block(lv, 16, nc_luma(mbaddr, bx, by), CAT_RESIDUAL_LUMA);
          int16_t* l8 = luma8(m, k >> 2);
          for (int i = 0; i < 16; ++i) l8[4 * i + (k & 3)] = lv[i];
          if ((k & 3) == 3) {  // the record's nz of an 8x8 block: its non-zero count, in each of its 4x4 entries
            int n8 = 0;
            for (int i = 0; i < 64; ++i) n8 += l8[i] != 0;
            const int r0 = (k >> 3) * 8 + ((k >> 2) & 1) * 2;
            m.nz[r0] = m.nz[r0 + 1] = m.nz[r0 + 4] = m.nz[r0 + 5] = uint8_t(n8);
          }
        } else tc = block(m.luma[r], 16, nc_luma(mbaddr, bx, by), CAT_RESIDUAL_LUMA);
      }
      if (!t8) m.nz[r] = uint8_t(tc);
      tcs.luma[size_t(mbaddr)][size_t(r)] = uint8_t(tc);
    }
    if (!s.chroma_format_idc) return;
    if (cbpc)
      for (int k = 0; k < 2; ++k) block(m.chroma_dc[k], 4, -1, CAT_RESIDUAL_CHROMA);
    if (cbpc == 2)
      for (int k = 0; k < 2; ++k)
        for (int b = 0; b < 4; ++b)
          tcs.chroma[size_t(mbaddr)][size_t(4 * k + b)] =
              uint8_t(block(m.chroma_ac[k][b] + 1, 15, nc_chroma(mbaddr, k, b & 1, b >> 1), CAT_RESIDUAL_CHROMA));
  }

  void skipped(int mbaddr) {
    Mb& m = pic.mbs[size_t(mbaddr)];
    reset_except_levels(m);
    m.type = s.type == SLICE_B ? MB_BSKIP : MB_PSKIP;
    m.ref[0] = m.ref[1] = m.ref[2] = m.ref[3] = -1;
    m.qp = uint8_t(qp_prev);
    tcs.clear(mbaddr);
  }
};

}  // namespace

void read_slice_data_cavlc(const SliceSyntax& s, PicSyntax& pic, BitReader& br, BitCounts& counts) {
  CavlcReader rd(s, pic, br, counts);
  const int n = pic.mbw * pic.mbh;
  int mb = s.first_mb;
  auto claim = [&](int a) {
    if (a >= n) { br.mb = a; br.fail("slice data continue past the last macroblock of the picture"); }
    if (pic.slice_id[size_t(a)] != -1) { br.mb = a; br.fail("macroblock coded twice in one picture"); }
    pic.slice_id[size_t(a)] = s.id;
    br.mb = a;
  };
  bool more = true;
  while (more) {
    if (s.type != SLICE_I) {
      const uint32_t run = rd.ue(CAT_SKIP);
      if (run > uint32_t(n - mb)) br.fail("mb_skip_run beyond the last macroblock");
      for (uint32_t i = 0; i < run; ++i, ++mb) { claim(mb); rd.skipped(mb); }
      if (run > 0 && !br.more_rbsp_data()) break;
    }
    claim(mb);
    rd.macroblock(mb);
    ++mb;
    more = br.more_rbsp_data();
  }
}

}  // namespace h264
}  // namespace mvc
