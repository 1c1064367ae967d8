// The binary arithmetic coder shared by H.264 (9.3.1.2, 9.3.3.2, 9.3.4) and HEVC (9.3.2.5,
// 9.3.4.3, 9.3.4.4 of H.265): the same 64-state probability model (rangeTabLPS, transIdxLPS /
// transIdxMPS), the same 9-bit range register, renormalisation, bypass, terminate and flush.
// A context is one state byte s = (pStateIdx << 1) | valMPS held by the caller (each codec keeps
// its own context list and initialisation). The encoder's and decoder's per-bin operations are
// inline: the encoders code millions of bins per picture.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/bitstream.h"

namespace mvc {
namespace cabac {

// rangeTabLPS[pStateIdx][qCodIRangeIdx] (H.264 Table 9-44, H.265 Table 9-52).
inline constexpr uint8_t kRangeLps[64][4] = {
    {128, 176, 208, 240}, {128, 167, 197, 227}, {128, 158, 187, 216}, {123, 150, 178, 205},
    {116, 142, 169, 195}, {111, 135, 160, 185}, {105, 128, 152, 175}, {100, 122, 144, 166},
    {95, 116, 137, 158},  {90, 110, 130, 150},  {85, 104, 123, 142},  {81, 99, 117, 135},
    {77, 94, 111, 128},   {73, 89, 105, 122},   {69, 85, 100, 116},   {66, 80, 95, 110},
    {62, 76, 90, 104},    {59, 72, 86, 99},     {56, 69, 81, 94},     {53, 65, 77, 89},
    {51, 62, 73, 85},     {48, 59, 69, 80},     {46, 56, 66, 76},     {43, 53, 63, 72},
    {41, 50, 59, 69},     {39, 48, 56, 65},     {37, 45, 54, 62},     {35, 43, 51, 59},
    {33, 41, 48, 56},     {32, 39, 46, 53},     {30, 37, 43, 50},     {29, 35, 41, 48},
    {27, 33, 39, 45},     {26, 31, 37, 43},     {24, 30, 35, 41},     {23, 28, 33, 39},
    {22, 27, 32, 37},     {21, 26, 30, 35},     {20, 24, 29, 33},     {19, 23, 27, 31},
    {18, 22, 26, 30},     {17, 21, 25, 28},     {16, 20, 23, 27},     {15, 19, 22, 25},
    {14, 18, 21, 24},     {14, 17, 20, 23},     {13, 16, 19, 22},     {12, 15, 18, 21},
    {12, 14, 17, 20},     {11, 14, 16, 19},     {11, 13, 15, 18},     {10, 12, 15, 17},
    {10, 12, 14, 16},     {9, 11, 13, 15},      {9, 11, 12, 14},      {8, 10, 12, 14},
    {8, 9, 11, 13},       {7, 9, 11, 12},       {7, 9, 10, 12},       {7, 8, 10, 11},
    {6, 8, 9, 11},        {6, 7, 9, 10},        {6, 7, 8, 9},         {2, 2, 2, 2}};

// transIdxMPS / transIdxLPS (H.264 Table 9-45, H.265 Table 9-53).
inline constexpr uint8_t kTransIdxMps[64] = {
    1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
    23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44,
    45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 62, 63};
inline constexpr uint8_t kTransIdxLps[64] = {
    0,  0,  1,  2,  2,  4,  4,  5,  6,  7,  8,  9,  9,  11, 11, 12, 13, 13, 15, 15, 16, 16,
    18, 18, 19, 19, 21, 21, 22, 22, 23, 24, 24, 25, 26, 26, 27, 27, 28, 29, 29, 30, 30, 30,
    31, 32, 32, 33, 33, 33, 34, 34, 35, 35, 35, 36, 36, 36, 37, 37, 37, 38, 38, 63};

// Next state byte after coding bin b in state s (valMPS flips on an LPS in pStateIdx 0).
struct NextStateTable {
  uint8_t t[128][2];
  constexpr NextStateTable() : t() {
    for (int s = 0; s < 128; ++s) {
      const int st = s >> 1, mps = s & 1;
      t[s][mps] = static_cast<uint8_t>((kTransIdxMps[st] << 1) | mps);
      t[s][1 - mps] = static_cast<uint8_t>((kTransIdxLps[st] << 1) | (st == 0 ? 1 - mps : mps));
    }
  }
};
inline constexpr NextStateTable kNext{};

// State byte from a preCtxState value in 1..126 (H.264 9.3.1.1, H.265 9.3.2.2).
inline uint8_t state_from_pre(int pre) {
  return pre <= 63 ? static_cast<uint8_t>((63 - pre) << 1) : static_cast<uint8_t>(((pre - 64) << 1) | 1);
}

// log2 of 1..510, for the exact cost of a bin in the coder: log2(range / subrange).
struct Log2Table {
  double v[512];
  Log2Table();
};
extern const Log2Table kLog2;
inline double bin_bits(uint32_t range, uint32_t sub) { return kLog2.v[range] - kLog2.v[sub]; }

// Arithmetic encoder (H.264 9.3.4.1-9.3.4.5, H.265 9.3.4.3 / 9.3.5). Bits go to out(); raw bits
// (H.264 I_PCM samples) may be written there between a flush and the next start().
//
// The same code word as the standard's bit-serial description (RenormE, PutBit with
// bitsOutstanding and firstBitFlag), produced a byte at a time. Seen as one integer X, the coder
// adds the MPS subrange to X on an LPS and doubles X at every renormalisation step (and every
// bypass bin); PutBit writes, one step late, each bit that leaves X's 10-bit window, its final
// value once no carry can reach it any more. Here low_ holds the window and the bits above it
// not yet written (pend_ of them, with room for a carry above), whole bytes move to bytes_ as
// soon as eight are complete, and a carry out of low_ is added to bytes_ (running back through
// 0xff bytes). The flush appends bytes_ and the rest to out() without the first bit (firstBitFlag).
class Encoder {
 public:
  // 9.3.4.1: codILow = 0, codIRange = 510, firstBitFlag = 1, bitsOutstanding = 0. out() is kept.
  void start() {
    low_ = 0;
    range_ = 510;
    pend_ = 0;
    bytes_.clear();
  }
  uint32_t range() const { return range_; }
  // EncodeDecision; returns the subrange chosen (codIRange after the bin, before renormalisation).
  uint32_t decision(uint8_t& s, int b) {
    const int st = s >> 1, mps = s & 1;
    const uint32_t lps = kRangeLps[st][(range_ >> 6) & 3];
    range_ -= lps;
    if (b != mps) {
      low_ += range_;
      range_ = lps;
    }
    const uint32_t sub = range_;
    s = kNext.t[s][b];
    if (range_ < 256) {  // RenormE: as many doublings as bring the range to 256 or more (1..7)
      const int n = __builtin_clz(range_) - 23;
      range_ <<= n;
      shift(n);
    }
    return sub;
  }
  void bypass(int b) {  // EncodeBypass
    low_ = (low_ << 1) + (b ? range_ : 0);
    if (++pend_ >= 8) drain();
  }
  // n bypass bins, the bits of v from the most significant (n in 0..32): doubling X and adding
  // the range per one-bin is X * 2^n + v * range for the lot.
  void bypass_bits(uint32_t v, int n) {
    while (n > 0) {
      const int k = n < 16 ? n : 16;
      n -= k;
      low_ = (low_ << k) + uint64_t((v >> n) & ((1u << k) - 1u)) * range_;
      pend_ += k;
      drain();
    }
  }
  // EncodeTerminate; b = 1 also performs EncodeFlush, whose last written bit is 1 (the
  // rbsp_stop_one_bit at the end of a slice).
  void terminate(int b) {
    range_ -= 2;
    if (b) {
      low_ += range_;
      range_ = 2;
      shift(7);  // RenormE of range 2
      flush();
    } else if (range_ < 256) {
      const int n = __builtin_clz(range_) - 23;
      range_ <<= n;
      shift(n);
    }
  }
  BitWriter& out() { return out_; }
  const BitWriter& out() const { return out_; }

