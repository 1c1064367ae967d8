// The stream reader's layer below slice data: Annex B (B.1, B.2), NAL unit syntax (7.3.1,
// 7.4.1), parameter sets (7.3.2.1.1, 7.3.2.2, E.1.1, E.1.2), slice headers (7.3.3) and the
// decoding processes that need no samples: picture order count (8.2.1), reference picture
// lists (8.2.4), reference marking (8.2.5). Progressive frames only.
#include "jm/stream.h"

#include <algorithm>
#include <climits>

namespace mvc {
namespace h264 {

namespace {

[[noreturn]] void fail(const std::string& what) { throw ParseError(what, -1); }
[[noreturn]] void unsupported(const std::string& what) { throw Unsupported(what); }

// ue(v) with a range check naming the syntax element.
uint32_t ue_max(BitReader& br, uint32_t max, const char* name) {
  const uint32_t v = br.ue();
  if (v > max) fail(std::string(name) + " = " + std::to_string(v) + " out of range 0.." + std::to_string(max));
  return v;
}
int se_range(BitReader& br, int lo, int hi, const char* name) {
  const int v = br.se();
  if (v < lo || v > hi)
    fail(std::string(name) + " = " + std::to_string(v) + " out of range " + std::to_string(lo) + ".." +
         std::to_string(hi));
  return v;
}

// rbsp_trailing_bits(): the stop bit, then only zero bits to the end of the RBSP (a parameter
// set that does not end there was parsed out of sync or is corrupt).
void trailing_bits(BitReader& br, const char* what) {
  if (br.pos() >= br.size_bits() || br.u1() != 1) fail(std::string(what) + ": missing rbsp_stop_one_bit");
  while (br.pos() < br.size_bits())
    if (br.u1() != 0) fail(std::string(what) + ": data after rbsp_trailing_bits");
}

// scaling_list() (7.3.2.1.1.1): the values are not needed without sample decoding; the deltas
// are range-checked so a desynchronised parse is caught.
void skip_scaling_list(BitReader& br, int size) {
  int last = 8, next = 8;
  for (int j = 0; j < size; ++j) {
    if (next != 0) {
      const int delta = se_range(br, -128, 127, "delta_scale");
      next = (last + delta + 256) % 256;
    }
    if (next != 0) last = next;
  }
}

// hrd_parameters() (E.1.2).
void skip_hrd(BitReader& br) {
  const uint32_t cpb_cnt = ue_max(br, 31, "cpb_cnt_minus1") + 1;
  br.u(4);  // bit_rate_scale
  br.u(4);  // cpb_size_scale
  for (uint32_t i = 0; i < cpb_cnt; ++i) {
    ue_max(br, 0xFFFFFFFEu, "bit_rate_value_minus1");
    ue_max(br, 0xFFFFFFFEu, "cpb_size_value_minus1");
    br.u1();  // cbr_flag
  }
  br.u(5);  // initial_cpb_removal_delay_length_minus1
  br.u(5);  // cpb_removal_delay_length_minus1
  br.u(5);  // dpb_output_delay_length_minus1
  br.u(5);  // time_offset_length
}

// vui_parameters() (E.1.1).
void parse_vui(BitReader& br, Sps& s) {
  if (br.u1()) {  // aspect_ratio_info_present_flag
    if (br.u(8) == 255) {  // aspect_ratio_idc == Extended_SAR
      br.u(16);  // sar_width
      br.u(16);  // sar_height
    }
  }
  if (br.u1()) br.u1();  // overscan_info_present_flag, overscan_appropriate_flag
  if (br.u1()) {         // video_signal_type_present_flag
    br.u(3);             // video_format
    br.u1();             // video_full_range_flag
    if (br.u1()) br.u(24);  // colour_description_present_flag: primaries, transfer, matrix
  }
  if (br.u1()) {  // chroma_loc_info_present_flag
    ue_max(br, 5, "chroma_sample_loc_type_top_field");
    ue_max(br, 5, "chroma_sample_loc_type_bottom_field");
  }
  if (br.u1()) {  // timing_info_present_flag
    s.num_units_in_tick = br.u(32);
    s.time_scale = br.u(32);
    s.fixed_frame_rate = br.u1() != 0;
  }
  const bool nal_hrd = br.u1() != 0;
  if (nal_hrd) skip_hrd(br);
  const bool vcl_hrd = br.u1() != 0;
  if (vcl_hrd) skip_hrd(br);
  if (nal_hrd || vcl_hrd) br.u1();  // low_delay_hrd_flag
  br.u1();                          // pic_struct_present_flag
  if (br.u1()) {                    // bitstream_restriction_flag
    br.u1();                        // motion_vectors_over_pic_boundaries_flag
    ue_max(br, 16, "max_bytes_per_pic_denom");
    ue_max(br, 16, "max_bits_per_mb_denom");
    ue_max(br, 16, "log2_max_mv_length_horizontal");
    ue_max(br, 16, "log2_max_mv_length_vertical");
    s.max_num_reorder_frames = static_cast<int>(ue_max(br, 16, "max_num_reorder_frames"));
    s.max_dec_frame_buffering = static_cast<int>(ue_max(br, 16, "max_dec_frame_buffering"));
  }
}

bool high_profile_syntax(int profile_idc) {
  switch (profile_idc) {
    case 100: case 110: case 122: case 244: case 44: case 83: case 86: case 118: case 128: case 138: case 139:
    case 134: case 135:
      return true;
    default:
      return false;
  }
}

}  // namespace

// ---------------------------------------------------------------- Annex B and NAL units

// Annex B byte stream (B.1). Each unit's payload runs from after its start code prefix to the
// first 0x000000 or 0x000001 (which cannot occur inside a NAL unit, 7.4.1), or to the last
// non-zero byte of the input. Everything between two payloads (trailing_zero_8bits, zero_byte,
// start code prefix, and any non-conforming bytes) is the next unit's lead; bytes before the
// first start code prefix (leading_zero_8bits or garbage) are the first unit's lead; the
// trailing zero bytes after the last payload (and bytes after a 0x000000 with no start code
// following) are the tail. So lead + payload over all units, then tail, is the input exactly.
namespace {

size_t find_start(const uint8_t* data, size_t size, size_t i) {  // first 00 00 01 at or after i, or size
  while (i + 3 <= size) {
    if (data[i + 2] > 1) { i += 3; continue; }
    if (data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1) return i;
    ++i;
  }
  return size;
}

size_t find_end(const uint8_t* data, size_t size, size_t i) {  // first 00 00 00 or 00 00 01 at or after i, or size
  while (i + 3 <= size) {
    if (data[i + 2] > 1) { i += 3; continue; }
    if (data[i] == 0 && data[i + 1] == 0) return i;
    ++i;
  }
  return size;
}

NalUnit make_unit(const uint8_t* data, size_t lead, size_t p, size_t e, size_t index) {
  NalUnit u;
  u.lead_offset = lead;
  u.lead_size = p - lead;
  u.offset = p;
  u.size = e - p;
  const uint8_t h = data[p];
  if (h & 0x80) fail("NAL unit " + std::to_string(index) + ": forbidden_zero_bit is 1");
  u.type = h & 31;
  u.ref_idc = (h >> 5) & 3;
  u.index = index;
  return u;
}

}  // namespace

size_t split_annexb_complete(const uint8_t* data, size_t size, std::vector<NalUnit>& units, uint64_t base,
                             size_t first_index) {
  // the scans below look at most 3 bytes ahead of what they return, so a unit whose payload end
  // and following start code both lie in data[0, size) ends there in the whole stream too
  size_t sc = find_start(data, size, 0), lead = 0;
  while (sc < size) {
    const size_t p = sc + 3;
    const size_t e = find_end(data, size, p);
    if (e >= size) break;
    const size_t next = find_start(data, size, e);
    if (next >= size) break;
    if (e == p) fail("empty NAL unit after the start code at byte " + std::to_string(base + sc));
    units.push_back(make_unit(data, lead, p, e, first_index++));
    lead = e;
    sc = next;
  }
  return lead;
}

AnnexB split_annexb(const uint8_t* data, size_t size, uint64_t base, size_t first_index) {
  auto find_start = [&](size_t i) { return mvc::h264::find_start(data, size, i); };
  auto find_end = [&](size_t i) { return mvc::h264::find_end(data, size, i); };
  AnnexB out;
  size_t sc = find_start(0);
  if (sc >= size) fail("no Annex B start code (0x000001) found");
  size_t lead = 0;
  for (;;) {
    const size_t p = sc + 3;
    size_t e = find_end(p);
    bool last = false;
    if (e >= size) {
      e = size;
      while (e > p && data[e - 1] == 0) --e;
      last = true;
    }
    if (e == p) fail("empty NAL unit after the start code at byte " + std::to_string(base + sc));
    out.units.push_back(make_unit(data, lead, p, e, first_index + out.units.size()));
    if (!last) {
      const size_t next = find_start(e);
      if (next < size) {
        lead = e;
        sc = next;
        continue;
      }
    }
    out.tail_offset = e;
    out.tail_size = size - e;
    return out;
  }
}

void nal_to_rbsp(const uint8_t* payload, size_t size, std::vector<uint8_t>& rbsp) {
  rbsp.clear();
  if (size == 0) return;
  const int type = payload[0] & 31;
  const size_t header = (type == 14 || type == 20) ? 4 : 1;
  if (size <= header) return;
  rbsp.reserve(size - header);
  int zeros = 0;
  for (size_t i = header; i < size; ++i) {
    const uint8_t b = payload[i];
    if (zeros >= 2 && b == 3) {  // emulation_prevention_three_byte
      zeros = 0;
      continue;
    }
    rbsp.push_back(b);
    zeros = b == 0 ? zeros + 1 : 0;
  }
}

void rbsp_to_nal(uint8_t header, const std::vector<uint8_t>& rbsp, std::vector<uint8_t>& out) {
  out.clear();
  out.reserve(rbsp.size() + rbsp.size() / 64 + 2);
  out.push_back(header);
  int zeros = 0;
  for (const uint8_t b : rbsp) {
    if (zeros >= 2 && b <= 3) {
      out.push_back(3);
      zeros = 0;
    }
    out.push_back(b);
    zeros = b == 0 ? zeros + 1 : 0;
  }
  // 7.4.1: an RBSP ending in 0x00 (which only cabac_zero_words 0x0000 make) gets a final 0x03
  if (zeros >= 2) out.push_back(3);
  else if (zeros == 1)
    throw std::invalid_argument("rbsp_to_nal: an RBSP cannot end in an odd number of zero bytes (cabac_zero_words come in pairs)");
}

// ---------------------------------------------------------------- parameter sets

static void parse_sps_impl(const std::vector<uint8_t>& rbsp, ParamSets& ps) {
  BitReader br(rbsp.data(), rbsp.size());
  Sps s;
  s.profile_idc = static_cast<int>(br.u(8));
  s.constraint_flags = static_cast<int>(br.u(8));  // constraint_set0..5_flag, reserved_zero_2bits
  s.level_idc = static_cast<int>(br.u(8));
  s.id = static_cast<int>(ue_max(br, 31, "seq_parameter_set_id"));
  const std::string where = "SPS " + std::to_string(s.id) + ": ";
  if (high_profile_syntax(s.profile_idc)) {
    s.chroma_format_idc = static_cast<int>(ue_max(br, 3, "chroma_format_idc"));
    if (s.chroma_format_idc == 3) s.separate_colour_plane = br.u1() != 0;
    s.bit_depth_luma = 8 + static_cast<int>(ue_max(br, 6, "bit_depth_luma_minus8"));
    s.bit_depth_chroma = 8 + static_cast<int>(ue_max(br, 6, "bit_depth_chroma_minus8"));
    s.qpprime_y_zero_transform_bypass = br.u1() != 0;
    s.scaling_matrix_present = br.u1() != 0;
    if (s.scaling_matrix_present) {
      const int n = s.chroma_format_idc != 3 ? 8 : 12;
      for (int i = 0; i < n; ++i)
        if (br.u1()) skip_scaling_list(br, i < 6 ? 16 : 64);  // seq_scaling_list_present_flag[i]
    }
  }
  s.log2_max_frame_num = 4 + static_cast<int>(ue_max(br, 12, "log2_max_frame_num_minus4"));
  s.poc_type = static_cast<int>(ue_max(br, 2, "pic_order_cnt_type"));
  if (s.poc_type == 0) {
    s.log2_max_poc_lsb = 4 + static_cast<int>(ue_max(br, 12, "log2_max_pic_order_cnt_lsb_minus4"));
  } else if (s.poc_type == 1) {
    s.delta_pic_order_always_zero = br.u1() != 0;
    s.offset_for_non_ref_pic = br.se();
    s.offset_for_top_to_bottom_field = br.se();
    const uint32_t n = ue_max(br, 255, "num_ref_frames_in_pic_order_cnt_cycle");
    s.offset_for_ref_frame.resize(n);
    for (uint32_t i = 0; i < n; ++i) s.offset_for_ref_frame[i] = br.se();
  }
  s.max_num_ref_frames = static_cast<int>(ue_max(br, 16, "max_num_ref_frames"));
  s.gaps_in_frame_num_allowed = br.u1() != 0;
  const uint32_t w = ue_max(br, 1054, "pic_width_in_mbs_minus1") + 1;
  const uint32_t h = ue_max(br, 1054, "pic_height_in_map_units_minus1") + 1;
  s.frame_mbs_only = br.u1() != 0;
  if (!s.frame_mbs_only) s.mb_adaptive_frame_field = br.u1() != 0;
  s.direct_8x8_inference = br.u1() != 0;
  s.mbw = static_cast<int>(w);
  s.mbh = static_cast<int>(h) * (s.frame_mbs_only ? 1 : 2);
  if (static_cast<long>(s.mbw) * s.mbh > 139264)  // MaxFS of the largest level (6.2, Table A-1)
    fail("picture of " + std::to_string(s.mbw) + "x" + std::to_string(s.mbh) +
         " macroblocks exceeds every level's frame size");
  int crop[4] = {0, 0, 0, 0};
  if (br.u1()) {  // frame_cropping_flag
    for (int& c : crop) c = static_cast<int>(ue_max(br, 0x7FFFFFF, "frame_crop_offset"));
  }
  s.vui_present = br.u1() != 0;
  if (s.vui_present) parse_vui(br, s);
  trailing_bits(br, "rbsp_trailing_bits");

  // 7.4.2.1.1: CropUnitX / CropUnitY
  const int chroma_array_type = s.separate_colour_plane ? 0 : s.chroma_format_idc;
  const int sub_w = (chroma_array_type == 1 || chroma_array_type == 2) ? 2 : 1;
  const int sub_h = chroma_array_type == 1 ? 2 : 1;
  const int cux = chroma_array_type == 0 ? 1 : sub_w;
  const int cuy = (chroma_array_type == 0 ? 1 : sub_h) * (s.frame_mbs_only ? 1 : 2);
  const long cw = static_cast<long>(cux) * (static_cast<long>(crop[0]) + crop[1]);
  const long ch = static_cast<long>(cuy) * (static_cast<long>(crop[2]) + crop[3]);
  if (cw >= 16L * s.mbw || ch >= 16L * s.mbh) fail("frame cropping removes the whole picture");
  s.crop_left = cux * crop[0];
  s.crop_right = cux * crop[1];
  s.crop_top = cuy * crop[2];
  s.crop_bottom = cuy * crop[3];
  s.width = 16 * s.mbw - static_cast<int>(cw);
  s.height = 16 * s.mbh - static_cast<int>(ch);

  // scope (the syntax above was complete, so these are reported only for a well-formed SPS); an
  // SPS out of scope replaces (invalidates) an earlier one with its id
  ps.sps[static_cast<size_t>(s.id)].valid = false;
  if (s.separate_colour_plane) unsupported(where + "separate_colour_plane_flag (4:4:4 coded as three planes) is not supported");
  if (s.chroma_format_idc == 2 || s.chroma_format_idc == 3)
    unsupported(where + "chroma_format_idc " + std::to_string(s.chroma_format_idc) +
                (s.chroma_format_idc == 2 ? " (4:2:2)" : " (4:4:4)") + " is not supported (only 4:2:0 and 4:0:0)");
  if (s.bit_depth_luma > 8 || s.bit_depth_chroma > 8)
    unsupported(where + "bit depth " + std::to_string(s.bit_depth_luma) + "/" + std::to_string(s.bit_depth_chroma) +
                " is not supported (only 8-bit)");
  if (!s.frame_mbs_only)
    unsupported(where + "frame_mbs_only_flag 0 (interlaced: field pictures / MBAFF) is not supported");
  if (s.qpprime_y_zero_transform_bypass)
    unsupported(where + "qpprime_y_zero_transform_bypass_flag (lossless coding) is not supported");
  s.valid = true;
  ps.sps[static_cast<size_t>(s.id)] = std::move(s);
}

static void parse_pps_impl(const std::vector<uint8_t>& rbsp, ParamSets& ps) {
  BitReader br(rbsp.data(), rbsp.size());
  Pps p;
  p.id = static_cast<int>(ue_max(br, 255, "pic_parameter_set_id"));
  p.sps_id = static_cast<int>(ue_max(br, 31, "seq_parameter_set_id"));
  const std::string where = "PPS " + std::to_string(p.id) + ": ";
  p.cabac = br.u1() != 0;
  p.bottom_field_pic_order_in_frame_present = br.u1() != 0;
  p.num_slice_groups = static_cast<int>(ue_max(br, 7, "num_slice_groups_minus1")) + 1;
  if (p.num_slice_groups > 1) {
    ps.pps[static_cast<size_t>(p.id)].valid = false;
    unsupported(where + "num_slice_groups " + std::to_string(p.num_slice_groups) +
                " (flexible macroblock ordering, FMO) is not supported");
  }
  p.num_ref_idx_default[0] = static_cast<int>(ue_max(br, 31, "num_ref_idx_l0_default_active_minus1")) + 1;
  p.num_ref_idx_default[1] = static_cast<int>(ue_max(br, 31, "num_ref_idx_l1_default_active_minus1")) + 1;
  p.weighted_pred = br.u1() != 0;
  p.weighted_bipred_idc = static_cast<int>(br.u(2));
  if (p.weighted_bipred_idc > 2) fail("weighted_bipred_idc 3 is reserved");
  p.pic_init_qp = 26 + se_range(br, -26, 25, "pic_init_qp_minus26");  // QpBdOffsetY = 0 (8-bit)
  p.pic_init_qs = 26 + se_range(br, -26, 25, "pic_init_qs_minus26");
  p.chroma_qp_index_offset = se_range(br, -12, 12, "chroma_qp_index_offset");
  p.deblocking_filter_control_present = br.u1() != 0;
  p.constrained_intra_pred = br.u1() != 0;
  p.redundant_pic_cnt_present = br.u1() != 0;
  p.second_chroma_qp_index_offset = p.chroma_qp_index_offset;
  if (br.more_rbsp_data()) {
    p.transform_8x8_mode = br.u1() != 0;
    p.pic_scaling_matrix_present = br.u1() != 0;
    if (p.pic_scaling_matrix_present) {
      // 6 + ((chroma_format_idc != 3) ? 2 : 6) * transform_8x8_mode_flag lists; an SPS with
      // chroma_format_idc 3 is rejected, so the 4:4:4 count is used only when that SPS is known.
      const Sps& s = ps.sps[static_cast<size_t>(p.sps_id)];
      const int n = 6 + ((s.valid && s.chroma_format_idc == 3) ? 6 : 2) * (p.transform_8x8_mode ? 1 : 0);
      for (int i = 0; i < n; ++i)
        if (br.u1()) skip_scaling_list(br, i < 6 ? 16 : 64);  // pic_scaling_list_present_flag[i]
    }
    p.second_chroma_qp_index_offset = se_range(br, -12, 12, "second_chroma_qp_index_offset");
  }
  trailing_bits(br, "rbsp_trailing_bits");
  p.valid = true;
  ps.pps[static_cast<size_t>(p.id)] = p;
}

// ---------------------------------------------------------------- slice header

namespace {

void parse_ref_mod(BitReader& br, int num_ref, std::vector<RefModOp>& ops, int list) {
  ops.clear();
  if (!br.u1()) return;  // ref_pic_list_modification_flag_lX
  for (;;) {
    RefModOp op;
    op.idc = static_cast<int>(br.ue());
    if (op.idc > 3)
      fail("modification_of_pic_nums_idc " + std::to_string(op.idc) + " in list " + std::to_string(list) +
           " (MVC values 4 and 5 are not allowed in a slice layer NAL unit)");
    if (op.idc == 0 || op.idc == 1) {
      // 7.4.3.1 limits abs_diff_pic_num_minus1 to 0..MaxPicNum - 1, but JM 19.0 writes larger
      // values (e.g. 17 for a difference of 2 with MaxPicNum 16); ref_lists reduces them modulo
      // MaxPicNum, which is what the wrap of (8-34) / (8-35) extends to.
      op.value = br.ue();
    } else if (op.idc == 2) {
      op.value = br.ue();  // long_term_pic_num, checked against the DPB (8.2.4.3.2)
    }
    ops.push_back(op);
    if (op.idc == 3) return;
    if (static_cast<int>(ops.size()) > num_ref)
      fail("ref_pic_list_modification of list " + std::to_string(list) + " has more than num_ref_idx_l" +
           std::to_string(list) + "_active (" + std::to_string(num_ref) + ") operations");
  }
}

void parse_weights(BitReader& br, int num_ref, bool chroma, int luma_wd, int chroma_wd, std::vector<PredWeight>& w) {
  w.assign(static_cast<size_t>(num_ref), PredWeight());
  for (auto& e : w) {
    e.luma_weight = static_cast<int16_t>(1 << luma_wd);
    e.chroma_weight[0] = e.chroma_weight[1] = static_cast<int16_t>(1 << chroma_wd);
    e.luma_flag = br.u1() != 0;
    if (e.luma_flag) {
      e.luma_weight = static_cast<int16_t>(se_range(br, -128, 127, "luma_weight"));
      e.luma_offset = static_cast<int16_t>(se_range(br, -128, 127, "luma_offset"));
    }
    if (chroma) {
      e.chroma_flag = br.u1() != 0;
      if (e.chroma_flag) {
        for (int j = 0; j < 2; ++j) {
          e.chroma_weight[j] = static_cast<int16_t>(se_range(br, -128, 127, "chroma_weight"));
          e.chroma_offset[j] = static_cast<int16_t>(se_range(br, -128, 127, "chroma_offset"));
        }
      }
    }
  }
}

}  // namespace

static void parse_slice_header_impl(const std::vector<uint8_t>& rbsp, int nal_type, int nal_ref_idc,
                                    const ParamSets& ps, SliceHeader& sh) {
  sh = SliceHeader();
  if (nal_type != 1 && nal_type != 5)
    fail("parse_slice_header: NAL unit type " + std::to_string(nal_type) + " is not a slice layer without partitioning");
  BitReader br(rbsp.data(), rbsp.size());
  sh.nal_type = nal_type;
  sh.nal_ref_idc = nal_ref_idc;
  sh.idr = nal_type == 5;
  if (sh.idr && nal_ref_idc == 0) fail("IDR slice with nal_ref_idc 0");
  const uint32_t first_mb = br.ue();
  sh.slice_type_raw = static_cast<int>(ue_max(br, 9, "slice_type"));
  sh.pps_id = static_cast<int>(ue_max(br, 255, "pic_parameter_set_id"));
  const Pps& pps = ps.pps[static_cast<size_t>(sh.pps_id)];
  if (!pps.valid) fail("slice refers to PPS " + std::to_string(sh.pps_id) + ", which was not received");
  const Sps& sps = ps.sps[static_cast<size_t>(pps.sps_id)];
  if (!sps.valid)
    fail("PPS " + std::to_string(sh.pps_id) + " refers to SPS " + std::to_string(pps.sps_id) + ", which was not received");
  const int raw = sh.slice_type_raw % 5;
  if (raw == 3 || raw == 4) unsupported(std::string("slice type ") + (raw == 3 ? "SP" : "SI") + " is not supported");
  sh.type = raw;  // SliceType: P 0, B 1, I 2
  if (sh.idr && sh.type != SLICE_I) fail("IDR picture with a P or B slice");
  const uint32_t pic_size = static_cast<uint32_t>(sps.mbw * sps.mbh);
  if (first_mb >= pic_size)
    fail("first_mb_in_slice " + std::to_string(first_mb) + " beyond the picture's " + std::to_string(pic_size) +
         " macroblocks");
  sh.first_mb = static_cast<int>(first_mb);
  // separate_colour_plane_flag and field_pic_flag are absent: such SPSs are rejected
  sh.frame_num = br.u(sps.log2_max_frame_num);
  if (sh.idr) {
    if (sh.frame_num != 0) fail("IDR picture with frame_num " + std::to_string(sh.frame_num));
    sh.idr_pic_id = static_cast<int>(ue_max(br, 65535, "idr_pic_id"));
  }
  if (sps.poc_type == 0) {
    sh.poc_lsb = br.u(sps.log2_max_poc_lsb);
    if (pps.bottom_field_pic_order_in_frame_present) sh.delta_poc_bottom = br.se();
  }
  if (sps.poc_type == 1 && !sps.delta_pic_order_always_zero) {
    sh.delta_poc[0] = br.se();
    if (pps.bottom_field_pic_order_in_frame_present) sh.delta_poc[1] = br.se();
  }
  if (pps.redundant_pic_cnt_present) sh.redundant_pic_cnt = static_cast<int>(ue_max(br, 127, "redundant_pic_cnt"));
  if (sh.type == SLICE_B) sh.direct_spatial = br.u1() != 0;
  if (sh.type != SLICE_I) {
    sh.num_ref[0] = pps.num_ref_idx_default[0];
    sh.num_ref[1] = sh.type == SLICE_B ? pps.num_ref_idx_default[1] : 0;
    if (br.u1()) {  // num_ref_idx_active_override_flag
      sh.num_ref[0] = static_cast<int>(ue_max(br, 31, "num_ref_idx_l0_active_minus1")) + 1;
      if (sh.type == SLICE_B) sh.num_ref[1] = static_cast<int>(ue_max(br, 31, "num_ref_idx_l1_active_minus1")) + 1;
    }
    // 7.4.3: 0..15 for frame pictures (0..31 only for fields)
    for (int l = 0; l < 2; ++l)
      if (sh.num_ref[l] > 16)
        fail("num_ref_idx_l" + std::to_string(l) + "_active " + std::to_string(sh.num_ref[l]) +
             " exceeds 16 in a frame slice");
  }
  const uint32_t max_pic_num = 1u << sps.log2_max_frame_num;  // MaxPicNum = MaxFrameNum for frames
  if (sh.type != SLICE_I) parse_ref_mod(br, sh.num_ref[0], sh.mod[0], 0);
  if (sh.type == SLICE_B) parse_ref_mod(br, sh.num_ref[1], sh.mod[1], 1);
  if ((pps.weighted_pred && sh.type == SLICE_P) || (pps.weighted_bipred_idc == 1 && sh.type == SLICE_B)) {
    const bool chroma = sps.chroma_format_idc != 0;
    sh.luma_log2_wd = static_cast<int>(ue_max(br, 7, "luma_log2_weight_denom"));
    if (chroma) sh.chroma_log2_wd = static_cast<int>(ue_max(br, 7, "chroma_log2_weight_denom"));
    parse_weights(br, sh.num_ref[0], chroma, sh.luma_log2_wd, sh.chroma_log2_wd, sh.weights[0]);
    if (sh.type == SLICE_B) parse_weights(br, sh.num_ref[1], chroma, sh.luma_log2_wd, sh.chroma_log2_wd, sh.weights[1]);
  }
  if (nal_ref_idc != 0) {  // dec_ref_pic_marking()
    if (sh.idr) {
      sh.no_output_of_prior_pics = br.u1() != 0;
      sh.long_term_reference = br.u1() != 0;
    } else {
      sh.adaptive_marking = br.u1() != 0;
      if (sh.adaptive_marking) {
        for (;;) {
          MmcoOp op;
          op.op = static_cast<int>(ue_max(br, 6, "memory_management_control_operation"));
          if (op.op == 0) break;
          if (op.op == 1 || op.op == 3) op.a = ue_max(br, max_pic_num - 1, "difference_of_pic_nums_minus1");
          if (op.op == 2) op.a = ue_max(br, 15, "long_term_pic_num");
          if (op.op == 3 || op.op == 6) op.b = ue_max(br, 15, "long_term_frame_idx");
          if (op.op == 4) op.a = ue_max(br, 16, "max_long_term_frame_idx_plus1");
          if (op.op == 6) op.a = op.b;  // MmcoOp: operation 6 carries long_term_frame_idx in a and b
          sh.mmco.push_back(op);
          if (sh.mmco.size() > 66) fail("more than 66 memory_management_control_operations in one slice header");
        }
      }
    }
  }
  if (pps.cabac && sh.type != SLICE_I) sh.cabac_init_idc = static_cast<int>(ue_max(br, 2, "cabac_init_idc"));
  sh.slice_qp_delta = br.se();
  const long qp = static_cast<long>(pps.pic_init_qp) + sh.slice_qp_delta;
  if (qp < 0 || qp > 51) fail("SliceQPY " + std::to_string(qp) + " out of range 0..51");
  sh.qp = static_cast<int>(qp);
  if (pps.deblocking_filter_control_present) {
    sh.disable_deblocking_filter_idc = static_cast<int>(ue_max(br, 2, "disable_deblocking_filter_idc"));
    if (sh.disable_deblocking_filter_idc != 1) {
      sh.alpha_offset = se_range(br, -6, 6, "slice_alpha_c0_offset_div2");
      sh.beta_offset = se_range(br, -6, 6, "slice_beta_offset_div2");
    }
  }
  // num_slice_groups_minus1 > 0 is rejected with the PPS, so no slice_group_change_cycle
  sh.data_bit = br.pos();
  sh.header_bits = br.pos();
}

// Errors name the structure (the bit reader's own messages speak of slice data).
static std::string where_error(const char* what, const ParseError& e) {
  std::string m = e.what();
  const std::string slice_data = "read past the end of the slice data";
  if (m == slice_data) m = "truncated: read past the end of the RBSP";
  return std::string(what) + ": " + m;
}
void parse_sps(const std::vector<uint8_t>& rbsp, ParamSets& ps) {
  try {
    parse_sps_impl(rbsp, ps);
  } catch (const ParseError& e) {
    throw ParseError(where_error("SPS", e), -1);
  }
}
void parse_pps(const std::vector<uint8_t>& rbsp, ParamSets& ps) {
  try {
    parse_pps_impl(rbsp, ps);
  } catch (const ParseError& e) {
    throw ParseError(where_error("PPS", e), -1);
  }
}
void parse_slice_header(const std::vector<uint8_t>& rbsp, int nal_type, int nal_ref_idc, const ParamSets& ps,
                        SliceHeader& sh) {
  try {
    parse_slice_header_impl(rbsp, nal_type, nal_ref_idc, ps, sh);
  } catch (const ParseError& e) {
    throw ParseError(where_error("slice header", e), -1);
  }
}

// 7.4.1.2.4: whether slice `cur` starts a new primary coded picture after slice `prev`
// (frames only: field_pic_flag / bottom_field_flag cannot differ).
bool first_slice_of_new_picture(const SliceHeader& prev, const SliceHeader& cur, const ParamSets& ps) {
  if (cur.frame_num != prev.frame_num || cur.pps_id != prev.pps_id) return true;
  if ((cur.nal_ref_idc == 0) != (prev.nal_ref_idc == 0)) return true;
  if (cur.idr != prev.idr) return true;
  if (cur.idr && prev.idr && cur.idr_pic_id != prev.idr_pic_id) return true;
  const Pps& pps = ps.pps[static_cast<size_t>(cur.pps_id)];
  const Sps& sps = ps.sps[static_cast<size_t>(pps.sps_id)];
  if (sps.poc_type == 0 && (cur.poc_lsb != prev.poc_lsb || cur.delta_poc_bottom != prev.delta_poc_bottom)) return true;
  if (sps.poc_type == 1 && (cur.delta_poc[0] != prev.delta_poc[0] || cur.delta_poc[1] != prev.delta_poc[1])) return true;
  // a redundant coded picture belongs to the primary one (redundant_pic_cnt > 0 does not start a picture)
  return false;
}

// ---------------------------------------------------------------- DPB

namespace {

int clamp_poc(__int128 v) {
  if (v < INT_MIN || v > INT_MAX) fail("picture order count out of the 32-bit range");
  return static_cast<int>(v);
}

}  // namespace

void Dpb::compute_poc(DecPic& pic, const SliceHeader& sh, const Sps& sps, bool idr, int nal_ref_idc) {
  const uint32_t max_frame_num = 1u << sps.log2_max_frame_num;
  if (sps.poc_type == 0) {
    int prev_msb = prev_poc_msb_, prev_lsb = prev_poc_lsb_;
    if (idr) prev_msb = prev_lsb = 0;
    const int max_lsb = 1 << sps.log2_max_poc_lsb;
    const int lsb = static_cast<int>(sh.poc_lsb);
    int64_t msb = prev_msb;
    if (lsb < prev_lsb && prev_lsb - lsb >= max_lsb / 2) msb = static_cast<int64_t>(prev_msb) + max_lsb;
    else if (lsb > prev_lsb && lsb - prev_lsb > max_lsb / 2) msb = static_cast<int64_t>(prev_msb) - max_lsb;
    cur_poc_msb_ = clamp_poc(msb);
    pic.top_poc = clamp_poc(static_cast<__int128>(msb) + lsb);
    pic.bottom_poc = clamp_poc(static_cast<__int128>(pic.top_poc) + sh.delta_poc_bottom);
  } else {
    // FrameNumOffset (8-6, 8-11)
    int64_t offset = 0;
    if (!idr) {
      const int64_t prev_offset = prev_has_mmco5_ ? 0 : prev_frame_num_offset_;
      offset = prev_frame_num_ > sh.frame_num ? prev_offset + max_frame_num : prev_offset;
    }
    if (offset > INT_MAX / 2) fail("FrameNumOffset overflow");
    cur_frame_num_offset_ = static_cast<int>(offset);
    if (sps.poc_type == 1) {
      const int64_t n = static_cast<int64_t>(sps.offset_for_ref_frame.size());
      int64_t abs_frame_num = n != 0 ? offset + sh.frame_num : 0;
      if (nal_ref_idc == 0 && abs_frame_num > 0) --abs_frame_num;
      __int128 expected = 0;
      if (abs_frame_num > 0) {
        const int64_t cycle = (abs_frame_num - 1) / n, in_cycle = (abs_frame_num - 1) % n;
        __int128 per_cycle = 0;
        for (const int o : sps.offset_for_ref_frame) per_cycle += o;
        expected = static_cast<__int128>(cycle) * per_cycle;
        for (int64_t i = 0; i <= in_cycle; ++i) expected += sps.offset_for_ref_frame[static_cast<size_t>(i)];
      }
      if (nal_ref_idc == 0) expected += sps.offset_for_non_ref_pic;
      pic.top_poc = clamp_poc(expected + sh.delta_poc[0]);
      pic.bottom_poc =
          clamp_poc(static_cast<__int128>(pic.top_poc) + sps.offset_for_top_to_bottom_field + sh.delta_poc[1]);
    } else {
      int64_t t = 0;
      if (!idr) t = nal_ref_idc == 0 ? 2 * (offset + sh.frame_num) - 1 : 2 * (offset + sh.frame_num);
      pic.top_poc = pic.bottom_poc = clamp_poc(t);
    }
  }
  pic.poc = std::min(pic.top_poc, pic.bottom_poc);
}

void Dpb::update_frame_num_wrap(uint32_t frame_num) {
  for (auto& p : dpb_)
    if (p->short_ref)
      p->frame_num_wrap = p->frame_num > frame_num ? static_cast<int>(p->frame_num) - max_frame_num_
                                                    : static_cast<int>(p->frame_num);
}

int Dpb::num_refs() const { return static_cast<int>(dpb_.size()); }

void Dpb::drop_unreferenced() {
  dpb_.erase(std::remove_if(dpb_.begin(), dpb_.end(),
                            [](const std::shared_ptr<DecPic>& p) { return !p->short_ref && !p->long_ref; }),
             dpb_.end());
}

void Dpb::sliding_window(const Sps& sps) {
  // 8.2.5.3, before the current picture is added
  const int max_refs = std::max(sps.max_num_ref_frames, 1);
  while (num_refs() >= max_refs) {
    DecPic* oldest = nullptr;
    for (auto& p : dpb_)
      if (p->short_ref && (!oldest || p->frame_num_wrap < oldest->frame_num_wrap)) oldest = p.get();
    if (!oldest)
      fail("reference marking overflow: " + std::to_string(num_refs()) + " long-term frames fill max_num_ref_frames " +
           std::to_string(max_refs) + " and the sliding window has no short-term frame to remove");
    oldest->short_ref = false;
    drop_unreferenced();
  }
}

// A DecPic for the next picture: one no longer held by anybody (its motion arrays keep their
// memory, so a long stream does not fault in fresh pages for every picture), else a new one.
std::shared_ptr<DecPic> Dpb::recycled() {
  for (auto& p : pool_) {
    if (p.use_count() != 1) continue;
    DecPic& d = *p;
    std::vector<int16_t> mv[2] = {std::move(d.mv[0]), std::move(d.mv[1])};
    std::vector<int8_t> ref[2] = {std::move(d.ref[0]), std::move(d.ref[1])};
    std::vector<int32_t> rp[2] = {std::move(d.ref_pic[0]), std::move(d.ref_pic[1])};
    d = DecPic();
    for (int l = 0; l < 2; ++l) {
      d.mv[l] = std::move(mv[l]); d.ref[l] = std::move(ref[l]);
      d.ref_pic[l] = std::move(rp[l]);
    }
    return p;
  }
  pool_.push_back(std::make_shared<DecPic>());
  return pool_.back();
}

DecPic* Dpb::begin_picture(const SliceHeader& sh, const Sps& sps) {
  if (in_picture_) fail("begin_picture before end_picture of the previous picture");
  max_frame_num_ = 1 << sps.log2_max_frame_num;
  if (sh.idr) lenient_ = false;
  // 8.2.5.2: gaps in frame_num (not for IDR pictures, nor for a stream's first picture)
  if (started_ && !sh.idr && sh.frame_num != prev_ref_frame_num_ &&
      sh.frame_num != (prev_ref_frame_num_ + 1) % static_cast<uint32_t>(max_frame_num_)) {
    if (!sps.gaps_in_frame_num_allowed)
      fail("gap in frame_num: " + std::to_string(sh.frame_num) + " follows the reference frame_num " +
           std::to_string(prev_ref_frame_num_) + " and gaps_in_frame_num_value_allowed_flag is 0 (lost pictures)");
    uint32_t fn = (prev_ref_frame_num_ + 1) % static_cast<uint32_t>(max_frame_num_);
    while (fn != sh.frame_num) {
      auto pic = std::make_shared<DecPic>();
      pic->id = next_id_++;
      pic->frame_num = fn;
      pic->non_existing = true;
      pic->nal_ref_idc = 1;
      pic->segment = segment_;
      pic->w4 = sps.mbw * 4;
      pic->h4 = sps.mbh * 4;
      if (sps.poc_type != 0) {  // POC as for a reference frame with frame_num fn (type 0: left at 0)
        SliceHeader g;
        g.frame_num = fn;
        compute_poc(*pic, g, sps, false, 1);
        prev_frame_num_offset_ = cur_frame_num_offset_;
      }
      prev_frame_num_ = fn;
      prev_has_mmco5_ = false;
      update_frame_num_wrap(fn);
      sliding_window(sps);
      pic->short_ref = true;
      pic->frame_num_wrap = static_cast<int>(fn);
      dpb_.push_back(pic);
      prev_ref_frame_num_ = fn;
      fn = (fn + 1) % static_cast<uint32_t>(max_frame_num_);
    }
  }
  if (!started_ && !sh.idr) lenient_ = true;  // the stream starts at a non-IDR picture
  const bool mmco5 = std::any_of(sh.mmco.begin(), sh.mmco.end(), [](const MmcoOp& o) { return o.op == 5; });
  if (started_ && (sh.idr || mmco5)) ++segment_;
  started_ = true;

  cur_ = recycled();
  DecPic& pic = *cur_;
  pic.id = next_id_++;
  pic.frame_num = sh.frame_num;
  pic.nal_ref_idc = sh.nal_ref_idc;
  pic.idr = sh.idr;
  pic.has_mmco5 = mmco5;
  pic.segment = segment_;
  pic.w4 = sps.mbw * 4;
  pic.h4 = sps.mbh * 4;
  if (sh.idr) {
    // an IDR picture ends every earlier reference (8.2.5.1); the lists of its (I) slices are empty
    prev_poc_msb_ = prev_poc_lsb_ = 0;
  }
  compute_poc(pic, sh, sps, sh.idr, sh.nal_ref_idc);
  pic.frame_num_wrap = static_cast<int>(sh.frame_num);
  update_frame_num_wrap(sh.frame_num);
  in_picture_ = true;
  return cur_.get();
}

RefLists Dpb::ref_lists(const SliceHeader& sh, const Sps& sps) const {
  RefLists out;
  if (sh.type == SLICE_I || !cur_ || !in_picture_) return out;
  const int cur_poc = cur_->poc;
  std::vector<DecPic*> st, lt;
  for (auto& p : dpb_) {
    if (p->short_ref) st.push_back(p.get());
    else if (p->long_ref) lt.push_back(p.get());
  }
  std::sort(lt.begin(), lt.end(), [](DecPic* a, DecPic* b) { return a->long_term_frame_idx < b->long_term_frame_idx; });
  std::vector<DecPic*> init[2];
  if (sh.type == SLICE_P) {
    // 8.2.4.2.1: short-term by descending PicNum (= FrameNumWrap), then long-term ascending
    std::sort(st.begin(), st.end(), [](DecPic* a, DecPic* b) { return a->frame_num_wrap > b->frame_num_wrap; });
    init[0] = st;
    init[0].insert(init[0].end(), lt.begin(), lt.end());
  } else {
    // 8.2.4.2.3: by POC around the current picture, then long-term ascending LongTermPicNum
    // 8.2.4.2.3: with POC type 0, "non-existing" frames are left out of both lists (their POC
    // is unknown); long-term ones cannot be non-existing
    std::vector<DecPic*> before, after;
    for (DecPic* p : st) {
      if (p->non_existing && sps.poc_type == 0) continue;
      if (p->poc < cur_poc) before.push_back(p);
      else if (p->poc > cur_poc) after.push_back(p);
    }
    std::sort(before.begin(), before.end(), [](DecPic* a, DecPic* b) { return a->poc > b->poc; });
    std::sort(after.begin(), after.end(), [](DecPic* a, DecPic* b) { return a->poc < b->poc; });
    init[0] = before;
    init[0].insert(init[0].end(), after.begin(), after.end());
    init[0].insert(init[0].end(), lt.begin(), lt.end());
    init[1] = after;
    init[1].insert(init[1].end(), before.begin(), before.end());
    init[1].insert(init[1].end(), lt.begin(), lt.end());
    if (init[1].size() > 1 && init[1] == init[0]) std::swap(init[1][0], init[1][1]);
  }
  const int max_pic_num = max_frame_num_;
  const int curr_pic_num = static_cast<int>(sh.frame_num);
  for (int l = 0; l < (sh.type == SLICE_B ? 2 : 1); ++l) {
    const int n = sh.num_ref[l];
    std::vector<DecPic*> list(init[l]);
    list.resize(static_cast<size_t>(n) + 1, nullptr);  // one spare entry during modification
    if (init[l].size() > static_cast<size_t>(n)) std::fill(list.begin() + n, list.end(), nullptr);
    // 8.2.4.3
    int ref_idx = 0;
    int64_t pred = curr_pic_num;
    for (const RefModOp& op : sh.mod[l]) {
      if (op.idc == 3) break;
      if (ref_idx >= n) fail("ref_pic_list_modification of list " + std::to_string(l) + " has too many operations");
      DecPic* pic = nullptr;
      bool long_term = false;
      int64_t num = 0;
      if (op.idc == 0 || op.idc == 1) {
        // (8-34) / (8-35), the wrap taken modulo MaxPicNum for out-of-range differences
        const int64_t d = (static_cast<int64_t>(op.value) + 1) % max_pic_num;
        int64_t no_wrap = op.idc == 0 ? pred - d : pred + d;
        if (no_wrap < 0) no_wrap += max_pic_num;
        if (no_wrap >= max_pic_num) no_wrap -= max_pic_num;
        pred = no_wrap;
        num = no_wrap > curr_pic_num ? no_wrap - max_pic_num : no_wrap;
        for (DecPic* p : st)
          if (p->frame_num_wrap == num) pic = p;
        if (!pic && !lenient_)
          fail("ref_pic_list_modification of list " + std::to_string(l) + " names picNum " + std::to_string(num) +
               ", which is not a short-term reference frame");
      } else {
        long_term = true;
        num = op.value;
        for (DecPic* p : lt)
          if (p->long_term_frame_idx == num) pic = p;
        if (!pic && !lenient_)
          fail("ref_pic_list_modification of list " + std::to_string(l) + " names LongTermPicNum " +
               std::to_string(num) + ", which is not a long-term reference frame");
      }
      for (int c = n; c > ref_idx; --c) list[static_cast<size_t>(c)] = list[static_cast<size_t>(c - 1)];
      list[static_cast<size_t>(ref_idx++)] = pic;
      int k = ref_idx;
      for (int c = ref_idx; c <= n; ++c) {
        DecPic* q = list[static_cast<size_t>(c)];
        const bool same = q && (long_term ? (q->long_ref && q->long_term_frame_idx == num)
                                          : (q->short_ref && q->frame_num_wrap == num));
        if (!same || !pic) list[static_cast<size_t>(k++)] = q;
      }
      for (int c = k; c <= n; ++c) list[static_cast<size_t>(c)] = nullptr;
    }
    list.resize(static_cast<size_t>(n));
    out.list[l] = std::move(list);
  }
  return out;
}

void Dpb::end_picture(const SliceHeader& sh, const Sps& sps) {
  if (!cur_ || !in_picture_) fail("end_picture without begin_picture");
  in_picture_ = false;
  DecPic& pic = *cur_;
  const int max_refs = std::max(sps.max_num_ref_frames, 1);
  if (sh.nal_ref_idc != 0) {
    if (sh.idr) {
      // 8.2.5.1: all reference pictures become unused
      for (auto& p : dpb_) p->short_ref = p->long_ref = false;
      dpb_.clear();
      if (sh.long_term_reference) {
        pic.long_ref = true;
        pic.long_term_frame_idx = 0;
        max_long_term_frame_idx_ = 0;
      } else {
        pic.short_ref = true;
        max_long_term_frame_idx_ = -1;  // "no long-term frame indices"
      }
    } else if (sh.adaptive_marking) {
      apply_mmco(sh, sps);
      if (!pic.long_ref) pic.short_ref = true;
    } else {
      sliding_window(sps);
      pic.short_ref = true;
    }
    if (pic.has_mmco5) {
      // 8.2.1: after decoding, the picture's POCs become relative to tempPicOrderCnt, and its
      // frame_num is 0 for what follows (7.4.3)
      const int temp = std::min(pic.top_poc, pic.bottom_poc);
      pic.top_poc -= temp;
      pic.bottom_poc -= temp;
      pic.poc = std::min(pic.top_poc, pic.bottom_poc);
      pic.frame_num = 0;
      pic.frame_num_wrap = 0;
    }
    if (num_refs() + 1 > max_refs)
      fail("reference marking overflow: " + std::to_string(num_refs() + 1) +
           " reference frames after marking exceed max_num_ref_frames " + std::to_string(max_refs));
    dpb_.push_back(cur_);
    // POC state of the previous reference picture (8.2.1.1)
    if (pic.has_mmco5) {
      prev_poc_msb_ = 0;
      prev_poc_lsb_ = pic.top_poc;
    } else {
      prev_poc_msb_ = cur_poc_msb_;
      prev_poc_lsb_ = static_cast<int>(sh.poc_lsb);
    }
    prev_ref_frame_num_ = pic.frame_num;
    prev_ref_has_mmco5_ = pic.has_mmco5;
    prev_ref_top_poc_ = pic.top_poc;
  }
  prev_was_ref_ = sh.nal_ref_idc != 0;
  prev_has_mmco5_ = pic.has_mmco5;
  prev_frame_num_ = pic.frame_num;
  prev_frame_num_offset_ = pic.has_mmco5 ? 0 : cur_frame_num_offset_;
}

void Dpb::apply_mmco(const SliceHeader& sh, const Sps& sps) {
  DecPic& cur = *cur_;
  const int curr_pic_num = static_cast<int>(sh.frame_num);
  auto find_short = [&](int64_t pic_num) -> DecPic* {
    for (auto& p : dpb_)
      if (p->short_ref && p->frame_num_wrap == pic_num) return p.get();
    return nullptr;
  };
  auto find_long = [&](int64_t idx) -> DecPic* {
    for (auto& p : dpb_)
      if (p->long_ref && p->long_term_frame_idx == idx) return p.get();
    return nullptr;
  };
  auto missing = [&](const std::string& what) {
    if (!lenient_) fail(what);
  };
  bool seen5 = false, seen4 = false, seen6 = false;
  for (const MmcoOp& op : sh.mmco) {
    switch (op.op) {
      case 1: {  // 8.2.5.4.1
        const int64_t pic_num = curr_pic_num - (static_cast<int64_t>(op.a) + 1);
        if (DecPic* p = find_short(pic_num)) p->short_ref = false;
        else missing("MMCO 1 names picNum " + std::to_string(pic_num) + ", which is not a short-term reference frame");
        break;
      }
      case 2: {  // 8.2.5.4.2
        if (DecPic* p = find_long(op.a)) p->long_ref = false;
        else missing("MMCO 2 names LongTermPicNum " + std::to_string(op.a) + ", which is not a long-term reference frame");
        break;
      }
      case 3: {  // 8.2.5.4.3
        if (static_cast<int>(op.b) > max_long_term_frame_idx_)
          fail("MMCO 3 long_term_frame_idx " + std::to_string(op.b) + " exceeds MaxLongTermFrameIdx " +
               std::to_string(max_long_term_frame_idx_));
        const int64_t pic_num = curr_pic_num - (static_cast<int64_t>(op.a) + 1);
        DecPic* p = find_short(pic_num);
        if (!p) {
          missing("MMCO 3 names picNum " + std::to_string(pic_num) + ", which is not a short-term reference frame");
          break;
        }
        if (DecPic* q = find_long(op.b))
          if (q != p) q->long_ref = false;
        p->short_ref = false;
        p->long_ref = true;
        p->long_term_frame_idx = static_cast<int>(op.b);
        break;
      }
      case 4: {  // 8.2.5.4.4
        if (seen4) fail("more than one MMCO 4 in a slice header");
        seen4 = true;
        if (static_cast<int>(op.a) > sps.max_num_ref_frames)
          fail("max_long_term_frame_idx_plus1 " + std::to_string(op.a) + " exceeds max_num_ref_frames");
        max_long_term_frame_idx_ = static_cast<int>(op.a) - 1;
        for (auto& p : dpb_)
          if (p->long_ref && p->long_term_frame_idx > max_long_term_frame_idx_) p->long_ref = false;
        break;
      }
      case 5: {  // 8.2.5.4.5
        if (seen5) fail("more than one MMCO 5 in a slice header");
        seen5 = true;
        for (auto& p : dpb_) p->short_ref = p->long_ref = false;
        max_long_term_frame_idx_ = -1;
        break;
      }
      case 6: {  // 8.2.5.4.6
        if (seen6) fail("more than one MMCO 6 in a slice header");
        seen6 = true;
        if (static_cast<int>(op.a) > max_long_term_frame_idx_)
          fail("MMCO 6 long_term_frame_idx " + std::to_string(op.a) + " exceeds MaxLongTermFrameIdx " +
               std::to_string(max_long_term_frame_idx_));
        if (DecPic* q = find_long(op.a)) q->long_ref = false;
        cur.long_ref = true;
        cur.short_ref = false;
        cur.long_term_frame_idx = static_cast<int>(op.a);
        break;
      }
      default:
        fail("memory_management_control_operation " + std::to_string(op.op) + " is invalid");
    }
    drop_unreferenced();
  }
}

}  // namespace h264
}  // namespace mvc
