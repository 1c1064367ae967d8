// Reading H.265 streams: NAL unit headers (7.3.1.2), parameter sets (7.3.2.1-7.3.2.3), the slice
// segment header (7.3.6) with short-term reference picture sets (7.3.7, 7.4.8), picture order
// counts (8.3.1) and reference picture list 0 (8.3.4), without sample decoding. stream.cpp
// implements it; reader.cpp drives it with the CTU syntax (ctu_read.cpp) and mvpred.cpp.
// Errors reuse the H.264 reader's types: ParseError (corrupt data, jm/syntax.h) and Unsupported
// (a feature outside the reader's scope, jm/stream.h; ValueError in Python).
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "jm/stream.h"
#include "jm/syntax.h"

namespace mvc {
namespace hevc {

using h264::BitReader;
using h264::ParseError;
using h264::Unsupported;

// NAL unit types (Table 7-1) the reader distinguishes.
enum NalType : int {
  NAL_RADL_N = 6, NAL_RASL_R = 9, NAL_BLA_W_LP = 16, NAL_IDR_W_RADL = 19, NAL_IDR_N_LP = 20, NAL_CRA = 21,
  NAL_VPS = 32, NAL_SPS = 33, NAL_PPS = 34
};
// RBSP of a NAL unit payload (2-byte header dropped, emulation_prevention_three_bytes removed).
void nal_to_rbsp(const uint8_t* payload, size_t size, std::vector<uint8_t>& rbsp);
// Appends the NAL unit payload (2 header bytes, RBSP with emulation prevention, 7.4.2).
void rbsp_to_nal(const uint8_t* header2, const std::vector<uint8_t>& rbsp, std::vector<uint8_t>& out);

struct StRps {  // one short-term reference picture set (7.4.8): deltas relative to the current POC
  int num_negative = 0, num_positive = 0;
  int delta_poc[2][16] = {{0}};   // [0] S0 (negative, decreasing), [1] S1 (positive, increasing)
  uint8_t used[2][16] = {{0}};
  int num_delta() const { return num_negative + num_positive; }
};

struct Vps {
  uint32_t num_units_in_tick = 0, time_scale = 0;  // vps_timing_info (0 when absent)
  bool valid = false;
};

struct Sps {
  int id = 0, vps_id = 0, profile_idc = 0, max_sub_layers = 1;
  int max_num_reorder = 16;  // sps_max_num_reorder_pics[HighestTid] (at most 16 kept)
  int chroma_format_idc = 1, bit_depth_luma = 8, bit_depth_chroma = 8;
  int width = 0, height = 0;            // pic_width / pic_height_in_luma_samples
  int conf_left = 0, conf_right = 0, conf_top = 0, conf_bottom = 0;  // in luma samples
  int log2_max_poc_lsb = 4;
  int min_cb_log2 = 3, ctb_log2 = 4, min_tb_log2 = 2, max_tb_log2 = 5;
  int max_tr_depth_inter = 0, max_tr_depth_intra = 0;
  bool scaling_list = false, amp = false, sao = false, pcm = false;
  std::vector<StRps> rps;               // num_short_term_ref_pic_sets
  bool long_term_refs = false;
  int num_lt_sps = 0;
  uint32_t lt_poc_lsb_sps[33] = {0};
  uint8_t lt_used_sps[33] = {0};
  bool temporal_mvp = false, strong_intra_smoothing = false;
  uint32_t num_units_in_tick = 0, time_scale = 0;  // VUI timing
  bool valid = false;
};

struct Pps {
  int id = 0, sps_id = 0;
  bool dependent_slices = false, output_flag_present = false;
  int num_extra_bits = 0;
  bool sign_hiding = false, cabac_init_present = false;
  int num_ref_idx_default[2] = {1, 1};
  int init_qp = 26;
  bool constrained_intra = false, transform_skip = false, cu_qp_delta = false;
  int diff_cu_qp_delta_depth = 0, cb_qp_offset = 0, cr_qp_offset = 0;
  bool slice_chroma_qp_offsets = false, weighted_pred = false, weighted_bipred = false;
  bool transquant_bypass = false, tiles = false, entropy_sync = false;
  bool loop_filter_across_slices = false, deblocking_override_enabled = false, deblocking_disabled = false;
  bool lists_modification = false;
  int log2_parallel_merge_level = 2;
  bool slice_header_extension = false;
  bool valid = false;
};

struct ParamSets {
  std::array<Vps, 16> vps;
  std::array<Sps, 16> sps;
  std::array<Pps, 64> pps;
};
void parse_vps(const std::vector<uint8_t>& rbsp, ParamSets& ps);
void parse_sps(const std::vector<uint8_t>& rbsp, ParamSets& ps);
void parse_pps(const std::vector<uint8_t>& rbsp, ParamSets& ps);

enum SliceType : int { SLICE_B = 0, SLICE_P = 1, SLICE_I = 2 };

struct SliceHeader {
  int nal_type = 0, temporal_id = 0;
  bool first_in_pic = true, no_output_of_prior_pics = false, dependent = false;
  int pps_id = 0;
  uint32_t address = 0;                // slice_segment_address (CTB, raster scan)
  int type = SLICE_I;
  uint32_t poc_lsb = 0;
  StRps rps;                           // the picture's short-term RPS (from the SPS or the header)
  int num_lt = 0;                      // long-term entries (rejected while they are not supported)
  bool temporal_mvp = false, sao_luma = false, sao_chroma = false;
  int num_ref[2] = {0, 0};
  bool list_mod[2] = {false, false};
  uint32_t list_entry[2][16] = {{0}};
  bool mvd_l1_zero = false, cabac_init = false, collocated_from_l0 = true;
  int collocated_ref_idx = 0;
  int max_num_merge_cand = 5;
  // pred_weight_table (7.3.6.3), derived values (7.4.7.3): weights and offsets per list entry
  bool weighted = false;
  int luma_log2_wd = 0, chroma_log2_wd = 0;
  int16_t luma_weight[2][16] = {{0}}, luma_offset[2][16] = {{0}};
  int16_t chroma_weight[2][16][2] = {{{0}}}, chroma_offset[2][16][2] = {{{0}}};
  int qp_delta = 0, qp = 26;
  size_t data_bit = 0;                 // RBSP bit position where slice_segment_data() begins
  // entry points: num_entry_point_offsets starts at entry_bit, the offsets end at entry_end_bit,
  // the header extension at ext_end_bit (byte_alignment() follows)
  size_t entry_bit = 0, entry_end_bit = 0, ext_end_bit = 0;
  int offset_len = 0;
  std::vector<uint32_t> entry_offsets;
  bool irap() const { return nal_type >= 16 && nal_type <= 23; }
  bool idr() const { return nal_type == NAL_IDR_W_RADL || nal_type == NAL_IDR_N_LP; }
};
// Parses slice_segment_header() (NAL payload header already read into nal_type / temporal_id).
void parse_slice_header(const std::vector<uint8_t>& rbsp, const ParamSets& ps, SliceHeader& sh);

}  // namespace hevc
}  // namespace mvc
