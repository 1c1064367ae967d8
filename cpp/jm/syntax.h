// Slice-data syntax of H.264 in both directions, over the macroblock record (Mb, h264.h).
// The reader (read_stream) fills one PicSyntax per picture from slice_data(); the writers
// (our encoder, crop, the identity rewrite) serialise the same records. Entropy modes:
// CAVLC (cavlc.cpp writes, cavlc_read.cpp reads) and CABAC (cabac_syntax.cpp, one
// description for both directions). Progressive frames only (no MBAFF / field pictures),
// ChromaArrayType 0 or 1, 8-bit.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "jm/h264.h"

namespace mvc {
namespace h264 {

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
  void reset(int w_mbs, int h_mbs) {
    mbw = w_mbs; mbh = h_mbs;
    mbs.assign(static_cast<size_t>(mbw) * mbh, Mb());
    slice_id.assign(mbs.size(), -1);
    pcm.assign(mbs.size() * 384, 0);
  }
  // Address of the neighbour of mb at (dx, dy) macroblocks (-1, 0 = A; 0, -1 = B; 1, -1 = C;
  // -1, -1 = D), or -1 when not available.
  int neighbour(int mb, int dx, int dy) const {
    const int x = mb % mbw + dx, y = mb / mbw + dy;
    if (x < 0 || x >= mbw || y < 0) return -1;
    const int n = y * mbw + x;
    return slice_id[static_cast<size_t>(n)] == slice_id[static_cast<size_t>(mb)] && n < mb ? n : -1;
  }
};

// The 4x4 block at (bx + dx, by + dy) seen from block (bx, by) of macroblock mb (6.4.11.4 with
// 4x4 units; dx, dy in -1..1): its macroblock (-1 when not available) and raster index there.
struct Nb { int mb; int blk; };
inline Nb nb4(const PicSyntax& p, int mb, int bx, int by, int dx, int dy) {
  int x = bx + dx, y = by + dy, mx = 0, my = 0;
  if (x < 0) { mx = -1; x += 4; } else if (x > 3) { mx = 1; x -= 4; }
  if (y < 0) { my = -1; y += 4; }
  return {(mx || my) ? p.neighbour(mb, mx, my) : mb, y * 4 + x};
}

// predIntra4x4PredMode (8.3.1.1) of 4x4 block (bx, by), or predIntra8x8PredMode (8.3.2.1) of the
// 8x8 block whose top-left 4x4 block is (bx, by) (an I8x8 record holds each 8x8 mode in its four
// 4x4 entries, so both read the 4x4 neighbours of that top-left block).
inline int intra_pred_mode(const PicSyntax& p, int mb, int bx, int by, bool constrained_intra_pred) {
  const Nb a = nb4(p, mb, bx, by, -1, 0), b = nb4(p, mb, bx, by, 0, -1);
  if (a.mb < 0 || b.mb < 0) return 2;
  const Mb& ma = p.mbs[static_cast<size_t>(a.mb)];
  const Mb& mbb = p.mbs[static_cast<size_t>(b.mb)];
  if (constrained_intra_pred && (!is_intra(ma.type) || !is_intra(mbb.type))) return 2;
  auto mode = [](const Mb& m, int blk) {
    return (m.type == MB_I4x4 || m.type == MB_I8x8) ? int(m.i4_mode[blk]) : 2;
  };
  const int ma_mode = mode(ma, a.blk), mb_mode = mode(mbb, b.blk);
  return ma_mode < mb_mode ? ma_mode : mb_mode;
}

// Levels of 8x8 luma block b8 of an MB with transform_size_8x8_flag: 64 levels in the 8x8
// frame zig-zag scan, stored over luma[4 * b8 .. 4 * b8 + 3] (the raster meaning of luma[]
// applies only to 4x4-transform MBs).
inline int16_t* luma8(Mb& m, int b8) { return &m.luma[4 * b8][0]; }
inline const int16_t* luma8(const Mb& m, int b8) { return &m.luma[4 * b8][0]; }

// A syntax error in slice data: where it happened (the reader adds picture and slice).
struct ParseError : std::runtime_error {
  int mb;
  ParseError(const std::string& what, int mb_addr) : std::runtime_error(what), mb(mb_addr) {}
};

// Bit reader over an RBSP (emulation prevention already removed). Reads past the end throw
// ParseError: corrupt or truncated input never reads out of bounds.
class BitReader {
 public:
  BitReader(const uint8_t* data, size_t size, size_t bitpos = 0) : p_(data), size_(size), pos_(bitpos) {}
  uint32_t u(int n) {  // n in 0..32
    if (n == 0) return 0;
    if (pos_ + static_cast<size_t>(n) > 8 * size_) fail("read past the end of the slice data");
    uint32_t v = 0;
    for (int i = 0; i < n; ++i, ++pos_) v = (v << 1) | ((p_[pos_ >> 3] >> (7 - (pos_ & 7))) & 1u);
    return v;
  }
  uint32_t u1() {
    if (pos_ >= 8 * size_) fail("read past the end of the slice data");
    const uint32_t b = (p_[pos_ >> 3] >> (7 - (pos_ & 7))) & 1u;
    ++pos_;
    return b;
  }
  uint32_t peek(int n) const {  // next n bits (n <= 32), zeros past the end
    uint32_t v = 0;
    for (int i = 0; i < n; ++i) {
      const size_t q = pos_ + static_cast<size_t>(i);
      v = (v << 1) | (q < 8 * size_ ? ((p_[q >> 3] >> (7 - (q & 7))) & 1u) : 0u);
    }
    return v;
  }
  void skip(size_t n) {
    if (pos_ + n > 8 * size_) fail("read past the end of the slice data");
    pos_ += n;
  }
  uint32_t ue() {  // 9.1, codeNum up to 2^32 - 2
    int zeros = 0;
    while (u1() == 0) {
      if (++zeros > 31) fail("Exp-Golomb code longer than 32 bits");
    }
    if (zeros == 0) return 0;
    const uint64_t v = (uint64_t{1} << zeros) - 1 + u(zeros);
    if (v > 0xFFFFFFFEu) fail("Exp-Golomb value out of range");
    return static_cast<uint32_t>(v);
  }
  int32_t se() {
    const uint32_t k = ue();
    return (k & 1) ? static_cast<int32_t>((k + 1) / 2) : -static_cast<int32_t>(k / 2);
  }
  size_t pos() const { return pos_; }
  size_t size_bits() const { return 8 * size_; }
  bool more_rbsp_data() const;  // 7.2: bits remain before the rbsp_stop_one_bit
  const uint8_t* data() const { return p_; }
  int mb = -1;  // current macroblock, for error messages
  [[noreturn]] void fail(const std::string& what) const { throw ParseError(what, mb); }

