// PLACEHOLDER until the HEVC encoder lands (owned by the hm work); must be replaced.
#include <stdexcept>
#include "common/encoder.h"
namespace mvc {
std::unique_ptr<Encoder> create_hevc_encoder(const EncoderConfig&) { throw std::runtime_error("hevc encoder not built yet"); }
}
