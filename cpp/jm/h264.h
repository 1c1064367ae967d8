// Internal declarations of the H.264 encoder (ITU-T H.264, CAVLC or CABAC, progressive 4:2:0, 8-bit).
// Stages follow the standard's clauses: tables, transform (8.5), intra (8.3), mc (8.4.2),
// me (motion search), analyse (mode decision + reconstruction), cavlc (7.3.5, 9.2) or
// cabac_syntax (9.3; the same decisions, bit estimates of CAVLC),
// deblock (8.7), headers (7.3.2), h264_encoder (frame loop, DPB).
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "common/accounting.h"
#include "common/bitstream.h"
#include "common/encoder.h"
#include "common/picture.h"
#include "common/pixel.h"

namespace mvc {
namespace h264 {

constexpr int PAD = 64;  // luma border of every picture (chroma: PAD/2)

// ---------------------------------------------------------------- tables (tables.cpp)
extern const uint8_t kZigzag[16];               // scan index -> raster (row*4+col)
extern const uint8_t kCoeffTokenLen[4][17][4];  // [table][total_coeff][trailing_ones]
extern const uint8_t kCoeffTokenBits[4][17][4];
extern const uint8_t kChromaDcTokenLen[5][4];
extern const uint8_t kChromaDcTokenBits[5][4];
extern const uint8_t kTotalZerosLen[15][16];
extern const uint8_t kTotalZerosBits[15][16];
extern const uint8_t kChromaDcTotalZerosLen[3][4];
extern const uint8_t kChromaDcTotalZerosBits[3][4];
extern const uint8_t kRunLen[7][16];
extern const uint8_t kRunBits[7][16];
extern const uint8_t kCbpIntraToCode[48];       // cbp -> codeNum (Table 9-4 inverted)
extern const uint8_t kCbpInterToCode[48];
extern const uint8_t kChromaQp[52];
extern const uint8_t kAlpha[52];
extern const uint8_t kBeta[52];
extern const uint8_t kTc0[52][3];
extern const int kQuantMF[6][16];   // forward scale per raster position
extern const int kDequantV[6][16];  // normAdjust4x4 (flat weight: LevelScale = 16 * V)

// luma4x4BlkIdx (6.4.3: 8x8 quadrants, then 4x4 blocks within each, each in raster order) ->
// x and y of the block in 4x4 units within its macroblock
inline constexpr int kBlkX[16] = {0, 1, 0, 1, 2, 3, 2, 3, 0, 1, 0, 1, 2, 3, 2, 3};
inline constexpr int kBlkY[16] = {0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3, 2, 2, 3, 3};

// ---------------------------------------------------------------- macroblock record
// The encoder makes the first seven types; the stream reader (syntax.h) all of them.
enum MbType : uint8_t { MB_I4x4, MB_I16x16, MB_P16x16, MB_P16x8, MB_P8x16, MB_P8x8, MB_PSKIP,
                        MB_I8x8,    // I_NxN with transform_size_8x8_flag
                        MB_IPCM,
                        MB_B16x16, MB_B16x8, MB_B8x16, MB_B8x8, MB_BDIRECT /* B_Direct_16x16 */, MB_BSKIP };
enum SubType : uint8_t { SUB_8x8, SUB_8x4, SUB_4x8, SUB_4x4 };  // P sub_mb_type; B slices keep B sub_mb_type 0..12
inline bool is_intra(MbType t) { return t == MB_I4x4 || t == MB_I16x16 || t == MB_I8x8 || t == MB_IPCM; }
inline bool is_b(MbType t) { return t >= MB_B16x16; }

// Everything the syntax writer needs for one macroblock; filled by analysis (or by the stream
// reader), read by reconstruction, the syntax writers and deblocking.
struct Mb {
  MbType type = MB_PSKIP;
  uint8_t i16_mode = 0, chroma_mode = 0;
  int8_t i4_mode[16] = {};      // raster 4x4 order (I8x8: each 8x8's mode in its four 4x4 blocks)
  uint8_t sub[4] = {};          // sub_mb_type per 8x8 (P_8x8: SubType; B_8x8: B sub_mb_type 0..12)
  int8_t ref[4] = {};           // ref_idx_l0 per 8x8 (raster); -1 where list 0 is not used
  int16_t mv[16][2] = {};       // raster 4x4
  int16_t mvd[16][2] = {};      // coded mvd, raster 4x4 (every block of a partition holds it)
  uint8_t cbp = 0;              // bits 0..3 luma 8x8, bits 4..5 chroma (0, 1, 2)
  int16_t luma[16][16] = {};    // per raster 4x4 block, levels in scan order (I16: [0] unused); 8x8 transform: luma8()
  int16_t luma_dc[16] = {};     // I16x16 DC levels, scan order
  int16_t chroma_dc[2][4] = {};
  int16_t chroma_ac[2][4][16] = {};  // [0] unused
  uint8_t nz[16] = {};          // non-zero levels per raster 4x4 (I16x16: AC only; 8x8 transform: the 8x8 count in its four; I_PCM: 16)
  // Stream-reader fields (the encoder leaves them at their defaults: P slices, 4x4 transform, fixed QP)
  uint8_t pred[2] = {1, 1};     // B_16x16 / 16x8 / 8x16: per partition 1 = L0, 2 = L1, 3 = bi-predicted
  bool p8x8_ref0 = false;       // P_8x8ref0 (CAVLC mb_type 4: no ref_idx coded, all 0)
  bool t8x8 = false;            // transform_size_8x8_flag
  int8_t qp_delta = 0;          // mb_qp_delta as coded
  uint8_t qp = 0;               // QP_Y of the macroblock (reader)
  int8_t ref1[4] = {-1, -1, -1, -1};  // ref_idx_l1 per 8x8; -1 where list 1 is not used
  int16_t mv1[16][2] = {};      // list 1 motion, raster 4x4
  int16_t mvd1[16][2] = {};
};

// Resets a record to Mb() except its residual levels (luma .. chroma_ac, 2 KB): a stream reader
// clears the levels of each block it reads (where coded_block_pattern and coded_block_flag say
// the block is coded) and writers read levels only there, so clearing them for every
// macroblock (most of a record, most of the time uncoded) would be wasted.
inline void reset_except_levels(Mb& m) {
  static const Mb blank{};
  constexpr size_t lv_begin = offsetof(Mb, luma), lv_end = offsetof(Mb, nz);
  static_assert(offsetof(Mb, chroma_ac) + sizeof(Mb::chroma_ac) == lv_end, "levels must be contiguous before nz");
  std::memcpy(static_cast<void*>(&m), &blank, lv_begin);
  std::memcpy(reinterpret_cast<char*>(&m) + lv_end, reinterpret_cast<const char*>(&blank) + lv_end, sizeof(Mb) - lv_end);
}

// ---------------------------------------------------------------- transform.cpp
void fdct4(const int16_t* diff /*16, raster*/, int32_t* out);
// Transform of the residuals src - pred of two horizontally adjacent 4x4 blocks (out: 2 x 16 raster).
void fdct4x2(const uint8_t* src, int src_stride, const uint8_t* pred, int pred_stride, int32_t* out);
void idct4_add(int32_t* coef /*16 raster, dequantised*/, uint8_t* dst, int stride);
// Quantise 16 raster coefficients to scan-ordered levels; start=1 skips DC. Returns nnz.
int quant4(const int32_t* coef, int16_t* levels_scan, int qp, bool intra, int start);
// True when quant4 would return 0 (start=1 skips the DC at raster 0, as in quant4).
bool quant4_zero(const int32_t* coef, int qp, bool intra, int start);
void dequant4(const int16_t* levels_scan, int32_t* coef, int qp, int start);
int quant_dc_luma(const int32_t* dc_raster /*16*/, int16_t* levels_scan, int qp, bool intra);
void dequant_dc_luma(const int16_t* levels_scan, int32_t* dc_raster, int qp);
int quant_dc_chroma(const int32_t* dc /*4*/, int16_t* levels, int qp, bool intra);
void dequant_dc_chroma(const int16_t* levels, int32_t* dc, int qp);

// ---------------------------------------------------------------- intra.cpp
// Neighbour samples of a block: top[-1..2N-1] (top[-1] = corner), left[0..N-1].
struct IntraEdge {
  uint8_t top_buf[1 + 32];
  uint8_t left[16];
  bool has_top = false, has_left = false, has_topleft = false;  // top-right is substituted into top[4..]
  uint8_t* top() { return top_buf + 1; }
  const uint8_t* top() const { return top_buf + 1; }
};
// All nine Intra_4x4 predictions (raster 4x4 each); returns the bit set of the modes allowed.
int pred4x4_all(const IntraEdge& e, uint8_t (*pred)[16]);
bool pred16x16(int mode, const IntraEdge& e, uint8_t* dst, int stride);
bool pred_chroma(int mode, const IntraEdge& e, uint8_t* dst, int stride);  // 8x8

// ---------------------------------------------------------------- mc.cpp
// A reference picture with its half-sample planes (b: x+1/2, h: y+1/2, j: both).
struct RefPic {
  Picture pic;           // deblocked reconstruction; pic.y is the full-sample plane
  Plane hpel_h, hpel_v, hpel_c;
  std::vector<int16_t> mv;   // 4x4 motion field (co-located predictor for ME)
  std::vector<int8_t> ref;
  void build_hpel();
};
// Luma prediction of a w x h block at (x, y) with quarter-sample mv (8.4.2.2.1).
void mc_luma(const RefPic& r, int x, int y, int mvx, int mvy, int w, int h, uint8_t* dst, int dst_stride);
// Same samples as mc_luma, but returns a pointer into the reference planes when no averaging
// is needed (full and half positions), else fills buf.
const uint8_t* mc_luma_ref(const RefPic& r, int x, int y, int mvx, int mvy, int w, int h, uint8_t* buf, int buf_stride,
                           int* stride_out);
// The one or two full/half-sample blocks whose rounded average is mc_luma's prediction
// (a == b when no averaging is needed); returns their stride. Inline: the sub-sample search
// calls it for every candidate.
struct QpelSrc { int8_t plane, dx, dy; };  // plane 0 = full, 1 = b (x+1/2), 2 = h (y+1/2), 3 = j
inline constexpr QpelSrc kQpelSrc[16][2] = {
    {{0, 0, 0}, {0, 0, 0}}, {{0, 0, 0}, {1, 0, 0}}, {{1, 0, 0}, {1, 0, 0}}, {{1, 0, 0}, {0, 1, 0}},
    {{0, 0, 0}, {2, 0, 0}}, {{1, 0, 0}, {2, 0, 0}}, {{1, 0, 0}, {3, 0, 0}}, {{1, 0, 0}, {2, 1, 0}},
    {{2, 0, 0}, {2, 0, 0}}, {{2, 0, 0}, {3, 0, 0}}, {{3, 0, 0}, {3, 0, 0}}, {{3, 0, 0}, {2, 1, 0}},
    {{2, 0, 0}, {0, 0, 1}}, {{2, 0, 0}, {1, 0, 1}}, {{3, 0, 0}, {1, 0, 1}}, {{2, 1, 0}, {1, 0, 1}}};
inline int mc_luma_src(const RefPic& r, int x, int y, int mvx, int mvy, int w, int h, const uint8_t** pa,
                       const uint8_t** pb) {
  const Plane& g = r.pic.y;
  const uint8_t* base[4] = {g.data.data(), r.hpel_h.data.data(), r.hpel_v.data.data(), r.hpel_c.data.data()};
  const int st = g.stride;
  // positions wholly inside the replicated border give identical samples, so clamping is exact
  const int ix = std::min(std::max(x + (mvx >> 2), -g.pad + 3), g.width + g.pad - w - 4);
  const int iy = std::min(std::max(y + (mvy >> 2), -g.pad + 3), g.height + g.pad - h - 4);
  const ptrdiff_t off = static_cast<ptrdiff_t>(iy + g.pad) * st + ix + g.pad;
  const QpelSrc* s = kQpelSrc[(mvy & 3) * 4 + (mvx & 3)];
  *pa = base[s[0].plane] + off + s[0].dy * st + s[0].dx;
  *pb = base[s[1].plane] + off + s[1].dy * st + s[1].dx;
  return st;
}
// Chroma prediction (8.4.2.2.2) of a w x h chroma block at chroma (x, y); mv in luma quarter units.
void mc_chroma(const Plane& p, int x, int y, int mvx, int mvy, int w, int h, uint8_t* dst, int dst_stride);

// ---------------------------------------------------------------- bit writing
// RBSP bits written a code at a time through a 64-bit accumulator (the same bytes as the
// common bit-serial BitWriter; the residual of every macroblock passes through here twice).
class RbspWriter {
 public:
  void put(uint64_t value, int nbits) {  // nbits in 0..56, MSB first
    acc_ = (acc_ << nbits) | (value & ((uint64_t{1} << nbits) - 1));
    n_ += nbits;
    total_ += static_cast<uint64_t>(nbits);
    while (n_ >= 8) { n_ -= 8; buf_.push_back(static_cast<uint8_t>(acc_ >> n_)); }
  }
  int ue(uint32_t v) {  // 9.1; returns the code length
    const uint64_t x = static_cast<uint64_t>(v) + 1;
    const int len = 63 - __builtin_clzll(x);
    if (len <= 27) put(x, 2 * len + 1);  // len zeros, then x in len + 1 bits
    else { put(0, len); put(x, len + 1); }
    return 2 * len + 1;
  }
  int se(int32_t v) { return ue(v <= 0 ? static_cast<uint32_t>(-2 * static_cast<int64_t>(v)) : static_cast<uint32_t>(2 * v - 1)); }
  void trailing_bits() { put(1, 1); put(0, (8 - n_) & 7); }  // stop bit, then zero alignment
  void align_zero() { put(0, (8 - n_) & 7); }
  bool byte_aligned() const { return n_ == 0; }
  uint64_t bits() const { return total_; }
  const std::vector<uint8_t>& bytes() const { return buf_; }  // complete bytes only

