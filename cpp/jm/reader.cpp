// The H.264 stream reader's driver: NAL units in stream order; parameter sets into tables; each
// slice's header (stream.cpp), slice data (CAVLC / CABAC readers) and motion (motion.cpp); the
// rewritten stream from the same records (header bits copied, slice data written again).
#include <cstring>
#include <memory>
#include <string>

#include "jm/reader.h"
#include "jm/reader_stream.h"

namespace mvc {
namespace h264 {

namespace {

// Position just after the rbsp_stop_one_bit (the last 1 bit), or 0 when the RBSP has none.
size_t stop_bit_end(const std::vector<uint8_t>& rbsp) {
  size_t end = rbsp.size();
  while (end > 0 && rbsp[end - 1] == 0) --end;
  if (end == 0) return 0;
  return 8 * end - static_cast<size_t>(__builtin_ctz(rbsp[end - 1]));
}

// True when a and b hold the same bits before the last 10 bits a CABAC decoder read before
// its terminating bin (the flush region, decoder_end = its read position).
bool same_before_flush(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b, size_t decoder_end) {
  const size_t bytes = decoder_end > 16 ? (decoder_end - 16) / 8 : 0;
  return a.size() >= bytes && b.size() >= bytes && std::memcmp(a.data(), b.data(), bytes) == 0 &&
         a.size() + 2 >= b.size() && b.size() + 2 >= a.size();
}

void copy_bits(const std::vector<uint8_t>& src, size_t nbits, SyntaxWriter& w) {
  BitReader r(src.data(), src.size());
  while (nbits > 0) {
    const int n = nbits > 32 ? 32 : static_cast<int>(nbits);
    w.u(r.u(n), n, CAT_HEADER);
    nbits -= static_cast<size_t>(n);
  }
}

std::string where(size_t pic_index, const DecPic* cur, int slice, int mb) {
  std::string s = "picture " + std::to_string(pic_index);
  if (cur) s += " (POC " + std::to_string(cur->poc) + ")";
  if (slice >= 0) s += ", slice " + std::to_string(slice);
  if (mb >= 0) s += ", macroblock " + std::to_string(mb);
  return s;
}

struct Reader {
  const uint8_t* data;
  size_t size;
  const ReadOptions& opt;
  ReadResult res;
  std::unique_ptr<ParamSets> ps = std::make_unique<ParamSets>();
  Dpb dpb;
  PicSyntax pic;
  std::shared_ptr<DecPic> cur;
  SliceHeader first_sh, last_sh;
  int sps_id = -1, slice_id = -1;
  BitCounts pending{}, pending_out{};
  size_t pending_bytes = 0, pending_bytes_out = 0;
  std::vector<uint8_t> rbsp, nal;
  // Streaming (StreamDriver): data is a window of the stream starting at byte in_base; the
  // pictures and rewritten bytes handed out so far; where the next access unit begins (marked).
  bool streaming = false;
  uint64_t in_base = 0, out_base = 0;
  size_t taken = 0;
  bool marked = false;
  uint64_t mark_in = 0, mark_out = 0;

  Reader(const uint8_t* d, size_t n, const ReadOptions& o) : data(d), size(n), opt(o) {}

  ReadPicture* current() { return cur ? &res.pictures.back() : nullptr; }
  size_t npics() const { return taken + res.pictures.size(); }
  void mark(const NalUnit& u) {
    if (marked) return;
    marked = true;
    mark_in = in_base + u.lead_offset;
    mark_out = out_base + res.rewritten.size();
  }

