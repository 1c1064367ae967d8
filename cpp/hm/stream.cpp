// H.265 NAL units, parameter sets and slice segment headers (7.3.1.2, 7.3.2, 7.3.6, 7.3.7).
#include "hm/stream.h"

#include <algorithm>

namespace mvc {
namespace hevc {

namespace {

[[noreturn]] void fail(const std::string& what) { throw ParseError(what, -1); }

uint32_t ue_max(BitReader& br, uint32_t max, const char* name) {
  const uint32_t v = br.ue();
  if (v > max) fail(std::string(name) + " = " + std::to_string(v) + " out of range (max " + std::to_string(max) + ")");
  return v;
}
int se_range(BitReader& br, int lo, int hi, const char* name) {
  const int v = br.se();
  if (v < lo || v > hi)
    fail(std::string(name) + " = " + std::to_string(v) + " out of range [" + std::to_string(lo) + ", " +
         std::to_string(hi) + "]");
  return v;
}
int ceil_log2(uint32_t v) {
  int l = 0;
  while ((uint64_t{1} << l) < v) ++l;
  return l;
}

// profile_tier_level(1, maxNumSubLayersMinus1) (7.3.3); returns general_profile_idc.
int profile_tier_level(BitReader& br, int max_sub_layers_minus1) {
  br.u(2);                       // general_profile_space
  br.u(1);                       // general_tier_flag
  const int profile = static_cast<int>(br.u(5));
  br.skip(32 + 4 + 43 + 1);      // compatibility flags, source / constraint flags, reserved, inbld
  br.u(8);                       // general_level_idc
  bool prof[8] = {false}, lev[8] = {false};
  for (int i = 0; i < max_sub_layers_minus1; ++i) {
    prof[i] = br.u1();
    lev[i] = br.u1();
  }
  if (max_sub_layers_minus1 > 0)
    for (int i = max_sub_layers_minus1; i < 8; ++i) br.u(2);  // reserved_zero_2bits
  for (int i = 0; i < max_sub_layers_minus1; ++i) {
    if (prof[i]) br.skip(88);
    if (lev[i]) br.skip(8);
  }
  return profile;
}

void scaling_list_data(BitReader& br) {  // 7.3.4: parsed (the reader derives no samples)
  for (int size = 0; size < 4; ++size)
    for (int m = 0; m < 6; m += size == 3 ? 3 : 1) {
      if (!br.u1()) {
        ue_max(br, size == 3 ? m / 3 : m, "scaling_list_pred_matrix_id_delta");
      } else {
        const int n = std::min(64, 1 << (4 + (size << 1)));
        if (size > 1) se_range(br, -7, 247, "scaling_list_dc_coef_minus8");
        for (int i = 0; i < n; ++i) se_range(br, -128, 127, "scaling_list_delta_coef");
      }
    }
}

void sub_layer_hrd(BitReader& br, int cpb_cnt, bool sub_pic) {
  for (int i = 0; i < cpb_cnt; ++i) {
    br.ue();
    br.ue();
    if (sub_pic) { br.ue(); br.ue(); }
    br.u1();
  }
}

void hrd_parameters(BitReader& br, bool common, int max_sub_layers_minus1) {  // E.2.2
  bool nal = false, vcl = false, sub_pic = false;
  if (common) {
    nal = br.u1();
    vcl = br.u1();
    if (nal || vcl) {
      sub_pic = br.u1();
      if (sub_pic) { br.u(8); br.u(5); br.u1(); br.u(5); }
      br.u(4);
      br.u(4);
      if (sub_pic) br.u(4);
      br.u(5);
      br.u(5);
      br.u(5);
    }
  }
  for (int i = 0; i <= max_sub_layers_minus1; ++i) {
    const bool fixed_general = br.u1();
    bool fixed_within = true, low_delay = false;
    if (!fixed_general) fixed_within = br.u1();
    if (fixed_within) br.ue();
    else low_delay = br.u1();
    int cpb_cnt = 1;
    if (!low_delay) cpb_cnt = static_cast<int>(ue_max(br, 31, "cpb_cnt_minus1")) + 1;
    if (nal) sub_layer_hrd(br, cpb_cnt, sub_pic);
    if (vcl) sub_layer_hrd(br, cpb_cnt, sub_pic);
  }
}

void vui_parameters(BitReader& br, Sps& s) {  // E.2.1
  if (br.u1()) {                      // aspect_ratio_info_present_flag
    if (br.u(8) == 255) { br.u(16); br.u(16); }
  }
  if (br.u1()) br.u1();               // overscan
  if (br.u1()) {                      // video_signal_type_present_flag
    br.u(3);
    br.u1();
    if (br.u1()) { br.u(8); br.u(8); br.u(8); }
  }
  if (br.u1()) { br.ue(); br.ue(); }  // chroma_loc_info
  br.u1();                            // neutral_chroma_indication_flag
  if (br.u1()) throw Unsupported("field_seq_flag (field coding) is not supported");
  br.u1();                            // frame_field_info_present_flag
  if (br.u1()) { br.ue(); br.ue(); br.ue(); br.ue(); }  // default display window
  if (br.u1()) {                      // vui_timing_info_present_flag
    s.num_units_in_tick = br.u(32);
    s.time_scale = br.u(32);
    if (br.u1()) br.ue();             // vui_num_ticks_poc_diff_one_minus1
    if (br.u1()) hrd_parameters(br, true, s.max_sub_layers - 1);
  }
  if (br.u1()) {                      // bitstream_restriction_flag
    br.u1(); br.u1(); br.u1();
    br.ue(); br.ue(); br.ue(); br.ue(); br.ue();
  }
}

// st_ref_pic_set(idx) (7.3.7) into sets[idx]; idx == sets.size() - 1 may be the slice header's.
void st_ref_pic_set(BitReader& br, std::vector<StRps>& sets, int idx, int num_sps_sets) {
  StRps& r = sets[size_t(idx)];
  r = StRps{};
  const bool inter = idx != 0 && br.u1();
  if (inter) {
    int delta_idx = 1;
    if (idx == num_sps_sets) delta_idx = static_cast<int>(ue_max(br, uint32_t(idx - 1), "delta_idx_minus1")) + 1;
    const int sign = static_cast<int>(br.u1());
    const int abs_delta = static_cast<int>(ue_max(br, 32767, "abs_delta_rps_minus1")) + 1;
    const int delta_rps = (1 - 2 * sign) * abs_delta;
    const StRps& ref = sets[size_t(idx - delta_idx)];
    const int n = ref.num_delta();
    uint8_t used[33], use_delta[33];
    for (int j = 0; j <= n; ++j) {
      used[j] = static_cast<uint8_t>(br.u1());
      use_delta[j] = used[j] ? 1 : static_cast<uint8_t>(br.u1());
    }
    auto add = [&](int l, int dpoc, int u) {
      int& cnt = l ? r.num_positive : r.num_negative;
      if (cnt >= 16) fail("short-term reference picture set with more than 16 pictures");
      r.delta_poc[l][cnt] = dpoc;
      r.used[l][cnt++] = static_cast<uint8_t>(u);
    };
    const int nn = ref.num_negative, np = ref.num_positive;
    // (7-61)
    for (int j = np - 1; j >= 0; --j) {
      const int d = ref.delta_poc[1][j] + delta_rps;
      if (d < 0 && use_delta[nn + j]) add(0, d, used[nn + j]);
    }
    if (delta_rps < 0 && use_delta[n]) add(0, delta_rps, used[n]);
    for (int j = 0; j < nn; ++j) {
      const int d = ref.delta_poc[0][j] + delta_rps;
      if (d < 0 && use_delta[j]) add(0, d, used[j]);
    }
    // (7-62)
    for (int j = nn - 1; j >= 0; --j) {
      const int d = ref.delta_poc[0][j] + delta_rps;
      if (d > 0 && use_delta[j]) add(1, d, used[j]);
    }
    if (delta_rps > 0 && use_delta[n]) add(1, delta_rps, used[n]);
    for (int j = 0; j < np; ++j) {
      const int d = ref.delta_poc[1][j] + delta_rps;
      if (d > 0 && use_delta[nn + j]) add(1, d, used[nn + j]);
    }
    return;
  }
  r.num_negative = static_cast<int>(ue_max(br, 16, "num_negative_pics"));
  r.num_positive = static_cast<int>(ue_max(br, uint32_t(16 - r.num_negative), "num_positive_pics"));
  int poc = 0;
  for (int i = 0; i < r.num_negative; ++i) {
    poc -= static_cast<int>(ue_max(br, 32767, "delta_poc_s0_minus1")) + 1;
    r.delta_poc[0][i] = poc;
    r.used[0][i] = static_cast<uint8_t>(br.u1());
  }
  poc = 0;
  for (int i = 0; i < r.num_positive; ++i) {
    poc += static_cast<int>(ue_max(br, 32767, "delta_poc_s1_minus1")) + 1;
    r.delta_poc[1][i] = poc;
    r.used[1][i] = static_cast<uint8_t>(br.u1());
  }
}

// pred_weight_table() (7.3.6.3) for 8-bit 4:2:0 (WpOffsetHalfRangeC 128), with 7.4.7.3's derivations.
void pred_weight_table(BitReader& br, SliceHeader& sh) {
  sh.luma_log2_wd = static_cast<int>(ue_max(br, 7, "luma_log2_weight_denom"));
  sh.chroma_log2_wd = sh.luma_log2_wd + se_range(br, -sh.luma_log2_wd, 7 - sh.luma_log2_wd, "delta_chroma_log2_weight_denom");
  for (int l = 0; l < (sh.type == SLICE_B ? 2 : 1); ++l) {
    const int n = sh.num_ref[l];
    bool lf[16], cf[16];
    for (int i = 0; i < n; ++i) lf[i] = br.u1();
    for (int i = 0; i < n; ++i) cf[i] = br.u1();
    for (int i = 0; i < n; ++i) {
      sh.luma_weight[l][i] = int16_t(1 << sh.luma_log2_wd);
      sh.luma_offset[l][i] = 0;
      if (lf[i]) {
        sh.luma_weight[l][i] = int16_t((1 << sh.luma_log2_wd) + se_range(br, -128, 127, "delta_luma_weight"));
        sh.luma_offset[l][i] = int16_t(se_range(br, -128, 127, "luma_offset"));
      }
      for (int j = 0; j < 2; ++j) {
        sh.chroma_weight[l][i][j] = int16_t(1 << sh.chroma_log2_wd);
        sh.chroma_offset[l][i][j] = 0;
      }
      if (cf[i])
        for (int j = 0; j < 2; ++j) {
          const int w = (1 << sh.chroma_log2_wd) + se_range(br, -128, 127, "delta_chroma_weight");
          const int d = se_range(br, -4 * 128, 4 * 127, "delta_chroma_offset");
          sh.chroma_weight[l][i][j] = int16_t(w);
          sh.chroma_offset[l][i][j] = int16_t(std::clamp(d - ((128 * w) >> sh.chroma_log2_wd) + 128, -128, 127));
        }
    }
  }
}

}  // namespace

void nal_to_rbsp(const uint8_t* payload, size_t size, std::vector<uint8_t>& rbsp) {
  rbsp.clear();
  if (size < 2) fail("NAL unit shorter than its 2-byte header");
  rbsp.reserve(size);
  int zeros = 0;
  for (size_t i = 2; i < size; ++i) {
    const uint8_t b = payload[i];
    if (zeros >= 2 && b == 3) { zeros = 0; continue; }
    rbsp.push_back(b);
    zeros = b == 0 ? zeros + 1 : 0;
  }
}

void rbsp_to_nal(const uint8_t* header2, const std::vector<uint8_t>& rbsp, std::vector<uint8_t>& out) {
  out.push_back(header2[0]);
  out.push_back(header2[1]);
  int zeros = 0;
  for (uint8_t b : rbsp) {
    if (zeros >= 2 && b <= 3) { out.push_back(3); zeros = 0; }
    out.push_back(b);
    zeros = b == 0 ? zeros + 1 : 0;
  }
}

void parse_vps(const std::vector<uint8_t>& rbsp, ParamSets& ps) {
  BitReader br(rbsp.data(), rbsp.size());
  const int id = static_cast<int>(br.u(4));
  Vps v;
  br.u(2);                                  // base layer internal / available
  if (br.u(6) != 0) throw Unsupported("multi-layer streams (vps_max_layers_minus1 > 0) are not supported");
  const int sub = static_cast<int>(br.u(3));
  if (sub > 6) fail("vps_max_sub_layers_minus1 > 6");
  br.u1();
  br.u(16);
  profile_tier_level(br, sub);
  const bool ordering = br.u1();
  for (int i = ordering ? 0 : sub; i <= sub; ++i) { br.ue(); br.ue(); br.ue(); }
  const int max_layer_id = static_cast<int>(br.u(6));
  const uint32_t sets = ue_max(br, 1023, "vps_num_layer_sets_minus1");
  for (uint32_t i = 1; i <= sets; ++i) br.skip(size_t(max_layer_id) + 1);
  if (br.u1()) {
    v.num_units_in_tick = br.u(32);
    v.time_scale = br.u(32);
  }
  v.valid = true;
  ps.vps[size_t(id)] = v;
}

void parse_sps(const std::vector<uint8_t>& rbsp, ParamSets& ps) {
  BitReader br(rbsp.data(), rbsp.size());
  Sps s;
  s.vps_id = static_cast<int>(br.u(4));
  const int sub = static_cast<int>(br.u(3));
  if (sub > 6) fail("sps_max_sub_layers_minus1 > 6");
  s.max_sub_layers = sub + 1;
  br.u1();
  s.profile_idc = profile_tier_level(br, sub);
  s.id = static_cast<int>(ue_max(br, 15, "sps_seq_parameter_set_id"));
  s.chroma_format_idc = static_cast<int>(ue_max(br, 3, "chroma_format_idc"));
  if (s.chroma_format_idc != 1)
    throw Unsupported("chroma_format_idc " + std::to_string(s.chroma_format_idc) +
                      " (range extensions: only 4:2:0 is supported)");
  s.width = static_cast<int>(ue_max(br, 16888, "pic_width_in_luma_samples"));
  s.height = static_cast<int>(ue_max(br, 16888, "pic_height_in_luma_samples"));
  if (br.u1()) {  // conformance window, in chroma units (4:2:0)
    s.conf_left = 2 * static_cast<int>(ue_max(br, 8444, "conf_win_left_offset"));
    s.conf_right = 2 * static_cast<int>(ue_max(br, 8444, "conf_win_right_offset"));
    s.conf_top = 2 * static_cast<int>(ue_max(br, 8444, "conf_win_top_offset"));
    s.conf_bottom = 2 * static_cast<int>(ue_max(br, 8444, "conf_win_bottom_offset"));
    if (s.conf_left + s.conf_right >= s.width || s.conf_top + s.conf_bottom >= s.height)
      fail("conformance window larger than the picture");
  }
  s.bit_depth_luma = 8 + static_cast<int>(ue_max(br, 8, "bit_depth_luma_minus8"));
  s.bit_depth_chroma = 8 + static_cast<int>(ue_max(br, 8, "bit_depth_chroma_minus8"));
  if (s.bit_depth_luma > 10 || s.bit_depth_chroma > 10)
    throw Unsupported("bit depth " + std::to_string(std::max(s.bit_depth_luma, s.bit_depth_chroma)) +
                      " (range extensions: Main and Main 10 depths, 8 to 10 bits, are supported)");
  s.log2_max_poc_lsb = 4 + static_cast<int>(ue_max(br, 12, "log2_max_pic_order_cnt_lsb_minus4"));
  const bool ordering = br.u1();
  for (int i = ordering ? 0 : sub; i <= sub; ++i) {  // the last loop is HighestTid's
    br.ue();
    s.max_num_reorder = static_cast<int>(std::min<uint32_t>(br.ue(), 16));  // sps_max_num_reorder_pics (<= 15)
    br.ue();
  }
  s.min_cb_log2 = 3 + static_cast<int>(ue_max(br, 3, "log2_min_luma_coding_block_size_minus3"));
  s.ctb_log2 = s.min_cb_log2 + static_cast<int>(ue_max(br, 3, "log2_diff_max_min_luma_coding_block_size"));
  s.min_tb_log2 = 2 + static_cast<int>(ue_max(br, 3, "log2_min_luma_transform_block_size_minus2"));
  s.max_tb_log2 = s.min_tb_log2 + static_cast<int>(ue_max(br, 3, "log2_diff_max_min_luma_transform_block_size"));
  if (s.ctb_log2 < 4 || s.ctb_log2 > 6) fail("CTB size out of range 16..64");
  if (s.min_tb_log2 >= s.min_cb_log2 || s.max_tb_log2 > std::min(5, s.ctb_log2))
    fail("transform block sizes inconsistent with the coding block sizes");
  if (int64_t(s.width) * s.height > 35651584)  // MaxLumaPs of the highest level (6.2, Table A.8)
    fail("picture size " + std::to_string(s.width) + "x" + std::to_string(s.height) + " above every level's limit");
  if (s.width == 0 || s.height == 0 || s.width % (1 << s.min_cb_log2) || s.height % (1 << s.min_cb_log2))
    fail("picture size not a multiple of the minimum coding block size");
  s.max_tr_depth_inter = static_cast<int>(ue_max(br, uint32_t(s.ctb_log2 - s.min_tb_log2), "max_transform_hierarchy_depth_inter"));
  s.max_tr_depth_intra = static_cast<int>(ue_max(br, uint32_t(s.ctb_log2 - s.min_tb_log2), "max_transform_hierarchy_depth_intra"));
  s.scaling_list = br.u1();
  if (s.scaling_list && br.u1()) scaling_list_data(br);
  s.amp = br.u1();
  s.sao = br.u1();
  s.pcm = br.u1();
  if (s.pcm) {
    br.u(4);
    br.u(4);
    br.ue();
    br.ue();
    br.u1();
  }
  const uint32_t nsets = ue_max(br, 64, "num_short_term_ref_pic_sets");
  s.rps.resize(nsets + 1);  // the last entry is room for a slice header's own set
  for (uint32_t i = 0; i < nsets; ++i) st_ref_pic_set(br, s.rps, int(i), int(nsets));
  s.rps.resize(nsets);
  s.long_term_refs = br.u1();
  if (s.long_term_refs) {
    s.num_lt_sps = static_cast<int>(ue_max(br, 32, "num_long_term_ref_pics_sps"));
    for (int i = 0; i < s.num_lt_sps; ++i) {
      s.lt_poc_lsb_sps[i] = br.u(s.log2_max_poc_lsb);
      s.lt_used_sps[i] = static_cast<uint8_t>(br.u1());
    }
  }
  s.temporal_mvp = br.u1();
  s.strong_intra_smoothing = br.u1();
  if (br.u1()) vui_parameters(br, s);
  if (br.u1()) {  // sps_extension_present_flag
    if (br.u1()) throw Unsupported("range extensions (sps_range_extension_flag) are not supported");
    if (br.u1()) throw Unsupported("multi-layer extensions (sps_multilayer_extension_flag) are not supported");
    if (br.u1()) throw Unsupported("3D extensions (sps_3d_extension_flag) are not supported");
    if (br.u1()) throw Unsupported("screen content coding extensions (sps_scc_extension_flag) are not supported");
  }
  s.valid = true;
  ps.sps[size_t(s.id)] = s;
}

void parse_pps(const std::vector<uint8_t>& rbsp, ParamSets& ps) {
  BitReader br(rbsp.data(), rbsp.size());
  Pps p;
  p.id = static_cast<int>(ue_max(br, 63, "pps_pic_parameter_set_id"));
  p.sps_id = static_cast<int>(ue_max(br, 15, "pps_seq_parameter_set_id"));
  p.dependent_slices = br.u1();
  p.output_flag_present = br.u1();
  p.num_extra_bits = static_cast<int>(br.u(3));
  p.sign_hiding = br.u1();
  p.cabac_init_present = br.u1();
  p.num_ref_idx_default[0] = static_cast<int>(ue_max(br, 14, "num_ref_idx_l0_default_active_minus1")) + 1;
  p.num_ref_idx_default[1] = static_cast<int>(ue_max(br, 14, "num_ref_idx_l1_default_active_minus1")) + 1;
  p.init_qp = 26 + se_range(br, -26 - 48, 25, "init_qp_minus26");
  p.constrained_intra = br.u1();
  p.transform_skip = br.u1();
  p.cu_qp_delta = br.u1();
  if (p.cu_qp_delta) p.diff_cu_qp_delta_depth = static_cast<int>(ue_max(br, 3, "diff_cu_qp_delta_depth"));
  p.cb_qp_offset = se_range(br, -12, 12, "pps_cb_qp_offset");
  p.cr_qp_offset = se_range(br, -12, 12, "pps_cr_qp_offset");
  p.slice_chroma_qp_offsets = br.u1();
  p.weighted_pred = br.u1();
  p.weighted_bipred = br.u1();
  p.transquant_bypass = br.u1();
  p.tiles = br.u1();
  p.entropy_sync = br.u1();
  if (p.tiles) {
    const uint32_t cols = ue_max(br, 19, "num_tile_columns_minus1"), rows = ue_max(br, 21, "num_tile_rows_minus1");
    if (!br.u1()) {
      for (uint32_t i = 0; i < cols; ++i) br.ue();
      for (uint32_t i = 0; i < rows; ++i) br.ue();
    }
    br.u1();
  }
  p.loop_filter_across_slices = br.u1();
  if (br.u1()) {  // deblocking_filter_control_present_flag
    p.deblocking_override_enabled = br.u1();
    p.deblocking_disabled = br.u1();
    if (!p.deblocking_disabled) {
      se_range(br, -6, 6, "pps_beta_offset_div2");
      se_range(br, -6, 6, "pps_tc_offset_div2");
    }
  }
  if (br.u1()) scaling_list_data(br);
  p.lists_modification = br.u1();
  p.log2_parallel_merge_level = 2 + static_cast<int>(ue_max(br, 4, "log2_parallel_merge_level_minus2"));
  p.slice_header_extension = br.u1();
  if (br.u1()) {  // pps_extension_present_flag
    if (br.u1()) throw Unsupported("range extensions (pps_range_extension_flag) are not supported");
    if (br.u1()) throw Unsupported("multi-layer extensions (pps_multilayer_extension_flag) are not supported");
    if (br.u1()) throw Unsupported("3D extensions (pps_3d_extension_flag) are not supported");
    if (br.u1()) throw Unsupported("screen content coding extensions (pps_scc_extension_flag) are not supported");
  }
  p.valid = true;
  ps.pps[size_t(p.id)] = p;
}

void parse_slice_header(const std::vector<uint8_t>& rbsp, const ParamSets& ps, SliceHeader& sh) {
  BitReader br(rbsp.data(), rbsp.size());
  sh.first_in_pic = br.u1();
  if (sh.irap()) sh.no_output_of_prior_pics = br.u1();
  sh.pps_id = static_cast<int>(ue_max(br, 63, "slice_pic_parameter_set_id"));
  const Pps& p = ps.pps[size_t(sh.pps_id)];
  if (!p.valid) fail("slice refers to missing PPS " + std::to_string(sh.pps_id));
  const Sps& s = ps.sps[size_t(p.sps_id)];
  if (!s.valid) fail("PPS " + std::to_string(p.id) + " refers to missing SPS " + std::to_string(p.sps_id));
  const int ctb = 1 << s.ctb_log2;
  const uint32_t nctb = uint32_t((s.width + ctb - 1) / ctb) * uint32_t((s.height + ctb - 1) / ctb);
  sh.dependent = false;
  sh.address = 0;
  if (!sh.first_in_pic) {
    if (p.dependent_slices) sh.dependent = br.u1();
    sh.address = br.u(ceil_log2(nctb));
    if (sh.address >= nctb) fail("slice_segment_address out of range");
  }
  if (sh.dependent) throw Unsupported("dependent slice segments are not supported yet");
  br.skip(size_t(p.num_extra_bits));
  const uint32_t t = ue_max(br, 2, "slice_type");
  sh.type = static_cast<int>(t);
  if (p.output_flag_present) br.u1();
  sh.poc_lsb = 0;
  sh.rps = StRps{};
  sh.num_lt = 0;
  sh.temporal_mvp = false;
  if (!sh.idr()) {
    sh.poc_lsb = br.u(s.log2_max_poc_lsb);
    const int nsets = static_cast<int>(s.rps.size());
    if (!br.u1()) {
      std::vector<StRps> sets = s.rps;
      sets.resize(size_t(nsets) + 1);
      st_ref_pic_set(br, sets, nsets, nsets);
      sh.rps = sets[size_t(nsets)];
    } else {
      if (nsets == 0) fail("short_term_ref_pic_set_sps_flag with no sets in the SPS");
      const uint32_t idx = nsets > 1 ? br.u(ceil_log2(uint32_t(nsets))) : 0;
      if (idx >= uint32_t(nsets)) fail("short_term_ref_pic_set_idx out of range");
      sh.rps = s.rps[idx];
    }
    if (s.long_term_refs) {
      uint32_t nsps = 0;
      if (s.num_lt_sps > 0) nsps = ue_max(br, uint32_t(s.num_lt_sps), "num_long_term_sps");
      const uint32_t npics = ue_max(br, 32, "num_long_term_pics");
      sh.num_lt = int(nsps + npics);
      if (sh.num_lt) throw Unsupported("long-term reference pictures are not supported yet");
    }
    if (s.temporal_mvp) sh.temporal_mvp = br.u1();
  }
  sh.sao_luma = sh.sao_chroma = false;
  if (s.sao) {
    sh.sao_luma = br.u1();
    sh.sao_chroma = br.u1();
  }
  sh.num_ref[0] = sh.num_ref[1] = 0;
  sh.list_mod[0] = sh.list_mod[1] = false;
  sh.collocated_from_l0 = true;
  sh.collocated_ref_idx = 0;
  sh.max_num_merge_cand = 5;
  sh.cabac_init = false;
  sh.mvd_l1_zero = false;
  if (sh.type != SLICE_I) {
    sh.num_ref[0] = p.num_ref_idx_default[0];
    sh.num_ref[1] = sh.type == SLICE_B ? p.num_ref_idx_default[1] : 0;
    if (br.u1()) {
      sh.num_ref[0] = static_cast<int>(ue_max(br, 14, "num_ref_idx_l0_active_minus1")) + 1;
      if (sh.type == SLICE_B) sh.num_ref[1] = static_cast<int>(ue_max(br, 14, "num_ref_idx_l1_active_minus1")) + 1;
    }
    int total = 0;
    for (int l = 0; l < 2; ++l)
      for (int i = 0; i < (l ? sh.rps.num_positive : sh.rps.num_negative); ++i) total += sh.rps.used[l][i];
    if (total == 0) fail("P or B slice whose reference picture set has no picture used by the current picture");
    if (p.lists_modification && total > 1) {
      for (int l = 0; l < (sh.type == SLICE_B ? 2 : 1); ++l) {
        sh.list_mod[l] = br.u1();
        if (sh.list_mod[l])
          for (int i = 0; i < sh.num_ref[l]; ++i) {
            sh.list_entry[l][i] = br.u(ceil_log2(uint32_t(total)));
            if (sh.list_entry[l][i] >= uint32_t(total)) fail("list_entry out of range");
          }
      }
    }
    if (sh.type == SLICE_B) sh.mvd_l1_zero = br.u1();
    if (p.cabac_init_present) sh.cabac_init = br.u1();
    if (sh.temporal_mvp) {
      if (sh.type == SLICE_B) sh.collocated_from_l0 = br.u1();
      const int n = sh.collocated_from_l0 ? sh.num_ref[0] : sh.num_ref[1];
      if (n > 1) sh.collocated_ref_idx = static_cast<int>(ue_max(br, uint32_t(n - 1), "collocated_ref_idx"));
    }
    sh.weighted = (p.weighted_pred && sh.type == SLICE_P) || (p.weighted_bipred && sh.type == SLICE_B);
    if (sh.weighted) pred_weight_table(br, sh);
    sh.max_num_merge_cand = 5 - static_cast<int>(ue_max(br, 4, "five_minus_max_num_merge_cand"));
  }
  sh.qp_delta = br.se();
  sh.qp = p.init_qp + sh.qp_delta;
  if (sh.qp < -6 * (s.bit_depth_luma - 8) || sh.qp > 51) fail("SliceQpY " + std::to_string(sh.qp) + " out of range");
  if (p.slice_chroma_qp_offsets) {
    se_range(br, -12, 12, "slice_cb_qp_offset");
    se_range(br, -12, 12, "slice_cr_qp_offset");
  }
  bool deblock_disabled = p.deblocking_disabled;
  if (p.deblocking_override_enabled && br.u1()) {
    deblock_disabled = br.u1();
    if (!deblock_disabled) {
      se_range(br, -6, 6, "slice_beta_offset_div2");
      se_range(br, -6, 6, "slice_tc_offset_div2");
    }
  }
  if (p.loop_filter_across_slices && (sh.sao_luma || sh.sao_chroma || !deblock_disabled)) br.u1();
  sh.entry_bit = br.pos();
  sh.entry_offsets.clear();
  sh.offset_len = 0;
  if (p.tiles || p.entropy_sync) {
    const uint32_t n = br.ue();
    if (n > nctb) fail("num_entry_point_offsets out of range");
    if (n) {
      sh.offset_len = static_cast<int>(ue_max(br, 31, "offset_len_minus1")) + 1;
      for (uint32_t i = 0; i < n; ++i) sh.entry_offsets.push_back(br.u(sh.offset_len) + 1);
    }
  }
  sh.entry_end_bit = br.pos();
  if (p.slice_header_extension) {
    const uint32_t n = ue_max(br, 256, "slice_segment_header_extension_length");
    br.skip(8 * size_t(n));
  }
  sh.ext_end_bit = br.pos();
  if (br.u1() != 1) fail("slice header: byte_alignment() does not start with a one bit");
  while (br.pos() & 7)
    if (br.u1() != 0) fail("slice header: nonzero alignment bit");
  sh.data_bit = br.pos();
}

}  // namespace hevc
}  // namespace mvc
