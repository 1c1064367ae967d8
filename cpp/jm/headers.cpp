// Parameter sets and slice header (H.264 7.3.2.1 SPS + E.1.1 VUI, 7.3.2.2 PPS, 7.3.3 slice
// header) and NAL encapsulation. High profile is signalled because CAVLC escapes with
// level_prefix > 15 (needed at very low QP) are allowed only there (and CABAC, the other
// entropy mode, needs Main or High); no 8x8 transform is used.
#include "jm/h264.h"

namespace mvc {
namespace h264 {

void emit_nal(int nal_ref_idc, int nal_type, const RbspWriter& rbsp, std::vector<uint8_t>& out, BitCounts& counts) {
  const uint8_t hdr = static_cast<uint8_t>((nal_ref_idc << 5) | nal_type);
  const size_t n = write_nal(out, &hdr, 1, rbsp.bytes(), true);
  counts[CAT_HEADER] += static_cast<double>(8 * n - rbsp.bits());  // start code, NAL header, emulation prevention
}

void write_sps(const EncCtx& c, std::vector<uint8_t>& out, BitCounts& counts) {
  SyntaxWriter w;
  BitCounts scratch{};
  w.counts = &scratch;
  const int H = CAT_HEADER;
  const int mbs = c.mbw * c.mbh;
  w.u(100, 8, H);                 // profile_idc: High
  w.u(0, 8, H);                   // constraint_set flags + reserved
  w.u(mbs <= 8192 ? 40 : mbs <= 36864 ? 51 : 62, 8, H);  // level_idc
  w.ue(0, H);                     // seq_parameter_set_id
  w.ue(1, H);                     // chroma_format_idc 4:2:0
  w.ue(0, H);                     // bit_depth_luma_minus8
  w.ue(0, H);                     // bit_depth_chroma_minus8
  w.u(0, 1, H);                   // qpprime_y_zero_transform_bypass_flag
  w.u(0, 1, H);                   // seq_scaling_matrix_present_flag
  w.ue(c.log2_max_frame_num - 4, H);
  w.ue(2, H);                     // pic_order_cnt_type 2: output order = decoding order
  w.ue(c.cfg.ref_frames, H);      // max_num_ref_frames
  w.u(0, 1, H);                   // gaps_in_frame_num_value_allowed_flag
  w.ue(c.mbw - 1, H);
  w.ue(c.mbh - 1, H);
  w.u(1, 1, H);                   // frame_mbs_only_flag
  w.u(1, 1, H);                   // direct_8x8_inference_flag
  const bool crop = c.w != c.cfg.width || c.h != c.cfg.height;
  w.u(crop, 1, H);
  if (crop) {
    w.ue(0, H);
    w.ue((c.w - c.cfg.width) / 2, H);
    w.ue(0, H);
    w.ue((c.h - c.cfg.height) / 2, H);
  }
  w.u(1, 1, H);                   // vui_parameters_present_flag
  w.u(0, 1, H);                   // aspect_ratio_info_present_flag
  w.u(0, 1, H);                   // overscan_info_present_flag
  w.u(0, 1, H);                   // video_signal_type_present_flag
  w.u(0, 1, H);                   // chroma_loc_info_present_flag
  w.u(1, 1, H);                   // timing_info_present_flag
  w.u(static_cast<uint32_t>(c.cfg.fps_den), 32, H);       // num_units_in_tick
  w.u(static_cast<uint32_t>(2 * c.cfg.fps_num), 32, H);   // time_scale (two ticks per frame)
  w.u(1, 1, H);                   // fixed_frame_rate_flag
  w.u(0, 1, H);                   // nal_hrd_parameters_present_flag
  w.u(0, 1, H);                   // vcl_hrd_parameters_present_flag
  w.u(0, 1, H);                   // pic_struct_present_flag
  w.u(1, 1, H);                   // bitstream_restriction_flag
  w.u(1, 1, H);                   // motion_vectors_over_pic_boundaries_flag
  w.ue(0, H);                     // max_bytes_per_pic_denom
  w.ue(0, H);                     // max_bits_per_mb_denom
  w.ue(16, H);                    // log2_max_mv_length_horizontal
  w.ue(11, H);                    // log2_max_mv_length_vertical
  w.ue(0, H);                     // max_num_reorder_frames: no reordering, output at once
  w.ue(c.cfg.ref_frames, H);      // max_dec_frame_buffering
  w.bw.trailing_bits();
  counts[H] += static_cast<double>(w.bw.bits());
  emit_nal(3, 7, w.bw, out, counts);
}

void write_pps(const EncCtx& c, std::vector<uint8_t>& out, BitCounts& counts) {
  SyntaxWriter w;
  BitCounts scratch{};
  w.counts = &scratch;
  const int H = CAT_HEADER;
  w.ue(0, H);                     // pic_parameter_set_id
  w.ue(0, H);                     // seq_parameter_set_id
  w.u(c.cfg.cabac, 1, H);         // entropy_coding_mode_flag: 0 CAVLC, 1 CABAC
  w.u(0, 1, H);                   // bottom_field_pic_order_in_frame_present_flag
  w.ue(0, H);                     // num_slice_groups_minus1
  w.ue(c.cfg.ref_frames - 1, H);  // num_ref_idx_l0_default_active_minus1
  w.ue(0, H);                     // num_ref_idx_l1_default_active_minus1
  w.u(0, 1, H);                   // weighted_pred_flag
  w.u(0, 2, H);                   // weighted_bipred_idc
  w.se(c.qp - 26, H);             // pic_init_qp_minus26
  w.se(0, H);                     // pic_init_qs_minus26
  w.se(0, H);                     // chroma_qp_index_offset
  w.u(0, 1, H);                   // deblocking_filter_control_present_flag: filter on, offsets 0
  w.u(0, 1, H);                   // constrained_intra_pred_flag
  w.u(0, 1, H);                   // redundant_pic_cnt_present_flag
  w.bw.trailing_bits();
  counts[H] += static_cast<double>(w.bw.bits());
  emit_nal(3, 8, w.bw, out, counts);
}

void write_slice_header(const EncCtx& c, SyntaxWriter& w) {
  const int H = CAT_HEADER;
  w.ue(0, H);                               // first_mb_in_slice
  w.ue(c.idr ? 7 : 5, H);                   // slice_type (all slices of the picture alike)
  w.ue(0, H);                               // pic_parameter_set_id
  w.u(static_cast<uint32_t>(c.frame_num), c.log2_max_frame_num, H);
  if (c.idr) w.ue(static_cast<uint32_t>(c.idr_pic_id), H);
  if (!c.idr) {
    const bool override_refs = c.num_ref_active != c.cfg.ref_frames;
    w.u(override_refs, 1, H);               // num_ref_idx_active_override_flag
    if (override_refs) w.ue(c.num_ref_active - 1, H);
    w.u(0, 1, H);                           // ref_pic_list_modification_flag_l0
  }
  if (c.idr) { w.u(0, 1, H); w.u(0, 1, H); }  // no_output_of_prior_pics_flag, long_term_reference_flag
  else w.u(0, 1, H);                          // adaptive_ref_pic_marking_mode_flag: sliding window
  if (c.cfg.cabac && !c.idr) w.ue(0, H);      // cabac_init_idc 0 (Table 9-12 .. 9-33, m,n column 0)
  w.se(0, H);                               // slice_qp_delta
}

}  // namespace h264
}  // namespace mvc