  // Non-VCL NAL units wait for the next slice: they go to the picture it starts (parameter sets,
  // SEI, delimiters precede their access unit) or continues; end of sequence / stream and filler
  // data go to the current picture.
  void add_header_bytes(size_t n_in, size_t n_out, bool to_current) {
    ReadPicture* p = to_current ? current() : nullptr;
    if (!p && to_current && !res.pictures.empty()) p = &res.pictures.back();
    if (p) {
      p->bits[CAT_HEADER] += 8.0 * double(n_in); p->bytes += n_in;
      p->bits_out[CAT_HEADER] += 8.0 * double(n_out); p->bytes_out += n_out;
    } else {
      pending[CAT_HEADER] += 8.0 * double(n_in); pending_bytes += n_in;
      pending_out[CAT_HEADER] += 8.0 * double(n_out); pending_bytes_out += n_out;
    }
  }
  void take_pending(ReadPicture& rp) {
    for (int k = 0; k < NUM_CATS; ++k) { rp.bits[k] += pending[k]; rp.bits_out[k] += pending_out[k]; }
    rp.bytes += pending_bytes; rp.bytes_out += pending_bytes_out;
    pending = {}; pending_out = {};
    pending_bytes = pending_bytes_out = 0;
  }

  void finish_picture() {
    if (!cur) return;
    ReadPicture& rp = res.pictures.back();
    const int n = pic.mbw * pic.mbh;
    int missing = 0;
    for (int a = 0; a < n; ++a) missing += pic.slice_id[size_t(a)] < 0;
    if (missing) throw ParseError(std::to_string(missing) + " of " + std::to_string(n) + " macroblocks missing", -1);
    const int w4 = cur->w4;
    const size_t nb = size_t(w4) * cur->h4, base = res.kind.size();
    res.kind.resize(base + nb);
    uint8_t* kind = res.kind.data() + base;
    int16_t* mvd[2];
    for (int l = 0; l < 2; ++l) {
      res.mv[l].insert(res.mv[l].end(), cur->mv[l].begin(), cur->mv[l].end());
      res.ref[l].insert(res.ref[l].end(), cur->ref[l].begin(), cur->ref[l].end());
      res.mvd[l].resize(2 * (base + nb));
      mvd[l] = res.mvd[l].data() + 2 * base;
    }
    for (int a = 0; a < n; ++a) {
      const Mb& m = pic.mbs[size_t(a)];
      const int mbx = a % pic.mbw, mby = a / pic.mbw;
      uint8_t k = KIND_INTER;
      if (is_intra(m.type)) k = KIND_INTRA;
      else if (m.type == MB_PSKIP || m.type == MB_BSKIP) k = KIND_SKIP;
      else if (m.type == MB_BDIRECT) k = KIND_DIRECT;
      for (int y = 0; y < 4; ++y) {
        const size_t i = size_t(mby * 4 + y) * w4 + mbx * 4;
        std::memset(kind + i, k, 4);
        if (m.type == MB_B8x8)
          for (int x = 0; x < 4; ++x)
            if (sub_pred(m, (y >> 1) * 2 + (x >> 1)) == 0) kind[i + x] = KIND_DIRECT;
        std::memcpy(mvd[0] + 2 * i, m.mvd[4 * y], 4 * sizeof(m.mvd[0]));
        std::memcpy(mvd[1] + 2 * i, m.mvd1[4 * y], 4 * sizeof(m.mvd1[0]));
      }
    }
    dpb.end_picture(first_sh, ps->sps[size_t(sps_id)]);
    rp.poc = cur->poc;
    rp.segment = cur->segment;
    rp.id = cur->id;
    cur.reset();
  }

