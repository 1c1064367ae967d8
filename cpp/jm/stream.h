// Reading H.264 streams: Annex B NAL units, parameter sets and slice headers (7.3.1-7.3.3),
// picture order counts (8.2.1), reference picture lists (8.2.4) and reference marking (8.2.5),
// without sample decoding. stream.cpp implements it; reader.cpp drives it with the slice-data
// syntax (syntax.h) and the motion derivation (motion.cpp).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "jm/syntax.h"

namespace mvc {
namespace h264 {

// A feature outside the reader's scope (field coding, 4:2:2, high bit depth, SVC/MVC, FMO, ...):
// becomes ValueError in Python. Corrupt data throws ParseError (syntax.h) instead.
struct Unsupported : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// One NAL unit of an Annex B byte stream. lead: the bytes before the NAL header since the end of
// the previous NAL unit (trailing_zero_8bits, zero_byte, start code); payload: header byte(s)
// and the escaped RBSP. Concatenating lead + payload over all units, then tail, gives the input.
struct NalUnit {
  size_t lead_offset = 0, lead_size = 0;
  size_t offset = 0, size = 0;   // payload in the input buffer (size >= 1)
  int type = 0, ref_idc = 0;
  size_t index = 0;              // position in the stream
};
struct AnnexB {
  std::vector<NalUnit> units;
  size_t tail_offset = 0, tail_size = 0;  // trailing bytes after the last unit (zeros)
};
// Splits an Annex B stream; throws ParseError when no start code is found, a unit is empty or
// its forbidden_zero_bit is 1. A payload ends at the first 0x000000 / 0x000001 after its start
// code (or at the last non-zero byte of the input), so it never ends in a zero byte. Bytes
// before the first start code (leading zeros or garbage) are the first unit's lead; bytes
// between a payload and the next start code prefix (trailing zeros, zero_byte, and any
// non-conforming junk) are the next unit's lead; after the last payload, the rest is the tail.
// base / first_index: where data begins in a longer stream (offset, units before it), for the
// units' indexes and the messages.
AnnexB split_annexb(const uint8_t* data, size_t size, uint64_t base = 0, size_t first_index = 0);
// The units of a stream's beginning data[0, size) that split_annexb would give the whole stream
// identically: those followed by the next start code. Appends them to units (index counted from
// first_index) and returns where the next unit's lead begins (0 when no unit is complete); the
// bytes from there on are split again once more of the stream has arrived.
size_t split_annexb_complete(const uint8_t* data, size_t size, std::vector<NalUnit>& units, uint64_t base,
                             size_t first_index);
// RBSP of a NAL unit payload: drops the header byte (and the 3-byte SVC/MVC extension for types
// 14 / 20, which are rejected by the caller anyway) and the emulation_prevention_three_bytes.
void nal_to_rbsp(const uint8_t* payload, size_t size, std::vector<uint8_t>& rbsp);
// Payload of a NAL unit from its header byte and RBSP: emulation prevention inserted (7.4.1),
// with the final 0x03 after an RBSP ending in cabac_zero_words. Replaces out's content; an RBSP
// ending in an odd number of zero bytes (not an RBSP) throws std::invalid_argument. nal_to_rbsp
// also replaces rbsp's content.
void rbsp_to_nal(uint8_t header, const std::vector<uint8_t>& rbsp, std::vector<uint8_t>& out);

struct Sps {
  int profile_idc = 0, constraint_flags = 0, level_idc = 0, id = 0;
  int chroma_format_idc = 1, bit_depth_luma = 8, bit_depth_chroma = 8;
  bool separate_colour_plane = false, qpprime_y_zero_transform_bypass = false;
  bool scaling_matrix_present = false;
  int log2_max_frame_num = 4;
  int poc_type = 0, log2_max_poc_lsb = 4;
  bool delta_pic_order_always_zero = false;
  int offset_for_non_ref_pic = 0, offset_for_top_to_bottom_field = 0;
  std::vector<int> offset_for_ref_frame;
  int max_num_ref_frames = 0;
  bool gaps_in_frame_num_allowed = false;
  int mbw = 0, mbh = 0;          // pic_width_in_mbs, frame height in MBs (frame_mbs_only)
  bool frame_mbs_only = true, mb_adaptive_frame_field = false, direct_8x8_inference = true;
  int crop_left = 0, crop_right = 0, crop_top = 0, crop_bottom = 0;  // in luma samples
  int width = 0, height = 0;     // visible size after cropping
  bool vui_present = false;
  uint32_t num_units_in_tick = 0, time_scale = 0;  // VUI timing (0 when absent; u(32) in E.1.1)
  bool fixed_frame_rate = false;
  int max_num_reorder_frames = -1, max_dec_frame_buffering = -1;  // VUI bitstream restriction, -1 absent
  bool valid = false;
};

struct Pps {
  int id = 0, sps_id = 0;
  bool cabac = false, bottom_field_pic_order_in_frame_present = false;
  int num_slice_groups = 1;
  int num_ref_idx_default[2] = {1, 1};
  bool weighted_pred = false;
  int weighted_bipred_idc = 0;
  int pic_init_qp = 26, pic_init_qs = 26, chroma_qp_index_offset = 0, second_chroma_qp_index_offset = 0;
  bool deblocking_filter_control_present = false, constrained_intra_pred = false, redundant_pic_cnt_present = false;
  bool transform_8x8_mode = false, pic_scaling_matrix_present = false;
  bool valid = false;
};

// modification_of_pic_nums_idc and its value (abs_diff_pic_num_minus1 for 0 / 1, long_term_pic_num
// for 2). SliceHeader::mod[X] holds the operations in order including the final idc 3, so it is
// empty exactly when ref_pic_list_modification_flag_lX is 0.
struct RefModOp { int idc = 3; uint32_t value = 0; };
// memory_management_control_operation and its operands: 1: a = difference_of_pic_nums_minus1;
// 2: a = long_term_pic_num; 3: a = difference_of_pic_nums_minus1, b = long_term_frame_idx;
// 4: a = max_long_term_frame_idx_plus1; 6: a = b = long_term_frame_idx. SliceHeader::mmco holds
// them without the terminating 0 (adaptive_ref_pic_marking_mode_flag says whether there were any).
struct MmcoOp { int op = 0; uint32_t a = 0, b = 0; };

struct PredWeight {  // pred_weight_table() of one list entry (defaults where the flag is 0: weight
                    // 1 << log2_weight_denom, offset 0)
  int16_t luma_weight = 0, luma_offset = 0;
  int16_t chroma_weight[2] = {0, 0}, chroma_offset[2] = {0, 0};
  bool luma_flag = false, chroma_flag = false;
};

struct SliceHeader {
  int nal_type = 0, nal_ref_idc = 0;
  bool idr = false;
  int first_mb = 0, slice_type_raw = 0, type = SLICE_P;  // type: SliceType (slice_type % 5)
  int pps_id = 0;
  uint32_t frame_num = 0;
  int idr_pic_id = 0;
  uint32_t poc_lsb = 0;
  int delta_poc_bottom = 0, delta_poc[2] = {0, 0};
  int redundant_pic_cnt = 0;
  bool direct_spatial = false;
  int num_ref[2] = {0, 0};       // active entries (0 for the lists the slice type does not use)
  std::vector<RefModOp> mod[2];  // ref_pic_list_modification, empty when the flag is 0
  int luma_log2_wd = 0, chroma_log2_wd = 0;
  std::vector<PredWeight> weights[2];  // pred_weight_table (empty when absent)
  bool no_output_of_prior_pics = false, long_term_reference = false;
  bool adaptive_marking = false;
  std::vector<MmcoOp> mmco;
  int cabac_init_idc = 0, slice_qp_delta = 0, qp = 26;
  int disable_deblocking_filter_idc = 0;
  int alpha_offset = 0, beta_offset = 0;  // the syntax values slice_alpha_c0/beta_offset_div2 (not doubled)
  size_t data_bit = 0;           // RBSP bit position where slice_data() begins
  size_t header_bits = 0;        // == data_bit: slice header length in bits
};

// Parameter set tables, indexed by id (SPS 0..31, PPS 0..255). A parameter set that fails to
// parse throws ParseError; unsupported content throws Unsupported naming the feature.
struct ParamSets {
  std::array<Sps, 32> sps;
  std::array<Pps, 256> pps;
};
void parse_sps(const std::vector<uint8_t>& rbsp, ParamSets& ps);
void parse_pps(const std::vector<uint8_t>& rbsp, ParamSets& ps);
// Parses slice_header() of a slice NAL unit (types 1 and 5); the referenced SPS / PPS must exist.
void parse_slice_header(const std::vector<uint8_t>& rbsp, int nal_type, int nal_ref_idc, const ParamSets& ps,
                        SliceHeader& sh);
// 7.4.1.2.4 (frames): whether slice header cur, following prev in the stream, begins a new
// primary coded picture (frame_num, pic_parameter_set_id, nal_ref_idc == 0, IdrPicFlag,
// idr_pic_id, pic_order_cnt_lsb / delta_pic_order_cnt_bottom, delta_pic_order_cnt[0..1] differ).
bool first_slice_of_new_picture(const SliceHeader& prev, const SliceHeader& cur, const ParamSets& ps);

// A picture of the decoded picture buffer: bookkeeping and the motion field (no samples).
struct DecPic {
  int id = -1;                   // decoding order, 0, 1, 2, ... (non-existing frames included)
  int poc = 0, top_poc = 0, bottom_poc = 0;
  uint32_t frame_num = 0;        // 0 after the picture's MMCO 5 (7.4.3), as are its POCs' base (8.2.1)
  int frame_num_wrap = 0, long_term_frame_idx = 0;  // FrameNumWrap (= PicNum) for the current picture
  bool short_ref = false, long_ref = false, idr = false, non_existing = false;
  int nal_ref_idc = 0;
  bool has_mmco5 = false;
  int segment = 0;               // increments at each IDR and MMCO 5: display order is (segment, poc)
  // Motion per 4x4 block (w4 x h4, raster) for each list, filled by motion.cpp: vector, reference
  // index in the slice's list, and the id of the referenced picture (-1: list not used / intra).
  int w4 = 0, h4 = 0;
  std::vector<int16_t> mv[2];
  std::vector<int8_t> ref[2];
  std::vector<int32_t> ref_pic[2];
};

// The reference lists of one slice, as DPB pictures (RefPicList0/1 after initialisation and
// modification, truncated to num_ref_idx_lX_active; an entry may be "no reference picture":
// nullptr, only reported as an error where it is used).
struct RefLists {
  std::vector<DecPic*> list[2];
};

// Decoding process of pictures without samples: POC, frame_num gaps, reference lists, marking.
// Decisions where the standard leaves the decoder a choice or streams break it:
// - frame_num gaps (8.2.5.2) without gaps_in_frame_num_value_allowed_flag throw ParseError
//   naming the gap; with it, "non-existing" frames (id assigned, empty motion arrays) go through
//   the sliding window; their POC follows 8.2.1 for POC types 1 / 2 and is 0 for type 0 (where
//   8.2.4.2.3 leaves them out of B slices' lists).
// - A stream whose first picture is not IDR (a cut stream) is accepted: until the next IDR,
//   references named by list modification or MMCO 1-3 may be missing (the list entry is
//   nullptr, the MMCO does nothing). After an IDR these are ParseErrors.
// - abs_diff_pic_num_minus1 >= MaxPicNum (out of range; JM 19.0 writes such values) is reduced
//   modulo MaxPicNum in (8-34) / (8-35).
// - More reference frames after marking than Max(max_num_ref_frames, 1), a sliding window with
//   only long-term frames, or MMCO operands out of range throw ParseError: the DPB holds at most
//   16 reference frames plus the current picture.
// - B list initialisation (8.2.4.2.3) uses the short-term frames with POC < or > the current
//   one (a reference with an equal POC is left out, as the text says); the L1 / L0 swap compares
//   the whole initial lists before truncation to num_ref_idx_l1_active.
class Dpb {
 public:
  // Starts a new picture from its first slice header (8.2.1 POC; 8.2.5.2 frame_num gaps, which
  // insert non-existing frames when the SPS allows them, else throw ParseError). Returns the
  // current picture, whose motion arrays the caller sizes and fills.
  DecPic* begin_picture(const SliceHeader& sh, const Sps& sps);
  // 8.2.4: RefPicList0/1 for one slice of the current picture.
  RefLists ref_lists(const SliceHeader& sh, const Sps& sps) const;
  // 8.2.5: marks the current picture (IDR / sliding window / MMCO of sh, the picture's first
  // slice header) and stores it in the DPB; pictures no longer referenced are released unless
  // the caller still holds them (shared_ptr).
  void end_picture(const SliceHeader& sh, const Sps& sps);
  std::shared_ptr<DecPic> current() const { return cur_; }
  const std::vector<std::shared_ptr<DecPic>>& pictures() const { return dpb_; }

