// Test-only bindings of the stream layer (jm/stream.h): Annex B splitting, emulation prevention,
// and a driver that runs parameter sets, slice headers, POC, reference lists and marking over a
// whole stream without slice data, reporting per picture what tests/test_h264_stream.py checks.
// ParseError becomes RuntimeError, Unsupported ValueError; both name the NAL unit.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <vector>

#include "jm/stream.h"

namespace py = pybind11;
using namespace mvc::h264;

namespace {

py::list ref_list_dict(const std::vector<DecPic*>& l, const char* what) {
  py::list out;
  for (const DecPic* p : l) {
    if (!p) { out.append(py::none()); continue; }
    if (std::string(what) == "poc") out.append(p->poc);
    else if (std::string(what) == "id") out.append(p->id);
    else out.append(p->long_ref);
  }
  return out;
}

py::list stream_info(const py::bytes& data) {
  const std::string buf = data;  // copy: the GIL is held throughout anyway
  const uint8_t* d = reinterpret_cast<const uint8_t*>(buf.data());
  const AnnexB ab = split_annexb(d, buf.size());
  auto ps = std::make_unique<ParamSets>();
  Dpb dpb;
  py::list pictures;
  py::dict cur_info;
  py::list cur_slices;
  SliceHeader first, prev;
  const Sps* sps = nullptr;
  bool in_pic = false;
  int last_id = -1;
  std::vector<uint8_t> rbsp;

  auto finish = [&]() {
    dpb.end_picture(first, *sps);
    const auto pic = dpb.current();
    cur_info["id"] = pic->id;
    cur_info["poc"] = pic->poc;
    cur_info["top_poc"] = pic->top_poc;
    cur_info["bottom_poc"] = pic->bottom_poc;
    cur_info["segment"] = pic->segment;
    cur_info["frame_num"] = first.frame_num;
    cur_info["nal_ref_idc"] = first.nal_ref_idc;
    cur_info["idr"] = first.idr;
    cur_info["mmco5"] = pic->has_mmco5;
    cur_info["long_term"] = pic->long_ref;
    cur_info["non_existing_before"] = pic->id - last_id - 1;
    last_id = pic->id;
    cur_info["slices"] = cur_slices;
    cur_info["poc_type"] = sps->poc_type;
    cur_info["max_num_ref_frames"] = sps->max_num_ref_frames;
    cur_info["size"] = py::make_tuple(sps->width, sps->height);
    cur_info["chroma_format_idc"] = sps->chroma_format_idc;
    cur_info["scaling_matrix"] = py::make_tuple(sps->scaling_matrix_present,
                                                ps->pps[static_cast<size_t>(first.pps_id)].pic_scaling_matrix_present);
    cur_info["transform_8x8_mode"] = ps->pps[static_cast<size_t>(first.pps_id)].transform_8x8_mode;
    cur_info["vui"] = py::make_tuple(sps->num_units_in_tick, sps->time_scale, sps->max_num_reorder_frames,
                                     sps->max_dec_frame_buffering);
    py::list refs;
    for (const auto& p : dpb.pictures())
      refs.append(py::make_tuple(p->id, p->poc, p->long_ref ? p->long_term_frame_idx : -1, p->non_existing));
    cur_info["dpb"] = refs;
    pictures.append(cur_info);
    in_pic = false;
  };

  for (const NalUnit& u : ab.units) {
    try {
      switch (u.type) {
        case 7:
          nal_to_rbsp(d + u.offset, u.size, rbsp);
          parse_sps(rbsp, *ps);
          break;
        case 8:
          nal_to_rbsp(d + u.offset, u.size, rbsp);
          parse_pps(rbsp, *ps);
          break;
        case 1:
        case 5: {
          nal_to_rbsp(d + u.offset, u.size, rbsp);
          SliceHeader sh;
          parse_slice_header(rbsp, u.type, u.ref_idc, *ps, sh);
          if (sh.redundant_pic_cnt > 0) break;  // redundant coded pictures are not decoded
          const Sps& s = ps->sps[static_cast<size_t>(ps->pps[static_cast<size_t>(sh.pps_id)].sps_id)];
          if (!in_pic || first_slice_of_new_picture(prev, sh, *ps)) {
            if (in_pic) finish();
            sps = &s;
            dpb.begin_picture(sh, s);
            first = sh;
            in_pic = true;
            cur_info = py::dict();
            cur_slices = py::list();
          }
          prev = sh;
          const RefLists rl = dpb.ref_lists(sh, *sps);
          py::dict sd;
          sd["type"] = sh.type;
          sd["first_mb"] = sh.first_mb;
          sd["header_bits"] = sh.header_bits;
          sd["qp"] = sh.qp;
          sd["num_ref"] = py::make_tuple(sh.num_ref[0], sh.num_ref[1]);
          sd["l0_poc"] = ref_list_dict(rl.list[0], "poc");
          sd["l1_poc"] = ref_list_dict(rl.list[1], "poc");
          sd["l0_id"] = ref_list_dict(rl.list[0], "id");
          sd["l1_id"] = ref_list_dict(rl.list[1], "id");
          sd["l0_long"] = ref_list_dict(rl.list[0], "long");
          sd["mod"] = py::make_tuple(sh.mod[0].size(), sh.mod[1].size());
          sd["mmco"] = sh.mmco.size();
          sd["weights"] = py::make_tuple(sh.weights[0].size(), sh.weights[1].size());
          sd["rbsp_bits"] = rbsp.size() * 8;
          sd["cabac"] = ps->pps[static_cast<size_t>(sh.pps_id)].cabac;
          {  // cabac_alignment_one_bits: all ones from data_bit to the byte boundary
            bool ones = true;
            for (size_t b = sh.data_bit; b % 8 != 0; ++b)
              if (b / 8 >= rbsp.size() || !((rbsp[b / 8] >> (7 - b % 8)) & 1)) ones = false;
            sd["align_ones"] = ones;
          }
          cur_slices.append(sd);
          break;
        }
        case 2: case 3: case 4:
          throw Unsupported("data partitioning (NAL unit type " + std::to_string(u.type) + ") is not supported");
        case 14: case 15: case 20:
          throw Unsupported("SVC / MVC (NAL unit type " + std::to_string(u.type) + ") is not supported");
        case 21:
          throw Unsupported("3D-AVC (NAL unit type 21) is not supported");
        default:
          break;  // AUD, SEI, end of sequence / stream, filler, SPS extension: nothing to do here
      }
    } catch (const ParseError& e) {
      throw ParseError("NAL unit " + std::to_string(u.index) + " (type " + std::to_string(u.type) + "): " + e.what(),
                       e.mb);
    } catch (const Unsupported& e) {
      throw Unsupported("NAL unit " + std::to_string(u.index) + " (type " + std::to_string(u.type) + "): " + e.what());
    }
  }
  if (in_pic) finish();
  return pictures;
}

py::dict split(const py::bytes& data) {
  const std::string buf = data;
  const AnnexB ab = split_annexb(reinterpret_cast<const uint8_t*>(buf.data()), buf.size());
  py::list units;
  for (const NalUnit& u : ab.units)
    units.append(py::make_tuple(u.lead_offset, u.lead_size, u.offset, u.size, u.type, u.ref_idc));
  py::dict out;
  out["units"] = units;
  out["tail"] = py::make_tuple(ab.tail_offset, ab.tail_size);
  return out;
}

py::bytes to_rbsp(const py::bytes& payload) {
  const std::string buf = payload;
  std::vector<uint8_t> rbsp;
  nal_to_rbsp(reinterpret_cast<const uint8_t*>(buf.data()), buf.size(), rbsp);
  return py::bytes(reinterpret_cast<const char*>(rbsp.data()), rbsp.size());
}

py::bytes to_nal(int header, const py::bytes& rbsp_bytes) {
  const std::string buf = rbsp_bytes;
  const std::vector<uint8_t> rbsp(buf.begin(), buf.end());
  std::vector<uint8_t> out;
  rbsp_to_nal(static_cast<uint8_t>(header), rbsp, out);
  return py::bytes(reinterpret_cast<const char*>(out.data()), out.size());
}

}  // namespace

void register_stream_test(py::module_& m) {
  m.def("_h264_stream_info", &stream_info, py::arg("data"),
        "Test only: per picture (decoding order) POC, segment, frame_num, marking and per slice the reference lists.");
  m.def("_h264_split", &split, py::arg("data"), "Test only: Annex B units as (lead_offset, lead_size, offset, size, type, ref_idc).");
  m.def("_h264_nal_to_rbsp", &to_rbsp, py::arg("payload"), "Test only: RBSP of a NAL unit payload.");
  m.def("_h264_rbsp_to_nal", &to_nal, py::arg("header"), py::arg("rbsp"), "Test only: NAL payload from header and RBSP.");
}
