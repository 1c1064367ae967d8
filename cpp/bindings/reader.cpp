// mvclass._core.read_h264: an H.264 Annex B stream in; per-picture motion, block kinds, mvd and
// per-category bits, and the stream rewritten from the parsed records, out (cpp/jm/reader.h).
// Corrupt data raises _core.StreamError (a ValueError); unsupported features raise ValueError.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <mutex>
#include <string>

#include "hm/reader.h"
#include "jm/reader.h"

namespace py = pybind11;

// A native reader (H.264 or HEVC) run on a copy of data without the GIL; read_result_dict's dict.
using ReaderFn = mvc::h264::ReadResult (*)(const uint8_t*, size_t, const mvc::h264::ReadOptions&);
py::dict run_reader(ReaderFn fn, py::bytes data, const std::string& drop, bool rewrite, bool strict,
                    uint64_t max_blocks);

// Shared with reader_hevc.cpp: the result dict both readers return (they share
// mvc::h264::ReadResult) and the check of the drop argument.
py::dict read_result_dict(mvc::h264::ReadResult&& r);
void check_read_drop(const std::string& drop);

namespace {

// A numpy array that takes over a vector's memory (no copy).
template <typename T>
py::array_t<T> adopt(std::vector<T>&& v, std::vector<py::ssize_t> shape) {
  size_t n = 1;
  for (auto d : shape) n *= static_cast<size_t>(d);
  if (v.size() != n) throw std::runtime_error("reader: inconsistent output size");
  auto* owner = new std::vector<T>(std::move(v));
  py::capsule free_when_done(owner, [](void* p) { delete reinterpret_cast<std::vector<T>*>(p); });
  return py::array_t<T>(shape, owner->data(), free_when_done);
}

py::dict read_h264(py::bytes data, const std::string& drop, bool rewrite, bool strict, uint64_t max_blocks) {
  return run_reader(&mvc::h264::read_h264, data, drop, rewrite, strict, max_blocks);
}

}  // namespace

py::dict run_reader(ReaderFn fn, py::bytes data, const std::string& drop, bool rewrite, bool strict,
                    uint64_t max_blocks) {
  check_read_drop(drop);
  std::string buf = data;  // a copy the reader can use without the GIL
  mvc::h264::ReadOptions opt;
  opt.drop = drop;
  opt.rewrite = rewrite;
  opt.strict = strict;
  opt.max_blocks = max_blocks;
  mvc::h264::ReadResult r;
  {
    py::gil_scoped_release nogil;
    r = fn(reinterpret_cast<const uint8_t*>(buf.data()), buf.size(), opt);
  }
  return read_result_dict(std::move(r));
}

void check_read_drop(const std::string& drop) {
  for (char c : drop)
    if (c != 'I' && c != 'P' && c != 'B')
      throw std::invalid_argument("drop must name picture types among 'I', 'P' and 'B', got '" + drop + "'");
}

py::dict read_result_dict(mvc::h264::ReadResult&& r) {
  using mvc::h264::ReadPicture;
  const auto& P = r.pictures;
  const py::ssize_t T = static_cast<py::ssize_t>(P.size()), H = r.h4, W = r.w4;
  py::dict d;
  d["width"] = r.width;
  d["height"] = r.height;
  d["w4"] = r.w4;
  d["h4"] = r.h4;
  d["fps_num"] = r.fps_num;
  d["fps_den"] = r.fps_den;
  d["cabac"] = r.cabac;
  d["profile_idc"] = r.profile_idc;
  d["error"] = r.error;
  std::string types;
  py::array_t<int32_t> poc(T), segment(T), qp(T), slices(T), id(T);
  py::array_t<bool> idr(T);
  py::array_t<double> bits({T, py::ssize_t(mvc::NUM_CATS)}), bits_out({T, py::ssize_t(mvc::NUM_CATS)});
  py::array_t<int64_t> bytes(T), bytes_out(T);
  for (py::ssize_t t = 0; t < T; ++t) {
    const ReadPicture& p = P[size_t(t)];
    types.push_back(p.type);
    poc.mutable_at(t) = p.poc;
    segment.mutable_at(t) = p.segment;
    qp.mutable_at(t) = p.qp;
    slices.mutable_at(t) = p.slices;
    id.mutable_at(t) = p.id;
    idr.mutable_at(t) = p.idr;
    bytes.mutable_at(t) = static_cast<int64_t>(p.bytes);
    bytes_out.mutable_at(t) = static_cast<int64_t>(p.bytes_out);
    for (int k = 0; k < mvc::NUM_CATS; ++k) {
      bits.mutable_at(t, k) = p.bits[size_t(k)];
      bits_out.mutable_at(t, k) = p.bits_out[size_t(k)];
    }
  }
  d["type"] = types;
  py::list ref_pocs;
  for (const ReadPicture& p : P) ref_pocs.append(py::make_tuple(py::cast(p.ref_pocs[0]), py::cast(p.ref_pocs[1])));
  d["ref_pocs"] = ref_pocs;
  py::list weights;  // per picture: None (default weighting) or (log2 luma, log2 chroma, l0 rows, l1 rows)
  for (const ReadPicture& p : P) {
    if (!p.weighted) { weights.append(py::none()); continue; }
    py::list l[2];
    for (int X = 0; X < 2; ++X)
      for (const auto& w : p.wp[X]) l[X].append(py::make_tuple(w[0], w[1], w[2], w[3], w[4], w[5]));
    weights.append(py::make_tuple(p.wp_log2[0], p.wp_log2[1], l[0], l[1]));
  }
  d["weights"] = weights;
  d["poc"] = poc;
  d["segment"] = segment;
  d["qp"] = qp;
  d["slices"] = slices;
  d["decode_index"] = id;
  d["idr"] = idr;
  d["bits"] = bits;
  d["bits_out"] = bits_out;
  d["bytes"] = bytes;
  d["bytes_out"] = bytes_out;
  for (int l = 0; l < 2; ++l) {
    const std::string sfx = l ? "_l1" : "";
    d[("mv" + sfx).c_str()] = adopt(std::move(r.mv[l]), {T, H, W, 2});
    d[("mvd" + sfx).c_str()] = adopt(std::move(r.mvd[l]), {T, H, W, 2});
    d[("ref" + sfx).c_str()] = adopt(std::move(r.ref[l]), {T, H, W});
  }
  d["kind"] = adopt(std::move(r.kind), {T, H, W});
  d["rewritten"] = py::bytes(reinterpret_cast<const char*>(r.rewritten.data()), r.rewritten.size());
  py::array_t<int32_t> reorder(T);
  for (py::ssize_t t = 0; t < T; ++t) reorder.mutable_at(t) = P[size_t(t)].reorder;
  d["reorder"] = reorder;
  if (!r.au_data.empty()) {
    py::list au_data, au_rewritten;
    for (const auto& b : r.au_data) au_data.append(py::bytes(reinterpret_cast<const char*>(b.data()), b.size()));
    for (const auto& b : r.au_rewritten) au_rewritten.append(py::bytes(reinterpret_cast<const char*>(b.data()), b.size()));
    d["au_data"] = au_data;
    d["au_rewritten"] = au_rewritten;
  }
  return d;
}

