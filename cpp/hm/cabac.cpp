// CABAC: context initialisation (9.3.2.2, Tables 9-5..9-37) and the estimated-cost wrapper around
// the shared arithmetic encoder (common/cabac.h, 9.3.4.3).
#include <cmath>

#include "hm/hevc.h"

namespace mvc {
namespace hevc {

namespace {

// initValue per context, in CtxBase order; [0] initType 0 (I slices), [1] initType 1 (P slices).
constexpr uint8_t kInit[3][NUM_CTX] = {
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
        154, 154, 154, 154, 154,                              // inter_pred_idc (unused in I)
        139, 139,                                             // transform_skip_flag (luma, chroma)
        154,                                                  // cu_transquant_bypass_flag
        154, 154,                                             // cu_qp_delta_abs
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
        95, 79, 63, 31, 31,
        139, 139,
        154,
        154, 154,
    },
    {   // initType 2
        153,
        160,
        107, 139, 126,
        197, 185, 201,
        134,
        154, 139, 154, 154,
        183,
        152,
        79,
        154,
        137,
        153, 153,
        168,
        224, 167, 122,
        153, 111,
        149, 92, 167, 154,
        169, 198,
        125, 110, 124, 110, 95, 94, 125, 111, 111, 79, 125, 126, 111, 111, 79, 108, 123, 93,
        125, 110, 124, 110, 95, 94, 125, 111, 111, 79, 125, 126, 111, 111, 79, 108, 123, 93,
        121, 140, 61, 154,
        170, 154, 139, 153, 139, 123, 123, 63, 124, 166, 183, 140, 136, 153, 154, 166, 183, 140,
        136, 153, 154, 166, 183, 140, 136, 153, 154, 170, 153, 138, 138, 122, 121, 122, 121, 167,
        151, 183, 140, 151, 183, 140,
        154, 196, 167, 167, 154, 152, 167, 182, 182, 134, 149, 136, 153, 121, 136, 122, 169, 208,
        166, 167, 154, 152, 167, 182,
        107, 167, 91, 107, 107, 167,
        95, 79, 63, 31, 31,
        139, 139,
        154,
        154, 154,
    }};

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
      next[s][mps] = cabac::kNext.t[s][mps];
      next[s][1 - mps] = cabac::kNext.t[s][1 - mps];
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

void CtxSet::init(bool p_slice, int qp) { init_type(p_slice ? 1 : 0, qp); }

void CtxSet::init_type(int init_type, int qp) {
  const uint8_t* iv = kInit[init_type];
  const int q = qp < 0 ? 0 : (qp > 51 ? 51 : qp);
  for (int i = 0; i < NUM_CTX; ++i) {
    const int m = (iv[i] >> 4) * 5 - 45, n = ((iv[i] & 15) << 3) - 16;
    int pre = ((m * q) >> 4) + n;
    pre = pre < 1 ? 1 : (pre > 126 ? 126 : pre);
    s[i] = cabac::state_from_pre(pre);
  }
}

void Cabac::start() {
  eng_.start();
  eng_.out().clear();
}

void Cabac::encode_bin(int ci, int b, int cat) {
  uint8_t& s = ctx.s[ci];
  const double c = kCabacTab.cost[s][b];
  cost_ += c;
  cat_bits[cat] += c;
  eng_.decision(s, b);
}

void Cabac::encode_bypass(int b, int cat) {
  cost_ += 1.0;
  cat_bits[cat] += 1.0;
  eng_.bypass(b);
}

void Cabac::encode_bypass_bits(uint32_t v, int n, int cat) {
  for (int i = 0; i < n; ++i) {  // the same sums, one bin at a time, as n calls of encode_bypass
    cost_ += 1.0;
    cat_bits[cat] += 1.0;
  }
  eng_.bypass_bits(v, n);
}

void Cabac::terminate(int b, int cat) {
  if (est_) { qcost_ += b ? uint64_t(7 * kQBit) : 0; return; }
  cost_ += b ? 7.0 : 0.0;
  cat_bits[cat] += b ? 7.0 : 0.0;
  eng_.terminate(b);  // b = 1: EncodeFlush; its last bit is the rbsp_stop_one_bit
}

void Cabac::flush_to(BitWriter& out) {
  out.append(eng_.out());
}

}  // namespace hevc
}  // namespace mvc