  void slice(const NalUnit& u) {
    const uint8_t* payload = data + u.offset;
    nal_to_rbsp(payload, u.size, rbsp);
    SliceHeader sh;
    parse_slice_header(rbsp, u.type, u.ref_idc, *ps, sh);
    if (sh.redundant_pic_cnt > 0) {  // redundant slices carry nothing the primary picture lacks
      mark(u);
      add_header_bytes(u.lead_size + u.size, u.lead_size + u.size, false);
      res.rewritten.insert(res.rewritten.end(), data + u.lead_offset, data + u.offset + u.size);
      return;
    }
    const Pps& pps = ps->pps[size_t(sh.pps_id)];
    const Sps& sps = ps->sps[size_t(pps.sps_id)];
    const bool new_picture = !cur || first_slice_of_new_picture(last_sh, sh, *ps);
    last_sh = sh;
    if (new_picture) {
      finish_picture();
      if (sh.first_mb != 0)
        throw ParseError("the picture's first slice starts at macroblock " + std::to_string(sh.first_mb) +
                         " (arbitrary slice order or a lost slice)", sh.first_mb);
      if (res.pictures.empty()) {
        res.width = sps.width; res.height = sps.height;
        res.w4 = sps.mbw * 4; res.h4 = sps.mbh * 4;
        res.cabac = pps.cabac;
        res.profile_idc = sps.profile_idc;
        if (sps.vui_present && sps.num_units_in_tick > 0 && sps.time_scale > 0) {
          res.fps_num = sps.time_scale; res.fps_den = 2 * sps.num_units_in_tick;
        }
      } else if (sps.mbw * 4 != res.w4 || sps.mbh * 4 != res.h4 || sps.width != res.width || sps.height != res.height) {
        throw Unsupported("resolution change mid-stream (" + std::to_string(res.width) + "x" + std::to_string(res.height) +
                          " to " + std::to_string(sps.width) + "x" + std::to_string(sps.height) + ")");
      }
      check_block_budget(opt, npics(), size_t(sps.mbw) * 16 * size_t(sps.mbh));
      DecPic* p = dpb.begin_picture(sh, sps);
      cur = dpb.current();
      (void)p;
      const size_t n4 = size_t(sps.mbw) * 4 * size_t(sps.mbh) * 4;
      cur->w4 = sps.mbw * 4; cur->h4 = sps.mbh * 4;
      for (int l = 0; l < 2; ++l) {  // every macroblock writes all of its blocks (motion.cpp)
        cur->mv[l].resize(2 * n4);
        cur->ref[l].resize(n4);
        cur->ref_pic[l].resize(n4);
      }
      pic.reset(sps.mbw, sps.mbh);
      first_sh = sh;
      sps_id = pps.sps_id;
      slice_id = -1;
      res.pictures.emplace_back();
      ReadPicture& rp = res.pictures.back();
      rp.idr = sh.idr;
      rp.qp = sh.qp;
      rp.type = 'I';
      mark(u);
      rp.au_in = npics() == 1 ? 0 : mark_in;
      rp.au_out = npics() == 1 ? 0 : mark_out;
      rp.reorder = sps.max_num_reorder_frames >= 0 ? sps.max_num_reorder_frames : sps.poc_type == 2 ? 0 : 16;
    }
    marked = false;
    ReadPicture& rp = res.pictures.back();
    take_pending(rp);
    ++slice_id;
    ++rp.slices;
    if (sh.type == SLICE_B) rp.type = 'B';
    else if (sh.type == SLICE_P && rp.type == 'I') rp.type = 'P';
    const RefLists lists = dpb.ref_lists(sh, sps);
    SliceSyntax ss;
    ss.type = sh.type;
    ss.id = slice_id;
    ss.first_mb = sh.first_mb;
    ss.num_ref[0] = sh.num_ref[0];
    ss.num_ref[1] = sh.num_ref[1];
    ss.qp = sh.qp;
    ss.cabac = pps.cabac;
    ss.cabac_init_idc = sh.cabac_init_idc;
    ss.transform_8x8_mode = pps.transform_8x8_mode;
    ss.direct_8x8_inference = sps.direct_8x8_inference;
    ss.chroma_format_idc = sps.chroma_format_idc;
    ss.constrained_intra_pred = pps.constrained_intra_pred;

    BitCounts c{};
    c[CAT_HEADER] += 8.0 * double(u.lead_size + u.size - rbsp.size());  // lead, NAL header, emulation prevention
    c[CAT_HEADER] += double(sh.data_bit);
    BitReader br(rbsp.data(), rbsp.size(), sh.data_bit);
    br.mb = sh.first_mb;
    if (pps.cabac) read_slice_data_cabac(ss, pic, br, c);
    else read_slice_data_cavlc(ss, pic, br, c);
    const size_t stop_end = stop_bit_end(rbsp);
    // CAVLC stops just before the rbsp_stop_one_bit. CABAC's arithmetic decoder stops a few bits
    // before the end of the flush, whose last bit is the stop bit: those bits are charged to
    // CAT_END, as the writer charges its flush.
    const bool ends = pps.cabac ? (br.pos() <= stop_end && br.pos() + 10 >= stop_end) : br.pos() + 1 == stop_end;
    if (stop_end == 0 || !ends)
      throw ParseError("slice data does not end at the RBSP stop bit (bit " + std::to_string(br.pos()) + " of " +
                       std::to_string(stop_end) + ")", br.mb);
    if (pps.cabac) c[CAT_END] += double(stop_end - br.pos());
    c[CAT_HEADER] += double(8 * rbsp.size() - (pps.cabac ? stop_end : br.pos()));  // stop bit, alignment, zero words
    const size_t zero_tail = rbsp.size() - (stop_end + 7) / 8;
    derive_motion(ss, sh.direct_spatial, lists, pic, *cur);
    for (int k = 0; k < NUM_CATS; ++k) rp.bits[k] += c[k];
    rp.bytes += u.lead_size + u.size;

    if (!opt.rewrite) return;
    const char tc = sh.type == SLICE_I ? 'I' : sh.type == SLICE_P ? 'P' : 'B';
    const bool off = opt.drop.find(tc) != std::string::npos;
    if (!off && !opt.drop.empty()) {
      // a slice kept while others are cropped: its own bytes (crop(drop="") rewrites every slice,
      // which is what proves the writers reproduce the input)
      res.rewritten.insert(res.rewritten.end(), data + u.lead_offset, data + u.offset + u.size);
      for (int k = 0; k < NUM_CATS; ++k) rp.bits_out[k] += c[k];
      rp.bytes_out += u.lead_size + u.size;
      return;
    }
    BitCounts co{};
    SyntaxWriter w;
    w.counts = &co;
    copy_bits(rbsp, sh.data_bit, w);
    if (pps.cabac) {
      write_slice_data_cabac(ss, pic, w, off);
      w.bw.align_zero();
    } else {
      write_slice_data_cavlc(ss, pic, w, off);
      w.bw.trailing_bits();
    }
    for (size_t i = 0; i < zero_tail; ++i) w.bw.put(0, 8);
    const std::vector<uint8_t>* out_rbsp = &w.bw.bytes();
    if (pps.cabac && !off && same_before_flush(*out_rbsp, rbsp, br.pos())) {
      // The arithmetic code word is the input's up to its flush, whose last bits are the
      // encoder's free choice (EncodeFlush writes the stop bit with the code; x264 writes more
      // code bits, then the stop bit): keep the input's own termination.
      out_rbsp = &rbsp;
    }
    nal.clear();
    rbsp_to_nal(payload[0], *out_rbsp, nal);
    res.rewritten.insert(res.rewritten.end(), data + u.lead_offset, data + u.lead_offset + u.lead_size);
    res.rewritten.insert(res.rewritten.end(), nal.begin(), nal.end());
    const size_t out_bytes = u.lead_size + nal.size();
    if (out_rbsp == &rbsp) {
      co = c;  // the input's own bytes: charged as they were read
    } else {
      double charged = 0;  // slice data as the writers charged it; the rest (lead, NAL header, trailing bits) is header
      for (int k = 0; k < NUM_CATS; ++k) charged += co[k];
      co[CAT_HEADER] += 8.0 * double(out_bytes) - charged;
    }
    for (int k = 0; k < NUM_CATS; ++k) rp.bits_out[k] += co[k];
    rp.bytes_out += out_bytes;
  }

