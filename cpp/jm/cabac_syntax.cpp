// CABAC slice_data() of H.264 (7.3.4, 7.3.5, 9.3) in both directions. Every syntax element's
// binarisation (9.3.2) and context selection (9.3.3.1) is written once, as a template over the
// direction Io: Io::bin / bypass / term code a bin's value when writing and set it when
// reading, so `int b = Io::kRead ? 0 : <value>; io.bin(ctx, b, cat);` followed by code that
// branches on b serves both. Frame (non-MBAFF) slices, ChromaArrayType 0 or 1.
//
// The state the context selection reads from neighbours (skip, I_PCM, coded_block_pattern,
// coded_block_flags, ref_idx > 0, mvd, chroma prediction mode, transform size) is what this
// pass itself codes, kept per macroblock in CState: the texture-off writer codes other
// values than the records hold.
#include <algorithm>
#include <cstdlib>
#include <vector>

#include "jm/cabac.h"

namespace mvc {
namespace h264 {

namespace {

// ---------------------------------------------------------------- per-macroblock coded state
struct CState {
  bool skip = false, pcm = false, intra = false;
  bool inxn = false;      // I_NxN (mb_type ctxIdxInc, offset 3)
  bool bdirect = false;   // B_Skip or B_Direct_16x16 (mb_type ctxIdxInc, offset 27)
  bool t8 = false;        // transform_size_8x8_flag as coded (0 when absent)
  uint8_t cbp = 0;        // CodedBlockPatternLuma | CodedBlockPatternChroma << 4 as coded
  uint8_t chroma_mode = 0;
  uint16_t cbf_luma = 0;  // coded_block_flag per raster 4x4 (an 8x8 block sets its four)
  uint8_t cbf_dc = 0;     // bit 0 Intra16x16 DC, bit 1 Cb DC, bit 2 Cr DC
  uint8_t cbf_ac[2] = {}; // chroma AC per 2x2 raster block
  uint8_t ref_gt0[2] = {};  // bit per 8x8: ref_idx_lX coded and > 0
  int16_t mvd[2][16][2] = {};
};

// ---------------------------------------------------------------- the two directions
struct IoBase {
  uint8_t ctx[kNumCtx];
  BitCounts* counts = nullptr;
  double charged = 0;  // bits charged to bins in the current arithmetic-code segment
  void charge(int cat, double b) {
    (*counts)[cat] += b;
    charged += b;
  }
};

class Writer : public IoBase {
 public:
  static constexpr bool kRead = false;
  int mb = -1;
  uint64_t bins = 0;  // bins coded (BinCountsInNALunits, 7.4.2.10)
  void bin(int ci, int& b, int cat) {
    const uint32_t r = eng_.range();
    ++bins;
    charge(cat, cabac::bin_bits(r, eng_.decision(ctx[ci], b)));
  }
  void bypass(int& b, int cat) {
    ++bins;
    eng_.bypass(b);
    charge(cat, 1.0);
  }
  // A terminate bin: 0 costs log2(range / (range - 2)); 1 flushes, and the segment's bits not
  // charged to its bins (the flush, the final bin) go to CAT_END.
  void term(int& b, int cat) {
    const uint32_t r = eng_.range();
    ++bins;
    eng_.terminate(b);
    if (b) (*counts)[CAT_END] += static_cast<double>(eng_.out().bits() - seg_start_) - charged;
    else charge(cat, cabac::bin_bits(r, r - 2));
  }
  void start_segment() {  // 9.3.4.1
    eng_.start();
    seg_start_ = eng_.out().bits();
    charged = 0;
  }
  void raw(int& v, int n, int cat) {
    eng_.out().put(static_cast<uint32_t>(v), n);
    (*counts)[cat] += n;
  }
  void align_zero(int cat) {
    const int n = (8 - eng_.out().pending_bits()) & 7;
    eng_.out().put(0, n);
    (*counts)[cat] += n;
  }
  [[noreturn]] void fail(const char* what) const { throw ParseError(std::string("CABAC writer: ") + what, mb); }
  const BitWriter& out() const { return eng_.out(); }

 private:
  cabac::Encoder eng_;
  uint64_t seg_start_ = 0;
};

class Reader : public IoBase {
 public:
  static constexpr bool kRead = true;
  explicit Reader(BitReader& br) : br_(br) {}
  void bin(int ci, int& b, int cat) {
    const uint32_t r = dec_.range();
    charge(cat, cabac::bin_bits(r, dec_.decision(ctx[ci], b)));
  }
  void bypass(int& b, int cat) {
    b = dec_.bypass();
    charge(cat, 1.0);
  }
  void term(int& b, int cat) {
    const uint32_t r = dec_.range();
    b = dec_.terminate();
    if (b) (*counts)[CAT_END] += static_cast<double>(br_.pos() - seg_start_) - charged;
    else charge(cat, cabac::bin_bits(r, r - 2));
  }
  void start_segment() {  // 9.3.1.2
    seg_start_ = br_.pos();
    charged = 0;
    dec_.start(br_);
  }
  void raw(int& v, int n, int cat) {
    v = static_cast<int>(br_.u(n));
    (*counts)[cat] += n;
  }
  // pcm_alignment_zero_bits. Not required to be 0: encoders that end their flush on a byte
  // boundary (x264 does, at the end of a slice too) leave bits of their code word here, and
  // decoders take the samples from the next byte boundary.
  void align_zero(int cat) {
    const int n = static_cast<int>((8 - (br_.pos() & 7)) & 7);
    br_.skip(static_cast<size_t>(n));
    (*counts)[cat] += n;
  }
  [[noreturn]] void fail(const char* what) const { br_.fail(std::string("CABAC: ") + what); }

