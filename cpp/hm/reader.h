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
};
// Parses from br's position (the first bit of slice_segment_data) CTUs first_ctu, ... up to the
// end_of_slice_segment_flag; each bin's estimated cost goes to cats. Returns the CTU address after
// the slice. Throws ParseError naming the CTU (ParseError::mb) on corrupt data.
int read_slice_data(const SliceReadCtx& sc, BitReader& br, int first_ctu, BitCounts& cats, std::vector<SaoParam>& sao);

// Reads an Annex B HEVC stream. Throws ParseError (corrupt data; message names the picture and
// CTU) or Unsupported (features outside the reader's scope) in strict mode.
ReadResult read_hevc(const uint8_t* data, size_t size, const ReadOptions& opt);

}  // namespace hevc
}  // namespace mvc