 private:
  void shift(int n) {
    low_ <<= n;
    pend_ += n;
    if (pend_ >= 8) drain();
  }
  // Moves the complete bytes above the window (and a carry above them) out of low_.
  void drain() {
    while (pend_ >= 8) {
      pend_ -= 8;
      const int sh = 10 + pend_;
      const uint64_t t = low_ >> sh;  // eight bits and a possible carry
      low_ &= (uint64_t{1} << sh) - 1;
      if (t >> 8) carry();
      bytes_.push_back(static_cast<uint8_t>(t));
    }
  }
  void carry() {  // X's bits already in bytes_ plus one at their last position
    for (size_t i = bytes_.size(); i-- > 0;)
      if (++bytes_[i] != 0) return;
  }
  // After EncodeFlush's renormalisation: PutBit of bit 9 and the two bits below it (the last
  // one set), so the code word ends 7 bits above the window's bottom.
  void flush() {
    const int nb = pend_ + 3;  // bits of low_ still to write: the pending ones, bits 9, 8 and 7
    uint64_t last = (low_ >> 7) | 1;
    if (last >> nb) {
      carry();
      last &= (uint64_t{1} << nb) - 1;
    }
    // the first bit of the code word is not written (firstBitFlag)
    if (!bytes_.empty()) {
      out_.put(bytes_[0], 7);
      if (bytes_.size() > 1) out_.append_bytes(bytes_.data() + 1, bytes_.size() - 1);
      out_.put(static_cast<uint32_t>(last), nb);
    } else {
      out_.put(static_cast<uint32_t>(last), nb - 1);
    }
    bytes_.clear();
  }
  uint64_t low_ = 0;   // X's window (bits 0..9), pend_ bits above it and room for a carry
  uint32_t range_ = 510;
  int pend_ = 0;
  std::vector<uint8_t> bytes_;  // X's complete bytes above low_ (with the first bit still in)
  BitWriter out_;
};

// Arithmetic decoder (H.264 9.3.1.2, 9.3.3.2). Src supplies bits through u1() and u(n), which must
// throw at the end of the data (h264::BitReader does): a valid slice never makes the decoder
// read past its rbsp_stop_one_bit (the 9 bits read at initialisation and one per
// renormalisation step are exactly the bits the encoder wrote, flush included), so reading
// past the end means corrupt data and never an out-of-bounds access.
template <class Src>
class Decoder {
 public:
  // 9.3.1.2: codIRange = 510, codIOffset = read_bits(9); 510 and 511 are not allowed.
  void start(Src& src) {
    src_ = &src;
    range_ = 510;
    offset_ = 0;
    for (int i = 0; i < 9; ++i) offset_ = (offset_ << 1) | src_->u1();
    if (offset_ >= 510) src_->fail("CABAC: codIOffset 510 or 511 at initialisation");
  }
  uint32_t range() const { return range_; }
  // DecodeDecision; sets b and returns the subrange chosen (as Encoder::decision).
  uint32_t decision(uint8_t& s, int& b) {
    const int st = s >> 1, mps = s & 1;
    const uint32_t lps = kRangeLps[st][(range_ >> 6) & 3];
    range_ -= lps;
    if (offset_ >= range_) {
      b = 1 - mps;
      offset_ -= range_;
      range_ = lps;
    } else {
      b = mps;
    }
    const uint32_t sub = range_;
    s = kNext.t[s][b];
    if (range_ < 256) {  // RenormD: as many doublings as bring the range to 256..510, bits read at once
      const int n = __builtin_clz(range_) - 23;
      range_ <<= n;
      offset_ = (offset_ << n) | src_->u(n);
    }
    return sub;
  }
  int bypass() {  // DecodeBypass
    offset_ = (offset_ << 1) | src_->u1();
    if (offset_ >= range_) {
      offset_ -= range_;
      return 1;
    }
    return 0;
  }
  // DecodeTerminate: 1 ends arithmetic decoding (no renormalisation; the last bit read is the
  // last bit of the encoder's flush).
  int terminate() {
    range_ -= 2;
    if (offset_ >= range_) return 1;
    if (range_ < 256) {
      const int n = __builtin_clz(range_) - 23;
      range_ <<= n;
      offset_ = (offset_ << n) | src_->u(n);
    }
    return 0;
  }

 private:
  Src* src_ = nullptr;
  uint32_t range_ = 510, offset_ = 0;
};

}  // namespace cabac
}  // namespace mvc
