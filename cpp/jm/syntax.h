// Slice-data syntax of H.264 in both directions, over the macroblock record (Mb, h264.h).
// The reader (read_stream) fills one PicSyntax per picture from slice_data(); the writers
// (our encoder, crop, the identity rewrite) serialise the same records. Entropy modes:
// CAVLC (cavlc.cpp writes, cavlc_read.cpp reads) and CABAC (cabac_syntax.cpp, one
// description for both directions). Progressive frames only (no MBAFF / field pictures),
// ChromaArrayType 0 or 1, 8-bit.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "jm/h264.h"

namespace mvc {
namespace h264 {

// SliceType, SliceSyntax and PicSyntax are in h264.h (the encoder holds a PicSyntax too).

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

// ---------------------------------------------------------------- mb_type / sub_mb_type tables
// B_16x16, B_16x8, B_8x16 (Table 7-14): per partition prediction 1 = L0, 2 = L1, 3 = Bi.
inline constexpr uint8_t kBPairs[9][2] = {{1, 1}, {2, 2}, {1, 2}, {2, 1}, {1, 3}, {2, 3}, {3, 1}, {3, 2}, {3, 3}};
// mb_type of a B-slice inter macroblock (0 B_Direct_16x16 .. 22 B_8x8).
inline int b_mb_type_code(const Mb& m) {
  switch (m.type) {
    case MB_BDIRECT: return 0;
    case MB_B16x16: return m.pred[0];
    case MB_B16x8: case MB_B8x16: {
      int i = 0;
      while (i < 8 && !(kBPairs[i][0] == m.pred[0] && kBPairs[i][1] == m.pred[1])) ++i;
      return 4 + 2 * i + (m.type == MB_B8x16);
    }
    default: return 22;
  }
}
// Sets type and pred[] from a B-slice inter mb_type 0..22.
inline void set_b_mb_type(Mb& m, int t) {
  if (t == 0) { m.type = MB_BDIRECT; return; }
  if (t <= 3) { m.type = MB_B16x16; m.pred[0] = uint8_t(t); return; }
  if (t == 22) { m.type = MB_B8x8; return; }
  m.type = (t & 1) ? MB_B8x16 : MB_B16x8;
  m.pred[0] = kBPairs[(t - 4) / 2][0];
  m.pred[1] = kBPairs[(t - 4) / 2][1];
}
// B sub_mb_type (Table 7-18): prediction (0 = direct, 1 L0, 2 L1, 3 Bi) and partition shape (SubType).
inline constexpr uint8_t kBSubPred[13] = {0, 1, 2, 3, 1, 1, 2, 2, 3, 3, 1, 2, 3};
inline constexpr uint8_t kBSubShape[13] = {SUB_4x4, SUB_8x8, SUB_8x8, SUB_8x8, SUB_8x4, SUB_4x8, SUB_8x4,
                                           SUB_4x8, SUB_8x4, SUB_4x8, SUB_4x4, SUB_4x4, SUB_4x4};
// Sub-partitions of an 8x8 by shape: count, width / height in 4x4 units, offsets.
inline constexpr int kSubN[4] = {1, 2, 2, 4}, kSubW[4] = {2, 2, 1, 1}, kSubH[4] = {2, 1, 2, 1};
inline constexpr int kSubXY[4][4][2] = {{{0, 0}}, {{0, 0}, {0, 1}}, {{0, 0}, {1, 0}}, {{0, 0}, {1, 0}, {0, 1}, {1, 1}}};
// Prediction lists (bit 0 L0, bit 1 L1; 0 = direct) and shape of 8x8 k of a P_8x8 / B_8x8 record.
inline int sub_pred(const Mb& m, int k) { return m.type == MB_B8x8 ? kBSubPred[m.sub[k] % 13] : 1; }
inline int sub_shape(const Mb& m, int k) { return m.type == MB_B8x8 ? kBSubShape[m.sub[k] % 13] : (m.sub[k] & 3); }
// Macroblock partitions of P/B 16x16, 16x8 and 8x16 records: count, and the 8x8 index / raster
// 4x4 index / size (4x4 units) of partition p; prediction lists of partition p.
inline int mb_parts(const Mb& m) { return (m.type == MB_P16x16 || m.type == MB_B16x16) ? 1 : 2; }
inline bool parts_16x8(const Mb& m) { return m.type == MB_P16x8 || m.type == MB_B16x8; }
inline int part_8x8(const Mb& m, int p) { return p == 0 ? 0 : parts_16x8(m) ? 2 : 1; }
inline int part_pred(const Mb& m, int p) { return is_b(m.type) ? m.pred[p] : 1; }
// 7.3.5: an inter macroblock with luma coded_block_pattern bits carries transform_size_8x8_flag
// when the PPS allows the 8x8 transform and no partition is smaller than 8x8 (a direct 8x8 block,
// or B_Direct_16x16, counts as 8x8 only under direct_8x8_inference_flag).
inline bool inter_t8x8_flag_present(const SliceSyntax& s, const Mb& m, int cbp_luma) {
  if (!cbp_luma || !s.transform_8x8_mode || is_intra(m.type)) return false;
  if (m.type == MB_BDIRECT) return s.direct_8x8_inference;
  if (m.type == MB_P8x8 || m.type == MB_B8x8)
    for (int k = 0; k < 4; ++k) {
      if (sub_pred(m, k) == 0) {
        if (!s.direct_8x8_inference) return false;
      } else if (sub_shape(m, k) != SUB_8x8) {
        return false;
      }
    }
  return true;
}
// coded_block_pattern for ChromaArrayType 0 (Table 9-4): [0 inter / 1 intra][cbp or codeNum]; codeNum -> cbp for 4:2:0
extern const uint8_t kCbpToCode400[2][16];
extern const uint8_t kCodeToCbp400[2][16];
extern const uint8_t kCodeToCbpIntra[48];
extern const uint8_t kCodeToCbpInter[48];

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
    const uint32_t v = static_cast<uint32_t>((window() << (pos_ & 7)) >> (64 - n));
    pos_ += static_cast<size_t>(n);
    return v;
  }
  uint32_t u1() {
    if (pos_ >= 8 * size_) fail("read past the end of the slice data");
    const uint32_t b = (p_[pos_ >> 3] >> (7 - (pos_ & 7))) & 1u;
    ++pos_;
    return b;
  }
  uint32_t peek(int n) const {  // next n bits (n in 1..32), zeros past the end
    return static_cast<uint32_t>((window() << (pos_ & 7)) >> (64 - n));
  }
  void skip(size_t n) {
    if (pos_ + n > 8 * size_) fail("read past the end of the slice data");
    pos_ += n;
  }
  uint32_t ue() {  // 9.1, codeNum up to 2^32 - 2
    const uint32_t look = peek(32);
    if (look) {  // the leading zeros and the code fit the next 32 bits
      const int zeros = __builtin_clz(look);
      if (2 * zeros + 1 <= 32) {
        const int len = 2 * zeros + 1;
        if (pos_ + static_cast<size_t>(len) > 8 * size_) fail("read past the end of the slice data");
        pos_ += static_cast<size_t>(len);
        return static_cast<uint32_t>((static_cast<uint64_t>(look) >> (32 - len)) - 1);
      }
    }
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
  // The 8 bytes from the one holding pos_, big-endian, zeros past the end.
  uint64_t window() const {
    const size_t b = pos_ >> 3;
    if (b + 8 <= size_) {
      uint64_t w;
      std::memcpy(&w, p_ + b, 8);
      return __builtin_bswap64(w);
    }
    uint64_t w = 0;
    for (size_t i = 0; i < 8; ++i) w = (w << 8) | (b + i < size_ ? p_[b + i] : 0u);
    return w;
  }
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
// TotalCoeff of every 4x4 block one CAVLC pass (reading or writing) has coded so far, per
// macroblock, and the nC of a block from its neighbours (9.2.1). Skipped macroblocks count 0,
// I_PCM 16.
struct CavlcCounts {
  const PicSyntax& pic;
  std::vector<std::array<uint8_t, 16>> luma;   // raster 4x4
  std::vector<std::array<uint8_t, 8>> chroma;  // Cb 2x2 then Cr 2x2, raster
  explicit CavlcCounts(const PicSyntax& p) : pic(p), luma(p.mbs.size()), chroma(p.mbs.size()) {}
  void clear(int mb, uint8_t v = 0) { luma[size_t(mb)].fill(v); chroma[size_t(mb)].fill(v); }
  static int nc_from(bool a, int na, bool b, int nb) {
    if (a && b) return (na + nb + 1) >> 1;
    return a ? na : b ? nb : 0;
  }
  int nc_luma(int mb, int bx, int by) const {
    const Nb a = nb4(pic, mb, bx, by, -1, 0), b = nb4(pic, mb, bx, by, 0, -1);
    return nc_from(a.mb >= 0, a.mb >= 0 ? luma[size_t(a.mb)][size_t(a.blk)] : 0, b.mb >= 0,
                   b.mb >= 0 ? luma[size_t(b.mb)][size_t(b.blk)] : 0);
  }
  int nc_chroma(int mb, int k, int cx, int cy) const {  // component k, 2x2 block (cx, cy)
    const int ma = cx > 0 ? mb : pic.neighbour(mb, -1, 0), mbb = cy > 0 ? mb : pic.neighbour(mb, 0, -1);
    const int na = ma >= 0 ? chroma[size_t(ma)][size_t(4 * k + cy * 2 + (cx ^ 1))] : 0;
    const int nb = mbb >= 0 ? chroma[size_t(mbb)][size_t(4 * k + (cy ^ 1) * 2 + cx)] : 0;
    return nc_from(ma >= 0, na, mbb >= 0, nb);
  }
};

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
// cabac_zero_words). Bits are charged as the reader charges them. Returns the number of bins
// coded (decision, bypass and terminate), the slice's share of BinCountsInNALunits (7.4.2.10).
uint64_t write_slice_data_cabac(const SliceSyntax& s, const PicSyntax& pic, SyntaxWriter& w, bool texture_off);

}  // namespace h264
}  // namespace mvc
