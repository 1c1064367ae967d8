// The interface both encoders implement and the Python binding wraps.
// One encode produces two streams from the same decisions: the full stream and the
// "cropped" stream, in which every P-picture carries no residual, written normatively.
#pragma once
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/accounting.h"
#include "common/picture.h"

namespace mvc {

// Polled between macroblock / CTU rows of a picture's analysis (the slow part of a frame); true
// abandons the picture: encode() throws Interrupted, and the encoder's state (reference pictures,
// counters) is then inconsistent, so it must not encode again. Unset: never interrupted.
struct InterruptPoll {
  bool (*fn)(void*) = nullptr;
  void* ctx = nullptr;
  bool operator()() const { return fn != nullptr && fn(ctx); }
};
struct Interrupted : std::runtime_error {
  Interrupted() : std::runtime_error("encoding interrupted") {}
};

struct EncoderConfig {
  std::string codec = "h264";  // "h264" | "hevc"
  int width = 0, height = 0;   // visible size; encoders pad internally and signal cropping
  int fps_num = 25, fps_den = 1;
  int qp = 30;                 // 0..51
  int search_range = 16;       // integer-pel, +-
  int ref_frames = 3;          // 1..4
  int intra_period = 0;        // 0: only the first picture is IDR; N: IDR every N pictures
  bool keep_recon = false;     // return the full stream's reconstruction per frame
  // H.264
  bool partitions_all = true;  // false: P_L0_16x16 (and skip) only
  bool cabac = false;          // entropy_coding_mode_flag: CABAC instead of CAVLC (HEVC is always CABAC)
  // HEVC
  int ctu_size = 16;           // 16 | 32 | 64
  int max_depth = 2;           // CU depth below the CTU
  bool tmvp = true;
  bool sao = true;
  bool rdoq = false;           // rate-distortion optimised quantisation (hm/rdoq.cpp)
  InterruptPoll interrupt;     // see InterruptPoll
};

enum BlockKind : uint8_t { KIND_INTRA = 0, KIND_INTER = 1, KIND_SKIP = 2 };

struct FrameOutput {
  char type = 'I';                          // 'I' (IDR) or 'P'
  int poc = 0;
  std::vector<uint8_t> nal_full;            // Annex B bytes of this picture (parameter sets included when sent)
  std::vector<uint8_t> nal_cropped;
  BitCounts bits_full{}, bits_cropped{};    // per category; each sums to 8 * nal size
  // Motion field of the coded (padded) picture at 4x4-block granularity, row-major (h4 x w4).
  int w4 = 0, h4 = 0;
  std::vector<int16_t> mv;                  // h4*w4*2: (mvx, mvy) quarter-pel
  std::vector<int16_t> mvd;                 // h4*w4*2: coded mvd (0 for skip/merge/intra)
  std::vector<int8_t> ref;                  // h4*w4: ref_idx_l0, -1 for intra
  std::vector<uint8_t> kind;                // h4*w4: BlockKind
  uint64_t sse[3] = {0, 0, 0};              // full-stream reconstruction vs source, visible area
  std::vector<uint8_t> recon_y, recon_u, recon_v;  // visible area, only with keep_recon
};

class Encoder {
 public:
  virtual ~Encoder() = default;
  // Planes are the visible size (chroma (w+1)/2 x (h+1)/2), tightly described by strides.
  virtual FrameOutput encode(const uint8_t* y, int y_stride, const uint8_t* u, int u_stride,
                             const uint8_t* v, int v_stride) = 0;
  virtual int frames_encoded() const = 0;
};

// Fills out.sse (and out.recon_* when keep_recon) from a final reconstruction and the visible
// source planes: both encoders report distortion and pictures of the visible area only.
void store_reconstruction(const Picture& rec, const uint8_t* y, int y_stride, const uint8_t* u, int u_stride,
                          const uint8_t* v, int v_stride, int width, int height, bool keep_recon, FrameOutput& out);

// Throws std::invalid_argument naming the problem for a bad configuration.
void validate_common(const EncoderConfig& cfg);
std::unique_ptr<Encoder> create_h264_encoder(const EncoderConfig& cfg);  // cpp/jm
std::unique_ptr<Encoder> create_hevc_encoder(const EncoderConfig& cfg);  // cpp/hm
std::unique_ptr<Encoder> create_encoder(const EncoderConfig& cfg);

}  // namespace mvc