namespace {

// _core.StreamReader: a stream read chunk by chunk (mvc::h264::StreamReader). feed(bytes,
// max_pictures) and finish() return read_h264's dict for the pictures completed so far (decoding
// order; feed(b"") returns those still queued), with
// au_data / au_rewritten: each picture's access-unit bytes of the input and the rewritten stream.
// close() frees the native state (parameter sets, reference pictures, buffered bytes).
class PyStreamReader {
 public:
  PyStreamReader(const std::string& codec, const std::string& drop, bool strict, uint64_t max_blocks) {
    check_read_drop(drop);
    mvc::h264::ReadOptions opt;
    opt.drop = drop;
    opt.rewrite = true;
    opt.strict = strict;
    opt.max_blocks = max_blocks;
    if (codec == "h264") r_ = mvc::h264::make_stream_reader_h264(opt);
    else if (codec == "hevc") r_ = mvc::hevc::make_stream_reader_hevc(opt);
    else throw std::invalid_argument("codec must be 'h264' or 'hevc', got '" + codec + "'");
  }
  py::dict feed(py::bytes data, size_t max_pictures) {
    std::string buf = data;
    return run([&] { return r_->feed(reinterpret_cast<const uint8_t*>(buf.data()), buf.size(), max_pictures); });
  }
  py::dict finish() {
    return run([&] { return r_->finish(); });
  }
  void close() {
    py::gil_scoped_release nogil;
    std::lock_guard<std::mutex> lock(mu_);  // after a feed running in another thread
    r_.reset();
  }
  bool closed() const { return !r_; }

 private:
  template <class F>
  py::dict run(F&& f) {
    mvc::h264::ReadResult r;
    {
      py::gil_scoped_release nogil;
      std::lock_guard<std::mutex> lock(mu_);  // one call at a time: the reader is not thread-safe
      if (!r_) throw std::invalid_argument("the stream reader is closed");
      r = f();
    }
    return read_result_dict(std::move(r));
  }
  std::unique_ptr<mvc::h264::StreamReader> r_;
  std::mutex mu_;
};

}  // namespace

void register_reader(py::module_& m) {
  py::register_exception<mvc::h264::ParseError>(m, "StreamError", PyExc_ValueError);
  m.attr("KIND_DIRECT") = int(mvc::h264::KIND_DIRECT);
  m.def("read_h264", &read_h264, py::arg("data"), py::arg("drop") = "PB", py::arg("rewrite") = true,
        py::arg("strict") = true, py::arg("max_blocks") = 0,
        "Parse an H.264 Annex B stream: per-picture motion, kinds, mvd, bits, and the rewritten stream.");
  py::class_<PyStreamReader>(m, "StreamReader",
                             "An H.264 or HEVC Annex B stream read chunk by chunk: feed(bytes) / finish() return the "
                             "pictures completed so far (read_h264's dict, plus au_data / au_rewritten).")
      .def(py::init<const std::string&, const std::string&, bool, uint64_t>(), py::arg("codec"), py::arg("drop") = "PB",
           py::arg("strict") = true, py::arg("max_blocks") = 0)
      .def("feed", &PyStreamReader::feed, py::arg("data"), py::arg("max_pictures") = 0)
      .def("finish", &PyStreamReader::finish)
      .def("close", &PyStreamReader::close)
      .def_property_readonly("closed", &PyStreamReader::closed);
}