 private:
  BitReader& br_;
  cabac::Decoder<BitReader> dec_;
  size_t seg_start_ = 0;
};

// ---------------------------------------------------------------- binarisations (9.3.2)
// Truncated unary (cMax = cmax) with the context of bin k from ctx_of(k). Callers of the
// unbounded unary code pass their limit as cmax and reject a value that reaches it.
template <class Io, class F>
void tu(Io& io, int& v, int cmax, F ctx_of, int cat) {
  int k = 0;
  for (; k < cmax; ++k) {
    int b = Io::kRead ? 0 : (k < v);
    io.bin(ctx_of(k), b, cat);
    if (!b) break;
  }
  if (Io::kRead) v = k;
}

// k-th order Exp-Golomb in bypass bins (9.3.2.3), value v >= 0.
template <class Io>
void eg_bypass(Io& io, int& v, int k, int cat) {
  int x = Io::kRead ? 0 : v;
  int acc = 0;
  for (;;) {
    int b = Io::kRead ? 0 : (x >= (1 << k));
    io.bypass(b, cat);
    if (!b) break;
    if (Io::kRead) acc += 1 << k;
    else x -= 1 << k;
    if (++k > 20) io.fail("Exp-Golomb suffix too long");
  }
  int r = 0;
  for (int i = k - 1; i >= 0; --i) {
    int b = Io::kRead ? 0 : (x >> i) & 1;
    io.bypass(b, cat);
    r = (r << 1) | b;
  }
  if (Io::kRead) v = acc + r;
}

// UEGk with signedValFlag = 1 and uCoff = 9, k = 3 (mvd) -- the prefix contexts from ctx_of.
template <class Io, class F>
void ueg3_signed(Io& io, int& v, F ctx_of, int cat) {
  int a = Io::kRead ? 0 : std::abs(v);
  int pre = a < 9 ? a : 9;
  tu(io, pre, 9, ctx_of, cat);
  int suf = a - 9;
  if (pre >= 9) eg_bypass(io, suf, 3, cat);
  if (Io::kRead) a = pre < 9 ? pre : 9 + suf;
  int sg = Io::kRead ? 0 : (v < 0);
  if (a) io.bypass(sg, cat);
  if (Io::kRead) {
    if (a > 32768 || (a == 32768 && !sg)) io.fail("mvd out of range");
    v = sg ? -a : a;
  }
}

// ---------------------------------------------------------------- tables
// Partitions of B mb_type 4..21 (Table 7-14): prediction of the two partitions (1 = L0, 2 = L1, 3 = Bi).
constexpr uint8_t kBPairs[9][2] = {{1, 1}, {2, 2}, {1, 2}, {2, 1}, {1, 3}, {2, 3}, {3, 1}, {3, 2}, {3, 3}};
// B sub_mb_type (Table 7-18): prediction (0 = direct) and shape (0 8x8, 1 8x4, 2 4x8, 3 4x4).
constexpr uint8_t kBSubPred[13] = {0, 1, 2, 3, 1, 1, 2, 2, 3, 3, 1, 2, 3};
constexpr uint8_t kBSubShape[13] = {0, 0, 0, 0, 1, 2, 1, 2, 1, 2, 3, 3, 3};
constexpr int kShapeW[4] = {2, 2, 1, 1}, kShapeH[4] = {2, 1, 2, 1};  // in 4x4 blocks
// luma4x4BlkIdx -> position in 4x4 blocks
// ctxBlockCatOffset (Table 9-40) per ctxBlockCat 0..4
constexpr int kCbfCatOff[5] = {0, 4, 8, 12, 16};
constexpr int kSigCatOff[5] = {0, 15, 29, 44, 47};
constexpr int kAbsCatOff[5] = {0, 10, 20, 30, 39};
// Table 9-43: ctxIdxInc of significant_coeff_flag (frame coded) and last_significant_coeff_flag
// for ctxBlockCat 5, by levelListIdx.
constexpr uint8_t kSig8Frame[63] = {
    0,  1,  2,  3,  4,  5,  5,  4,  4,  3,  3,  4,  4,  4,  5,  5,  4,  4,  4,  4,  3,
    3,  6,  7,  7,  7,  8,  9,  10, 9,  8,  7,  7,  6,  11, 12, 13, 11, 6,  7,  8,  9,
    14, 10, 9,  8,  6,  11, 12, 13, 11, 6,  9,  14, 10, 9,  11, 12, 13, 11, 14, 10, 12};
constexpr uint8_t kLast8[63] = {
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    3, 3, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7, 8, 8, 8};

inline bool uses(int pred, int list) { return (pred >> list) & 1; }
inline int8_t* ref_list(Mb& m, int list) { return list ? m.ref1 : m.ref; }

// ---------------------------------------------------------------- slice_data()
template <class Io>
class Slice {
 public:
  Slice(Io& io, const SliceSyntax& s, const PicSyntax& pic, std::vector<CState>& st)
      : io_(io), s_(s), pic_(pic), st_(st) {}

  // Codes macroblock mb (record m, coded state c); pcm: its 384 samples.
  void macroblock(int mb, Mb& m, uint8_t* pcm);
  // mb_skip_flag (P / B slices); returns it.
  int skip_flag(int mb, const Mb& m) {
    const int a = pic_.neighbour(mb, -1, 0), b = pic_.neighbour(mb, 0, -1);
    const int inc = (a >= 0 && !st(a).skip) + (b >= 0 && !st(b).skip);
    int f = Io::kRead ? 0 : (m.type == MB_PSKIP || m.type == MB_BSKIP);
    io_.bin((s_.type == SLICE_B ? CTX_SKIP_B : CTX_SKIP_P) + inc, f, CAT_SKIP);
    return f;
  }
  void skipped(int mb, Mb& m) {
    CState& c = st(mb);
    c = CState();
    c.skip = true;
    c.bdirect = s_.type == SLICE_B;
    if (Io::kRead) {
      m.type = s_.type == SLICE_B ? MB_BSKIP : MB_PSKIP;
      for (int k = 0; k < 4; ++k) m.ref[k] = m.ref1[k] = -1;
      m.qp = static_cast<uint8_t>(qp_);
      m.qp_delta = 0;
    }
    prev_qpd_nz_ = false;
  }
  void start(int qp) {
    qp_ = qp;
    prev_qpd_nz_ = false;
  }
  int qp() const { return qp_; }
  bool texture_off = false;

 private:
  CState& st(int mb) { return st_[static_cast<size_t>(mb)]; }
  void mb_type_i(int& v, int off, bool prefixed, int mb);
  void mb_type_p(int& v, int mb);
  void mb_type_b(int& v, int mb);
  void sub_mb_type(int& v);
  void ref_idx(int mb, int list, int x, int y, int& v);
  void mvd(int mb, int list, int x, int y, int w, int h, Mb& m);
  void intra_modes(int mb, Mb& m, bool t8);
  void coded_block_pattern(int mb, int& cbp);
  void qp_delta(int& v);
  int residual_block(int cat, int16_t* lev, int n, int cbf_inc, int bitcat);
  int cbf_cond(int nmb, bool cur_intra, int what, int blk) {  // condTermFlagN of coded_block_flag
    if (nmb < 0) return cur_intra ? 1 : 0;
    const CState& n = st(nmb);
    if (n.pcm) return 1;
    switch (what) {
      case 0: return n.cbf_dc & 1;
      case 1: return (n.cbf_luma >> blk) & 1;
      case 2: return (n.cbf_dc >> (1 + blk)) & 1;  // blk = iCbCr
      default: return 0;
    }
  }
  void residual(int mb, Mb& m, CState& c);

