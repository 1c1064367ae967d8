// mvclass._core: frames in (numpy planes), bitstreams, motion fields and bit counts out.
// C++ exceptions become Python exceptions (std::invalid_argument -> ValueError); nothing aborts.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "common/encoder.h"
#include "common/grid.h"

namespace py = pybind11;
using mvc::EncoderConfig;

void register_reader(py::module_& m);  // reader.cpp

namespace {

using U8 = py::array_t<uint8_t, py::array::c_style | py::array::forcecast>;

// One option's value as T; a value that does not convert (a float, a string, an int beyond C int)
// is a ValueError naming the option, not pybind11's anonymous cast error.
template <typename T>
T option(const std::string& key, py::handle v) {
  constexpr bool want_bool = std::is_same<T, bool>::value;
  // True/False (numpy's bool too) for flags; for numbers an int or an object with __index__, not a bool
  const std::string type_name = py::str(py::type::handle_of(v).attr("__name__"));  // numpy's bool: "bool" (2.x), "bool_"
  const bool boolish = py::isinstance<py::bool_>(v) || type_name == "bool" || type_name == "bool_";
  const bool ok = want_bool ? boolish : (!boolish && (py::isinstance<py::int_>(v) || py::hasattr(v, "__index__")));
  if (!ok)
    throw std::invalid_argument("encoder option '" + key + "' must be " + (want_bool ? "True or False" : "an integer") +
                                ", got " + std::string(py::repr(v)));
  try {
    return v.cast<T>();
  } catch (const py::cast_error&) {
    throw std::invalid_argument("encoder option '" + key + "' is out of range: " + std::string(py::repr(v)));
  }
}

EncoderConfig make_config(const std::string& codec, int width, int height, const py::dict& opts) {
  EncoderConfig c;
  c.codec = codec;
  c.width = width;
  c.height = height;
  for (auto item : opts) {
    const std::string k = py::str(item.first);
    py::handle v = item.second;
    if (k == "qp") c.qp = option<int>(k, v);
    else if (k == "search_range") c.search_range = option<int>(k, v);
    else if (k == "ref_frames") c.ref_frames = option<int>(k, v);
    else if (k == "intra_period") c.intra_period = option<int>(k, v);
    else if (k == "keep_recon") c.keep_recon = option<bool>(k, v);
    else if (k == "fps_num") c.fps_num = option<int>(k, v);
    else if (k == "fps_den") c.fps_den = option<int>(k, v);
    else if (k == "partitions_all") c.partitions_all = option<bool>(k, v);
    else if (k == "cabac") c.cabac = option<bool>(k, v);
    else if (k == "ctu_size") c.ctu_size = option<int>(k, v);
    else if (k == "max_depth") c.max_depth = option<int>(k, v);
    else if (k == "tmvp") c.tmvp = option<bool>(k, v);
    else if (k == "sao") c.sao = option<bool>(k, v);
    else if (k == "rdoq") c.rdoq = option<bool>(k, v);
    else throw std::invalid_argument("unknown encoder option '" + k + "'");
  }
  return c;
}

template <typename T>
py::array_t<T> to_array(const std::vector<T>& v, std::vector<py::ssize_t> shape) {
  py::array_t<T> a(shape);
  if (!v.empty()) std::memcpy(a.mutable_data(), v.data(), v.size() * sizeof(T));
  return a;
}

py::dict counts_dict(const mvc::BitCounts& b) {
  py::dict d;
  for (int i = 0; i < mvc::NUM_CATS; ++i) d[mvc::bitcat_name(i)] = b[i];
  return d;
}

unsigned long main_thread_ident = 0;  // threading.main_thread().ident, set at import

class PyEncoder {
 public:
  PyEncoder(const std::string& codec, int width, int height, const py::dict& opts)
      : cfg_(with_poll(make_config(codec, width, height, opts), this)), enc_(mvc::create_encoder(cfg_)) {}