 private:
  void compute_poc(DecPic& pic, const SliceHeader& sh, const Sps& sps, bool idr, int nal_ref_idc);
  void update_frame_num_wrap(uint32_t frame_num);
  int num_refs() const;
  void drop_unreferenced();
  void sliding_window(const Sps& sps);
  void apply_mmco(const SliceHeader& sh, const Sps& sps);

  std::vector<std::shared_ptr<DecPic>> dpb_;  // reference pictures (short and long term)
  std::shared_ptr<DecPic> cur_;
  std::vector<std::shared_ptr<DecPic>> pool_;  // every DecPic made; reused once nobody else holds it
  std::shared_ptr<DecPic> recycled();
  bool in_picture_ = false;       // between begin_picture and end_picture
  int max_frame_num_ = 16;
  int max_long_term_frame_idx_ = -1;  // -1: "no long-term frame indices"
  bool lenient_ = false;          // the stream began at a non-IDR picture: references named by
                                  // modification / MMCO may be missing until the next IDR
  int cur_poc_msb_ = 0, cur_frame_num_offset_ = 0;  // of the current picture
  bool prev_has_mmco5_ = false;   // the previous picture (any) had MMCO 5
  int next_id_ = 0, segment_ = 0;
  // POC state (8.2.1)
  int prev_poc_msb_ = 0, prev_poc_lsb_ = 0;
  int prev_frame_num_offset_ = 0;
  uint32_t prev_frame_num_ = 0, prev_ref_frame_num_ = 0;
  bool prev_ref_has_mmco5_ = false, prev_was_ref_ = false;
  int prev_ref_top_poc_ = 0;
  bool started_ = false;
};

}  // namespace h264
}  // namespace mvc
