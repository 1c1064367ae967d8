// CABAC: context initialisation (9.3.2.2, Tables 9-5..9-37) and the arithmetic encoder (9.3.4.3).
#include <cmath>

#include "hm/hevc.h"

namespace mvc {
namespace hevc {

namespace {

// initValue per context, in CtxBase order; [0] initType 0 (I slices), [1] initType 1 (P slices).
constexpr uint8_t kInit[2][NUM_CTX] = {
    {
        153,                                                  // sao_merge_left/up_flag
        200,                                                  // sao_type_idx
        139, 141, 157,                                        // split_cu_flag
        154, 154, 154,                                        // cu_skip_flag (unused in I)
        154,                                                  // pred_mode_flag (unused in I)
        184, 154, 154, 154,                                   // part_mode
        184,                                                  // prev_intra_luma_pred_flag
        63,                                                   // intra_chroma_pred_mode
        154,                                                  // rqt_root_cbf
        154,                                                  // merge_flag
        154,                                                  // merge_idx
        154, 154,                                             // ref_idx_l0
        154,                                                  // mvp_l0_flag
        153, 138, 138,                                        // split_transform_flag
        111, 141,                                             // cbf_luma
        94, 138, 182, 154,                                    // cbf_cb / cbf_cr
        154, 154,                                             // abs_mvd_greater0/1_flag
        110, 110, 124, 125, 140, 153, 125, 127, 140, 109, 111, 143, 127, 111, 79, 108, 123, 63,  // last_x
        110, 110, 124, 125, 140, 153, 125, 127, 140, 109, 111, 143, 127, 111, 79, 108, 123, 63,  // last_y
        91, 171, 134, 141,                                    // coded_sub_block_flag
        111, 111, 125, 110, 110, 94, 124, 108, 124, 107, 125, 141, 179, 153, 125, 107, 125, 141,
        179, 153, 125, 107, 125, 141, 179, 153, 125, 140, 139, 182, 182, 152, 136, 152, 136, 153,
        136, 139, 111, 136, 139, 111,                         // sig_coeff_flag
        140, 92, 137, 138, 140, 152, 138, 139, 153, 74, 149, 92, 139, 107, 122, 152, 140, 179,
        166, 182, 140, 227, 122, 197,                         // coeff_abs_level_greater1_flag
        138, 153, 136, 167, 152, 152,                         // coeff_abs_level_greater2_flag
    },
    {
        153,
        185,
        107, 139, 126,
        197, 185, 201,
        149,
        154, 139, 154, 154,
        154,
        152,
        79,
        110,
        122,
        153, 153,
        168,
        124, 138, 94,
        153, 111,
        149, 107, 167, 154,
        140, 198,
        125, 110, 94, 110, 95, 79, 125, 111, 110, 78, 110, 111, 111, 95, 94, 108, 123, 108,
        125, 110, 94, 110, 95, 79, 125, 111, 110, 78, 110, 111, 111, 95, 94, 108, 123, 108,
        121, 140, 61, 154,
        155, 154, 139, 153, 139, 123, 123, 63, 153, 166, 183, 140, 136, 153, 154, 166, 183, 140,
        136, 153, 154, 166, 183, 140, 136, 153, 154, 170, 153, 123, 123, 107, 121, 107, 121, 167,
        151, 183, 140, 151, 183, 140,
        154, 196, 196, 167, 154, 152, 167, 182, 182, 134, 149, 136, 153, 121, 136, 137, 169, 194,
        166, 167, 154, 167, 137, 182,
        107, 167, 91, 122, 107, 167,
    }};

constexpr uint8_t kLps[64][4] = {
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

constexpr uint8_t kNextMps[64] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                  17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
                                  33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48,
                                  49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 62, 63};
constexpr uint8_t kNextLps[64] = {0,  0,  1,  2,  2,  4,  4,  5,  6,  7,  8,  9,  9,  11, 11, 12,
                                  13, 13, 15, 15, 16, 16, 18, 18, 19, 19, 21, 21, 22, 22, 23, 24,
                                  24, 25, 26, 26, 27, 27, 28, 29, 29, 30, 30, 30, 31, 32, 32, 33,
                                  33, 33, 34, 34, 35, 35, 35, 36, 36, 36, 37, 37, 37, 38, 38, 63};

}  // namespace

// -log2 of the MPS / LPS probability of each state (pLPS = 0.5 * alpha^s, 9.3.4.3 design).
CabacTables::CabacTables() {
  const double alpha = std::pow(0.01875 / 0.5, 1.0 / 63.0);
  for (int st = 0; st < 64; ++st) {
    const double p = 0.5 * std::pow(alpha, st);
    for (int mps = 0; mps < 2; ++mps) {
      const int s = (st << 1) | mps;
      cost[s][mps] = -std::log2(1.0 - p);
      cost[s][1 - mps] = -std::log2(p);
      qcost[s][mps] = static_cast<uint32_t>(std::lround(cost[s][mps] * kQBit));
      qcost[s][1 - mps] = static_cast<uint32_t>(std::lround(cost[s][1 - mps] * kQBit));
      next[s][mps] = static_cast<uint8_t>((kNextMps[st] << 1) | mps);
      next[s][1 - mps] = static_cast<uint8_t>((kNextLps[st] << 1) | (st == 0 ? 1 - mps : mps));
    }
  }
}
const CabacTables kCabacTab;

int chroma_qp(int qpi) {
  static constexpr int tab[14] = {29, 30, 31, 32, 33, 33, 34, 34, 35, 35, 36, 36, 37, 37};
  if (qpi < 30) return qpi;
  if (qpi > 43) return qpi - 6;
  return tab[qpi - 30];
}

void CtxSet::init(bool p_slice, int qp) {
  const uint8_t* iv = kInit[p_slice ? 1 : 0];
  const int q = qp < 0 ? 0 : (qp > 51 ? 51 : qp);
  for (int i = 0; i < NUM_CTX; ++i) {
    const int m = (iv[i] >> 4) * 5 - 45, n = ((iv[i] & 15) << 3) - 16;
    int pre = ((m * q) >> 4) + n;
    pre = pre < 1 ? 1 : (pre > 126 ? 126 : pre);
    const int mps = pre <= 63 ? 0 : 1;
    const int st = mps ? pre - 64 : 63 - pre;
    s[i] = static_cast<uint8_t>((st << 1) | mps);
  }
}

void Cabac::start() {
  low_ = 0;
  range_ = 510;
  outstanding_ = 0;
  first_ = true;
  bits_.clear();
}

void Cabac::put_bit(int b) {
  if (first_) first_ = false;
  else bits_.put1(static_cast<uint32_t>(b));
  bits_.put_run(static_cast<uint32_t>(1 - b), outstanding_);
  outstanding_ = 0;
}

void Cabac::renorm() {
  while (range_ < 256) {
    if (low_ < 256) put_bit(0);
    else if (low_ >= 512) { low_ -= 512; put_bit(1); }
    else { low_ -= 256; ++outstanding_; }
    range_ <<= 1;
    low_ <<= 1;
  }
}

void Cabac::encode_bin(int ci, int b, int cat) {
  uint8_t& s = ctx.s[ci];
  const int st = s >> 1, mps = s & 1;
  const double c = kCabacTab.cost[s][b];
  cost_ += c;
  cat_bits[cat] += c;
  const uint32_t lps = kLps[st][(range_ >> 6) & 3];
  range_ -= lps;
  if (b != mps) {
    low_ += range_;
    range_ = lps;
  }
  s = kCabacTab.next[s][b];
  renorm();
}

void Cabac::encode_bypass(int b, int cat) {
  cat_bits[cat] += 1.0;
  low_ <<= 1;
  if (b) low_ += range_;
  if (low_ >= 1024) { put_bit(1); low_ -= 1024; }
  else if (low_ < 512) put_bit(0);
  else { low_ -= 512; ++outstanding_; }
}

void Cabac::terminate(int b, int cat) {
  if (est_) { qcost_ += b ? uint64_t(7 * kQBit) : 0; return; }
  cost_ += b ? 7.0 : 0.0;
  cat_bits[cat] += b ? 7.0 : 0.0;
  range_ -= 2;
  if (b) {
    low_ += range_;
    range_ = 2;  // EncodeFlush (9.3.4.3.5)
    renorm();
    put_bit((low_ >> 9) & 1);
    bits_.put1((low_ >> 8) & 1);
    bits_.put1(1);  // last bit written is the rbsp_stop_one_bit
  } else {
    renorm();
  }
}

void Cabac::flush_to(BitWriter& out) {
  out.append(bits_);
}

}  // namespace hevc
}  // namespace mvc
