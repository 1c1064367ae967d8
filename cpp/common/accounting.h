// Bit-accounting categories shared by both encoders. Every bit of both output streams is
// charged to exactly one category, so per-frame sums equal the stream size.
// Each codec uses the subset that exists in its syntax.
#pragma once
#include <array>
#include <cstdint>

namespace mvc {

enum BitCat : int {
  CAT_HEADER = 0,      // start codes, NAL headers, VPS/SPS/PPS, slice header, trailing bits
  CAT_SKIP,            // H.264 mb_skip_run; HEVC cu_skip_flag
  CAT_MB_TYPE,         // H.264 mb_type + sub_mb_type; HEVC split_cu_flag, pred_mode_flag, part_mode
  CAT_MERGE,           // HEVC merge_flag + merge_idx
  CAT_INTRA_MODE,      // intra prediction modes (luma + chroma), incl. H.264 transform_size_8x8_flag
  CAT_REF_IDX,         // ref_idx_l0
  CAT_MVP_IDX,         // HEVC mvp_l0_flag
  CAT_MVD,             // mvd_l0 (HEVC: context-coded and bypass bins)
  CAT_CBP_QP,          // H.264 coded_block_pattern + mb_qp_delta; HEVC rqt_root_cbf, split_transform_flag, cbf_*, cu_qp_delta
  CAT_RESIDUAL_LUMA,   // residual syntax of luma blocks
  CAT_RESIDUAL_CHROMA, // residual syntax of chroma blocks
  CAT_SAO,             // HEVC SAO syntax
  CAT_END,             // HEVC end_of_slice_segment_flag; CABAC flush
  NUM_CATS
};

inline const char* bitcat_name(int c) {
  static const char* names[NUM_CATS] = {
      "header", "skip", "mb_type", "merge", "intra_mode", "ref_idx", "mvp_idx",
      "mvd", "cbp_qp", "residual_luma", "residual_chroma", "sao", "end"};
  return (c >= 0 && c < NUM_CATS) ? names[c] : "?";
}

using BitCounts = std::array<double, NUM_CATS>;

}  // namespace mvc