 private:
  const uint8_t* p_;
  size_t size_;
  size_t pos_;
};

inline bool BitReader::more_rbsp_data() const {
  // the last 1 bit of the RBSP is the stop bit; data remains when it lies after pos_
  size_t end = size_;
  while (end > 0 && p_[end - 1] == 0) --end;  // cabac_zero_words / trailing zeros
  if (end == 0) return false;
  const uint8_t last = p_[end - 1];
  const size_t stop = 8 * (end - 1) + (7 - static_cast<size_t>(__builtin_ctz(last)));
  return pos_ < stop;
}

// ---------------------------------------------------------------- CAVLC (cavlc_read.cpp / cavlc.cpp)
// Parses slice_data() of one CAVLC slice into pic (the MBs from s.first_mb on; their slice_id
// is set to s.id), charging every bit to counts. Leaves br after the last macroblock.
void read_slice_data_cavlc(const SliceSyntax& s, PicSyntax& pic, BitReader& br, BitCounts& counts);
// Writes slice_data() of the MBs of slice s (slice_id == s.id from s.first_mb on). texture_off:
// every macroblock is written without residual (cbp 0; I16x16 keeps its QP through mb_qp_delta;
// I_PCM becomes I16x16 DC prediction without residual).
void write_slice_data_cavlc(const SliceSyntax& s, const PicSyntax& pic, SyntaxWriter& w, bool texture_off);

// ---------------------------------------------------------------- CABAC (cabac_syntax.cpp)
// The same two operations for CABAC slices. The reader starts at the cabac_alignment_one_bits
// (charged to CAT_HEADER); each bin is charged to its syntax element's category and the
// arithmetic code's flush and alignment to CAT_END, so the counts sum to the bits consumed.
void read_slice_data_cabac(const SliceSyntax& s, PicSyntax& pic, BitReader& br, BitCounts& counts);
// Writes cabac_alignment_one_bits, slice_data() and the arithmetic code's flush (9.3.4.5), whose
// last bit is the rbsp_stop_one_bit; the caller adds only the alignment zero bits (and any
// cabac_zero_words). Bits are charged as the reader charges them.
void write_slice_data_cabac(const SliceSyntax& s, const PicSyntax& pic, SyntaxWriter& w, bool texture_off);

}  // namespace h264
}  // namespace mvc