  py::dict encode(U8 y, U8 u, U8 v) {
    const int cw = (cfg_.width + 1) / 2, ch = (cfg_.height + 1) / 2;
    auto check = [](const U8& a, int w, int h, const char* name) {
      if (a.ndim() != 2 || a.shape(0) != h || a.shape(1) != w)
        throw std::invalid_argument(std::string(name) + " plane must have shape (" + std::to_string(h) + ", " +
                                    std::to_string(w) + ")");
    };
    check(y, cfg_.width, cfg_.height, "Y");
    check(u, cw, ch, "U");
    check(v, cw, ch, "V");
    if (broken_)
      throw std::runtime_error("this Encoder was interrupted in the middle of a frame (e.g. Ctrl-C) and its "
                               "state is lost; create a new Encoder");
    mvc::FrameOutput f;
    {
      // The GIL is released while encoding, so another Python thread could enter encode() on this
      // same encoder and race on its state (reference pictures, entropy contexts): refuse that.
      // Distinct encoders share nothing and run in parallel.
      Busy busy(busy_);
      // Signal handlers (Ctrl-C) run in the main thread only: there, poll them between rows.
      poll_signals_ = PyThread_get_thread_ident() == main_thread_ident;
      next_poll_ = std::chrono::steady_clock::now() + kPollEvery;
      bool interrupted = false;
      {
        py::gil_scoped_release release;
        try {
          f = enc_->encode(y.data(), cfg_.width, u.data(), cw, v.data(), cw);
          frames_.store(enc_->frames_encoded(), std::memory_order_release);
        } catch (const mvc::Interrupted&) {
          interrupted = true;
        }
      }
      if (interrupted) {  // the frame was abandoned half-way: the encoder's state is inconsistent
        broken_ = true;
        throw py::error_already_set();  // the KeyboardInterrupt (or other error) the signal handler raised
      }
    }
    py::dict d;
    d["type"] = std::string(1, f.type);
    d["poc"] = f.poc;
    d["nal_full"] = py::bytes(reinterpret_cast<const char*>(f.nal_full.data()), f.nal_full.size());
    d["nal_cropped"] = py::bytes(reinterpret_cast<const char*>(f.nal_cropped.data()), f.nal_cropped.size());
    d["bits_full"] = counts_dict(f.bits_full);
    d["bits_cropped"] = counts_dict(f.bits_cropped);
    d["mv"] = to_array(f.mv, {f.h4, f.w4, 2});
    d["mvd"] = to_array(f.mvd, {f.h4, f.w4, 2});
    d["ref"] = to_array(f.ref, {f.h4, f.w4});
    d["kind"] = to_array(f.kind, {f.h4, f.w4});
    d["sse"] = py::make_tuple(f.sse[0], f.sse[1], f.sse[2]);
    if (cfg_.keep_recon) {
      d["recon"] = py::make_tuple(to_array(f.recon_y, {cfg_.height, cfg_.width}),
                                  to_array(f.recon_u, {ch, cw}), to_array(f.recon_v, {ch, cw}));
    }
    return d;
  }
  int frames() const { return frames_.load(std::memory_order_acquire); }

 private:
  // Marks the encoder busy for the lifetime of one encode() call; a second caller gets RuntimeError.
  struct Busy {
    explicit Busy(std::atomic<bool>& flag) : flag_(flag) {
      if (flag_.exchange(true, std::memory_order_acq_rel))
        throw std::runtime_error(
            "Encoder is already encoding in another thread; an Encoder may be used by one thread at a time "
            "(create one Encoder per thread)");
    }
    ~Busy() { flag_.store(false, std::memory_order_release); }
    Busy(const Busy&) = delete;
    Busy& operator=(const Busy&) = delete;
    std::atomic<bool>& flag_;
  };

  // Between rows the encoder calls poll(): at most every kPollEvery, in the main thread, it takes
  // the GIL and runs Python's signal handlers; one that raises (KeyboardInterrupt) stops the frame.
  static constexpr std::chrono::milliseconds kPollEvery{100};  // a GIL round trip at most 10 times a second
  static EncoderConfig with_poll(EncoderConfig c, PyEncoder* self) {
    c.interrupt.fn = [](void* p) { return static_cast<PyEncoder*>(p)->poll(); };
    c.interrupt.ctx = self;
    return c;
  }
  bool poll() {
    if (!poll_signals_) return false;
    const auto now = std::chrono::steady_clock::now();
    if (now < next_poll_) return false;
    next_poll_ = now + kPollEvery;
    py::gil_scoped_acquire gil;
    return PyErr_CheckSignals() != 0;
  }