  // Output arrays sized once: the pictures are the slices with first_mb_in_slice 0 (a ue(v) of
  // value 0 is a single 1 bit), the picture size that of the first SPS.
  void reserve_output(const AnnexB& ab) {
    size_t pics = 0, n4 = 0;
    for (const NalUnit& u : ab.units) {
      if ((u.type == 1 || u.type == 5) && u.size > 1 && (data[u.offset + 1] & 0x80)) ++pics;
      if (u.type == 7 && n4 == 0) {
        try {
          ParamSets tmp_ps;
          nal_to_rbsp(data + u.offset, u.size, rbsp);
          parse_sps(rbsp, tmp_ps);
          for (const Sps& s : tmp_ps.sps)
            if (s.valid) n4 = size_t(s.mbw) * 4 * size_t(s.mbh) * 4;
        } catch (const std::exception&) {  // reported when the SPS is read in stream order
        }
      }
    }
    if (pics * n4 > (size_t(1) << 28)) return;  // implausible: grow as pictures arrive
    for (int l = 0; l < 2; ++l) {
      res.mv[l].reserve(2 * pics * n4);
      res.mvd[l].reserve(2 * pics * n4);
      res.ref[l].reserve(pics * n4);
    }
    res.kind.reserve(pics * n4);
    res.pictures.reserve(pics);
  }

