// libFuzzer harness for the H.264 stream reader (cpp/jm): any byte string through read_h264,
// strict and lenient, with the rewritten stream; a crash, a sanitizer report or a hang is a
// finding, an exception is the expected answer to bad input. Build and run: tests/fuzz/README.md.
#include <cstddef>
#include <cstdint>
#include <exception>

#include "jm/reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  for (int strict = 0; strict < 2; ++strict) {
    mvc::h264::ReadOptions opt;
    opt.strict = strict != 0;
    opt.drop = (size & 1) ? "PB" : "";
    try {
      const mvc::h264::ReadResult r = mvc::h264::read_h264(data, size, opt);
      // a lenient read keeps whole pictures only
      if (!r.pictures.empty() && r.kind.size() != r.pictures.size() * size_t(r.w4) * size_t(r.h4)) __builtin_trap();
    } catch (const std::exception&) {
    }
  }
  return 0;
}
