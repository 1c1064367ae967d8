// Parameter sets and slice segment header (7.3.2.1-7.3.2.3, 7.3.6).
#include "hm/hevc.h"

namespace mvc {
namespace hevc {

namespace {

void nal(std::vector<uint8_t>& out, int type, const BitWriter& bw) {
  const uint8_t hdr[2] = {static_cast<uint8_t>(type << 1), 1};  // nuh_layer_id 0, temporal_id_plus1 1
  write_nal(out, hdr, 2, bw.bytes(), true);
}

int level_idc(const Seq& s) {
  const long samples = long(s.W) * s.H;
  if (samples <= 36864) return 30;     // level 1
  if (samples <= 122880) return 60;    // level 2
  if (samples <= 245760) return 63;    // level 2.1
  if (samples <= 552960) return 90;    // level 3
  if (samples <= 983040) return 93;    // level 3.1
  if (samples <= 2228224) return 120;  // level 4
  if (samples <= 8912896) return 150;  // level 5
  return 180;                          // level 6
}

void profile_tier_level(BitWriter& bw, const Seq& s) {
  bw.put(0, 2);     // general_profile_space
  bw.put(0, 1);     // general_tier_flag
  bw.put(1, 5);     // general_profile_idc: Main
  bw.put(0x60000000u, 32);  // compatibility flags 1 (Main) and 2 (Main 10)
  bw.put(1, 1);     // progressive_source_flag
  bw.put(0, 1);     // interlaced_source_flag
  bw.put(0, 1);     // non_packed_constraint_flag
  bw.put(1, 1);     // frame_only_constraint_flag
  bw.put(0, 32);    // 43 reserved zero bits + general_inbld_flag
  bw.put(0, 12);
  bw.put(level_idc(s), 8);
}

}  // namespace

void write_vps(std::vector<uint8_t>& out, const Seq& s) {
  BitWriter bw;
  bw.put(0, 4);        // vps_video_parameter_set_id
  bw.put(1, 1);        // vps_base_layer_internal_flag
  bw.put(1, 1);        // vps_base_layer_available_flag
  bw.put(0, 6);        // vps_max_layers_minus1
  bw.put(0, 3);        // vps_max_sub_layers_minus1
  bw.put(1, 1);        // vps_temporal_id_nesting_flag
  bw.put(0xffff, 16);  // vps_reserved_0xffff_16bits
  profile_tier_level(bw, s);
  bw.put(1, 1);        // vps_sub_layer_ordering_info_present_flag
  bw.ue(s.cfg.ref_frames);  // vps_max_dec_pic_buffering_minus1
  bw.ue(0);            // vps_max_num_reorder_pics
  bw.ue(0);            // vps_max_latency_increase_plus1
  bw.put(0, 6);        // vps_max_layer_id
  bw.ue(0);            // vps_num_layer_sets_minus1
  bw.put(1, 1);        // vps_timing_info_present_flag
  bw.put(s.cfg.fps_den, 32);
  bw.put(s.cfg.fps_num, 32);
  bw.put(0, 1);        // vps_poc_proportional_to_timing_flag
  bw.ue(0);            // vps_num_hrd_parameters
  bw.put(0, 1);        // vps_extension_flag
  bw.trailing_bits();
  nal(out, 32, bw);
}

void write_sps(std::vector<uint8_t>& out, const Seq& s) {
  BitWriter bw;
  bw.put(0, 4);  // sps_video_parameter_set_id
  bw.put(0, 3);  // sps_max_sub_layers_minus1
  bw.put(1, 1);  // sps_temporal_id_nesting_flag
  profile_tier_level(bw, s);
  bw.ue(0);      // sps_seq_parameter_set_id
  bw.ue(1);      // chroma_format_idc 4:2:0
  bw.ue(s.W);
  bw.ue(s.H);
  const bool crop = s.W != s.vis_w || s.H != s.vis_h;
  bw.put(crop, 1);  // conformance_window_flag
  if (crop) {       // offsets in chroma sample units (SubWidthC = SubHeightC = 2)
    bw.ue(0);
    bw.ue((s.W - s.vis_w) / 2);
    bw.ue(0);
    bw.ue((s.H - s.vis_h) / 2);
  }
  bw.ue(0);  // bit_depth_luma_minus8
  bw.ue(0);  // bit_depth_chroma_minus8
  bw.ue(4);  // log2_max_pic_order_cnt_lsb_minus4
  bw.put(1, 1);  // sps_sub_layer_ordering_info_present_flag
  bw.ue(s.cfg.ref_frames);  // sps_max_dec_pic_buffering_minus1
  bw.ue(0);
  bw.ue(0);
  bw.ue(s.min_cb_log2 - 3);
  bw.ue(s.ctu_log2 - s.min_cb_log2);
  bw.ue(s.min_tb_log2 - 2);
  bw.ue(s.max_tb_log2 - s.min_tb_log2);
  bw.ue(s.max_tr_depth_inter);
  bw.ue(s.max_tr_depth_intra);
  bw.put(0, 1);  // scaling_list_enabled_flag
  bw.put(0, 1);  // amp_enabled_flag
  bw.put(s.cfg.sao ? 1 : 0, 1);
  bw.put(0, 1);  // pcm_enabled_flag
  bw.ue(0);      // num_short_term_ref_pic_sets (sent in each slice header)
  bw.put(0, 1);  // long_term_ref_pics_present_flag
  bw.put(s.cfg.tmvp ? 1 : 0, 1);
  bw.put(1, 1);  // strong_intra_smoothing_enabled_flag
  bw.put(0, 1);  // vui_parameters_present_flag
  bw.put(0, 1);  // sps_extension_present_flag
  bw.trailing_bits();
  nal(out, 33, bw);
}

void write_pps(std::vector<uint8_t>& out, const Seq& s) {
  BitWriter bw;
  bw.ue(0);      // pps_pic_parameter_set_id
  bw.ue(0);      // pps_seq_parameter_set_id
  bw.put(0, 1);  // dependent_slice_segments_enabled_flag
  bw.put(0, 1);  // output_flag_present_flag
  bw.put(0, 3);  // num_extra_slice_header_bits
  bw.put(1, 1);  // sign_data_hiding_enabled_flag
  bw.put(0, 1);  // cabac_init_present_flag
  bw.ue(0);      // num_ref_idx_l0_default_active_minus1
  bw.ue(0);      // num_ref_idx_l1_default_active_minus1
  bw.se(s.qp - 26);  // init_qp_minus26
  bw.put(0, 1);  // constrained_intra_pred_flag
  bw.put(0, 1);  // transform_skip_enabled_flag
  bw.put(0, 1);  // cu_qp_delta_enabled_flag
  bw.se(0);      // pps_cb_qp_offset
  bw.se(0);      // pps_cr_qp_offset
  bw.put(0, 1);  // pps_slice_chroma_qp_offsets_present_flag
  bw.put(0, 1);  // weighted_pred_flag
  bw.put(0, 1);  // weighted_bipred_flag
  bw.put(0, 1);  // transquant_bypass_enabled_flag
  bw.put(0, 1);  // tiles_enabled_flag
  bw.put(0, 1);  // entropy_coding_sync_enabled_flag
  bw.put(0, 1);  // pps_loop_filter_across_slices_enabled_flag
  bw.put(0, 1);  // deblocking_filter_control_present_flag
  bw.put(0, 1);  // pps_scaling_list_data_present_flag
  bw.put(0, 1);  // lists_modification_present_flag
  bw.ue(0);      // log2_parallel_merge_level_minus2
  bw.put(0, 1);  // slice_segment_header_extension_present_flag
  bw.put(0, 1);  // pps_extension_present_flag
  bw.trailing_bits();
  nal(out, 34, bw);
}

void write_slice_header(BitWriter& bw, const Seq& s, const Frame& f, bool idr, bool sao_luma, bool sao_chroma) {
  bw.put(1, 1);  // first_slice_segment_in_pic_flag
  if (idr) bw.put(0, 1);  // no_output_of_prior_pics_flag
  bw.ue(0);      // slice_pic_parameter_set_id
  bw.ue(f.is_p ? 1 : 2);  // slice_type
  if (!idr) {
    bw.put(f.poc & 255, 8);  // slice_pic_order_cnt_lsb
    bw.put(0, 1);            // short_term_ref_pic_set_sps_flag
    // st_ref_pic_set(0): the previous refs.size() pictures, all used by the current picture
    bw.ue(static_cast<uint32_t>(f.refs.size()));  // num_negative_pics
    bw.ue(0);                                      // num_positive_pics
    int prev = f.poc;
    for (const RefPic* r : f.refs) {
      bw.ue(prev - r->poc - 1);  // delta_poc_s0_minus1
      bw.put(1, 1);              // used_by_curr_pic_s0_flag
      prev = r->poc;
    }
    if (s.cfg.tmvp) bw.put(f.tmvp ? 1 : 0, 1);  // slice_temporal_mvp_enabled_flag
  }
  if (s.cfg.sao) {
    bw.put(sao_luma, 1);
    bw.put(sao_chroma, 1);
  }
  if (f.is_p) {
    bw.put(1, 1);  // num_ref_idx_active_override_flag
    bw.ue(static_cast<uint32_t>(f.refs.size()) - 1);
    if (f.tmvp && f.refs.size() > 1) bw.ue(0);  // collocated_ref_idx
    bw.ue(0);  // five_minus_max_num_merge_cand
  }
  bw.se(0);  // slice_qp_delta (slice QP = init_qp)
  // byte_alignment()
  bw.put1(1);
  bw.align_zero();
}

}  // namespace hevc
}  // namespace mvc
