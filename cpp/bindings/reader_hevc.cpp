// mvclass._core.read_hevc: an H.265 Annex B stream in; per-picture motion, block kinds, mvd and
// per-category bits, and the stream rewritten from the parsed records, out (cpp/hm/reader.h).
// The dict has read_h264's keys (reader.cpp). Corrupt data raises _core.StreamError (a
// ValueError); unsupported features raise ValueError.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>

#include "common/picture.h"
#include "hm/hevc.h"
#include "hm/reader.h"

namespace py = pybind11;

using ReaderFn = mvc::h264::ReadResult (*)(const uint8_t*, size_t, const mvc::h264::ReadOptions&);
py::dict run_reader(ReaderFn fn, py::bytes data, const std::string& drop, bool rewrite, bool strict,
                    uint64_t max_blocks);  // reader.cpp

namespace {

py::dict read_hevc(py::bytes data, const std::string& drop, bool rewrite, bool strict, uint64_t max_blocks) {
  return run_reader(&mvc::hevc::read_hevc, data, drop, rewrite, strict, max_blocks);
}

using U8 = py::array_t<uint8_t, py::array::c_style | py::array::forcecast>;
using I16 = py::array_t<int16_t, py::array::c_style | py::array::forcecast>;
using B8 = py::array_t<bool, py::array::c_style | py::array::forcecast>;

// The prediction bindings' arguments: 4:2:0 planes with luma sizes multiples of 4, a (H/4, W/4, 2)
// vector field and a (H/4, W/4) mask; returns (W, H).
std::pair<int, int> check_pred_args(const U8& y, const U8& u, const U8& v, const I16& mv4, const B8& mask) {
  if (y.ndim() != 2 || u.ndim() != 2 || v.ndim() != 2) throw std::invalid_argument("planes must be 2-D");
  const int H = int(y.shape(0)), W = int(y.shape(1));
  if ((W & 3) || (H & 3) || u.shape(0) != H / 2 || u.shape(1) != W / 2 || v.shape(0) != H / 2 || v.shape(1) != W / 2)
    throw std::invalid_argument("planes must be 4:2:0 with luma sizes multiple of 4");
  const int h4 = H / 4, w4 = W / 4;
  if (mv4.ndim() != 3 || mv4.shape(0) != h4 || mv4.shape(1) != w4 || mv4.shape(2) != 2 || mask.ndim() != 2 ||
      mask.shape(0) != h4 || mask.shape(1) != w4)
    throw std::invalid_argument("mv4 must be (H/4, W/4, 2) and mask (H/4, W/4)");
  return {W, H};
}

// Uni-directional HEVC motion-compensated prediction (8.5.3.3.3, 8-bit, no weighting) of every
// 4x4 block where mask is set, from one reference picture (its Y, U, V planes, 4:2:0), with the
// block's quarter-sample vector: the samples a residual-free inter block decodes to.
py::tuple hevc_predict(U8 y, U8 u, U8 v, py::array_t<int16_t, py::array::c_style | py::array::forcecast> mv4,
                       py::array_t<bool, py::array::c_style | py::array::forcecast> mask) {
  const auto [W, H] = check_pred_args(y, u, v, mv4, mask);
  const int h4 = H / 4, w4 = W / 4;
  mvc::Picture ref;
  ref.alloc(W, H, 80);
  ref.y.load(y.data(), W, W, H);
  ref.u.load(u.data(), W / 2, W / 2, H / 2);
  ref.v.load(v.data(), W / 2, W / 2, H / 2);
  ref.extend_borders();
  py::array_t<uint8_t> py_({H, W}), pu({H / 2, W / 2}), pv({H / 2, W / 2});
  uint8_t *oy = py_.mutable_data(), *ou = pu.mutable_data(), *ov = pv.mutable_data();
  std::fill(oy, oy + size_t(W) * H, 0);
  std::fill(ou, ou + size_t(W / 2) * (H / 2), 0);
  std::fill(ov, ov + size_t(W / 2) * (H / 2), 0);
  const int16_t* m = mv4.data();
  const bool* k = mask.data();
  for (int by = 0; by < h4; ++by)
    for (int bx = 0; bx < w4; ++bx) {
      const size_t i = size_t(by) * w4 + bx;
      if (!k[i]) continue;
      const mvc::hevc::Mv mv{m[2 * i], m[2 * i + 1]};
      mvc::hevc::mc_luma(ref.y, bx * 4, by * 4, 4, 4, mv, oy + size_t(by * 4) * W + bx * 4, W);
      mvc::hevc::mc_chroma(ref.u, ref.v, bx * 2, by * 2, 2, 2, mv, ou + size_t(by * 2) * (W / 2) + bx * 2, W / 2,
                           ov + size_t(by * 2) * (W / 2) + bx * 2, W / 2);
    }
  return py::make_tuple(py_, pu, pv);
}

// The 14-bit intermediate prediction samples predSamplesLX of 8.5.3.3.3 (8-bit input: shift1 0,
// shift2 6, shift3 6), computed from the standard's formulas sample by sample (reference
// coordinates clamped to the picture), for the masked 4x4 blocks: what bi-prediction and
// weighted prediction (8.5.3.3.4) combine. Returns int16 (Y, U, V).
constexpr int kLumaTaps[4][8] = {{0, 0, 0, 64, 0, 0, 0, 0}, {-1, 4, -10, 58, 17, -5, 1, 0},
                                 {-1, 4, -11, 40, 40, -11, 4, -1}, {0, 1, -5, 17, 58, -10, 4, -1}};
constexpr int kChromaTaps[8][4] = {{0, 64, 0, 0}, {-2, 58, 10, -2}, {-4, 54, 16, -2}, {-6, 46, 28, -4},
                                   {-4, 36, 36, -4}, {-4, 28, 46, -6}, {-2, 16, 54, -4}, {-2, 10, 58, -2}};

template <int TAPS>
int pred14(const uint8_t* p, int W, int H, int xi, int yi, int fx, int fy, const int (*taps)[TAPS]) {
  auto ref = [&](int x, int y) { return int(p[size_t(std::clamp(y, 0, H - 1)) * W + std::clamp(x, 0, W - 1)]); };
  constexpr int half = TAPS / 2 - 1;
  if (!fx && !fy) return ref(xi, yi) << 6;
  auto hor = [&](int y) {
    int a = 0;
    for (int i = 0; i < TAPS; ++i) a += taps[fx][i] * ref(xi + i - half, y);
    return a;  // >> shift1 (0)
  };
  if (!fy) return hor(yi);
  if (!fx) {
    int a = 0;
    for (int i = 0; i < TAPS; ++i) a += taps[fy][i] * ref(xi, yi + i - half);
    return a;
  }
  int a = 0;
  for (int i = 0; i < TAPS; ++i) a += taps[fy][i] * hor(yi + i - half);
  return a >> 6;  // shift2
}

py::tuple hevc_pred14(U8 y, U8 u, U8 v, py::array_t<int16_t, py::array::c_style | py::array::forcecast> mv4,
                      py::array_t<bool, py::array::c_style | py::array::forcecast> mask) {
  const auto [W, H] = check_pred_args(y, u, v, mv4, mask);
  const int h4 = H / 4, w4 = W / 4;
  py::array_t<int16_t> oy({H, W}), ou({H / 2, W / 2}), ov({H / 2, W / 2});
  int16_t *py_ = oy.mutable_data(), *pu = ou.mutable_data(), *pv = ov.mutable_data();
  std::fill(py_, py_ + size_t(W) * H, 0);
  std::fill(pu, pu + size_t(W / 2) * (H / 2), 0);
  std::fill(pv, pv + size_t(W / 2) * (H / 2), 0);
  const int16_t* m = mv4.data();
  const bool* k = mask.data();
  for (int by = 0; by < h4; ++by)
    for (int bx = 0; bx < w4; ++bx) {
      const size_t i = size_t(by) * w4 + bx;
      if (!k[i]) continue;
      const int mx = m[2 * i], my = m[2 * i + 1];
      for (int yy = by * 4; yy < by * 4 + 4; ++yy)
        for (int xx = bx * 4; xx < bx * 4 + 4; ++xx)
          py_[size_t(yy) * W + xx] = int16_t(pred14<8>(y.data(), W, H, xx + (mx >> 2), yy + (my >> 2), mx & 3, my & 3, kLumaTaps));
      for (int yy = by * 2; yy < by * 2 + 2; ++yy)
        for (int xx = bx * 2; xx < bx * 2 + 2; ++xx) {
          const size_t o = size_t(yy) * (W / 2) + xx;
          pu[o] = int16_t(pred14<4>(u.data(), W / 2, H / 2, xx + (mx >> 3), yy + (my >> 3), mx & 7, my & 7, kChromaTaps));
          pv[o] = int16_t(pred14<4>(v.data(), W / 2, H / 2, xx + (mx >> 3), yy + (my >> 3), mx & 7, my & 7, kChromaTaps));
        }
    }
  return py::make_tuple(oy, ou, ov);
}

}  // namespace

void register_reader_hevc(py::module_& m) {
  m.def("read_hevc", &read_hevc, py::arg("data"), py::arg("drop") = "PB", py::arg("rewrite") = true,
        py::arg("strict") = true, py::arg("max_blocks") = 0,
        "Parse an HEVC Annex B stream: per-picture motion, kinds, mvd, bits, and the rewritten stream.");
  m.def("hevc_predict", &hevc_predict, py::arg("y"), py::arg("u"), py::arg("v"), py::arg("mv4"), py::arg("mask"),
        "HEVC uni-prediction (8-bit, unweighted) of the masked 4x4 blocks from one reference picture: (Y, U, V).");
  m.def("hevc_pred14", &hevc_pred14, py::arg("y"), py::arg("u"), py::arg("v"), py::arg("mv4"), py::arg("mask"),
        "HEVC 14-bit intermediate prediction samples (8.5.3.3.3, 8-bit input) of the masked 4x4 blocks: int16 (Y, U, V).");
}
