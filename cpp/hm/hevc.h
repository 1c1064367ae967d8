// Shared declarations of the HEVC encoder (ITU-T H.265, Main profile, low-delay P).
// Each stage lives in the file named as the standard names it: cabac, headers, syntax,
// analyse, me, mc, mvpred, intra, transform, deblock, sao; hevc_encoder.cpp runs the picture loop.
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "common/accounting.h"
#include "common/bitstream.h"
#include "common/cabac.h"
#include "common/encoder.h"
#include "common/picture.h"

namespace mvc {
namespace hevc {

struct Mv {
  int16_t x = 0, y = 0;
  bool operator==(const Mv& o) const { return x == o.x && y == o.y; }
  bool operator!=(const Mv& o) const { return !(*this == o); }
};

struct MvField {  // one list (P slices use L0 only); ref < 0: no motion (intra / unavailable)
  Mv mv;
  int8_t ref = -1;
  bool operator==(const MvField& o) const { return ref == o.ref && mv == o.mv; }
};

enum PredMode : uint8_t { MODE_INTER = 0, MODE_INTRA = 1, MODE_SKIP = 2 };
enum PartMode : uint8_t { PART_2Nx2N = 0, PART_2NxN = 1, PART_Nx2N = 2, PART_NxN = 3,
                          PART_2NxnU = 4, PART_2NxnD = 5, PART_nLx2N = 6, PART_nRx2N = 7 };  // AMP: the reader

// Per 4x4 luma unit record filled by the decisions; the syntax writer, deblocking and the
// motion-field export read it.
struct Blk {
  MvField mvf;
  Mv mvd;
  uint8_t pred = MODE_INTRA;
  uint8_t part = PART_2Nx2N;
  uint8_t cu_log2 = 3;
  uint8_t depth = 0;      // coding-quadtree depth of the CU
  uint8_t merge = 0, merge_idx = 0, mvp_idx = 0;
  uint8_t intra_luma = 1, intra_chroma = 1, chroma_syntax = 4;
  uint8_t tu_depth = 0;   // transform-tree depth of the luma TB covering this unit
  uint8_t cbf = 0;        // bit0 luma TB, bit1 Cb TB, bit2 Cr TB (of the TBs covering this unit)
  uint8_t edge = 0;       // bit0 TU edge on the left, bit1 PU edge left, bit2 TU edge top, bit3 PU edge top
  uint8_t root_cbf = 0;   // rqt_root_cbf of the CU (inter CUs)
};

struct Seq {
  EncoderConfig cfg;
  int vis_w = 0, vis_h = 0, W = 0, H = 0;  // visible and coded (multiple of the min CU) sizes
  int ctu_log2 = 4, ctu = 16, min_cb_log2 = 3, max_tb_log2 = 4, min_tb_log2 = 2;
  int max_tr_depth_inter = 1, max_tr_depth_intra = 1;
  int ctu_cols = 0, ctu_rows = 0, w4 = 0, h4 = 0;
  int qp = 30, qpc = 29;
  std::vector<uint32_t> zs;  // MinTbAddrZs per 4x4 unit (6.5.2)
  uint32_t zaddr(int x, int y) const { return zs[(y >> 2) * w4 + (x >> 2)]; }
  bool inside(int x, int y) const { return x >= 0 && y >= 0 && x < W && y < H; }
  // 6.4.1: is (xn, yn) available for the block at (xc, yc) in z-scan order?
  // (The reader marks the units of the slices before the current one with addresses above all
  // others, so this also says "in the same slice".)
  bool zavail(int xc, int yc, int xn, int yn) const { return inside(xn, yn) && zaddr(xn, yn) < zaddr(xc, yc); }
};

int chroma_qp(int qpy);  // Table 8-10 for ChromaArrayType 1

// Reference picture kept in the DPB: final (loop-filtered) samples and its motion field for TMVP.
struct RefPic {
  Picture rec;
  // Luma at the half-sample phases (index fy * 4 + fx: 2, 8 and 10), exact 8-tap output. The
  // quarter phases are interpolated per block where exact samples are needed (12 more planes of
  // 2.6 MB each at 1080p cost more in memory traffic than they save) and estimated otherwise.
  Plane sub[16];
  int sub_margin = 0;          // sub planes are valid this far outside the picture
  bool has_sub = false;        // not built for very large pictures (memory), MC interpolates then
  // Luma prediction of a block: a pointer into the integer or half-phase plane, or nullptr for a
  // quarter phase or out of range.
  const uint8_t* qpel(int x, int y, int w, int h, Mv mv, int& stride) const {
    const int xi = x + (mv.x >> 2), yi = y + (mv.y >> 2), ph = (mv.y & 3) * 4 + (mv.x & 3);
    if ((ph & 5) || !has_sub || xi < -sub_margin || yi < -sub_margin || xi + w > rec.y.width + sub_margin ||
        yi + h > rec.y.height + sub_margin)
      return nullptr;
    const Plane& p = ph ? sub[ph] : rec.y;
    stride = p.stride;
    return p.at(xi, yi);
  }
  int poc = 0;
  std::vector<MvField> mvf;   // per 4x4
  std::vector<int> ref_pocs;  // POC of each of its L0 references
  std::vector<MvField> mvf1;  // the reader's B pictures: list-1 motion per 4x4 (empty otherwise)
  std::vector<int> ref_pocs1; // and the POCs of its L1 references
};

// The reader's B-slice records beside Blk (whose mvf, mvd, mvp_idx are list 0's): list 1 and the
// prediction direction of the PU covering the 4x4 unit. Empty in the encoder (P only).
struct BlkB {
  MvField mvf1;
  Mv mvd1;
  uint8_t dir = 1;  // inter_pred_idc + 1: 1 PRED_L0, 2 PRED_L1, 3 PRED_BI
  uint8_t mvp1 = 0;
};

// The picture being coded.
struct Frame {
  const Seq* seq = nullptr;
  int poc = 0;
  bool is_p = false, tmvp = false;  // is_p: an inter (P or B) slice
  bool is_b = false, mvd_l1_zero = false;  // the reader's B slices (the encoder codes P only)
  std::vector<const RefPic*> refs;  // RefPicList0
  std::vector<const RefPic*> refs1; // RefPicList1 (B slices)
  std::vector<BlkB> bb;             // per 4x4 beside blk (B slices only)
  // The reader's per-4x4 flags (empty in the encoder): bit0..2 transform_skip_flag of the luma /
  // Cb / Cr TB whose owner is this unit, bit3 cu_transquant_bypass_flag of the CU.
  std::vector<uint8_t> tq;
  std::vector<int8_t> dqp;          // the reader's CuQpDeltaVal at the TU that codes it (per 4x4)
  Picture src, rec;
  std::vector<Blk> blk;
  std::vector<int16_t> coef[3];     // quantised levels at TB positions (luma / chroma sample grids)
  Picture sao_tmp;                  // SAO's copy of the deblocked picture
  Blk& b(int x, int y) { return blk[(y >> 2) * seq->w4 + (x >> 2)]; }
  const Blk& b(int x, int y) const { return blk[(y >> 2) * seq->w4 + (x >> 2)]; }
  int16_t* cf(int c, int x, int y) { const int s = c ? seq->W / 2 : seq->W; return coef[c].data() + y * s + x; }
  const int16_t* cf(int c, int x, int y) const { const int s = c ? seq->W / 2 : seq->W; return coef[c].data() + y * s + x; }
  int cstride(int c) const { return c ? seq->W / 2 : seq->W; }
};

// ---------------------------------------------------------------- cabac.cpp
enum CtxBase : int {
  CTX_SAO_MERGE = 0, CTX_SAO_TYPE = 1, CTX_SPLIT_CU = 2, CTX_SKIP = 5, CTX_PRED_MODE = 8,
  CTX_PART_MODE = 9, CTX_PREV_INTRA = 13, CTX_CHROMA_MODE = 14, CTX_RQT_ROOT = 15,
  CTX_MERGE_FLAG = 16, CTX_MERGE_IDX = 17, CTX_REF_IDX = 18, CTX_MVP = 20, CTX_SPLIT_TF = 21,
  CTX_CBF_LUMA = 24, CTX_CBF_CHROMA = 26, CTX_MVD_G0 = 30, CTX_MVD_G1 = 31, CTX_LAST_X = 32,
  CTX_LAST_Y = 50, CTX_CSBF = 68, CTX_SIG = 72, CTX_G1 = 114, CTX_G2 = 138, CTX_INTER_DIR = 144,
  CTX_TSKIP = 149, CTX_TQ_BYPASS = 151, CTX_DQP = 152, NUM_CTX = 154
};

struct CtxSet {
  uint8_t s[NUM_CTX];  // (pStateIdx << 1) | valMps
  void init(bool p_slice, int qp);
  void init_type(int init_type, int qp);  // 9.3.2.2 initType 0 (I), 1 (P / B with cabac_init_flag), 2 (B / P with it)
};

// Per context state byte (pStateIdx << 1 | valMps) and bin value: the next state and the bin's
// estimated cost in bits (-log2 of its probability).
struct CabacTables {
  uint8_t next[128][2];
  double cost[128][2];
  uint32_t qcost[128][2];  // cost in 1/65536 bit, for the estimator's integer sums
  CabacTables();
};
constexpr double kQBit = 65536.0;
extern const CabacTables kCabacTab;

// Arithmetic encoder (9.3.4.3 encoding flow, common/cabac.h) that also charges each bin's estimated cost
// (-log2 p before update) to a bit category. In estimate mode it only accumulates cost.
class Cabac {
 public:
  CtxSet ctx;
  explicit Cabac(bool estimate = false) : est_(estimate) {}
  void start();  // 9.3.2.5 initialisation of the arithmetic encoder
  void bin(int ci, int b, int cat) {
    if (est_) {  // estimation (the analyser's hot path): cost and state update only
      uint8_t& s = ctx.s[ci];
      qcost_ += kCabacTab.qcost[s][b];
      s = kCabacTab.next[s][b];
      return;
    }
    encode_bin(ci, b, cat);  // out of line: keeps bin() small enough to inline in the estimators
  }
  void bypass(int b, int cat) {
    if (est_) { qcost_ += uint64_t(kQBit); return; }
    encode_bypass(b, cat);
  }
  void bypass_bits(uint32_t v, int n, int cat) {
    if (est_) { qcost_ += uint64_t(kQBit) * n; return; }
    encode_bypass_bits(v, n, cat);
  }
  void terminate(int b, int cat);
  void flush_to(BitWriter& out);  // EncodeFlush then append the arithmetic code word bits
  // Bits so far: estimated (estimation mode: integer sum in 1/65536 bit) or charged by the encoder.
  double cost() const { return est_ ? double(qcost_) / kQBit : cost_; }
  bool estimating() const { return est_; }
  void add_estimate(uint64_t q) { qcost_ += q; }  // estimation mode: bins priced elsewhere, in 1/65536 bit
  void reset_cost() { cost_ = 0; qcost_ = 0; }
  BitCounts cat_bits{};
  static double bin_cost(uint8_t state, int b) { return kCabacTab.cost[state][b]; }

