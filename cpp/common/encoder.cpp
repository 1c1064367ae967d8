#include "common/encoder.h"

#include <algorithm>
#include <stdexcept>

namespace mvc {

void validate_common(const EncoderConfig& c) {
  auto bad = [](const std::string& m) { throw std::invalid_argument(m); };
  if (c.width <= 0 || c.height <= 0)
    bad("frame size must be positive, got " + std::to_string(c.width) + "x" + std::to_string(c.height));
  if (c.width > 8192 || c.height > 4320)
    bad("frame size " + std::to_string(c.width) + "x" + std::to_string(c.height) + " exceeds 8192x4320");
  if (c.qp < 0 || c.qp > 51) bad("qp must be in 0..51, got " + std::to_string(c.qp));
  if (c.search_range < 1 || c.search_range > 256)
    bad("search_range must be in 1..256, got " + std::to_string(c.search_range));
  if (c.ref_frames < 1 || c.ref_frames > 4)
    bad("ref_frames must be in 1..4, got " + std::to_string(c.ref_frames));
  if (c.intra_period < 0) bad("intra_period must be >= 0, got " + std::to_string(c.intra_period));
  if (c.fps_num <= 0 || c.fps_den <= 0) bad("fps must be positive");
  // H.264 writes time_scale = 2 * fps_num in 32 bits
  if (c.fps_num > (1 << 30)) bad("fps_num must be at most 2^30, got " + std::to_string(c.fps_num));
}

void store_reconstruction(const Picture& rec, const uint8_t* y, int ys, const uint8_t* u, int us, const uint8_t* v,
                          int vs, int width, int height, bool keep_recon, FrameOutput& out) {
  const int cw = (width + 1) / 2, ch = (height + 1) / 2;
  out.sse[0] = plane_sse(rec.y, y, ys, width, height);
  out.sse[1] = plane_sse(rec.u, u, us, cw, ch);
  out.sse[2] = plane_sse(rec.v, v, vs, cw, ch);
  if (!keep_recon) return;
  auto copy = [](const Plane& p, int w, int h, std::vector<uint8_t>& dst) {
    dst.resize(static_cast<size_t>(w) * h);
    for (int r = 0; r < h; ++r) std::copy_n(p.at(0, r), w, dst.data() + static_cast<size_t>(r) * w);
  };
  copy(rec.y, width, height, out.recon_y);
  copy(rec.u, cw, ch, out.recon_u);
  copy(rec.v, cw, ch, out.recon_v);
}

std::unique_ptr<Encoder> create_encoder(const EncoderConfig& cfg) {
  validate_common(cfg);
  if (cfg.codec == "h264") return create_h264_encoder(cfg);
  if (cfg.codec == "hevc") return create_hevc_encoder(cfg);
  throw std::invalid_argument("unknown codec '" + cfg.codec + "' (expected 'h264' or 'hevc')");
}

}  // namespace mvc
