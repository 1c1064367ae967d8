// The H.264 stream reader: any Annex B stream in; per picture its motion (both lists, per 4x4
// block), mvd, block kinds and per-category bits out; optionally the stream rewritten from the
// parsed records, with the residual of the named slice types removed (crop) or identical.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/accounting.h"
#include "jm/stream.h"

namespace mvc {
namespace h264 {

// motion.cpp: vectors and reference indices of the macroblocks of slice s (already parsed into
// pic), written into pic's records and cur's per-4x4 motion (sized w4 x h4 by the caller).
void derive_motion(const SliceSyntax& s, bool direct_spatial, const RefLists& lists, PicSyntax& pic, DecPic& cur);

enum : uint8_t { KIND_DIRECT = 3 };  // beside common BlockKind: a B_Skip is KIND_SKIP, B_Direct_16x16 / direct 8x8 KIND_DIRECT

struct ReadOptions {
  std::string drop = "PB";   // slice types whose residual the rewritten stream drops ("" = identity)
  bool rewrite = true;       // produce the rewritten stream
  bool strict = true;        // false: stop at the first error and keep the pictures read so far
  uint64_t max_blocks = 0;   // > 0: refuse a stream whose pictures hold more 4x4 blocks in all (a few
                             // bytes of skipped pictures can claim gigabytes of motion arrays)
};

// The max_blocks check, made as each picture starts (pictures: those already read).
inline void check_block_budget(const ReadOptions& opt, size_t pictures, size_t blocks_per_picture) {
  if (opt.max_blocks && (pictures + 1) * blocks_per_picture > opt.max_blocks)
    throw Unsupported("stream too large: picture " + std::to_string(pictures) + " would bring the motion arrays past " +
                      std::to_string(opt.max_blocks) + " 4x4 blocks (max_blocks)");
}

struct ReadPicture {         // one picture, in decoding order
  char type = 'I';           // 'I' (I slices only, IDR included), 'P' (P and I slices), 'B' (any B slice)
  bool idr = false;
  int poc = 0, segment = 0, id = 0;
  int qp = 0;                // SliceQPY of the first slice
  int slices = 0;
  BitCounts bits{}, bits_out{};  // every byte of the input / the rewritten stream charged to this picture
  size_t bytes = 0, bytes_out = 0;
  std::vector<int> ref_pocs[2];  // HEVC: POCs of RefPicList0 / RefPicList1 (of the first slice)
  // HEVC explicit weighted prediction of the first slice (weighted = false: default weighting):
  // log2 denominators (luma, chroma) and per list entry {luma weight, offset, Cb weight, offset,
  // Cr weight, offset} as 7.4.7.3 derives them
  bool weighted = false;
  int wp_log2[2] = {0, 0};
  std::vector<std::array<int16_t, 6>> wp[2];
  // Streaming (StreamReader): where this picture's access unit begins, as offsets from the start
  // of the input and of the rewritten stream (its first non-VCL NAL unit after the previous
  // picture's slices, else its first slice), and the stream's bound on reordering: at most this
  // many pictures precede it in decoding order and follow it in output order (VUI
  // max_num_reorder_frames / sps_max_num_reorder_pics; 0 for H.264 POC type 2; else 16).
  uint64_t au_in = 0, au_out = 0;
  int reorder = 16;
};

struct ReadResult {
  int width = 0, height = 0;     // visible size (SPS cropping applied)
  int w4 = 0, h4 = 0;            // coded size in 4x4 blocks
  int fps_num = 0, fps_den = 0;  // VUI timing (0 when absent)
  bool cabac = false;
  int profile_idc = 0;
  std::vector<ReadPicture> pictures;
  // per picture (decoding order) and 4x4 block of the coded picture (h4 x w4), concatenated:
  // list 0 and list 1 vectors, mvd and reference indices, and the block kinds
  std::vector<int16_t> mv[2], mvd[2];
  std::vector<int8_t> ref[2];
  std::vector<uint8_t> kind;
  std::vector<uint8_t> rewritten;
  std::string error;             // non-strict mode: why reading stopped early ("" when it did not)
  // StreamReader only: per picture, the input and rewritten bytes of its access unit
  std::vector<std::vector<uint8_t>> au_data, au_rewritten;
};

// Reads an Annex B H.264 stream. Throws ParseError (corrupt data; message names the picture and
// macroblock) or Unsupported (features outside the reader's scope) in strict mode.
ReadResult read_h264(const uint8_t* data, size_t size, const ReadOptions& opt);

// An Annex B stream read incrementally: feed() takes chunks of any size and returns the pictures
// completed so far (decoding order; a picture is complete once the next one begins: until then
// header NAL units may still be charged to it), at most max_pictures (> 0) of them: the NAL units
// not read yet stay queued for the next call (feed with no bytes drains them); finish() reads
// the rest. The arrays and bits of every
// picture equal read_h264's / read_hevc's; the pictures' access-unit bytes concatenate to the
// input and to read_*'s rewritten stream. Memory: the bytes of the NAL unit being received, the
// decoder state (parameter sets, reference pictures) and the pictures not yet returned. Strict
// mode throws as read_* does; afterwards the reader refuses more input. Non-strict mode stops at
// the first error: the complete pictures are returned with error set (bytes already returned
// stay returned).
class StreamReader {
 public:
  virtual ~StreamReader() = default;
  virtual ReadResult feed(const uint8_t* data, size_t size, size_t max_pictures) = 0;
  virtual ReadResult finish() = 0;
};
std::unique_ptr<StreamReader> make_stream_reader_h264(const ReadOptions& opt);

}  // namespace h264
}  // namespace mvc
