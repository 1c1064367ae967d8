#include "common/bitstream.h"

namespace mvc {

size_t write_nal(std::vector<uint8_t>& out, const uint8_t* header, size_t header_len,
                 const std::vector<uint8_t>& rbsp, bool long_start_code) {
  const size_t start = out.size();
  if (long_start_code) out.push_back(0);
  out.push_back(0); out.push_back(0); out.push_back(1);
  for (size_t i = 0; i < header_len; ++i) out.push_back(header[i]);
  int zeros = 0;
  for (uint8_t b : rbsp) {
    if (zeros >= 2 && b <= 3) { out.push_back(3); zeros = 0; }
    out.push_back(b);
    zeros = (b == 0) ? zeros + 1 : 0;
  }
  // A NAL unit must not end in 0x00: an RBSP that does (it ends in cabac_zero_words) gets a final
  // 0x03 (H.264 7.4.1, H.265 7.4.2).
  if (!rbsp.empty() && rbsp.back() == 0) out.push_back(3);
  return out.size() - start;
}

}  // namespace mvc