 private:
  std::vector<uint8_t> buf_;
  uint64_t acc_ = 0;
  int n_ = 0;  // bits in acc_ not yet in buf_ (< 8 between calls)
  uint64_t total_ = 0;
};

// RBSP writer that charges every bit to one accounting category.
struct SyntaxWriter {
  RbspWriter bw;
  BitCounts* counts = nullptr;
  void u(uint32_t v, int n, int cat) { bw.put(v, n); (*counts)[cat] += n; }
  void ue(uint32_t v, int cat) { (*counts)[cat] += bw.ue(v); }
  void se(int32_t v, int cat) { (*counts)[cat] += bw.se(v); }
};


// ---------------------------------------------------------------- slice-data syntax (syntax.h)
enum SliceType : int { SLICE_P = 0, SLICE_B = 1, SLICE_I = 2 };  // slice_type % 5 (SP / SI are rejected)

// What slice_data() needs from the slice header and parameter sets, in both directions.
struct SliceSyntax {
  int type = SLICE_P;
  int id = 0;                   // slice number within the picture (neighbour availability, 6.4.8)
  int first_mb = 0;             // first_mb_in_slice
  int num_ref[2] = {1, 0};      // num_ref_idx_l0/l1_active_minus1 + 1 (after the override)
  int qp = 26;                  // SliceQPY = 26 + pic_init_qp_minus26 + slice_qp_delta
  bool cabac = false;           // entropy_coding_mode_flag
  int cabac_init_idc = 0;
  bool transform_8x8_mode = false;     // PPS transform_8x8_mode_flag
  bool direct_8x8_inference = true;    // SPS direct_8x8_inference_flag
  int chroma_format_idc = 1;           // 0 (4:0:0) or 1 (4:2:0)
  bool constrained_intra_pred = false; // PPS constrained_intra_pred_flag
};

// The syntax records of one picture. Neighbours are available when inside the picture and
// decoded in the same slice (slice_id equal); macroblocks are in raster order (no FMO / ASO).
struct PicSyntax {
  int mbw = 0, mbh = 0;
  std::vector<Mb> mbs;
  std::vector<int> slice_id;           // per macroblock; -1 until a slice covers it
  std::vector<uint8_t> pcm;            // 384 samples per macroblock (256 Y, 64 Cb, 64 Cr), I_PCM only
  // Sizes the picture and marks every macroblock as not yet coded. Records are not cleared:
  // whoever fills a macroblock writes its whole record.
  std::vector<uint16_t> mbx_of;        // column of each macroblock (no division per neighbour look-up)
  void reset(int w_mbs, int h_mbs) {
    if (w_mbs != mbw || static_cast<size_t>(w_mbs) * h_mbs != mbx_of.size()) {
      mbx_of.resize(static_cast<size_t>(w_mbs) * h_mbs);
      for (size_t i = 0; i < mbx_of.size(); ++i) mbx_of[i] = static_cast<uint16_t>(i % static_cast<size_t>(w_mbs));
    }
    mbw = w_mbs; mbh = h_mbs;
    mbs.resize(static_cast<size_t>(mbw) * mbh);
    slice_id.assign(mbs.size(), -1);
    pcm.resize(mbs.size() * 384);
  }
  // Address of the neighbour of mb at (dx, dy) macroblocks (dx in -1..1, dy in -1..0: -1, 0 = A;
  // 0, -1 = B; 1, -1 = C; -1, -1 = D), or -1 when not available.
  int neighbour(int mb, int dx, int dy) const {
    const int x = mbx_of[static_cast<size_t>(mb)] + dx;
    const int n = mb + dy * mbw + dx;
    if (x < 0 || x >= mbw || n < 0 || n >= mb) return -1;
    return slice_id[static_cast<size_t>(n)] == slice_id[static_cast<size_t>(mb)] ? n : -1;
  }
};

// ---------------------------------------------------------------- encoder state
// Everything one picture's analysis, writing and filtering share (no global state).
struct EncCtx {
  EncoderConfig cfg;
  int w = 0, h = 0;              // padded to whole macroblocks
  int mbw = 0, mbh = 0, w4 = 0, h4 = 0;
  int qp = 0, qpc = 0;
  bool idr = true;
  int num_ref_active = 0;
  int frame_num = 0, idr_pic_id = 0;
  int log2_max_frame_num = 8;
  int lam_fp = 0;                // lambda_motion in 16.16 fixed point (SAD/SATD units)
  Picture src, rec;
  std::vector<RefPic*> refs;     // refs[0] = most recent (ref_idx 0)
  PicSyntax pic;                 // the decision records (one slice)
  Mb i4_trial;                   // Intra4x4 candidate of a P macroblock (no per-MB construction)
  std::vector<int16_t> mv4;      // current picture 4x4 motion field (w4*h4*2)
  std::vector<int8_t> ref4;      // -1 intra
  std::vector<int8_t> i4mode4;   // Intra4x4 mode per 4x4 block, -1 when not Intra4x4
  int lambda_bits(int bits) const { return static_cast<int>((static_cast<int64_t>(lam_fp) * bits + 32768) >> 16); }
  // Motion search prices every candidate: the se(v) length of each mvd component and lambda
  // times the bits come from tables (filled by init_mv_cost; values outside fall back).
  std::vector<uint8_t> mvd_len;  // se(v) length of d at [d + mvd_half]
  int mvd_half = 0;
  unsigned mvd_len_n = 0, lam_n = 0;  // table sizes, read on every lookup
  std::vector<int> lam_of_bits;  // lambda_bits(n)
  void init_mv_cost(int max_abs_mvd);
  int mv_bits(int d) const;
  int mv_lambda_bits(int bits) const {
    return static_cast<unsigned>(bits) < lam_n ? lam_of_bits.data()[bits] : lambda_bits(bits);
  }
};

inline int mvd_bits(int d) {  // se(v) length
  const uint32_t code = d <= 0 ? static_cast<uint32_t>(-2 * d) : static_cast<uint32_t>(2 * d - 1);
  return 2 * (31 - __builtin_clz(code + 1)) + 1;
}
inline int EncCtx::mv_bits(int d) const {
  const unsigned i = static_cast<unsigned>(d + mvd_half);
  return i < mvd_len_n ? mvd_len.data()[i] : mvd_bits(d);
}
inline void EncCtx::init_mv_cost(int max_abs_mvd) {
  mvd_half = max_abs_mvd;
  mvd_len.resize(2 * static_cast<size_t>(max_abs_mvd) + 1);
  for (int d = -max_abs_mvd; d <= max_abs_mvd; ++d) mvd_len[static_cast<size_t>(d + max_abs_mvd)] = uint8_t(mvd_bits(d));
  lam_of_bits.resize(2 * (mvd_bits(max_abs_mvd) + 1) + 32);  // two components plus a ref_idx
  for (size_t n = 0; n < lam_of_bits.size(); ++n) lam_of_bits[n] = lambda_bits(static_cast<int>(n));
  mvd_len_n = static_cast<unsigned>(mvd_len.size());
  lam_n = static_cast<unsigned>(lam_of_bits.size());
}
inline int ref_bits(int ref, int num_active) {  // te(v) length
  if (num_active <= 1) return 0;
  if (num_active == 2) return 1;
  return ue_bits(static_cast<uint32_t>(ref));
}

// analyse.cpp: decide, reconstruct and record one macroblock.
void analyse_mb(EncCtx& c, int mbx, int mby);
// deblock.cpp: in-loop filter over the whole reconstructed picture.
void deblock_picture(EncCtx& c);
// headers.cpp
void write_sps(const EncCtx& c, std::vector<uint8_t>& out, BitCounts& counts);
void write_pps(const EncCtx& c, std::vector<uint8_t>& out, BitCounts& counts);
void write_slice_header(const EncCtx& c, SyntaxWriter& w);
// Wraps a finished RBSP into an Annex B NAL unit; start code, NAL header and emulation
// prevention bytes are charged to CAT_HEADER.
void emit_nal(int nal_ref_idc, int nal_type, const RbspWriter& rbsp, std::vector<uint8_t>& out, BitCounts& counts);

// me.cpp
struct MeQuery {
  const uint8_t* src; int src_stride;
  int x, y, w, h;                // block position/size in luma samples
  const RefPic* ref;
  int mvp[2];
  int ref_cost;                  // lambda * ref_idx bits
  int range;
  int max_iter;                  // hexagon steps (large blocks search far, small ones refine)
  PixelCmp sad = nullptr, satd = nullptr;  // kernels for w x h (set by the caller once per partition)
  PixelCmpAvg satd_avg = nullptr;
};
// Integer-sample predictive search (candidates, hexagon, square) on SAD + lambda * (mvd bits)
// + ref_cost; returns that cost and the best mv (quarter-sample units).
int motion_search_int(const EncCtx& c, const MeQuery& q, const int (*cand)[2], int ncand, int mv_out[2]);
// Half- then quarter-sample refinement of mv on SATD; returns SATD + lambda * (mvd bits) + ref_cost.
int motion_refine(const EncCtx& c, const MeQuery& q, int mv[2]);

}  // namespace h264
}  // namespace mvc
