// The HEVC stream reader: an Annex B H.265 stream in; per picture its motion (per 4x4 block),
// mvd, block kinds and per-category bits out; optionally the stream rewritten from the parsed
// records, with the residual of the named picture types removed (crop) or identical. The result
// has the H.264 reader's layout (jm/reader.h) so both share the Python binding's conversion.
#pragma once
#include <cstdint>
#include <vector>

#include "hm/hevc.h"
#include "hm/stream.h"
#include "jm/reader.h"

namespace mvc {
namespace hevc {

using h264::ReadOptions;
using h264::ReadPicture;
using h264::ReadResult;

// mvpred_read.cpp: motion vector prediction (8.5.3.2) for P and B slices as the reader needs it.
struct PuMotion {
  MvField m[2];  // list 0 / list 1, ref -1 where the list is not used
  bool operator==(const PuMotion& o) const { return m[0] == o.m[0] && m[1] == o.m[1]; }
};
struct MvCtx {
  const Frame* f;              // blk (list 0) and bb (list 1) of the PUs decoded so far
  int par_mrg_log2 = 2;        // Log2ParMrgLevel
  const RefPic* col = nullptr; // ColPic (slice_temporal_mvp_enabled_flag), else nullptr
  bool col_from_l0 = true, no_backward = true;
  int max_merge = 5;
};
// The merge candidate of index merge_idx (8.5.3.2.2-8.5.3.2.5), with 8.5.3.2.2's bi-to-uni
// restriction of 8x4 / 4x8 PUs.
PuMotion merge_motion(const MvCtx& c, PuGeom g, int merge_idx);
// The two AMVP candidates (8.5.3.2.6) of list X for ref_idx.
void amvp_motion(const MvCtx& c, const PuGeom& g, int X, int ref_idx, Mv out[2]);

// ctu_read.cpp: one slice segment's slice_segment_data() into f's records and coefficients.
struct SliceReadCtx {
  const Seq* seq;
  Frame* f;          // refs = RefPicList0 (num_ref_idx_l0_active entries), poc, is_p, tmvp set
  int qp;            // SliceQpY
  bool sao_luma, sao_chroma;
  bool sign_hiding;
  int max_merge;     // MaxNumMergeCand
  bool entropy_sync = false;  // entropy_coding_sync_enabled_flag (wavefront substreams)
  int slice_addr = 0;         // SliceAddrRs: the first CTU of the slice
  int init_type = 0;          // CABAC initType (9.3.2.2)
  bool amp = false;           // amp_enabled_flag
  bool transform_skip = false, transquant_bypass = false;  // the PPS flags
  int sao_max[2] = {7, 7};    // SAO offset cMax (luma, chroma) from the bit depths
  bool cu_qp_delta = false;   // cu_qp_delta_enabled_flag
  int log2_min_dqp = 6;       // Log2MinCuQpDeltaSize
  int qp_bd_offset = 0;       // QpBdOffsetY
  MvCtx mv{};                 // motion vector prediction
};
// Parses from br's position (the first bit of slice_segment_data) CTUs first_ctu, ... up to the
// end_of_slice_segment_flag; each bin's estimated cost goes to cats. Returns the CTU address after
// the slice. Throws ParseError naming the CTU (ParseError::mb) on corrupt data.
int read_slice_data(const SliceReadCtx& sc, BitReader& br, int first_ctu, BitCounts& cats, std::vector<SaoParam>& sao);

// Reads an Annex B HEVC stream. Throws ParseError (corrupt data; message names the picture and
// CTU) or Unsupported (features outside the reader's scope) in strict mode.
ReadResult read_hevc(const uint8_t* data, size_t size, const ReadOptions& opt);
// The same, incrementally (h264::StreamReader).
std::unique_ptr<h264::StreamReader> make_stream_reader_hevc(const ReadOptions& opt);

}  // namespace hevc
}  // namespace mvc
