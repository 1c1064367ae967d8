// Test-only entry points of the H.264 CABAC slice-data reader / writer (jm/cabac_syntax.cpp):
//   _h264_cabac_roundtrip: random valid records -> write -> read -> rewrite, compared field by
//     field and bit by bit, plus the texture-off rewrite read back;
//   _h264_cabac_stream: every CABAC slice of a real Annex B stream decoded, checked to end at
//     its rbsp_stop_one_bit, re-encoded byte for byte, and rewritten without texture.
// The stream entry point carries a deliberately minimal SPS / PPS / slice-header parser (frame
// pictures, one slice group, POC type 0 or 2); the product's header layer is jm/stream.h.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "common/bitstream.h"
#include "jm/syntax.h"

namespace py = pybind11;
using namespace mvc;
using namespace mvc::h264;

namespace {

// ---------------------------------------------------------------- random records
struct Gen {
  std::mt19937 rng;
  explicit Gen(uint32_t seed) : rng(seed) {}
  int uni(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }
  bool p(double prob) { return std::uniform_real_distribution<double>(0, 1)(rng) < prob; }
  int level() {  // mostly small, sometimes beyond the prefix (14), rarely huge
    const int r = uni(0, 99);
    int a = r < 60 ? 1 : (r < 85 ? uni(2, 4) : (r < 97 ? uni(5, 100) : uni(100, 32767)));
    return p(0.5) ? -a : a;
  }
  int mvd() {
    const int r = uni(0, 99);
    int a = r < 30 ? 0 : (r < 70 ? uni(1, 8) : (r < 95 ? uni(9, 200) : uni(200, 32767)));
    return p(0.5) ? -a : a;
  }
  void block(int16_t* lev, int n, double density) {
    for (int i = 0; i < n; ++i) lev[i] = p(density) ? static_cast<int16_t>(level()) : 0;
  }
};

int count_nz(const int16_t* l, int n) {
  int c = 0;
  for (int i = 0; i < n; ++i) c += l[i] != 0;
  return c;
}

// Fills residual levels of m consistent with m.cbp / m.type / m.t8x8 and the expected nz[].
void gen_residual(Gen& g, Mb& m, int chroma_format_idc) {
  const double d = g.p(0.3) ? 0.7 : 0.2;
  const int cbpl = m.cbp & 15, cbpc = m.cbp >> 4;
  if (m.type == MB_I16x16) g.block(m.luma_dc, 16, g.p(0.2) ? 0.0 : d);
  for (int b8 = 0; b8 < 4; ++b8) {
    if (!((cbpl >> b8) & 1)) continue;
    if (m.t8x8) {
      int16_t* l = luma8(m, b8);
      g.block(l, 64, d * 0.5);
      if (!count_nz(l, 64)) l[g.uni(0, 63)] = static_cast<int16_t>(g.level());
      const int r0 = (b8 >> 1) * 8 + (b8 & 1) * 2;
      for (const int r : {r0, r0 + 1, r0 + 4, r0 + 5}) m.nz[r] = static_cast<uint8_t>(count_nz(l, 64));
    } else {
      for (int k = 0; k < 4; ++k) {
        const int r = ((b8 >> 1) * 2 + (k >> 1)) * 4 + (b8 & 1) * 2 + (k & 1);
        if (g.p(0.25)) continue;  // coded_block_flag 0
        if (m.type == MB_I16x16) {
          g.block(m.luma[r] + 1, 15, d);
          m.nz[r] = static_cast<uint8_t>(count_nz(m.luma[r] + 1, 15));
        } else {
          g.block(m.luma[r], 16, d);
          m.nz[r] = static_cast<uint8_t>(count_nz(m.luma[r], 16));
        }
      }
    }
  }
  if (!chroma_format_idc) return;
  if (cbpc)
    for (int c = 0; c < 2; ++c) g.block(m.chroma_dc[c], 4, 0.6);
  if (cbpc == 2)
    for (int c = 0; c < 2; ++c)
      for (int k = 0; k < 4; ++k)
        if (g.p(0.7)) g.block(m.chroma_ac[c][k] + 1, 15, d);
}

int8_t* ref_list(Mb& m, int list) { return list ? m.ref1 : m.ref; }
int16_t (*mvd_list(Mb& m, int list))[2] { return list ? m.mvd1 : m.mvd; }

constexpr uint8_t kBPairs[9][2] = {{1, 1}, {2, 2}, {1, 2}, {2, 1}, {1, 3}, {2, 3}, {3, 1}, {3, 2}, {3, 3}};
constexpr uint8_t kBSubPred[13] = {0, 1, 2, 3, 1, 1, 2, 2, 3, 3, 1, 2, 3};
constexpr uint8_t kBSubShape[13] = {0, 0, 0, 0, 1, 2, 1, 2, 1, 2, 3, 3, 3};

// A random macroblock record valid for slice s, in the form the reader produces.
Mb gen_mb(Gen& g, const SliceSyntax& s, int& qp, std::vector<uint8_t>& pcm, size_t mb) {
  Mb m;
  for (int k = 0; k < 4; ++k) m.ref[k] = m.ref1[k] = -1;
  const bool B = s.type == SLICE_B;
  int kind;
  if (s.type == SLICE_I) kind = g.uni(0, 3);  // 0 I4x4, 1 I8x8, 2 I16x16, 3 PCM
  else kind = g.p(0.25) ? g.uni(0, 3) : g.uni(4, B ? 9 : 8);
  if (kind == 3 && !g.p(0.2)) kind = 2;
  if (kind == 1 && !s.transform_8x8_mode) kind = 0;
  static constexpr MbType kP[5] = {MB_PSKIP, MB_P16x16, MB_P16x8, MB_P8x16, MB_P8x8};
  static constexpr MbType kB[6] = {MB_BSKIP, MB_BDIRECT, MB_B16x16, MB_B16x8, MB_B8x16, MB_B8x8};
  switch (kind) {
    case 0: m.type = MB_I4x4; break;
    case 1: m.type = MB_I8x8; m.t8x8 = true; break;
    case 2: m.type = MB_I16x16; break;
    case 3: m.type = MB_IPCM; break;
    default: m.type = B ? kB[kind - 4] : kP[kind - 4]; break;
  }
  const bool chroma = s.chroma_format_idc != 0;
  if (m.type == MB_PSKIP || m.type == MB_BSKIP) {
    m.qp = static_cast<uint8_t>(qp);
    return m;
  }
  if (m.type == MB_IPCM) {
    for (int i = 0; i < (chroma ? 384 : 256); ++i) pcm[mb * 384 + static_cast<size_t>(i)] = static_cast<uint8_t>(g.uni(0, 255));
    m.qp = static_cast<uint8_t>(qp);
    for (int r = 0; r < 16; ++r) m.nz[r] = 16;
    return m;
  }
  bool no_sub_lt8 = true;
  if (is_intra(m.type)) {
    if (m.type == MB_I4x4)
      for (int r = 0; r < 16; ++r) m.i4_mode[r] = static_cast<int8_t>(g.uni(0, 8));
    if (m.type == MB_I8x8)
      for (int b8 = 0; b8 < 4; ++b8) {
        const int v = g.uni(0, 8), r0 = (b8 >> 1) * 8 + (b8 & 1) * 2;
        for (const int r : {r0, r0 + 1, r0 + 4, r0 + 5}) m.i4_mode[r] = static_cast<int8_t>(v);
      }
    if (m.type == MB_I16x16) m.i16_mode = static_cast<uint8_t>(g.uni(0, 3));
    if (chroma) m.chroma_mode = static_cast<uint8_t>(g.uni(0, 3));
  } else {
    auto ref = [&](int list) { return s.num_ref[list] > 1 ? g.uni(0, s.num_ref[list] - 1) : 0; };
    auto fill_mvd = [&](int list, int x, int y, int w, int h) {
      const int dx = g.mvd(), dy = g.mvd();
      for (int yy = y; yy < y + h; ++yy)
        for (int xx = x; xx < x + w; ++xx) {
          mvd_list(m, list)[yy * 4 + xx][0] = static_cast<int16_t>(dx);
          mvd_list(m, list)[yy * 4 + xx][1] = static_cast<int16_t>(dy);
        }
    };
    if (m.type == MB_P8x8 || m.type == MB_B8x8) {
      for (int k = 0; k < 4; ++k) {
        const int sub = B ? g.uni(0, 12) : g.uni(0, 3);
        m.sub[k] = static_cast<uint8_t>(sub);
        const int pred = B ? kBSubPred[sub] : 1, shape = B ? kBSubShape[sub] : sub;
        if (pred && shape) no_sub_lt8 = false;
        if (!pred && !s.direct_8x8_inference) no_sub_lt8 = false;
        for (int list = 0; list < 2; ++list) {
          if (!((pred >> list) & 1)) continue;
          ref_list(m, list)[k] = static_cast<int8_t>(ref(list));
          const int x0 = (k & 1) * 2, y0 = (k >> 1) * 2;
          if (shape == 0) fill_mvd(list, x0, y0, 2, 2);
          if (shape == 1) { fill_mvd(list, x0, y0, 2, 1); fill_mvd(list, x0, y0 + 1, 2, 1); }
          if (shape == 2) { fill_mvd(list, x0, y0, 1, 2); fill_mvd(list, x0 + 1, y0, 1, 2); }
          if (shape == 3)
            for (int j = 0; j < 4; ++j) fill_mvd(list, x0 + (j & 1), y0 + (j >> 1), 1, 1);
        }
      }
    } else if (m.type != MB_BDIRECT) {
      const int np = (m.type == MB_P16x16 || m.type == MB_B16x16) ? 1 : 2;
      const bool h = m.type == MB_P16x8 || m.type == MB_B16x8;
      if (m.type == MB_B16x16) m.pred[0] = static_cast<uint8_t>(g.uni(1, 3));
      if (np == 2 && B) {
        const int k = g.uni(0, 8);
        m.pred[0] = kBPairs[k][0];
        m.pred[1] = kBPairs[k][1];
      }
      for (int p = 0; p < np; ++p) {
        const int pred = B ? m.pred[p] : 1;
        for (int list = 0; list < 2; ++list) {
          if (!((pred >> list) & 1)) continue;
          const int r = ref(list);
          for (int k = 0; k < 4; ++k)
            if (np == 1 || (h ? (k >> 1) == p : (k & 1) == p)) ref_list(m, list)[k] = static_cast<int8_t>(r);
          if (np == 1) fill_mvd(list, 0, 0, 4, 4);
          else if (h) fill_mvd(list, 0, 2 * p, 4, 2);
          else fill_mvd(list, 2 * p, 0, 2, 4);
        }
      }
    }
  }
  // coded_block_pattern and the transform size
  const int cbpc = chroma ? g.uni(0, 2) : 0;
  if (m.type == MB_I16x16) m.cbp = static_cast<uint8_t>(cbpc << 4 | (g.p(0.5) ? 15 : 0));
  else m.cbp = static_cast<uint8_t>(cbpc << 4 | (g.p(0.2) ? 0 : g.uni(0, 15)));
  if (!is_intra(m.type) && (m.cbp & 15) && s.transform_8x8_mode && no_sub_lt8 &&
      (m.type != MB_BDIRECT || s.direct_8x8_inference))
    m.t8x8 = g.p(0.5);
  if (m.cbp || m.type == MB_I16x16) {
    m.qp_delta = static_cast<int8_t>(g.p(0.5) ? 0 : g.uni(-26, 25));
    qp = (qp + m.qp_delta + 52) % 52;
  }
  m.qp = static_cast<uint8_t>(qp);
  gen_residual(g, m, s.chroma_format_idc);
  return m;
}

// Differences between two records in the fields the CABAC syntax carries (empty when equal).
std::string diff_mb(const Mb& a, const Mb& b, bool chroma) {
  if (a.type != b.type) return "type";
  if (a.qp != b.qp) return "qp";
  if (a.qp_delta != b.qp_delta) return "qp_delta";
  if (a.type == MB_IPCM || a.type == MB_PSKIP || a.type == MB_BSKIP) {
    for (int k = 0; k < 4; ++k)
      if (a.ref[k] != b.ref[k] || a.ref1[k] != b.ref1[k]) return "ref";
    return "";
  }
  if (a.cbp != b.cbp) return "cbp";
  if (a.t8x8 != b.t8x8) return "t8x8";
  if (std::memcmp(a.nz, b.nz, sizeof a.nz)) return "nz";
  if (std::memcmp(a.luma, b.luma, sizeof a.luma)) return "luma";
  if (std::memcmp(a.luma_dc, b.luma_dc, sizeof a.luma_dc)) return "luma_dc";
  if (std::memcmp(a.chroma_dc, b.chroma_dc, sizeof a.chroma_dc)) return "chroma_dc";
  if (std::memcmp(a.chroma_ac, b.chroma_ac, sizeof a.chroma_ac)) return "chroma_ac";
  if (is_intra(a.type)) {
    if (chroma && a.chroma_mode != b.chroma_mode) return "chroma_mode";
    if (a.type == MB_I16x16 && a.i16_mode != b.i16_mode) return "i16_mode";
    if (a.type != MB_I16x16 && std::memcmp(a.i4_mode, b.i4_mode, sizeof a.i4_mode)) return "i4_mode";
    return "";
  }
  for (int k = 0; k < 4; ++k)
    if (a.ref[k] != b.ref[k] || a.ref1[k] != b.ref1[k]) return "ref";
  if (std::memcmp(a.mvd, b.mvd, sizeof a.mvd) || std::memcmp(a.mvd1, b.mvd1, sizeof a.mvd1)) return "mvd";
  if ((a.type == MB_P8x8 || a.type == MB_B8x8) && std::memcmp(a.sub, b.sub, sizeof a.sub)) return "sub";
  if (a.type == MB_B16x16 && a.pred[0] != b.pred[0]) return "pred";
  if ((a.type == MB_B16x8 || a.type == MB_B8x16) && (a.pred[0] != b.pred[0] || a.pred[1] != b.pred[1])) return "pred";
  return "";
}

py::dict counts_dict(const BitCounts& c) {
  py::dict d;
  for (int i = 0; i < NUM_CATS; ++i) d[bitcat_name(i)] = c[static_cast<size_t>(i)];
  return d;
}

struct Written {
  std::vector<uint8_t> bytes;  // the slice data RBSP (alignment, CABAC, zero alignment)
  uint64_t bits = 0;           // up to the end of the flush
  BitCounts counts{};
};

// The slice's data in its entropy mode: CABAC ends with its flush (stop bit included), CAVLC is
// followed by the rbsp_stop_one_bit its reader needs to see where the data ends.
Written write_slices(const std::vector<SliceSyntax>& slices, const PicSyntax& pic, bool texture_off, size_t sl) {
  Written out;
  SyntaxWriter w;
  w.counts = &out.counts;
  w.u(0, 3, CAT_HEADER);  // a header that does not end on a byte boundary
  if (slices[sl].cabac) {
    write_slice_data_cabac(slices[sl], pic, w, texture_off);
    out.bits = w.bw.bits();
    w.bw.align_zero();
  } else {
    write_slice_data_cavlc(slices[sl], pic, w, texture_off);
    out.bits = w.bw.bits();
    w.bw.trailing_bits();
  }
  out.bytes = w.bw.bytes();
  return out;
}

void read_slice(const SliceSyntax& s, PicSyntax& pic, BitReader& br, BitCounts& counts) {
  if (s.cabac) read_slice_data_cabac(s, pic, br, counts);
  else read_slice_data_cavlc(s, pic, br, counts);
}

py::dict cabac_roundtrip(uint32_t seed, int slice_type, int mbw, int mbh, int nslices, bool transform_8x8,
                         bool direct_8x8_inference, int chroma_format_idc, bool cabac) {
  Gen g(seed);
  PicSyntax pic;
  pic.reset(mbw, mbh);
  const int total = mbw * mbh;
  std::vector<SliceSyntax> slices;
  int first = 0;
  for (int i = 0; i < nslices && first < total; ++i) {
    SliceSyntax s;
    s.type = slice_type;
    s.id = i;
    s.first_mb = first;
    s.cabac = cabac;
    s.cabac_init_idc = g.uni(0, 2);
    s.qp = g.uni(0, 51);
    s.num_ref[0] = slice_type == SLICE_I ? 1 : (g.p(0.3) ? 1 : g.uni(2, 32));
    s.num_ref[1] = slice_type == SLICE_B ? (g.p(0.3) ? 1 : g.uni(2, 32)) : 0;
    s.transform_8x8_mode = transform_8x8;
    s.direct_8x8_inference = direct_8x8_inference;
    s.chroma_format_idc = chroma_format_idc;
    s.constrained_intra_pred = g.p(0.3);
    const int n = i == nslices - 1 ? total - first : std::max(1, std::min(total - first, g.uni(1, std::max(1, 2 * total / nslices))));
    int qp = s.qp;
    for (int mb = first; mb < first + n; ++mb) {
      pic.slice_id[static_cast<size_t>(mb)] = i;
      pic.mbs[static_cast<size_t>(mb)] = gen_mb(g, s, qp, pic.pcm, static_cast<size_t>(mb));
    }
    slices.push_back(s);
    first += n;
  }
  py::dict res;
  bool records_equal = true, bits_equal = true, counts_equal = true, counts_sum = true, crop_ok = true;
  std::string first_diff;
  double total_bits = 0;
  BitCounts all{};
  PicSyntax back, crop;
  back.reset(mbw, mbh);
  crop.reset(mbw, mbh);
  for (size_t sl = 0; sl < slices.size(); ++sl) {
    const Written w1 = write_slices(slices, pic, false, sl);
    // read it back
    BitCounts rc{};
    BitReader br(w1.bytes.data(), w1.bytes.size(), 3);
    read_slice(slices[sl], back, br, rc);
    rc[CAT_HEADER] += 3;
    if (br.pos() != w1.bits) bits_equal = false;
    if (rc != w1.counts) counts_equal = false;
    double sum = 0;
    for (double v : rc) sum += v;
    if (std::abs(sum - static_cast<double>(w1.bits)) > 1e-6) counts_sum = false;
    total_bits += static_cast<double>(w1.bits);
    for (int i = 0; i < NUM_CATS; ++i) all[static_cast<size_t>(i)] += rc[static_cast<size_t>(i)];
    // rewrite from what was read
    const Written w2 = write_slices(slices, back, false, sl);
    if (w2.bytes != w1.bytes) bits_equal = false;
    // texture off: read back, no residual anywhere, everything else kept
    const Written w3 = write_slices(slices, pic, true, sl);
    BitCounts cc{};
    BitReader br3(w3.bytes.data(), w3.bytes.size(), 3);
    read_slice(slices[sl], crop, br3, cc);
    if (br3.pos() != w3.bits) crop_ok = false;
    for (int mb = slices[sl].first_mb; mb < total && pic.slice_id[static_cast<size_t>(mb)] == static_cast<int>(sl); ++mb) {
      const Mb& a = pic.mbs[static_cast<size_t>(mb)];
      const Mb& b = back.mbs[static_cast<size_t>(mb)];
      const std::string d = diff_mb(a, b, chroma_format_idc != 0);
      if (!d.empty() && records_equal) {
        records_equal = false;
        first_diff = "mb " + std::to_string(mb) + ": " + d;
      }
      if (a.type == MB_IPCM &&
          !std::equal(&pic.pcm[static_cast<size_t>(mb) * 384], &pic.pcm[static_cast<size_t>(mb) * 384] + 384, &back.pcm[static_cast<size_t>(mb) * 384]))
        records_equal = false;
      const Mb& c = crop.mbs[static_cast<size_t>(mb)];
      Mb e = a;  // what the texture-off stream must hold
      if (e.type == MB_IPCM) { e.type = MB_I16x16; e.i16_mode = 2; e.chroma_mode = 0; }
      const bool same_kind = c.type == e.type && c.cbp == 0 && count_nz(&c.luma[0][0], 256) == 0 &&
                             count_nz(c.luma_dc, 16) == 0 && count_nz(&c.chroma_dc[0][0], 8) == 0 &&
                             count_nz(&c.chroma_ac[0][0][0], 128) == 0;
      const bool kept = std::memcmp(c.mvd, e.mvd, sizeof c.mvd) == 0 && std::memcmp(c.mvd1, e.mvd1, sizeof c.mvd1) == 0 &&
                        std::memcmp(c.ref, e.ref, sizeof c.ref) == 0 && std::memcmp(c.ref1, e.ref1, sizeof c.ref1) == 0 &&
                        (e.type != MB_I16x16 || (c.qp == e.qp && c.i16_mode == e.i16_mode)) &&
                        (!is_intra(e.type) || chroma_format_idc == 0 || c.chroma_mode == e.chroma_mode) &&
                        ((e.type != MB_I4x4 && e.type != MB_I8x8) || std::memcmp(c.i4_mode, e.i4_mode, 16) == 0);
      if (!same_kind || !kept) {
        if (crop_ok) first_diff += " crop mb " + std::to_string(mb);
        crop_ok = false;
      }
    }
  }
  std::map<std::string, int> types;
  static const char* kNames[] = {"I4x4", "I16x16", "P16x16", "P16x8", "P8x16", "P8x8", "PSkip", "I8x8",
                                 "IPCM", "B16x16", "B16x8", "B8x16", "B8x8", "BDirect", "BSkip"};
  for (const Mb& m : pic.mbs) ++types[kNames[m.type]];
  res["records_equal"] = records_equal;
  res["first_diff"] = first_diff;
  res["bits_equal"] = bits_equal;
  res["counts_equal"] = counts_equal;
  res["counts_sum"] = counts_sum;
  res["crop_ok"] = crop_ok;
  res["bits"] = total_bits;
  res["counts"] = counts_dict(all);
  res["types"] = types;
  res["slices"] = static_cast<int>(slices.size());
  return res;
}

// ---------------------------------------------------------------- minimal real-stream parser
std::vector<uint8_t> unescape(const uint8_t* p, size_t n) {
  std::vector<uint8_t> out;
  out.reserve(n);
  int zeros = 0;
  for (size_t i = 0; i < n; ++i) {
    if (zeros >= 2 && p[i] == 3) { zeros = 0; continue; }
    out.push_back(p[i]);
    zeros = p[i] == 0 ? zeros + 1 : 0;
  }
  return out;
}

struct Sps {
  int chroma_format_idc = 1, log2_max_frame_num = 4, poc_type = 0, log2_max_poc_lsb = 4;
  int mbw = 0, mbh = 0;
  bool direct_8x8_inference = true, delta_pic_order_always_zero = false;
};
struct Pps {
  int sps = 0, num_ref[2] = {1, 1}, init_qp = 26;
  bool cabac = false, bottom_field_poc = false, weighted_pred = false, deblock_ctrl = false;
  bool constrained_intra = false, redundant_pic_cnt = false, transform_8x8 = false;
  int weighted_bipred = 0;
};

void skip_scaling_list(BitReader& br, int n) {
  int last = 8, next = 8;
  for (int j = 0; j < n; ++j) {
    if (next != 0) next = (last + br.se() + 256) % 256;
    last = next == 0 ? last : next;
  }
}

py::dict cabac_stream(py::bytes data) {
  const std::string buf = data;
  const uint8_t* p = reinterpret_cast<const uint8_t*>(buf.data());
  const size_t n = buf.size();
  // split Annex B
  std::vector<std::pair<size_t, size_t>> nals;
  size_t i = 0, start = std::string::npos;
  while (i + 2 < n) {
    if (p[i] == 0 && p[i + 1] == 0 && p[i + 2] == 1) {
      if (start != std::string::npos) {
        size_t end = i;
        while (end > start && p[end - 1] == 0) --end;
        nals.push_back({start, end});
      }
      i += 3;
      start = i;
    } else {
      ++i;
    }
  }
  if (start != std::string::npos) nals.push_back({start, n});
  std::map<int, Sps> spss;
  std::map<int, Pps> ppss;
  PicSyntax pic;
  std::vector<uint8_t> cropped;
  int slices = 0, mbs = 0, qpd_nonzero = 0, identical = 0, exact_end = 0, within = 0, identical_with_tail = 0;
  BitCounts counts{}, crop_counts{};
  std::map<std::string, int> types;
  static const char* kNames[] = {"I4x4", "I16x16", "P16x16", "P16x8", "P8x16", "P8x8", "PSkip", "I8x8",
                                 "IPCM", "B16x16", "B16x8", "B8x16", "B8x8", "BDirect", "BSkip"};
  std::map<std::string, int> slice_types;
  py::list per_slice, same_bits;
  std::set<int> chroma_formats;
  for (const auto& [a, b] : nals) {
    if (b <= a) continue;
    const int nal_ref_idc = (p[a] >> 5) & 3, type = p[a] & 31;
    const std::vector<uint8_t> rbsp = unescape(p + a + 1, b - a - 1);
    BitReader br(rbsp.data(), rbsp.size());
    if (type == 7) {
      Sps s;
      const int profile = static_cast<int>(br.u(8));
      br.u(16);
      const int id = static_cast<int>(br.ue());
      if (profile == 100 || profile == 110 || profile == 122 || profile == 244 || profile == 44 || profile == 83 ||
          profile == 86 || profile == 118 || profile == 128) {
        s.chroma_format_idc = static_cast<int>(br.ue());
        if (s.chroma_format_idc == 3) br.u(1);
        br.ue();
        br.ue();
        br.u(1);
        if (br.u(1))
          for (int k = 0; k < (s.chroma_format_idc != 3 ? 8 : 12); ++k)
            if (br.u(1)) skip_scaling_list(br, k < 6 ? 16 : 64);
      }
      s.log2_max_frame_num = static_cast<int>(br.ue()) + 4;
      s.poc_type = static_cast<int>(br.ue());
      if (s.poc_type == 0) s.log2_max_poc_lsb = static_cast<int>(br.ue()) + 4;
      else if (s.poc_type == 1) throw std::invalid_argument("test parser: POC type 1 not supported");
      br.ue();
      br.u(1);
      s.mbw = static_cast<int>(br.ue()) + 1;
      s.mbh = static_cast<int>(br.ue()) + 1;
      if (!br.u(1)) throw std::invalid_argument("test parser: field coding not supported");
      s.direct_8x8_inference = br.u(1);
      spss[id] = s;
    } else if (type == 8) {
      Pps q;
      const int id = static_cast<int>(br.ue());
      q.sps = static_cast<int>(br.ue());
      q.cabac = br.u(1);
      q.bottom_field_poc = br.u(1);
      if (br.ue() != 0) throw std::invalid_argument("test parser: slice groups not supported");
      q.num_ref[0] = static_cast<int>(br.ue()) + 1;
      q.num_ref[1] = static_cast<int>(br.ue()) + 1;
      q.weighted_pred = br.u(1);
      q.weighted_bipred = static_cast<int>(br.u(2));
      q.init_qp = 26 + br.se();
      br.se();
      br.se();
      q.deblock_ctrl = br.u(1);
      q.constrained_intra = br.u(1);
      q.redundant_pic_cnt = br.u(1);
      if (br.more_rbsp_data()) {
        q.transform_8x8 = br.u(1);
        if (br.u(1))
          for (int k = 0; k < 6 + (spss[q.sps].chroma_format_idc != 3 ? 2 : 6) * q.transform_8x8; ++k)
            if (br.u(1)) skip_scaling_list(br, k < 6 ? 16 : 64);
      }
      ppss[id] = q;
    } else if (type == 1 || type == 5) {
      SliceSyntax s;
      s.first_mb = static_cast<int>(br.ue());
      const int st = static_cast<int>(br.ue()) % 5;
      if (st > 2) throw std::invalid_argument("test parser: SP / SI slices not supported");
      s.type = st;
      const Pps& q = ppss.at(static_cast<int>(br.ue()));
      const Sps& sp = spss.at(q.sps);
      if (!q.cabac) throw std::invalid_argument("test parser: not a CABAC stream");
      br.u(sp.log2_max_frame_num);
      if (type == 5) br.ue();
      if (sp.poc_type == 0) {
        br.u(sp.log2_max_poc_lsb);
        if (q.bottom_field_poc) br.se();
      }
      if (q.redundant_pic_cnt) br.ue();
      if (st == SLICE_B) br.u(1);  // direct_spatial_mv_pred_flag
      s.num_ref[0] = q.num_ref[0];
      s.num_ref[1] = st == SLICE_B ? q.num_ref[1] : 0;
      if (st != SLICE_I && br.u(1)) {
        s.num_ref[0] = static_cast<int>(br.ue()) + 1;
        if (st == SLICE_B) s.num_ref[1] = static_cast<int>(br.ue()) + 1;
      }
      for (int list = 0; list < (st == SLICE_B ? 2 : (st == SLICE_P ? 1 : 0)); ++list)
        if (br.u(1))
          for (;;) {
            const uint32_t op = br.ue();
            if (op == 3) break;
            br.ue();
          }
      if ((q.weighted_pred && st == SLICE_P) || (q.weighted_bipred == 1 && st == SLICE_B)) {
        br.ue();
        if (sp.chroma_format_idc) br.ue();
        for (int list = 0; list < (st == SLICE_B ? 2 : 1); ++list)
          for (int r = 0; r < s.num_ref[list]; ++r) {
            if (br.u(1)) { br.se(); br.se(); }
            if (sp.chroma_format_idc && br.u(1))
              for (int c = 0; c < 4; ++c) br.se();
          }
      }
      if (nal_ref_idc) {
        if (type == 5) br.u(2);
        else if (br.u(1))
          for (;;) {
            const uint32_t op = br.ue();
            if (op == 0) break;
            if (op == 1 || op == 3) br.ue();
            if (op == 2) br.ue();
            if (op == 3 || op == 6) br.ue();
            if (op == 4) br.ue();
          }
      }
      if (st != SLICE_I) s.cabac_init_idc = static_cast<int>(br.ue());
      s.qp = q.init_qp + br.se();
      if (q.deblock_ctrl && br.ue() != 1) { br.se(); br.se(); }
      s.cabac = true;
      s.transform_8x8_mode = q.transform_8x8;
      s.direct_8x8_inference = sp.direct_8x8_inference;
      s.chroma_format_idc = sp.chroma_format_idc;
      s.constrained_intra_pred = q.constrained_intra;
      if (s.first_mb == 0) pic.reset(sp.mbw, sp.mbh);
      s.id = slices;
      const size_t header_bits = br.pos();
      try {
        read_slice_data_cabac(s, pic, br, counts);
      } catch (const ParseError& e) {
        std::string t;
        for (int mb = s.first_mb; mb <= e.mb && mb >= 0; ++mb) t += std::string(" ") + kNames[pic.mbs[static_cast<size_t>(mb)].type];
        throw std::runtime_error(std::string(e.what()) + " at mb " + std::to_string(e.mb) + " slice " + std::to_string(slices) +
                                 " type " + std::to_string(st) + " refs " + std::to_string(s.num_ref[0]) + "/" +
                                 std::to_string(s.num_ref[1]) + " idc " + std::to_string(s.cabac_init_idc) + ":" + t);
      }
      // the slice must end on its rbsp_stop_one_bit
      size_t end = rbsp.size();
      while (end > 0 && rbsp[end - 1] == 0) --end;
      const size_t stop = end ? 8 * (end - 1) + (7 - static_cast<size_t>(__builtin_ctz(rbsp[end - 1]))) : 0;
      const size_t read_end = br.pos();
      if (read_end == stop + 1) ++exact_end;
      if (read_end <= stop + 1) ++within;
      per_slice.append(py::make_tuple(s.first_mb, st, static_cast<int>(br.pos()), static_cast<int>(stop + 1), nal_ref_idc, type));
      ++slices;
      ++slice_types[st == SLICE_I ? "I" : (st == SLICE_P ? "P" : "B")];
      chroma_formats.insert(s.chroma_format_idc);
      for (int mb = s.first_mb; mb < sp.mbw * sp.mbh && pic.slice_id[static_cast<size_t>(mb)] == s.id; ++mb) {
        ++mbs;
        ++types[kNames[pic.mbs[static_cast<size_t>(mb)].type]];
        qpd_nonzero += pic.mbs[static_cast<size_t>(mb)].qp_delta != 0;
      }
      // re-encode: the same header bits, then the slice data from the records
      for (int texture_off = 0; texture_off < 2; ++texture_off) {
        BitCounts wc{};
        SyntaxWriter w;
        w.counts = &wc;
        BitReader hr(rbsp.data(), rbsp.size());
        for (size_t k = 0; k < header_bits; ++k) w.u(hr.u1(), 1, CAT_HEADER);
        write_slice_data_cabac(s, pic, w, texture_off != 0);
        w.bw.align_zero();
        std::vector<uint8_t> out = w.bw.bytes();
        if (!texture_off) {
          size_t same = 0;  // leading bits the rewrite shares with the input
          while (same < 8 * std::min(out.size(), rbsp.size()) &&
                 ((out[same >> 3] ^ rbsp[same >> 3]) & (0x80 >> (same & 7))) == 0)
            ++same;
          same_bits.append(static_cast<int>(same));
          if (out.size() <= rbsp.size() && std::equal(out.begin(), out.end(), rbsp.begin()) &&
              std::all_of(rbsp.begin() + static_cast<long>(out.size()), rbsp.end(), [](uint8_t x) { return x == 0; }))
            ++identical;
          // an encoder may place bits after the end of the arithmetic code (x264 ends its
          // flush on a byte boundary): the rewrite followed by the input's bits from where the
          // reader stopped to the stop bit must give the input
          BitCounts tc{};
          SyntaxWriter wt;
          wt.counts = &tc;
          BitReader ir(rbsp.data(), rbsp.size());
          for (size_t k = 0; k < header_bits; ++k) wt.u(ir.u1(), 1, CAT_HEADER);
          write_slice_data_cabac(s, pic, wt, false);
          BitReader tail(rbsp.data(), rbsp.size(), read_end);
          if (wt.bw.bits() == read_end) {
            while (tail.pos() <= stop) wt.u(tail.u1(), 1, CAT_END);
            wt.bw.align_zero();
            const std::vector<uint8_t>& o = wt.bw.bytes();
            if (o.size() <= rbsp.size() && std::equal(o.begin(), o.end(), rbsp.begin()) &&
                std::all_of(rbsp.begin() + static_cast<long>(o.size()), rbsp.end(), [](uint8_t x) { return x == 0; }))
              ++identical_with_tail;
          }
        } else {
          for (int c = 0; c < NUM_CATS; ++c) crop_counts[static_cast<size_t>(c)] += wc[static_cast<size_t>(c)];
          write_nal(cropped, p + a, 1, out, true);
        }
      }
    }
    if (type == 7 || type == 8) write_nal(cropped, p + a, 1, std::vector<uint8_t>(rbsp.begin(), rbsp.end()), true);
  }
  py::dict res;
  res["slices"] = slices;
  res["mbs"] = mbs;
  res["qp_delta_nonzero"] = qpd_nonzero;
  res["identical"] = identical;
  res["exact_end"] = exact_end;
  res["within"] = within;
  res["identical_with_tail"] = identical_with_tail;
  res["counts"] = counts_dict(counts);
  res["crop_counts"] = counts_dict(crop_counts);
  res["types"] = types;
  res["slice_types"] = slice_types;
  res["per_slice"] = per_slice;
  res["same_bits"] = same_bits;
  res["chroma_format_idc"] = chroma_formats;
  res["cropped"] = py::bytes(reinterpret_cast<const char*>(cropped.data()), cropped.size());
  return res;
}

// A complete one-picture IDR stream (High profile, CABAC, 8x8 transform, deblocking off) whose
// macroblocks are random intra records with DC prediction (valid wherever neighbours are
// missing) and moderate levels, I_PCM included, over nslices slices: an independent decoder
// can check what the writer codes. Returns the stream and the I_PCM samples by address.
py::tuple cabac_intra_stream(uint32_t seed, int mbw, int mbh, int nslices, bool texture_off) {
  Gen g(seed);
  PicSyntax pic;
  pic.reset(mbw, mbh);
  const int total = mbw * mbh;
  std::vector<uint8_t> out;
  BitCounts counts{};
  auto nal = [&](int ref_idc, int type, SyntaxWriter& w) {
    const uint8_t hdr = static_cast<uint8_t>(ref_idc << 5 | type);
    write_nal(out, &hdr, 1, w.bw.bytes(), true);
  };
  {
    SyntaxWriter w;
    w.counts = &counts;
    w.u(100, 8, CAT_HEADER);  // profile_idc High
    w.u(0, 8, CAT_HEADER);
    w.u(40, 8, CAT_HEADER);   // level_idc
    w.ue(0, CAT_HEADER);      // seq_parameter_set_id
    w.ue(1, CAT_HEADER);      // chroma_format_idc
    w.ue(0, CAT_HEADER);
    w.ue(0, CAT_HEADER);
    w.u(0, 2, CAT_HEADER);    // qpprime_y_zero_transform_bypass, seq_scaling_matrix_present
    w.ue(0, CAT_HEADER);      // log2_max_frame_num_minus4
    w.ue(2, CAT_HEADER);      // pic_order_cnt_type
    w.ue(1, CAT_HEADER);      // max_num_ref_frames
    w.u(0, 1, CAT_HEADER);
    w.ue(static_cast<uint32_t>(mbw - 1), CAT_HEADER);
    w.ue(static_cast<uint32_t>(mbh - 1), CAT_HEADER);
    w.u(0b1100, 4, CAT_HEADER);  // frame_mbs_only, direct_8x8_inference, no cropping, no VUI
    w.bw.trailing_bits();
    nal(3, 7, w);
  }
  {
    SyntaxWriter w;
    w.counts = &counts;
    w.ue(0, CAT_HEADER);
    w.ue(0, CAT_HEADER);
    w.u(0b10, 2, CAT_HEADER);  // entropy_coding_mode_flag, bottom_field_pic_order_in_frame_present
    w.ue(0, CAT_HEADER);
    w.ue(0, CAT_HEADER);
    w.ue(0, CAT_HEADER);
    w.u(0, 3, CAT_HEADER);     // weighted_pred, weighted_bipred_idc
    w.se(0, CAT_HEADER);
    w.se(0, CAT_HEADER);
    w.se(0, CAT_HEADER);
    w.u(0b1001, 4, CAT_HEADER);  // deblocking_filter_control_present, !constrained, !redundant, transform_8x8_mode
    w.u(0, 1, CAT_HEADER);       // pic_scaling_matrix_present
    w.se(0, CAT_HEADER);
    w.bw.trailing_bits();
    nal(3, 8, w);
  }
  py::dict pcm_out;
  int first = 0;
  for (int i = 0; i < nslices && first < total; ++i) {
    SliceSyntax s;
    s.type = SLICE_I;
    s.id = i;
    s.first_mb = first;
    s.cabac = true;
    s.qp = g.uni(10, 45);
    s.transform_8x8_mode = true;
    const int n = i == nslices - 1 ? total - first : std::max(1, std::min(total - first, g.uni(1, std::max(1, 2 * total / nslices))));
    int qp = s.qp;
    for (int mb = first; mb < first + n; ++mb) {
      pic.slice_id[static_cast<size_t>(mb)] = i;
      Mb m = gen_mb(g, s, qp, pic.pcm, static_cast<size_t>(mb));
      for (int r = 0; r < 16; ++r) m.i4_mode[r] = 2;
      m.i16_mode = 2;
      m.chroma_mode = 0;
      for (int16_t* l = &m.luma[0][0]; l < &m.luma[0][0] + 256; ++l) *l = static_cast<int16_t>(std::max(-60, std::min(60, int(*l))));
      for (int16_t& l : m.luma_dc) l = static_cast<int16_t>(std::max(-60, std::min(60, int(l))));
      for (int16_t* l = &m.chroma_dc[0][0]; l < &m.chroma_dc[0][0] + 8; ++l) *l = static_cast<int16_t>(std::max(-60, std::min(60, int(*l))));
      for (int16_t* l = &m.chroma_ac[0][0][0]; l < &m.chroma_ac[0][0][0] + 128; ++l) *l = static_cast<int16_t>(std::max(-60, std::min(60, int(*l))));
      if (m.type == MB_IPCM)
        pcm_out[py::int_(mb)] = py::bytes(reinterpret_cast<const char*>(&pic.pcm[static_cast<size_t>(mb) * 384]), 384);
      pic.mbs[static_cast<size_t>(mb)] = m;
    }
    SyntaxWriter w;
    w.counts = &counts;
    w.ue(static_cast<uint32_t>(first), CAT_HEADER);
    w.ue(7, CAT_HEADER);  // slice_type I (all slices of the picture)
    w.ue(0, CAT_HEADER);
    w.u(0, 4, CAT_HEADER);   // frame_num
    w.ue(0, CAT_HEADER);     // idr_pic_id
    w.u(0, 2, CAT_HEADER);   // no_output_of_prior_pics, long_term_reference_flag
    w.se(s.qp - 26, CAT_HEADER);
    w.ue(1, CAT_HEADER);     // disable_deblocking_filter_idc
    write_slice_data_cabac(s, pic, w, texture_off);
    w.bw.align_zero();
    nal(3, 5, w);
    first += n;
  }
  return py::make_tuple(py::bytes(reinterpret_cast<const char*>(out.data()), out.size()), pcm_out);
}

}  // namespace

void register_cabac_test(py::module_& m) {
  m.def("_h264_cabac_roundtrip", &cabac_roundtrip, py::arg("seed"), py::arg("slice_type"), py::arg("mbw"),
        py::arg("mbh"), py::arg("nslices"), py::arg("transform_8x8") = true, py::arg("direct_8x8_inference") = true,
        py::arg("chroma_format_idc") = 1, py::arg("cabac") = true,
        "Test only: random valid H.264 records of one picture written (CABAC, or CAVLC with cabac=False), "
        "read back and rewritten.");
  m.def("_h264_cabac_stream", &cabac_stream, py::arg("data"),
        "Test only: decode every CABAC slice of an Annex B stream, re-encode it, and rewrite it without texture.");
  m.def("_h264_cabac_intra_stream", &cabac_intra_stream, py::arg("seed"), py::arg("mbw"), py::arg("mbh"),
        py::arg("nslices"), py::arg("texture_off") = false,
        "Test only: a one-picture CABAC IDR stream of random intra records (I_PCM included) and its I_PCM samples.");
}
