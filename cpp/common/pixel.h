// Block-matching kernels shared by both encoders (x264-style function table filled once).
// Block sizes are w x h with w, h in {4, 8, 16, 32, 64}.
#pragma once
#include <cstdint>

namespace mvc {

// An 8-bit sample value: v clamped to [0, 255].
inline uint8_t clip1(int v) { return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v)); }

// Sum of absolute differences between two blocks.
int sad(const uint8_t* a, int a_stride, const uint8_t* b, int b_stride, int w, int h);
// Sum of absolute Hadamard-transformed differences, computed on 4x4 sub-blocks
// (the SATD used for sub-pel refinement and intra mode decision).
int satd(const uint8_t* a, int a_stride, const uint8_t* b, int b_stride, int w, int h);
// Sum of squared differences.
int64_t ssd(const uint8_t* a, int a_stride, const uint8_t* b, int b_stride, int w, int h);

// Residual d = a - b of a w x h block, stored densely (stride w); w in {4, 8, 16, 32, 64}.
void sub_block(const uint8_t* a, int a_stride, const uint8_t* b, int b_stride, int16_t* d, int w, int h);
// Reconstruction dst = clip(p + r) of a w x h block, p and r dense (stride w); w as above.
void add_clip_block(const uint8_t* p, const int16_t* r, uint8_t* dst, int dst_stride, int w, int h);
// Rounded average d = (a + b + 1) >> 1 of two w x h blocks of one stride st: H.264's quarter
// samples and the HEVC decisions' quarter-sample estimate, both from two neighbouring samples.
void avg_block(const uint8_t* a, const uint8_t* b, int st, uint8_t* d, int ds, int w, int h);
// Sum of squares of n residual samples (n a multiple of 8).
int64_t sum_squares(const int16_t* r, int n);

// The same SAD / SATD specialised for one block size (no per-call size dispatch), for the
// inner loops of motion search; w, h in {4, 8, 16}.
using PixelCmp = int (*)(const uint8_t* a, int a_stride, const uint8_t* b, int b_stride);
PixelCmp sad_fn(int w, int h);
PixelCmp satd_fn(int w, int h);
// SATD against the rounded average (b + b2 + 1) >> 1 of two blocks with one stride, without
// storing it: a quarter-sample prediction compared in place.
using PixelCmpAvg = int (*)(const uint8_t* a, int a_stride, const uint8_t* b, const uint8_t* b2, int b_stride);
PixelCmpAvg satd_avg_fn(int w, int h);

// SATD of one block size with the kernel looked up once: satd_fn's where it has one (w, h <= 16),
// else the generic satd. For loops that compare many blocks of one size.
struct BlockSatd {
  int w, h;
  PixelCmp fn;
  BlockSatd(int w_, int h_) : w(w_), h(h_), fn(w_ <= 16 && h_ <= 16 ? satd_fn(w_, h_) : nullptr) {}
  int operator()(const uint8_t* a, int as, const uint8_t* b, int bs) const {
    return fn ? fn(a, as, b, bs) : satd(a, as, b, bs, w, h);
  }
};

// Whether the AVX2 kernels (chosen at run time) are used: the CPU has AVX2 and the environment
// variable MVCLASS_NO_AVX2 is unset at load time (set, the SSE2 / scalar paths run: tests compare them).
bool use_avx2();

}  // namespace mvc