  EncoderConfig cfg_;
  std::unique_ptr<mvc::Encoder> enc_;
  std::atomic<bool> busy_{false};
  std::atomic<int> frames_{0};
  // used by the one thread inside encode() (busy_ guarantees there is one)
  bool poll_signals_ = false;
  std::chrono::steady_clock::time_point next_poll_;
  bool broken_ = false;
};

// (T, H4, W4, 2) int16 field, (T, H4, W4) kinds and optional refs -> the (T, rows, cols) grid.
py::tuple motion_grid(py::array_t<int16_t, py::array::c_style | py::array::forcecast> field4,
                      py::array_t<int8_t, py::array::c_style | py::array::forcecast> kind4, py::object ref4,
                      int rows, int cols, bool fill_holes) {
  if (field4.ndim() != 4 || field4.shape(3) != 2) throw std::invalid_argument("field4 must have shape (T, H4, W4, 2)");
  const py::ssize_t t = field4.shape(0), h4 = field4.shape(1), w4 = field4.shape(2);
  if (kind4.ndim() != 3 || kind4.shape(0) != t || kind4.shape(1) != h4 || kind4.shape(2) != w4)
    throw std::invalid_argument("kind4 must have shape (T, H4, W4) matching field4");
  if (rows < 0 || cols < 0) throw std::invalid_argument("rows and cols must be >= 0");
  py::array_t<int8_t, py::array::c_style | py::array::forcecast> refs;
  const bool with_ref = !ref4.is_none();
  if (with_ref) {
    refs = py::array_t<int8_t, py::array::c_style | py::array::forcecast>::ensure(ref4);
    if (!refs || refs.ndim() != 3 || refs.shape(0) != t || refs.shape(1) != h4 || refs.shape(2) != w4)
      throw std::invalid_argument("ref4 must be None or have shape (T, H4, W4) matching field4");
  }
  py::array_t<int16_t> out({t, py::ssize_t(rows), py::ssize_t(cols), py::ssize_t(2)});
  py::array_t<bool> mask({t, py::ssize_t(rows), py::ssize_t(cols)});
  py::array_t<int8_t> ref({t, py::ssize_t(rows), py::ssize_t(cols)});
  {
    const int16_t* f = field4.data();
    const int8_t* k = kind4.data();
    const int8_t* r = with_ref ? refs.data() : nullptr;
    int16_t* o = out.mutable_data();
    uint8_t* m = reinterpret_cast<uint8_t*>(mask.mutable_data());
    int8_t* ro = ref.mutable_data();
    py::gil_scoped_release nogil;
    mvc::motion_grid(f, k, r, int(t), int(h4), int(w4), rows, cols, fill_holes, o, m, with_ref ? ro : nullptr);
  }
  if (!with_ref) return py::make_tuple(out, mask, py::none());
  return py::make_tuple(out, mask, ref);
}

}  // namespace

void register_stream_test(py::module_& m);  // h264_stream_test.cpp

PYBIND11_MODULE(_core, m) {
  main_thread_ident = py::module_::import("threading").attr("main_thread")().attr("ident").cast<unsigned long>();
  { void register_cabac_test(py::module_&); register_cabac_test(m); }  // h264_cabac_test.cpp (test only)
  m.doc() = "mvclass native core: H.264 (jm) and HEVC (hm) encoders writing full and cropped streams";
  py::list cats;
  for (int i = 0; i < mvc::NUM_CATS; ++i) cats.append(mvc::bitcat_name(i));
  m.attr("BIT_CATEGORIES") = cats;
  m.attr("KIND_INTRA") = int(mvc::KIND_INTRA);
  m.attr("KIND_INTER") = int(mvc::KIND_INTER);
  m.attr("KIND_SKIP") = int(mvc::KIND_SKIP);
  register_reader(m);
  { void register_reader_hevc(py::module_&); register_reader_hevc(m); }  // reader_hevc.cpp
  m.def("motion_grid", &motion_grid, py::arg("field4"), py::arg("kind4"), py::arg("ref4"), py::arg("rows"),
        py::arg("cols"), py::arg("fill_holes") = true,
        "The 8x8 grid of a stack of 4x4-block motion fields: (field, mask, ref); see mvclass.grid.");
  py::class_<PyEncoder>(m, "Encoder")
      .def(py::init<const std::string&, int, int, const py::dict&>(), py::arg("codec"), py::arg("width"),
           py::arg("height"), py::arg("options") = py::dict())
      .def("encode", &PyEncoder::encode, py::arg("y"), py::arg("u"), py::arg("v"),
           "Encode one 4:2:0 picture; returns its NAL bytes (full and cropped), bit counts and motion field.\n"
           "The GIL is released while encoding, so distinct Encoders run in parallel in threads; one Encoder\n"
           "is used by one thread at a time: a concurrent call on the same Encoder raises RuntimeError.\n"
           "In the main thread, signals (Ctrl-C) are checked between rows: KeyboardInterrupt abandons the\n"
           "frame and the Encoder refuses further frames (RuntimeError).")
      .def_property_readonly("frames", &PyEncoder::frames);
  register_stream_test(m);
}