 private:
  void encode_bin(int ci, int b, int cat);
  void encode_bypass(int b, int cat);
  void encode_bypass_bits(uint32_t v, int n, int cat);
  bool est_;
  double cost_ = 0;
  uint64_t qcost_ = 0;
  cabac::Encoder eng_;  // the arithmetic code word so far
};

// ---------------------------------------------------------------- headers.cpp
void write_vps(std::vector<uint8_t>& out, const Seq& s);
void write_sps(std::vector<uint8_t>& out, const Seq& s);
void write_pps(std::vector<uint8_t>& out, const Seq& s);
// Slice segment header into an RBSP writer (NAL header written by the caller).
void write_slice_header(BitWriter& bw, const Seq& s, const Frame& f, bool idr, bool sao_luma, bool sao_chroma);

// ---------------------------------------------------------------- transform.cpp
void forward_transform(const int16_t* res, int rs, int32_t* coef, int log2n, bool dst);
void inverse_transform(const int32_t* coef, int16_t* res, int log2n, bool dst);
// Rate-distortion optimised quantisation: the context states rates are estimated from, the
// lambda a bit costs in the TB's own distortion units (lambda / chroma weight) and the component.
struct Rdoq {
  const CtxSet* ctx;
  double lambda;
  int comp;
};
// Quantises with the dead-zone rounding offset, then (rdoq set, some level nonzero) re-chooses the
// levels by D + lambda * R (rdoq.cpp), then applies sign data hiding (parity fix per 4x4
// sub-block along scan_idx's order). Returns the number of nonzero levels.
int quantize(const int32_t* coef, int16_t* level, int log2n, int qp, bool intra, int scan_idx,
             const Rdoq* rdoq = nullptr);
// rdoq.cpp: the dead-zone levels of a TB (raster, signed) re-chosen from its coefficients, up to
// their last one in scan order; to_level the coefficient-to-level factor, qstep one level in
// orthonormal transform units. Returns the number of nonzero levels.
int rdoq_levels(const int32_t* coef, int16_t* level, int log2n, int scan_idx, double to_level, double qstep,
                const Rdoq& r);
void dequantize(const int16_t* level, int ls, int32_t* coef, int log2n, int qp);

// ---------------------------------------------------------------- intra.cpp
// Predicts an nTbS block of component c at (x, y) (component sample coordinates) with mode,
// from f.rec, writing into f.rec (prediction only).
void intra_predict(Frame& f, int c, int x, int y, int log2n, int mode, uint8_t* dst, int ds);
struct IntraRefs {  // neighbouring samples of one TB, unfiltered ([0]) and [1 2 1]/strong filtered ([1])
  // top[k][1 + x] = p[x][-1], left[k][1 + y] = p[-1][y] for x, y < 2n, [0] = p[-1][-1]: 16-bit
  // lines that the angular rows read directly, zero past 2n (read there with weight 0).
  int16_t top[2][2 * 32 + 1 + 8], left[2][2 * 32 + 1 + 8];
  int n = 4, log2n = 2, c = 0;
};
void intra_refs(const Frame& f, int c, int x, int y, int log2n, IntraRefs& r);
void intra_pred_mode(const IntraRefs& r, int mode, uint8_t* dst, int ds);

// ---------------------------------------------------------------- mc.cpp
// Uni-prediction of a w x h block at luma (x, y) with quarter-pel mv (8.5.3.3.3), all planes.
void mc_luma(const Plane& ref, int x, int y, int w, int h, Mv mv, uint8_t* dst, int ds);
void mc_chroma(const Plane& u, const Plane& v, int xc, int yc, int w, int h, Mv mv, uint8_t* du, int dsu, uint8_t* dv, int dsv);
constexpr int kHalfPhases[3] = {2, 8, 10};  // (fx, fy) = (2, 0), (0, 2), (2, 2)
void build_subpel_planes(const Plane& ref, Plane* sub, int margin);  // the kHalfPhases planes of RefPic::sub
// Luma prediction from the half-phase planes (or interpolated into buf, stride 64, for a quarter
// phase or out of range); inline: the analyser asks for thousands per picture.
inline const uint8_t* predict_luma(const RefPic& r, int x, int y, int w, int h, Mv mv, uint8_t* buf, int& stride) {
  if (const uint8_t* p = r.qpel(x, y, w, h, mv, stride)) return p;
  mc_luma(r.rec.y, x, y, w, h, mv, buf, 64);
  stride = 64;
  return buf;
}
const uint8_t* predict_luma_quarter_est(const RefPic& r, int x, int y, int w, int h, Mv mv, uint8_t* buf, int& stride);
// The luma prediction the decisions compare (motion search, merge ranking): exact at integer and
// half phases; a quarter phase is estimated as the rounded average of its two nearest integer or
// half samples (H.264's rule), two plane reads instead of an 8-tap pass. Boxing, QP 30: +0.2% rate,
// -0.02 dB against exact quarter samples. Coded predictions always use predict_luma.
inline const uint8_t* predict_luma_est(const RefPic& r, int x, int y, int w, int h, Mv mv, uint8_t* buf, int& stride) {
  if (!(mv.x & 1) && !(mv.y & 1)) return predict_luma(r, x, y, w, h, mv, buf, stride);
  return predict_luma_quarter_est(r, x, y, w, h, mv, buf, stride);
}

// ---------------------------------------------------------------- mvpred.cpp
struct PuGeom {
  int xCb, yCb, nCbS, xPb, yPb, w, h, partIdx, part;
};
// The prediction blocks of an inter CU of size n at (x0, y0) with partition mode part (Table 7-10):
// out[k] = {x, y, w, h}; returns their number (NxN: 4).
inline int pu_rects(int part, int x0, int y0, int n, int out[4][4]) {
  const int h = n >> 1, q = n >> 2;
  auto set = [&](int k, int x, int y, int w, int hh) { out[k][0] = x; out[k][1] = y; out[k][2] = w; out[k][3] = hh; };
  switch (part) {
    case PART_2NxN: set(0, x0, y0, n, h); set(1, x0, y0 + h, n, h); return 2;
    case PART_Nx2N: set(0, x0, y0, h, n); set(1, x0 + h, y0, h, n); return 2;
    case PART_NxN: set(0, x0, y0, h, h); set(1, x0 + h, y0, h, h); set(2, x0, y0 + h, h, h); set(3, x0 + h, y0 + h, h, h); return 4;
    case PART_2NxnU: set(0, x0, y0, n, q); set(1, x0, y0 + q, n, n - q); return 2;
    case PART_2NxnD: set(0, x0, y0, n, n - q); set(1, x0, y0 + n - q, n, q); return 2;
    case PART_nLx2N: set(0, x0, y0, q, n); set(1, x0 + q, y0, n - q, n); return 2;
    case PART_nRx2N: set(0, x0, y0, n - q, n); set(1, x0 + n - q, y0, q, n); return 2;
    default: set(0, x0, y0, n, n); return 1;
  }
}
// 6.4.2 availability of the prediction block covering (xn, yn) for block g, and not intra.
bool avail_pb(const Frame& f, const PuGeom& g, int xn, int yn);
// A vector scaled by the POC distances tb / td (8.5.3.2.8, clipped as the standard says).
Mv scale_mv(Mv mv, int td, int tb);
// 8.5.3.2.2 merge candidate list (MaxNumMergeCand = 5), P slice.
void merge_candidates(const Frame& f, const PuGeom& g, MvField out[5]);
// 8.5.3.2.6 AMVP list for ref_idx.
void amvp_candidates(const Frame& f, const PuGeom& g, int ref_idx, Mv out[2]);

// ---------------------------------------------------------------- syntax.cpp
struct SliceCtx {
  const Seq* seq;
  Frame* f;
  bool cropped;  // texture off for P pictures
  bool sao_luma, sao_chroma;
  bool skip_residual = false;  // estimation only: residual_coding() priced by the caller
  bool crop_intra_pictures = false;  // cropped also switches texture off in I pictures (the reader's drop="I")
  int max_merge = 5;                 // MaxNumMergeCand (the encoder uses 5)
  bool amp = false;                  // amp_enabled_flag (the reader's streams)
  int slice_addr = 0;                // SliceAddrRs (SAO merge candidates stay in the slice)
  bool sign_hiding = true;           // sign_data_hiding_enabled_flag
  int sao_max[2] = {7, 7};           // SAO offset cMax, luma / chroma: (1 << (Min(bitDepth, 10) - 5)) - 1
  bool transform_skip = false, transquant_bypass = false;  // the PPS flags (Frame::tq holds the values)
  bool cu_qp_delta = false;          // cu_qp_delta_enabled_flag (Frame::dqp holds the values)
  int log2_min_dqp = 6;              // Log2MinCuQpDeltaSize
};
struct SaoParam {
  uint8_t type[3] = {0, 0, 0};  // 0 off, 1 band, 2 edge
  uint8_t eo_class[3] = {0, 0, 0};
  uint8_t band_pos[3] = {0, 0, 0};
  int8_t offset[3][4] = {{0}};
  uint8_t merge_left = 0, merge_up = 0;
};
void write_sao(Cabac& c, const SliceCtx& sc, const SaoParam& p, int rx, int ry);
void write_coding_quadtree(Cabac& c, const SliceCtx& sc, int x0, int y0, int log2, int depth);
void write_coding_unit(Cabac& c, const SliceCtx& sc, int x0, int y0, int log2);
int intra_mpm(const Frame& f, int x, int y, int cand[3]);
int scan_idx_for(int intra_mode, int log2, int comp);  // 7.4.9.11 scanIdx (intra_mode < 0: inter)
void scan_order(int scan_idx, int log2n, uint16_t* raster_index);  // forward scan of a whole TB
const uint16_t* cached_scan(int scan_idx, int log2n);  // scan_order(), computed once (transform.cpp)
// Estimated bits of residual_coding() for one TB from the given context states.
double residual_bits(const CtxSet& ctx, const int16_t* cf, int stride, int log2, int comp, int scan_idx);
// Scan index (sub-block * 16 + position) of the last nonzero level of an n x n TB, -1 if none.
int last_nonzero_in_scan(const int16_t* level, int log2, int scan_idx);
// Bypass bins of coeff_abs_level_remaining with value rem and Rice parameter rice, and the Rice
// parameter after a level of magnitude abs_level whose remainder was coded (9.3.3.11).
int abs_level_remaining_bits(int rem, int rice);
inline int next_rice(int rice, int abs_level) { return abs_level > 3 * (1 << rice) ? std::min(rice + 1, 4) : rice; }
// sig_coeff_flag contexts (offsets from CTX_SIG) of one sub-block's 16 scan positions
const uint8_t* sig_ctx_row(int log2, int comp, int scan_idx, bool first_sb, int prev_csbf);
// Estimated bits of one last_sig_coeff coordinate (prefix bins from ctx, bypass suffix);
// base CTX_LAST_X or CTX_LAST_Y, pos the coordinate as coded (swapped for the vertical scan).
double last_coord_bits(const CtxSet& ctx, int base, int pos, int log2, int comp);

// ---------------------------------------------------------------- analyse.cpp
void analyse_picture(Frame& f, const EncoderConfig& cfg);

// ---------------------------------------------------------------- deblock.cpp / sao.cpp
void deblock_picture(Frame& f);
void sao_decide_and_apply(Frame& f, std::vector<SaoParam>& params, double lambda);

}  // namespace hevc
}  // namespace mvc