  Io& io_;
  const SliceSyntax& s_;
  const PicSyntax& pic_;
  std::vector<CState>& st_;
  int qp_ = 0;
  bool prev_qpd_nz_ = false;
};

// mb_type of I slices (prefixed = false, offset 3, Table 9-36) or the intra suffix of P / B
// slices (prefixed = true, offset 17 / 32): v in 0..25 (Table 7-11).
template <class Io>
void Slice<Io>::mb_type_i(int& v, int off, bool prefixed, int mb) {
  int inc = 0;
  if (!prefixed) {
    const int a = pic_.neighbour(mb, -1, 0), b = pic_.neighbour(mb, 0, -1);
    inc = (a >= 0 && !st(a).inxn) + (b >= 0 && !st(b).inxn);
  }
  int b0 = Io::kRead ? 0 : (v != 0);
  io_.bin(off + inc, b0, CAT_MB_TYPE);
  if (!b0) { v = 0; return; }
  int pcm = Io::kRead ? 0 : (v == 25);
  io_.term(pcm, CAT_MB_TYPE);
  if (pcm) { v = 25; return; }
  const int w = v - 1;
  int luma = Io::kRead ? 0 : (w >= 12), cnz = Io::kRead ? 0 : ((w >> 2) % 3 != 0);
  io_.bin(off + (prefixed ? 1 : 3), luma, CAT_MB_TYPE);
  io_.bin(off + (prefixed ? 2 : 4), cnz, CAT_MB_TYPE);
  int chroma = cnz;
  if (cnz) {
    int c2 = Io::kRead ? 0 : ((w >> 2) % 3 == 2);
    io_.bin(off + (prefixed ? 2 : 5), c2, CAT_MB_TYPE);
    chroma = 1 + c2;
  }
  int hi = Io::kRead ? 0 : (w >> 1) & 1, lo = Io::kRead ? 0 : w & 1;
  io_.bin(off + (prefixed ? 3 : 6), hi, CAT_MB_TYPE);
  io_.bin(off + (prefixed ? 3 : 7), lo, CAT_MB_TYPE);
  if (Io::kRead) v = 1 + (hi << 1 | lo) + 4 * chroma + 12 * luma;
}

// mb_type of P slices (Table 9-37): 0..3, or 5 + the I mb_type.
template <class Io>
void Slice<Io>::mb_type_p(int& v, int mb) {
  int intra = Io::kRead ? 0 : (v >= 5);
  io_.bin(CTX_MB_TYPE_P, intra, CAT_MB_TYPE);
  if (intra) {
    int vi = v - 5;
    mb_type_i(vi, 17, true, mb);
    v = 5 + vi;
    return;
  }
  int b1 = Io::kRead ? 0 : (v == 1 || v == 2);
  io_.bin(CTX_MB_TYPE_P + 1, b1, CAT_MB_TYPE);
  int b2 = Io::kRead ? 0 : (b1 ? v == 1 : v == 3);
  io_.bin(CTX_MB_TYPE_P + (b1 ? 3 : 2), b2, CAT_MB_TYPE);
  if (Io::kRead) v = b1 ? (b2 ? 1 : 2) : (b2 ? 3 : 0);
}

// mb_type of B slices (Table 9-37): 0..22, or 23 + the I mb_type.
template <class Io>
void Slice<Io>::mb_type_b(int& v, int mb) {
  const int a = pic_.neighbour(mb, -1, 0), bn = pic_.neighbour(mb, 0, -1);
  const int inc = (a >= 0 && !st(a).bdirect) + (bn >= 0 && !st(bn).bdirect);
  const int O = CTX_MB_TYPE_B;
  int b0 = Io::kRead ? 0 : (v != 0);
  io_.bin(O + inc, b0, CAT_MB_TYPE);
  if (!b0) { v = 0; return; }
  int b1 = Io::kRead ? 0 : (v >= 3);
  io_.bin(O + 3, b1, CAT_MB_TYPE);
  if (!b1) {  // binIdx 2 after b1 = 0: ctxIdxInc 5
    int b2 = Io::kRead ? 0 : (v == 2);
    io_.bin(O + 5, b2, CAT_MB_TYPE);
    v = 1 + b2;
    return;
  }
  // after "1 1": 3..10 = 0 xxx; 12..19 = 1 0 xxx; 20, 21 = 1 1 0 0 x; intra = 1 1 0 1;
  // 11 = 1 1 1 0; 22 = 1 1 1 1 (binIdx 2 with ctxIdxInc 4, the later bins with 5)
  auto bit = [&](int val) { int b = Io::kRead ? 0 : val; io_.bin(O + 5, b, CAT_MB_TYPE); return b; };
  auto bits3 = [&](int val) {
    const int x2 = bit((val >> 2) & 1), x1 = bit((val >> 1) & 1), x0 = bit(val & 1);
    return x2 << 2 | x1 << 1 | x0;
  };
  int b2 = Io::kRead ? 0 : (v >= 11);
  io_.bin(O + 4, b2, CAT_MB_TYPE);
  if (!b2) { v = 3 + bits3(v - 3); return; }
  if (!bit(v == 11 || v >= 20)) { v = 12 + bits3(v - 12); return; }
  if (bit(v == 11 || v == 22)) { v = bit(v == 22) ? 22 : 11; return; }
  if (bit(v >= 23)) {
    int vi = v - 23;
    mb_type_i(vi, 32, true, mb);
    v = 23 + vi;
    return;
  }
  v = 20 + bit(v == 21);
}

// sub_mb_type of P (Table 9-38, offset 21) or B (offset 36) slices.
template <class Io>
void Slice<Io>::sub_mb_type(int& v) {
  if (s_.type == SLICE_P) {
    int b0 = Io::kRead ? 0 : (v == 0);
    io_.bin(CTX_SUB_P, b0, CAT_MB_TYPE);
    if (b0) { v = 0; return; }
    int b1 = Io::kRead ? 0 : (v != 1);
    io_.bin(CTX_SUB_P + 1, b1, CAT_MB_TYPE);
    if (!b1) { v = 1; return; }
    int b2 = Io::kRead ? 0 : (v == 2);
    io_.bin(CTX_SUB_P + 2, b2, CAT_MB_TYPE);
    v = b2 ? 2 : 3;
    return;
  }
  const int O = CTX_SUB_B;
  auto bit = [&](int ci, int val) { int b = Io::kRead ? 0 : val; io_.bin(ci, b, CAT_MB_TYPE); return b; };
  if (!bit(O, v != 0)) { v = 0; return; }
  if (!bit(O + 1, v >= 3)) { v = 1 + bit(O + 3, v == 2); return; }
  if (!bit(O + 2, v >= 7)) {
    const int x1 = bit(O + 3, ((v - 3) >> 1) & 1), x0 = bit(O + 3, (v - 3) & 1);
    v = 3 + (x1 << 1 | x0);
    return;
  }
  if (bit(O + 3, v >= 11)) { v = 11 + bit(O + 3, v == 12); return; }
  const int x1 = bit(O + 3, ((v - 7) >> 1) & 1), x0 = bit(O + 3, (v - 7) & 1);
  v = 7 + (x1 << 1 | x0);
}

// ref_idx_lX of the partition whose top-left 4x4 block is (x, y) (9.3.3.1.1.6).
template <class Io>
void Slice<Io>::ref_idx(int mb, int list, int x, int y, int& v) {
  const Nb a = nb4(pic_, mb, x, y, -1, 0), b = nb4(pic_, mb, x, y, 0, -1);
  auto cond = [&](const Nb& n) {
    return n.mb >= 0 && ((st(n.mb).ref_gt0[list] >> ((n.blk >> 3) * 2 + ((n.blk & 3) >> 1))) & 1);
  };
  const int inc = cond(a) + 2 * cond(b);
  const int nref = s_.num_ref[list];
  if (!Io::kRead && (v < 0 || v >= nref)) io_.fail("ref_idx out of range");
  tu(io_, v, nref, [&](int k) { return CTX_REF_IDX + (k == 0 ? inc : (k == 1 ? 4 : 5)); }, CAT_REF_IDX);
  if (v >= nref) io_.fail("ref_idx not below num_ref_idx_active");
  if (v > 0) st(mb).ref_gt0[list] |= uint8_t(1 << ((y >> 1) * 2 + (x >> 1)));  // its (first) 8x8 block
}

// mvd_lX of the partition at (x, y), w x h 4x4 blocks (9.3.3.1.1.7); stores it in every block.
template <class Io>
void Slice<Io>::mvd(int mb, int list, int x, int y, int w, int h, Mb& m) {
  const Nb a = nb4(pic_, mb, x, y, -1, 0), b = nb4(pic_, mb, x, y, 0, -1);
  int16_t(*rec)[2] = list ? &m.mvd1[0] : &m.mvd[0];
  int d[2];
  for (int comp = 0; comp < 2; ++comp) {
    int sum = 0;
    if (a.mb >= 0) sum += std::abs(st(a.mb).mvd[list][a.blk][comp]);
    if (b.mb >= 0) sum += std::abs(st(b.mb).mvd[list][b.blk][comp]);
    const int inc = sum < 3 ? 0 : (sum > 32 ? 2 : 1);
    const int off = comp ? CTX_MVD_Y : CTX_MVD_X;
    d[comp] = Io::kRead ? 0 : rec[y * 4 + x][comp];
    ueg3_signed(io_, d[comp], [&](int k) { return off + (k == 0 ? inc : (k < 4 ? k + 2 : 6)); }, CAT_MVD);
  }
  CState& c = st(mb);
  for (int yy = y; yy < y + h; ++yy)
    for (int xx = x; xx < x + w; ++xx)
      for (int comp = 0; comp < 2; ++comp) {
        c.mvd[list][yy * 4 + xx][comp] = static_cast<int16_t>(d[comp]);
        if (Io::kRead) rec[yy * 4 + xx][comp] = static_cast<int16_t>(d[comp]);
      }
}

// prev_intra4x4/8x8_pred_mode_flag + rem_intra_pred_mode of an I_NxN macroblock.
template <class Io>
void Slice<Io>::intra_modes(int mb, Mb& m, bool t8) {
  const int n = t8 ? 4 : 16;
  for (int k = 0; k < n; ++k) {
    const int bx = t8 ? (k & 1) * 2 : kBlkX[k], by = t8 ? (k >> 1) * 2 : kBlkY[k];
    const int pred = intra_pred_mode(pic_, mb, bx, by, s_.constrained_intra_pred);
    const int mode = Io::kRead ? 0 : m.i4_mode[by * 4 + bx];
    if (!Io::kRead && (mode < 0 || mode > 8)) io_.fail("intra prediction mode out of range");
    int flag = Io::kRead ? 0 : (mode == pred);
    io_.bin(CTX_PREV_INTRA, flag, CAT_INTRA_MODE);
    int rem = Io::kRead ? 0 : (mode < pred ? mode : mode - 1);
    if (!flag)
      for (int i = 0; i < 3; ++i) {  // FL, least significant bin first
        int b = Io::kRead ? 0 : (rem >> i) & 1;
        io_.bin(CTX_REM_INTRA, b, CAT_INTRA_MODE);
        if (Io::kRead) rem = i == 0 ? b : rem | (b << i);
      }
    if (Io::kRead) {
      const int v = flag ? pred : (rem < pred ? rem : rem + 1);
      for (int j = 0; j < (t8 ? 4 : 1); ++j)
        m.i4_mode[(by + (j >> 1)) * 4 + bx + (j & 1)] = static_cast<int8_t>(v);
    }
  }
}

// coded_block_pattern (9.3.2.6 prefix FL 4 bins, suffix TU cMax 2; 9.3.3.1.1.4).
template <class Io>
void Slice<Io>::coded_block_pattern(int mb, int& cbp) {
  int luma = Io::kRead ? 0 : (cbp & 15);
  for (int b8 = 0; b8 < 4; ++b8) {
    const int x = (b8 & 1) * 2, y = (b8 >> 1) * 2;
    auto cond = [&](const Nb& n) {
      if (n.mb < 0) return 0;
      const int b8n = (n.blk >> 3) * 2 + ((n.blk & 3) >> 1);
      if (n.mb == mb) return ((luma >> b8n) & 1) ? 0 : 1;  // bins decoded before
      const CState& c = st(n.mb);
      if (c.pcm) return 0;
      if (!c.skip && ((c.cbp >> b8n) & 1)) return 0;
      return 1;
    };
    const int inc = cond(nb4(pic_, mb, x, y, -1, 0)) + 2 * cond(nb4(pic_, mb, x, y, 0, -1));
    int b = Io::kRead ? 0 : (luma >> b8) & 1;
    io_.bin(CTX_CBP_LUMA + inc, b, CAT_CBP_QP);
    if (Io::kRead) luma |= b << b8;
  }
  int chroma = Io::kRead ? 0 : cbp >> 4;
  if (s_.chroma_format_idc != 0) {
    const int a = pic_.neighbour(mb, -1, 0), bn = pic_.neighbour(mb, 0, -1);
    auto cond = [&](int n, int bin) -> int {
      if (n < 0) return 0;
      const CState& c = st(n);
      if (c.pcm) return 1;
      if (c.skip) return 0;
      return static_cast<int>(bin == 0 ? (c.cbp >> 4) != 0 : (c.cbp >> 4) == 2);
    };
    tu(io_, chroma, 2, [&](int k) { return CTX_CBP_CHROMA + cond(a, k) + 2 * cond(bn, k) + (k ? 4 : 0); }, CAT_CBP_QP);
  } else if (chroma) {
    io_.fail("chroma coded_block_pattern in a 4:0:0 slice");
  }
  cbp = luma | chroma << 4;
}

// mb_qp_delta (Table 9-3 mapping, unary; 9.3.3.1.1.5 from the previous macroblock).
template <class Io>
void Slice<Io>::qp_delta(int& v) {
  if (!Io::kRead && (v < -26 || v > 25)) io_.fail("mb_qp_delta out of range");
  int k = Io::kRead ? 0 : (v > 0 ? 2 * v - 1 : -2 * v);
  const int inc = prev_qpd_nz_ ? 1 : 0;
  tu(io_, k, 53, [&](int i) { return CTX_QP_DELTA + (i == 0 ? inc : (i == 1 ? 2 : 3)); }, CAT_CBP_QP);
  if (k > 52) io_.fail("mb_qp_delta out of range");
  v = (k & 1) ? (k + 1) / 2 : -(k / 2);
  prev_qpd_nz_ = v != 0;
  qp_ = (qp_ + v + 52) % 52;
}

// residual_block_cabac (7.3.5.3.3): n coefficients lev[0..n-1] of ctxBlockCat cat; cbf_inc is
// the coded_block_flag ctxIdxInc (ignored for cat 5, which has none in 4:2:0). Returns the
// number of non-zero levels.
template <class Io>
int Slice<Io>::residual_block(int cat, int16_t* lev, int n, int cbf_inc, int bitcat) {
  if (Io::kRead) std::fill(lev, lev + n, int16_t(0));
  int last = -1;
  if (!Io::kRead)
    for (int i = 0; i < n; ++i)
      if (lev[i]) last = i;
  if (cat != 5) {
    int coded = Io::kRead ? 0 : (last >= 0);
    io_.bin(CTX_CBF + kCbfCatOff[cat] + cbf_inc, coded, bitcat);
    if (!coded) return 0;
  } else if (!Io::kRead && last < 0) {
    io_.fail("8x8 block with coded_block_pattern bit set but no coefficient");
  }
  const int sig_base = cat == 5 ? CTX_SIG8 : CTX_SIG + kSigCatOff[cat];
  const int last_base = cat == 5 ? CTX_LAST8 : CTX_LAST + kSigCatOff[cat];
  bool sig[64] = {};
  int num = n;
  for (int i = 0; i < num - 1; ++i) {
    const int inc_s = cat == 5 ? kSig8Frame[i] : (cat == 3 ? (i < 2 ? i : 2) : i);
    const int inc_l = cat == 5 ? kLast8[i] : (cat == 3 ? (i < 2 ? i : 2) : i);
    int sf = Io::kRead ? 0 : (lev[i] != 0);
    io_.bin(sig_base + inc_s, sf, bitcat);
    sig[i] = sf;
    if (sf) {
      int lf = Io::kRead ? 0 : (i == last);
      io_.bin(last_base + inc_l, lf, bitcat);
      if (lf) num = i + 1;
    }
  }
  sig[num - 1] = true;
  const int abs_base = cat == 5 ? CTX_ABS8 : CTX_ABS + kAbsCatOff[cat];
  int eq1 = 0, gt1 = 0, nnz = 0;
  for (int i = num - 1; i >= 0; --i) {
    if (!sig[i]) continue;
    ++nnz;
    int a = Io::kRead ? 0 : std::abs(lev[i]) - 1;  // coeff_abs_level_minus1: prefix TU cMax 14
    const int inc0 = gt1 ? 0 : (eq1 + 1 < 4 ? eq1 + 1 : 4);
    const int lim = 4 - (cat == 3 ? 1 : 0);
    const int inc1 = 5 + (gt1 < lim ? gt1 : lim);
    int pre = a < 14 ? a : 14;
    tu(io_, pre, 14, [&](int k) { return abs_base + (k == 0 ? inc0 : inc1); }, bitcat);
    int suf = a - 14;
    if (pre >= 14) eg_bypass(io_, suf, 0, bitcat);
    if (Io::kRead) a = pre < 14 ? pre : 14 + suf;
    int sg = Io::kRead ? 0 : (lev[i] < 0);
    io_.bypass(sg, bitcat);
    if (Io::kRead) {
      if (a > 32767 || (a == 32767 && !sg)) io_.fail("coefficient level out of range");
      lev[i] = static_cast<int16_t>(sg ? -(a + 1) : a + 1);
    }
    if (a == 0) ++eq1;
    else ++gt1;
  }
  return nnz;
}

// residual( 0, 15 ) (7.3.5.3) with coded_block_flag contexts (9.3.3.1.1.9).
template <class Io>
void Slice<Io>::residual(int mb, Mb& m, CState& c) {
  const bool i16 = m.type == MB_I16x16, intra = c.intra;
  const int cbpl = c.cbp & 15, cbpc = c.cbp >> 4;
  if (i16) {
    const int a = pic_.neighbour(mb, -1, 0), b = pic_.neighbour(mb, 0, -1);
    const int inc = cbf_cond(a, intra, 0, 0) + 2 * cbf_cond(b, intra, 0, 0);
    if (residual_block(0, m.luma_dc, 16, inc, CAT_RESIDUAL_LUMA)) c.cbf_dc |= 1;
  }
  for (int b8 = 0; b8 < 4; ++b8) {
    if (!((cbpl >> b8) & 1)) continue;
    if (c.t8) {
      const int nnz = residual_block(5, luma8(m, b8), 64, 0, CAT_RESIDUAL_LUMA);
      const int r0 = (b8 >> 1) * 8 + (b8 & 1) * 2;
      for (const int r : {r0, r0 + 1, r0 + 4, r0 + 5}) {
        m.nz[r] = static_cast<uint8_t>(nnz);
        c.cbf_luma |= uint16_t(1 << r);
      }
      continue;
    }
    for (int k = b8 * 4; k < b8 * 4 + 4; ++k) {
      const int x = kBlkX[k], y = kBlkY[k], r = y * 4 + x;
      auto cond = [&](const Nb& nb) {
        if (nb.mb == mb) return static_cast<int>((c.cbf_luma >> nb.blk) & 1);
        return cbf_cond(nb.mb, intra, 1, nb.blk);
      };
      const int inc = cond(nb4(pic_, mb, x, y, -1, 0)) + 2 * cond(nb4(pic_, mb, x, y, 0, -1));
      const int nnz = i16 ? residual_block(1, m.luma[r] + 1, 15, inc, CAT_RESIDUAL_LUMA)
                          : residual_block(2, m.luma[r], 16, inc, CAT_RESIDUAL_LUMA);
      m.nz[r] = static_cast<uint8_t>(nnz);
      if (nnz) c.cbf_luma |= uint16_t(1 << r);
    }
  }
  if (s_.chroma_format_idc == 0) return;
  const int a = pic_.neighbour(mb, -1, 0), b = pic_.neighbour(mb, 0, -1);
  if (cbpc)
    for (int ic = 0; ic < 2; ++ic) {
      const int inc = cbf_cond(a, intra, 2, ic) + 2 * cbf_cond(b, intra, 2, ic);
      if (residual_block(3, m.chroma_dc[ic], 4, inc, CAT_RESIDUAL_CHROMA)) c.cbf_dc |= uint8_t(2 << ic);
    }
  if (cbpc == 2)
    for (int ic = 0; ic < 2; ++ic)
      for (int k = 0; k < 4; ++k) {
        const int x = k & 1, y = k >> 1;
        auto cond = [&](int nmb, int blk) {  // chroma AC neighbour (6.4.11.5, 4:2:0)
          if (nmb == mb) return (c.cbf_ac[ic] >> blk) & 1;
          if (nmb < 0) return intra ? 1 : 0;
          const CState& n = st(nmb);
          if (n.pcm) return 1;
          return (n.cbf_ac[ic] >> blk) & 1;
        };
        const int ca = x ? cond(mb, k - 1) : cond(a, k + 1);
        const int cb = y ? cond(mb, k - 2) : cond(b, k + 2);
        if (residual_block(4, m.chroma_ac[ic][k] + 1, 15, ca + 2 * cb, CAT_RESIDUAL_CHROMA))
          c.cbf_ac[ic] |= uint8_t(1 << k);
      }
}

// macroblock_layer() (7.3.5) after mb_skip_flag.
template <class Io>
void Slice<Io>::macroblock(int mb, Mb& m, uint8_t* pcm) {
  CState& c = st(mb);
  c = CState();
  const bool B = s_.type == SLICE_B;
  // ---- mb_type in the slice type's numbering
  int v = 0;
  if (!Io::kRead) {
    const int cbpl = m.cbp & 15, cbpc = m.cbp >> 4;
    int iv = -1;
    switch (m.type) {
      case MB_I4x4: case MB_I8x8: iv = 0; break;
      case MB_I16x16: iv = 1 + m.i16_mode + 4 * cbpc + (cbpl ? 12 : 0); break;
      case MB_IPCM: iv = 25; break;
      default: break;
    }
    if (m.type == MB_I16x16 && (m.i16_mode > 3 || cbpc > 2 || (cbpl != 0 && cbpl != 15)))
      io_.fail("Intra16x16 record out of range");
    if (iv >= 0) v = s_.type == SLICE_I ? iv : (B ? 23 : 5) + iv;
    else if (s_.type == SLICE_P) {
      switch (m.type) {
        case MB_P16x16: v = 0; break;
        case MB_P16x8: v = 1; break;
        case MB_P8x16: v = 2; break;
        case MB_P8x8: v = 3; break;
        default: io_.fail("macroblock type not allowed in a P slice");
      }
    } else if (B) {
      switch (m.type) {
        case MB_BDIRECT: v = 0; break;
        case MB_B16x16:
          if (m.pred[0] < 1 || m.pred[0] > 3) io_.fail("B_16x16 prediction out of range");
          v = m.pred[0];
          break;
        case MB_B16x8: case MB_B8x16: {
          int k = 0;
          while (k < 9 && !(kBPairs[k][0] == m.pred[0] && kBPairs[k][1] == m.pred[1])) ++k;
          if (k == 9) io_.fail("B partition prediction out of range");
          v = 4 + 2 * k + (m.type == MB_B8x16);
          break;
        }
        case MB_B8x8: v = 22; break;
        default: io_.fail("macroblock type not allowed in a B slice");
      }
    } else {
      io_.fail("inter macroblock in an I slice");
    }
  }
  if (s_.type == SLICE_I) mb_type_i(v, CTX_MB_TYPE_I, false, mb);
  else if (B) mb_type_b(v, mb);
  else mb_type_p(v, mb);
  // ---- back to the record type
  const int ibase = s_.type == SLICE_I ? 0 : (B ? 23 : 5);
  const int iv = v - ibase;
  const bool intra = s_.type == SLICE_I || iv >= 0;
  c.intra = intra;
  if (Io::kRead) {
    for (int k = 0; k < 4; ++k) m.ref[k] = m.ref1[k] = -1;
    if (intra) {
      if (iv == 0) m.type = MB_I4x4;
      else if (iv == 25) m.type = MB_IPCM;
      else {
        m.type = MB_I16x16;
        m.i16_mode = static_cast<uint8_t>((iv - 1) & 3);
        m.cbp = static_cast<uint8_t>(((iv - 1) >> 2) % 3 << 4 | (iv >= 13 ? 15 : 0));
        if (s_.chroma_format_idc == 0 && (m.cbp >> 4)) io_.fail("Intra16x16 with chroma in a 4:0:0 slice");
      }
    } else if (B) {
      if (v == 0) m.type = MB_BDIRECT;
      else if (v <= 3) { m.type = MB_B16x16; m.pred[0] = static_cast<uint8_t>(v); }
      else if (v <= 21) {
        m.type = (v & 1) ? MB_B8x16 : MB_B16x8;
        m.pred[0] = kBPairs[(v - 4) >> 1][0];
        m.pred[1] = kBPairs[(v - 4) >> 1][1];
      } else m.type = MB_B8x8;
    } else {
      static constexpr MbType kP[4] = {MB_P16x16, MB_P16x8, MB_P8x16, MB_P8x8};
      m.type = kP[v];
    }
  }
  c.bdirect = m.type == MB_BDIRECT;
  // ---- I_PCM
  if (m.type == MB_IPCM) {
    c.pcm = true;
    io_.align_zero(CAT_END);
    const int n = s_.chroma_format_idc ? 384 : 256;
    for (int i = 0; i < n; ++i) {
      int smp = Io::kRead ? 0 : pcm[i];
      io_.raw(smp, 8, i < 256 ? CAT_RESIDUAL_LUMA : CAT_RESIDUAL_CHROMA);
      if (Io::kRead) pcm[i] = static_cast<uint8_t>(smp);
    }
    io_.start_segment();
    if (Io::kRead) {
      m.qp = static_cast<uint8_t>(qp_);
      m.qp_delta = 0;
      for (int r = 0; r < 16; ++r) m.nz[r] = 16;
    }
    prev_qpd_nz_ = false;
    return;
  }
  c.inxn = m.type == MB_I4x4 || m.type == MB_I8x8;
  if (m.type == MB_P8x8 || m.type == MB_B8x8) {
    // ---- sub_mb_pred
    int sub[4], pred[4];
    for (int k = 0; k < 4; ++k) {
      sub[k] = Io::kRead ? 0 : m.sub[k];
      if (!Io::kRead && sub[k] > (B ? 12 : 3)) io_.fail("sub_mb_type out of range");
      sub_mb_type(sub[k]);
      if (Io::kRead) m.sub[k] = static_cast<uint8_t>(sub[k]);
      pred[k] = B ? kBSubPred[sub[k]] : 1;
    }
    for (int list = 0; list < 2; ++list)
      for (int k = 0; k < 4; ++k) {
        if (!uses(pred[k], list)) continue;
        int r = 0;
        if (s_.num_ref[list] > 1) {
          r = Io::kRead ? 0 : (list ? m.ref1[k] : m.ref[k]);
          ref_idx(mb, list, (k & 1) * 2, (k >> 1) * 2, r);
        }
        if (Io::kRead) ref_list(m, list)[k] = static_cast<int8_t>(r);
      }
    for (int list = 0; list < 2; ++list)
      for (int k = 0; k < 4; ++k) {
        if (!uses(pred[k], list)) continue;
        const int shape = B ? kBSubShape[sub[k]] : sub[k];
        const int w = kShapeW[shape], h = kShapeH[shape];
        for (int j = 0; j < kSubN[shape]; ++j) {
          const int x = (k & 1) * 2 + (shape == 3 ? (j & 1) : (shape == 2 ? j : 0));
          const int y = (k >> 1) * 2 + (shape == 3 ? (j >> 1) : (shape == 1 ? j : 0));
          mvd(mb, list, x, y, w, h, m);
        }
      }
  } else if (intra) {
    // ---- mb_pred, intra
    if (m.type == MB_I4x4 || m.type == MB_I8x8) {
      int t8 = Io::kRead ? 0 : (m.type == MB_I8x8);
      if (s_.transform_8x8_mode) {
        const int a = pic_.neighbour(mb, -1, 0), b = pic_.neighbour(mb, 0, -1);
        const int inc = (a >= 0 && st(a).t8) + (b >= 0 && st(b).t8);
        io_.bin(CTX_T8X8 + inc, t8, CAT_INTRA_MODE);
      } else if (t8) {
        io_.fail("I_NxN with an 8x8 transform while transform_8x8_mode_flag is 0");
      }
      c.t8 = t8;
      if (Io::kRead) { m.type = t8 ? MB_I8x8 : MB_I4x4; m.t8x8 = t8; }
      intra_modes(mb, m, t8);
    }
    if (s_.chroma_format_idc != 0) {
      const int a = pic_.neighbour(mb, -1, 0), b = pic_.neighbour(mb, 0, -1);
      auto cond = [&](int n) { return n >= 0 && st(n).intra && !st(n).pcm && st(n).chroma_mode != 0; };
      const int inc = cond(a) + cond(b);
      int cm = Io::kRead ? 0 : m.chroma_mode;
      if (!Io::kRead && cm > 3) io_.fail("intra_chroma_pred_mode out of range");
      tu(io_, cm, 3, [&](int k) { return CTX_CHROMA_PRED + (k == 0 ? inc : 3); }, CAT_INTRA_MODE);
      c.chroma_mode = static_cast<uint8_t>(cm);
      if (Io::kRead) m.chroma_mode = static_cast<uint8_t>(cm);
    }
  } else if (m.type != MB_BDIRECT) {
    // ---- mb_pred, inter: 16x16 / 16x8 / 8x16
    const int np = (m.type == MB_P16x16 || m.type == MB_B16x16) ? 1 : 2;
    const bool p16x8 = m.type == MB_P16x8 || m.type == MB_B16x8;
    int pred[2] = {1, 1};
    if (B) { pred[0] = m.pred[0]; pred[1] = m.pred[1]; }
    // top-left 4x4 block of each partition
    const int pxs[2] = {0, (np == 2 && !p16x8) ? 2 : 0}, pys[2] = {0, (np == 2 && p16x8) ? 2 : 0};
    auto px = [&pxs](int p) { return pxs[p]; };
    auto py = [&pys](int p) { return pys[p]; };
    for (int list = 0; list < 2; ++list)
      for (int p = 0; p < np; ++p) {
        if (!uses(pred[p], list)) continue;
        int r = 0;
        if (s_.num_ref[list] > 1) {
          r = Io::kRead ? 0 : ref_list(m, list)[(py(p) >> 1) * 2 + (px(p) >> 1)];
          ref_idx(mb, list, px(p), py(p), r);
          if (np == 2) {  // ref_gt0 of the partition's other 8x8 block
            const int other = p16x8 ? (py(p) >> 1) * 2 + 1 : 2 + (px(p) >> 1);
            if (r > 0) st(mb).ref_gt0[list] |= uint8_t(1 << other);
          } else if (r > 0) {
            st(mb).ref_gt0[list] = 15;
          }
        }
        if (Io::kRead)
          for (int k = 0; k < 4; ++k) {
            const bool in = np == 1 || (p16x8 ? (k >> 1) == p : (k & 1) == p);
            if (in) ref_list(m, list)[k] = static_cast<int8_t>(r);
          }
      }
    for (int list = 0; list < 2; ++list)
      for (int p = 0; p < np; ++p)
        if (uses(pred[p], list))
          mvd(mb, list, px(p), py(p), np == 2 && !p16x8 ? 2 : 4, np == 2 && p16x8 ? 2 : 4, m);
  }
  // ---- coded_block_pattern, transform_size_8x8_flag
  int cbp = m.cbp;
  if (m.type != MB_I16x16) {
    coded_block_pattern(mb, cbp);
    if (Io::kRead) m.cbp = static_cast<uint8_t>(cbp);
    if (inter_t8x8_flag_present(s_, m, cbp & 15)) {
      const int a = pic_.neighbour(mb, -1, 0), b = pic_.neighbour(mb, 0, -1);
      const int inc = (a >= 0 && st(a).t8) + (b >= 0 && st(b).t8);
      int t8 = Io::kRead ? 0 : m.t8x8;
      io_.bin(CTX_T8X8 + inc, t8, CAT_INTRA_MODE);
      c.t8 = t8;
      if (Io::kRead) m.t8x8 = t8;
    } else if (!c.inxn) {
      if (!Io::kRead && m.t8x8 && (cbp & 15)) io_.fail("8x8 transform where transform_size_8x8_flag is absent");
      if (Io::kRead) m.t8x8 = false;
    }
  }
  c.cbp = static_cast<uint8_t>(cbp);
  // ---- mb_qp_delta, residual
  if ((cbp & 15) || (cbp >> 4) || m.type == MB_I16x16) {
    int d = Io::kRead ? 0 : m.qp_delta;
    if (!Io::kRead && texture_off) d = ((m.qp - qp_ + 26 + 52) % 52) - 26;  // keep the MB's QP
    qp_delta(d);
    if (Io::kRead) m.qp_delta = static_cast<int8_t>(d);
    residual(mb, m, c);
  } else {
    prev_qpd_nz_ = false;
    if (Io::kRead) m.qp_delta = 0;
  }
  if (Io::kRead) m.qp = static_cast<uint8_t>(qp_);
}

void check_slice(const SliceSyntax& s, const PicSyntax& pic) {
  if (s.type != SLICE_P && s.type != SLICE_B && s.type != SLICE_I) throw ParseError("CABAC: unsupported slice type", s.first_mb);
  if (s.cabac_init_idc < 0 || s.cabac_init_idc > 2) throw ParseError("CABAC: cabac_init_idc out of range", s.first_mb);
  if (s.chroma_format_idc != 0 && s.chroma_format_idc != 1) throw ParseError("CABAC: chroma format not supported", s.first_mb);
  if (s.qp < 0 || s.qp > 51) throw ParseError("CABAC: slice QP out of range", s.first_mb);
  if (s.type != SLICE_I && (s.num_ref[0] < 1 || s.num_ref[0] > 32)) throw ParseError("CABAC: num_ref_idx_l0 out of range", s.first_mb);
  if (s.type == SLICE_B && (s.num_ref[1] < 1 || s.num_ref[1] > 32)) throw ParseError("CABAC: num_ref_idx_l1 out of range", s.first_mb);
  if (s.first_mb < 0 || static_cast<size_t>(s.first_mb) >= pic.mbs.size()) throw ParseError("CABAC: first_mb_in_slice outside the picture", s.first_mb);
  if (pic.slice_id.size() != pic.mbs.size() || pic.pcm.size() != pic.mbs.size() * 384 ||
      pic.mbs.size() != static_cast<size_t>(pic.mbw) * static_cast<size_t>(pic.mbh))
    throw ParseError("CABAC: picture records not sized", s.first_mb);
}

std::vector<CState>& coded_state(size_t n) {
  thread_local std::vector<CState> st;
  if (st.size() < n) st.resize(n);
  return st;
}

}  // namespace

// Leaves br just after the last bit of the arithmetic code as 9.3.4.5 writes it (the bit the
// standard's flush makes the rbsp_stop_one_bit). Encoders may end their code word later: x264
// ends it on a byte boundary, so its stop bit lies up to 7 bits after br. Callers should look
// for the stop bit from br - 1 on (for a standard flush it is the bit at br - 1), and an
// identity rewrite reproduces such a stream exactly by appending the input's bits from br up
// to and including its stop bit after write_slice_data_cabac's output (tested on x264 streams).
void read_slice_data_cabac(const SliceSyntax& s, PicSyntax& pic, BitReader& br, BitCounts& counts) {
  check_slice(s, pic);
  br.mb = s.first_mb;
  while (br.pos() & 7) {  // cabac_alignment_one_bit
    if (br.u1() != 1) br.fail("cabac_alignment_one_bit is not 1");
    counts[CAT_HEADER] += 1;
  }
  Reader io(br);
  io.counts = &counts;
  cabac_init_contexts(io.ctx, s.type, s.cabac_init_idc, s.qp);
  io.start_segment();
  std::vector<CState>& st = coded_state(pic.mbs.size());
  Slice<Reader> sl(io, s, pic, st);
  sl.start(s.qp);
  const int total = static_cast<int>(pic.mbs.size());
  for (int mb = s.first_mb;; ++mb) {
    if (mb >= total) br.fail("CABAC: slice runs past the last macroblock");
    br.mb = mb;
    if (pic.slice_id[static_cast<size_t>(mb)] != -1) br.fail("macroblock coded twice in one picture");
    pic.slice_id[static_cast<size_t>(mb)] = s.id;
    Mb& m = pic.mbs[static_cast<size_t>(mb)];
    reset_except_levels(m);  // residual_block clears the levels of each block it reads
    if (s.type != SLICE_I && sl.skip_flag(mb, m)) sl.skipped(mb, m);
    else sl.macroblock(mb, m, &pic.pcm[static_cast<size_t>(mb) * 384]);
    int end = 0;
    io.term(end, CAT_END);
    if (end) break;
  }
}

uint64_t write_slice_data_cabac(const SliceSyntax& s, const PicSyntax& pic, SyntaxWriter& w, bool texture_off) {
  check_slice(s, pic);
  while (!w.bw.byte_aligned()) w.u(1, 1, CAT_HEADER);  // cabac_alignment_one_bit
  Writer io;
  io.counts = w.counts;
  cabac_init_contexts(io.ctx, s.type, s.cabac_init_idc, s.qp);
  io.start_segment();
  std::vector<CState>& st = coded_state(pic.mbs.size());
  Slice<Writer> sl(io, s, pic, st);
  sl.texture_off = texture_off;
  sl.start(s.qp);
  const int total = static_cast<int>(pic.mbs.size());
  uint8_t pcm[384];
  for (int mb = s.first_mb;; ++mb) {
    io.mb = mb;
    if (pic.slice_id[static_cast<size_t>(mb)] != s.id) io.fail("macroblock not in the slice");
    Mb m = pic.mbs[static_cast<size_t>(mb)];
    if (texture_off) {
      if (m.type == MB_IPCM) {
        m.type = MB_I16x16;
        m.i16_mode = 2;     // DC
        m.chroma_mode = 0;  // DC
      }
      m.cbp = 0;
      m.t8x8 = m.type == MB_I8x8;
      std::fill(&m.luma[0][0], &m.luma[0][0] + 256, int16_t(0));
      std::fill(m.luma_dc, m.luma_dc + 16, int16_t(0));
      std::fill(&m.chroma_dc[0][0], &m.chroma_dc[0][0] + 8, int16_t(0));
      std::fill(&m.chroma_ac[0][0][0], &m.chroma_ac[0][0][0] + 128, int16_t(0));
    }
    std::copy(&pic.pcm[static_cast<size_t>(mb) * 384], &pic.pcm[static_cast<size_t>(mb) * 384] + 384, pcm);
    if (s.type != SLICE_I && sl.skip_flag(mb, m)) sl.skipped(mb, m);
    else sl.macroblock(mb, m, pcm);
    int end = mb + 1 >= total || pic.slice_id[static_cast<size_t>(mb) + 1] != s.id;
    io.term(end, CAT_END);
    if (end) break;
  }
  const BitWriter& out = io.out();
  for (const uint8_t byte : out.bytes()) w.bw.put(byte, 8);
  w.bw.put(out.pending_value(), out.pending_bits());
  return io.bins;
}

}  // namespace h264
}  // namespace mvc
