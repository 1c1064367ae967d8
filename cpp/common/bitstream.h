// Bit writer shared by the H.264 and HEVC encoders: RBSP bits, Exp-Golomb codes,
// trailing bits and NAL encapsulation with emulation prevention (H.264 7.4.1 / H.265 7.4.2).
#pragma once
#include <cstdint>
#include <cstddef>
#include <vector>

namespace mvc {

class BitWriter {
 public:
  void put(uint32_t value, int nbits) {  // nbits in 0..32, MSB first
    for (int i = nbits - 1; i >= 0; --i) put1((value >> i) & 1u);
  }
  void put1(uint32_t bit) {
    cur_ = static_cast<uint8_t>((cur_ << 1) | (bit & 1u));
    if (++nbits_cur_ == 8) { buf_.push_back(cur_); cur_ = 0; nbits_cur_ = 0; }
    ++total_;
  }
  void ue(uint32_t v) {  // unsigned Exp-Golomb, 9.1
    uint64_t x = static_cast<uint64_t>(v) + 1;
    int len = 0;
    while ((x >> len) > 1) ++len;
    put(0, len);
    put(static_cast<uint32_t>(x), len + 1);
  }
  void se(int32_t v) { ue(v <= 0 ? static_cast<uint32_t>(-2 * static_cast<int64_t>(v)) : static_cast<uint32_t>(2 * v - 1)); }
  void trailing_bits() {  // rbsp_trailing_bits(): stop bit then zero alignment
    put1(1);
    while (nbits_cur_) put1(0);
  }
  void align_zero() { while (nbits_cur_) put1(0); }
  bool byte_aligned() const { return nbits_cur_ == 0; }
  uint64_t bits() const { return total_; }
  const std::vector<uint8_t>& bytes() const { return buf_; }  // complete bytes only
  void append_bytes(const uint8_t* p, size_t n) { for (size_t i = 0; i < n; ++i) put(p[i], 8); }
  void clear() { buf_.clear(); cur_ = 0; nbits_cur_ = 0; total_ = 0; }

 private:
  std::vector<uint8_t> buf_;
  uint8_t cur_ = 0;
  int nbits_cur_ = 0;
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
