// Bit writer shared by the H.264 and HEVC encoders: RBSP bits, Exp-Golomb codes,
// trailing bits and NAL encapsulation with emulation prevention (H.264 7.4.1 / H.265 7.4.2).
#pragma once
#include <cstdint>
#include <cstddef>
#include <vector>

namespace mvc {

class BitWriter {
 public:
  void put(uint32_t value, int nbits) {  // nbits in 0..32, MSB first; bits above nbits are ignored
    if (nbits <= 0) return;
    const uint64_t v = nbits == 32 ? value : (value & ((1u << nbits) - 1u));
    acc_ = (acc_ << nbits) | v;  // at most 7 pending bits + 32 new ones
    nacc_ += nbits;
    total_ += static_cast<uint64_t>(nbits);
    while (nacc_ >= 8) {
      nacc_ -= 8;
      buf_.push_back(static_cast<uint8_t>(acc_ >> nacc_));
    }
  }
  void put1(uint32_t bit) { put(bit & 1u, 1); }
  void put_run(uint32_t bit, int64_t n) {  // n copies of one bit
    for (; n > 0; n -= 32) put(bit ? 0xffffffffu : 0u, n < 32 ? static_cast<int>(n) : 32);
  }
  void ue(uint32_t v) {  // unsigned Exp-Golomb, 9.1
    uint64_t x = static_cast<uint64_t>(v) + 1;
    int len = 0;
    while ((x >> len) > 1) ++len;
    put(0, len);
    if (len < 32) put(static_cast<uint32_t>(x), len + 1);
    else { put(1, 1); put(static_cast<uint32_t>(x), 32); }  // x = 2^32: a one and 32 zeros
  }
  void se(int32_t v) { ue(v <= 0 ? static_cast<uint32_t>(-2 * static_cast<int64_t>(v)) : static_cast<uint32_t>(2 * v - 1)); }
  void trailing_bits() {  // rbsp_trailing_bits(): stop bit then zero alignment
    put1(1);
    align_zero();
  }
  void align_zero() { put(0, (8 - nacc_) & 7); }
  bool byte_aligned() const { return nacc_ == 0; }
  uint64_t bits() const { return total_; }
  const std::vector<uint8_t>& bytes() const { return buf_; }  // complete bytes only
  int pending_bits() const { return nacc_; }  // bits after bytes(), 0..7
  uint32_t pending_value() const { return static_cast<uint32_t>(acc_ & ((1u << nacc_) - 1u)); }
  void append_bytes(const uint8_t* p, size_t n) {
    if (nacc_ == 0) {
      buf_.insert(buf_.end(), p, p + n);
      total_ += 8 * static_cast<uint64_t>(n);
    } else {
      for (size_t i = 0; i < n; ++i) put(p[i], 8);
    }
  }
  void append(const BitWriter& o) {  // every bit of o, complete bytes and pending ones
    append_bytes(o.buf_.data(), o.buf_.size());
    put(static_cast<uint32_t>(o.acc_ & ((1u << o.nacc_) - 1u)), o.nacc_);
  }
  void clear() { buf_.clear(); acc_ = 0; nacc_ = 0; total_ = 0; }

 private:
  std::vector<uint8_t> buf_;
  uint64_t acc_ = 0;  // pending bits in the low nacc_ bits
  int nacc_ = 0;      // 0..7 between calls
  uint64_t total_ = 0;
};

inline int ue_bits(uint32_t v) {  // length of ue(v) without writing it
  uint64_t x = static_cast<uint64_t>(v) + 1;
  int len = 0;
  while ((x >> len) > 1) ++len;
  return 2 * len + 1;
}
inline int se_bits(int32_t v) {
  return ue_bits(v <= 0 ? static_cast<uint32_t>(-2 * static_cast<int64_t>(v)) : static_cast<uint32_t>(2 * v - 1));
}

// Appends start code + header bytes + RBSP with emulation_prevention_three_byte insertion.
// Returns the number of bytes appended.
size_t write_nal(std::vector<uint8_t>& out, const uint8_t* header, size_t header_len,
                 const std::vector<uint8_t>& rbsp, bool long_start_code = true);

}  // namespace mvc
