// mvclass._core.read_hevc: an H.265 Annex B stream in; per-picture motion, block kinds, mvd and
// per-category bits, and the stream rewritten from the parsed records, out (cpp/hm/reader.h).
// The dict has read_h264's keys (reader.cpp). Corrupt data raises _core.StreamError (a
// ValueError); unsupported features raise ValueError.
#include <pybind11/pybind11.h>

#include <string>

#include "hm/reader.h"

namespace py = pybind11;

py::dict read_result_dict(mvc::h264::ReadResult&& r);  // reader.cpp
void check_read_drop(const std::string& drop);        // reader.cpp

namespace {

py::dict read_hevc(py::bytes data, const std::string& drop, bool rewrite, bool strict) {
  check_read_drop(drop);
  std::string buf = data;  // a copy the reader can use without the GIL
  mvc::hevc::ReadOptions opt;
  opt.drop = drop;
  opt.rewrite = rewrite;
  opt.strict = strict;
  mvc::hevc::ReadResult r;
  {
    py::gil_scoped_release nogil;
    r = mvc::hevc::read_hevc(reinterpret_cast<const uint8_t*>(buf.data()), buf.size(), opt);
  }
  return read_result_dict(std::move(r));
}

}  // namespace

void register_reader_hevc(py::module_& m) {
  m.def("read_hevc", &read_hevc, py::arg("data"), py::arg("drop") = "PB", py::arg("rewrite") = true,
        py::arg("strict") = true,
        "Parse an HEVC Annex B stream: per-picture motion, kinds, mvd, bits, and the rewritten stream.");
}
