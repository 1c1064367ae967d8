#include "common/encoder.h"

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
}

std::unique_ptr<Encoder> create_encoder(const EncoderConfig& cfg) {
  validate_common(cfg);
  if (cfg.codec == "h264") return create_h264_encoder(cfg);
  if (cfg.codec == "hevc") return create_hevc_encoder(cfg);
  throw std::invalid_argument("unknown codec '" + cfg.codec + "' (expected 'h264' or 'hevc')");
}

}  // namespace mvc