  // One NAL unit of data, in stream order.
  void unit(const NalUnit& u) {
    const int t = u.type;
    if (t == 1 || t == 5) {
      try {
        slice(u);
      } catch (const ParseError& e) {
        throw ParseError(where(npics() - (cur ? 1 : 0), cur.get(), slice_id, e.mb) + ": " + e.what(), e.mb);
      } catch (const Unsupported& e) {
        throw Unsupported(where(npics() - (cur ? 1 : 0), cur.get(), -1, -1) + ": " + e.what());
      }
      return;
    }
    if (t >= 2 && t <= 4) throw Unsupported("data partitioning (NAL unit type " + std::to_string(t) + ")");
    if (t == 14 || t == 15 || t == 20) throw Unsupported("SVC / MVC (NAL unit type " + std::to_string(t) + ")");
    if (t == 7 || t == 8) {
      nal_to_rbsp(data + u.offset, u.size, rbsp);
      if (t == 7) parse_sps(rbsp, *ps);
      else parse_pps(rbsp, *ps);
    }
    const bool to_current = t >= 10 && t <= 12;
    if (!to_current) mark(u);
    add_header_bytes(u.lead_size + u.size, u.lead_size + u.size, to_current);
    res.rewritten.insert(res.rewritten.end(), data + u.lead_offset, data + u.offset + u.size);
  }

  // The end of the stream: data[tail_offset, + tail_size) are the bytes after the last NAL unit.
  void end(size_t tail_offset, size_t tail_size) {
    try {
      finish_picture();
    } catch (const ParseError& e) {
      throw ParseError(where(npics() - 1, cur.get(), -1, -1) + ": " + e.what(), e.mb);
    }
    if (npics() == 0) throw ParseError("no picture in the stream", -1);
    // bytes after the last NAL unit (trailing zeros) and NAL units after the last picture
    ReadPicture& last = res.pictures.back();
    take_pending(last);
    last.bits[CAT_HEADER] += 8.0 * double(tail_size);
    last.bits_out[CAT_HEADER] += 8.0 * double(tail_size);
    last.bytes += tail_size;
    last.bytes_out += tail_size;
    res.rewritten.insert(res.rewritten.end(), data + tail_offset, data + tail_offset + tail_size);
  }

  void run() {
    const AnnexB ab = split_annexb(data, size);
    reserve_output(ab);
    for (const NalUnit& u : ab.units) unit(u);
    end(ab.tail_offset, ab.tail_size);
  }
};

}  // namespace

ReadResult read_h264(const uint8_t* data, size_t size, const ReadOptions& opt) {
  Reader r(data, size, opt);
  if (opt.strict) {
    r.run();
    return std::move(r.res);
  }
  try {
    r.run();
  } catch (const std::exception& e) {
    // keep the complete pictures read so far (the one being read is dropped)
    if (r.cur) r.res.pictures.pop_back();
    r.res.error = e.what();
    r.res.rewritten.clear();
    if (r.res.pictures.empty()) throw;
  }
  return std::move(r.res);
}

std::unique_ptr<StreamReader> make_stream_reader_h264(const ReadOptions& opt) {
  return std::make_unique<StreamDriver<Reader>>(opt);
}

}  // namespace h264
}  // namespace mvc
