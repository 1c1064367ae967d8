// PLACEHOLDER until the H.264 encoder lands (owned by the jm work); must be replaced.
#include <stdexcept>
#include "common/encoder.h"
namespace mvc {
std::unique_ptr<Encoder> create_h264_encoder(const EncoderConfig&) { throw std::runtime_error("h264 encoder not built yet"); }
}
