// The HEVC stream reader's driver: NAL units in stream order; parameter sets into tables; each
// slice segment's header (stream.cpp), CTU syntax (ctu_read.cpp) and motion (mvpred.cpp through
// ctu_read.cpp); picture order counts (8.3.1), the reference picture set (8.3.2) and
// RefPicList0 (8.3.4); the rewritten stream from the same records (header bits copied, slice data
// written again by syntax.cpp, the encoder's own writer).
//
// Bits: as the encoder counts them (hevc_encoder.cpp). Parameter sets, leads (start codes), NAL
// headers and slice headers are charged exactly to CAT_HEADER; the rest of each slice NAL unit is
// shared among the categories in proportion to the estimated cost (-log2 p) of the bins parsed
// for them, so a picture's categories sum to its bytes x 8.
#include "hm/reader.h"
#include "jm/reader_stream.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

namespace mvc {
namespace hevc {

namespace {

using h264::AnnexB;
using h264::NalUnit;

std::string where(size_t pic_index, int poc, int ctu) {
  std::string s = "picture " + std::to_string(pic_index) + " (POC " + std::to_string(poc) + ")";
  if (ctu >= 0) s += ", CTU " + std::to_string(ctu);
  return s;
}

void copy_bits(const std::vector<uint8_t>& src, size_t from, size_t to, BitWriter& w) {
  BitReader r(src.data(), src.size(), from);
  size_t nbits = to - from;
  while (nbits > 0) {
    const int n = nbits > 32 ? 32 : static_cast<int>(nbits);
    w.put(r.u(n), n);
    nbits -= static_cast<size_t>(n);
  }
}

size_t sub_total(const std::vector<std::vector<uint8_t>>& subs) {
  size_t n = 0;
  for (const auto& b : subs) n += b.size();
  return n;
}

size_t stop_bit_end(const std::vector<uint8_t>& rbsp) {
  size_t end = rbsp.size();
  while (end > 0 && rbsp[end - 1] == 0) --end;
  if (end == 0) return 0;
  return 8 * end - static_cast<size_t>(__builtin_ctz(rbsp[end - 1]));
}

// The picture geometry the CTU syntax, mvpred.cpp and syntax.cpp use, from an SPS.
void make_seq(const Sps& sps, Seq& s) {
  s = Seq{};
  s.W = sps.width;
  s.H = sps.height;
  s.vis_w = sps.width - sps.conf_left - sps.conf_right;
  s.vis_h = sps.height - sps.conf_top - sps.conf_bottom;
  s.ctu_log2 = sps.ctb_log2;
  s.ctu = 1 << sps.ctb_log2;
  s.min_cb_log2 = sps.min_cb_log2;
  s.max_tb_log2 = sps.max_tb_log2;
  s.min_tb_log2 = sps.min_tb_log2;
  s.max_tr_depth_inter = sps.max_tr_depth_inter;
  s.max_tr_depth_intra = sps.max_tr_depth_intra;
  s.ctu_cols = (s.W + s.ctu - 1) >> s.ctu_log2;
  s.ctu_rows = (s.H + s.ctu - 1) >> s.ctu_log2;
  s.w4 = s.W / 4;
  s.h4 = s.H / 4;
  // MinTbAddrZs (6.5.2) of each 4x4 unit: CTB raster address, then z-order inside the CTB
  s.zs.resize(size_t(s.w4) * s.h4);
  const uint32_t per = 1u << (2 * (s.ctu_log2 - 2));
  for (int y = 0; y < s.h4; ++y)
    for (int x = 0; x < s.w4; ++x) {
      const uint32_t ctb = uint32_t((y * 4 >> s.ctu_log2) * s.ctu_cols + (x * 4 >> s.ctu_log2));
      const int lx = x & ((s.ctu >> 2) - 1), ly = y & ((s.ctu >> 2) - 1);
      uint32_t z = 0;
      for (int i = 0; i < s.ctu_log2 - 2; ++i) z |= uint32_t(((lx >> i) & 1) << (2 * i)) | uint32_t(((ly >> i) & 1) << (2 * i + 1));
      s.zs[size_t(y) * s.w4 + x] = ctb * per + z;
    }
}

struct Reader {
  const uint8_t* data;
  size_t size;
  const ReadOptions& opt;
  ReadResult res;
  std::unique_ptr<ParamSets> ps = std::make_unique<ParamSets>();
  std::vector<std::unique_ptr<RefPic>> dpb;  // reference pictures (short-term)
  std::vector<std::unique_ptr<RefPic>> spare;
  Seq seq;
  int seq_sps = -1;
  Frame f;
  std::unique_ptr<RefPic> cur;  // the picture being read: its motion and list-0 POCs
  bool in_pic = false;
  int next_ctu = 0;
  std::vector<uint32_t> zs_orig;   // MinTbAddrZs of the picture; seq.zs marks earlier slices' units
  SliceHeader first_sh;            // the picture's first slice header
  std::vector<SaoParam> sao;
  // POC state (8.3.1)
  int prev_tid0_poc = 0;
  bool first_pic = true, after_eos = false, skip_rasl = false;
  int segment = -1, decode_index = 0;
  BitCounts pending{}, pending_out{};
  size_t pending_bytes = 0, pending_bytes_out = 0;
  std::vector<uint8_t> rbsp, nal;
  // Streaming (h264::StreamDriver): data is a window of the stream starting at byte in_base; the
  // pictures and rewritten bytes handed out so far; where the next access unit begins (marked).
  bool streaming = false;
  uint64_t in_base = 0, out_base = 0;
  size_t taken = 0;
  bool marked = false;
  uint64_t mark_in = 0, mark_out = 0;

  Reader(const uint8_t* d, size_t n, const ReadOptions& o) : data(d), size(n), opt(o) {}

  size_t npics() const { return taken + res.pictures.size(); }
  void mark(const NalUnit& u) {
    if (marked) return;
    marked = true;
    mark_in = in_base + u.lead_offset;
    mark_out = out_base + res.rewritten.size();
  }

  void add_header_bytes(size_t n) {
    pending[CAT_HEADER] += 8.0 * double(n);
    pending_out[CAT_HEADER] += 8.0 * double(n);
    pending_bytes += n;
    pending_bytes_out += n;
  }
  void take_pending(ReadPicture& rp) {
    for (int k = 0; k < NUM_CATS; ++k) { rp.bits[k] += pending[k]; rp.bits_out[k] += pending_out[k]; }
    rp.bytes += pending_bytes;
    rp.bytes_out += pending_bytes_out;
    pending = {};
    pending_out = {};
    pending_bytes = pending_bytes_out = 0;
  }

  void finish_picture() {
    if (!in_pic) return;
    in_pic = false;
    const int nctu = seq.ctu_cols * seq.ctu_rows;
    if (next_ctu != nctu)
      throw ParseError(std::to_string(nctu - next_ctu) + " of " + std::to_string(nctu) + " CTUs missing", next_ctu);
    const size_t nb = size_t(seq.w4) * seq.h4, base = res.kind.size();
    res.kind.resize(base + nb);
    for (int l = 0; l < 2; ++l) {
      res.mv[l].resize(2 * (base + nb), 0);
      res.mvd[l].resize(2 * (base + nb), 0);
      res.ref[l].resize(base + nb, -1);
    }
    cur->mvf.resize(nb);
    if (f.bb.empty()) cur->mvf1.clear();
    else cur->mvf1.resize(nb);
    for (size_t i = 0; i < nb; ++i) {
      const Blk& b = f.blk[i];
      const bool intra = b.pred == MODE_INTRA;
      res.kind[base + i] = intra ? KIND_INTRA : b.pred == MODE_SKIP ? KIND_SKIP : KIND_INTER;
      cur->mvf[i] = intra ? MvField{} : b.mvf;
      if (intra) {
        if (!cur->mvf1.empty()) cur->mvf1[i] = MvField{};
        continue;
      }
      res.mv[0][2 * (base + i)] = b.mvf.mv.x;
      res.mv[0][2 * (base + i) + 1] = b.mvf.mv.y;
      res.mvd[0][2 * (base + i)] = b.mvd.x;
      res.mvd[0][2 * (base + i) + 1] = b.mvd.y;
      res.ref[0][base + i] = b.mvf.ref;
      if (f.bb.empty()) continue;
      const BlkB& b1 = f.bb[i];
      cur->mvf1[i] = b1.mvf1;
      res.mv[1][2 * (base + i)] = b1.mvf1.mv.x;
      res.mv[1][2 * (base + i) + 1] = b1.mvf1.mv.y;
      res.mvd[1][2 * (base + i)] = b1.mvd1.x;
      res.mvd[1][2 * (base + i) + 1] = b1.mvd1.y;
      res.ref[1][base + i] = b1.mvf1.ref;
    }
    for (const auto& p : dpb)
      if (p->poc == cur->poc) throw ParseError("two reference pictures with POC " + std::to_string(cur->poc), -1);
    dpb.push_back(std::move(cur));
  }

  // 8.3.2 for the picture starting with slice header sh: keeps the pictures of its RPS.
  void apply_rps(const SliceHeader& sh, int poc) {
    std::vector<std::unique_ptr<RefPic>> keep;
    for (auto& p : dpb) {
      bool in = false;
      for (int l = 0; l < 2; ++l)
        for (int i = 0; i < (l ? sh.rps.num_positive : sh.rps.num_negative); ++i)
          in |= p->poc == poc + sh.rps.delta_poc[l][i];
      if (in) keep.push_back(std::move(p));
      else spare.push_back(std::move(p));
    }
    dpb = std::move(keep);
  }

  const RefPic* find(int poc) const {
    for (const auto& p : dpb)
      if (p->poc == poc) return p.get();
    return nullptr;
  }

  // 8.3.4: RefPicList0 / RefPicList1 of a P or B slice.
  void ref_lists(const SliceHeader& sh, std::vector<const RefPic*>& l0, std::vector<const RefPic*>& l1) {
    std::vector<const RefPic*> before, after;
    for (int l = 0; l < 2; ++l)
      for (int i = 0; i < (l ? sh.rps.num_positive : sh.rps.num_negative); ++i) {
        if (!sh.rps.used[l][i]) continue;
        const int poc = f.poc + sh.rps.delta_poc[l][i];
        const RefPic* p = find(poc);
        if (!p) throw ParseError("reference picture with POC " + std::to_string(poc) + " is missing", -1);
        (l ? after : before).push_back(p);
      }
    for (int X = 0; X < (sh.type == SLICE_B ? 2 : 1); ++X) {
      std::vector<const RefPic*> curr = X ? after : before;
      const auto& second = X ? before : after;
      curr.insert(curr.end(), second.begin(), second.end());
      const int n = std::max<int>(sh.num_ref[X], int(curr.size()));
      std::vector<const RefPic*> temp;
      for (int i = 0; int(temp.size()) < n; i = (i + 1) % int(curr.size())) temp.push_back(curr[size_t(i)]);
      auto& list = X ? l1 : l0;
      list.clear();
      for (int i = 0; i < sh.num_ref[X]; ++i) list.push_back(temp[sh.list_mod[X] ? sh.list_entry[X][i] : size_t(i)]);
    }
  }

  void check_supported(const Sps& sps, const Pps& pps, const SliceHeader& sh) {
    if (sps.pcm) throw Unsupported("PCM (pcm_enabled_flag) is not supported yet");
    if (pps.tiles) throw Unsupported("tiles are not supported yet");
  }

  void slice(const NalUnit& u, int nal_type, int tid) {
    const uint8_t* payload = data + u.offset;
    nal_to_rbsp(payload, u.size, rbsp);
    SliceHeader sh;
    sh.nal_type = nal_type;
    sh.temporal_id = tid;
    parse_slice_header(rbsp, *ps, sh);
    const Pps& pps = ps->pps[size_t(sh.pps_id)];
    const Sps& sps = ps->sps[size_t(pps.sps_id)];
    if ((nal_type == 8 || nal_type == 9) && skip_rasl) {
      // RASL pictures of a CRA that starts the stream (or follows an end of sequence) are not
      // decoded (8.1.3): their bytes are header bits of the next picture, copied unchanged
      mark(u);
      add_header_bytes(u.lead_size + u.size);
      if (opt.rewrite) res.rewritten.insert(res.rewritten.end(), data + u.lead_offset, data + u.offset + u.size);
      return;
    }
    check_supported(sps, pps, sh);
    if (sh.first_in_pic) {
      finish_picture();
      if (seq_sps != pps.sps_id || seq.W != sps.width || seq.H != sps.height ||
          seq.ctu_log2 != sps.ctb_log2) {
        if (npics() > 0 && (seq.W != sps.width || seq.H != sps.height))
          throw Unsupported("resolution change mid-stream");
        make_seq(sps, seq);
        seq_sps = pps.sps_id;
        zs_orig = seq.zs;
      }
      seq.max_tb_log2 = sps.max_tb_log2;
      seq.min_tb_log2 = sps.min_tb_log2;
      seq.min_cb_log2 = sps.min_cb_log2;
      seq.max_tr_depth_inter = sps.max_tr_depth_inter;
      seq.max_tr_depth_intra = sps.max_tr_depth_intra;
      if (npics() == 0) {
        res.width = seq.vis_w;
        res.height = seq.vis_h;
        res.w4 = seq.w4;
        res.h4 = seq.h4;
        res.cabac = true;
        res.profile_idc = sps.profile_idc;
        const Vps& vps = ps->vps[size_t(sps.vps_id)];
        if (sps.num_units_in_tick && sps.time_scale) {
          res.fps_num = int(sps.time_scale);
          res.fps_den = int(sps.num_units_in_tick);
        } else if (vps.valid && vps.num_units_in_tick && vps.time_scale) {
          res.fps_num = int(vps.time_scale);
          res.fps_den = int(vps.num_units_in_tick);
        }
      }
      // 8.3.1 picture order count
      const bool no_rasl = sh.idr() || (sh.nal_type >= NAL_BLA_W_LP && sh.nal_type <= 18) || first_pic || after_eos;
      const int max_lsb = 1 << sps.log2_max_poc_lsb;
      int msb;
      if (sh.irap() && no_rasl) {
        msb = 0;
      } else {
        const int prev_lsb = prev_tid0_poc & (max_lsb - 1), prev_msb = prev_tid0_poc - prev_lsb;
        const int lsb = int(sh.poc_lsb);
        if (lsb < prev_lsb && prev_lsb - lsb >= max_lsb / 2) msb = prev_msb + max_lsb;
        else if (lsb > prev_lsb && lsb - prev_lsb > max_lsb / 2) msb = prev_msb - max_lsb;
        else msb = prev_msb;
      }
      const int poc = msb + int(sh.poc_lsb);
      const bool sub_layer_non_ref = sh.nal_type <= 14 && (sh.nal_type % 2 == 0);
      if (tid == 0 && !(sh.nal_type >= NAL_RADL_N && sh.nal_type <= NAL_RASL_R) && !sub_layer_non_ref) prev_tid0_poc = poc;
      if (sh.irap()) skip_rasl = no_rasl && !sh.idr();
      if (sh.irap() && no_rasl) {
        ++segment;
        for (auto& p : dpb) spare.push_back(std::move(p));
        dpb.clear();
      }
      if (segment < 0) throw Unsupported("the stream does not begin with an IRAP picture");
      first_pic = after_eos = false;
      apply_rps(sh, poc);
      // the picture
      f.seq = &seq;
      f.poc = poc;
      f.is_p = sh.type != SLICE_I;
      f.is_b = sh.type == SLICE_B;
      f.mvd_l1_zero = sh.mvd_l1_zero;
      f.tmvp = sh.temporal_mvp;
      f.refs.clear();
      f.refs1.clear();
      if (sh.type != SLICE_I) ref_lists(sh, f.refs, f.refs1);
      const size_t n4 = size_t(seq.w4) * seq.h4;
      f.blk.assign(n4, Blk{});
      f.tq.assign(n4, 0);
      f.dqp.assign(n4, 0);
      if (f.is_b) f.bb.assign(n4, BlkB{});
      else f.bb.clear();
      if (f.coef[0].size() != size_t(seq.W) * seq.H) {
        f.coef[0].assign(size_t(seq.W) * seq.H, 0);
        f.coef[1].assign(size_t(seq.W / 2) * (seq.H / 2), 0);
        f.coef[2].assign(size_t(seq.W / 2) * (seq.H / 2), 0);
      }
      if (!spare.empty()) {
        cur = std::move(spare.back());
        spare.pop_back();
      } else {
        cur = std::make_unique<RefPic>();
      }
      cur->poc = poc;
      cur->ref_pocs.clear();
      cur->ref_pocs1.clear();
      for (const RefPic* r : f.refs) cur->ref_pocs.push_back(r->poc);
      for (const RefPic* r : f.refs1) cur->ref_pocs1.push_back(r->poc);
      in_pic = true;
      next_ctu = 0;
      first_sh = sh;
      h264::check_block_budget(opt, npics(), size_t(res.w4) * size_t(res.h4));
      res.pictures.emplace_back();
      ReadPicture& rp = res.pictures.back();
      mark(u);
      rp.au_in = npics() == 1 ? 0 : mark_in;
      rp.au_out = npics() == 1 ? 0 : mark_out;
      rp.reorder = sps.max_num_reorder;
      rp.idr = sh.idr();
      rp.qp = sh.qp;
      rp.type = sh.type == SLICE_I ? 'I' : sh.type == SLICE_P ? 'P' : 'B';
      rp.poc = poc;
      rp.segment = segment;
      rp.id = decode_index++;
      rp.ref_pocs[0] = cur->ref_pocs;
      rp.ref_pocs[1] = cur->ref_pocs1;
      rp.weighted = sh.weighted;
      rp.wp_log2[0] = sh.luma_log2_wd;
      rp.wp_log2[1] = sh.chroma_log2_wd;
      for (int X = 0; X < 2 && sh.weighted; ++X)
        for (int i = 0; i < sh.num_ref[X]; ++i)
          rp.wp[X].push_back({sh.luma_weight[X][i], sh.luma_offset[X][i], sh.chroma_weight[X][i][0],
                              sh.chroma_offset[X][i][0], sh.chroma_weight[X][i][1], sh.chroma_offset[X][i][1]});
    }
    if (!in_pic) throw ParseError("slice segment without the first slice segment of its picture", -1);
    if (!sh.first_in_pic) {
      if (int(sh.address) != next_ctu)
        throw ParseError("slice segment at CTU " + std::to_string(sh.address) + " where CTU " + std::to_string(next_ctu) +
                         " is next (lost or reordered slices)", int(sh.address));
      if (sh.type != first_sh.type || sh.pps_id != first_sh.pps_id)
        throw Unsupported("slices of different types or parameter sets in one picture are not supported yet");
      std::vector<const RefPic*> l0, l1;
      if (sh.type != SLICE_I) ref_lists(sh, l0, l1);
      if (l0 != f.refs || l1 != f.refs1)
        throw Unsupported("slices with different reference picture lists in one picture are not supported yet");
      f.tmvp = sh.temporal_mvp;
      f.mvd_l1_zero = sh.mvd_l1_zero;
    }
    ReadPicture& rp = res.pictures.back();
    take_pending(rp);
    ++rp.slices;
    marked = false;

    // slice data
    const int init_type = sh.type == SLICE_I ? 0 : sh.type == SLICE_P ? (sh.cabac_init ? 2 : 1) : (sh.cabac_init ? 1 : 2);
    SliceReadCtx sc{&seq, &f, sh.qp, sh.sao_luma, sh.sao_chroma, pps.sign_hiding, sh.max_num_merge_cand, pps.entropy_sync,
                    int(sh.address)};
    sc.init_type = init_type;
    sc.amp = sps.amp;
    sc.transform_skip = pps.transform_skip;
    sc.cu_qp_delta = pps.cu_qp_delta;
    sc.log2_min_dqp = sps.ctb_log2 - pps.diff_cu_qp_delta_depth;
    sc.qp_bd_offset = 6 * (sps.bit_depth_luma - 8);
    sc.sao_max[0] = (1 << (std::min(sps.bit_depth_luma, 10) - 5)) - 1;
    sc.sao_max[1] = (1 << (std::min(sps.bit_depth_chroma, 10) - 5)) - 1;
    sc.transquant_bypass = pps.transquant_bypass;
    sc.mv.f = &f;
    sc.mv.par_mrg_log2 = pps.log2_parallel_merge_level;
    sc.mv.max_merge = sh.max_num_merge_cand;
    sc.mv.col_from_l0 = sh.collocated_from_l0;
    if (sh.temporal_mvp && sh.type != SLICE_I) {
      const auto& cl = sh.collocated_from_l0 ? f.refs : f.refs1;
      if (sh.collocated_ref_idx >= int(cl.size())) throw ParseError("collocated_ref_idx out of range", -1);
      sc.mv.col = cl[size_t(sh.collocated_ref_idx)];
    }
    sc.mv.no_backward = true;
    for (const RefPic* r : f.refs) sc.mv.no_backward &= r->poc <= f.poc;
    for (const RefPic* r : f.refs1) sc.mv.no_backward &= r->poc <= f.poc;
    // availability stays within the slice: the units of the CTUs before SliceAddrRs get addresses
    // above every address of this slice (z-scan availability requires a smaller one)
    if (sh.address > 0 || seq.zs != zs_orig) {
      seq.zs = zs_orig;
      const uint32_t above = 0x80000000u;
      for (int y = 0; y < seq.h4; ++y)
        for (int x = 0; x < seq.w4; ++x) {
          const int ctb = (y * 4 >> seq.ctu_log2) * seq.ctu_cols + (x * 4 >> seq.ctu_log2);
          if (ctb < int(sh.address)) seq.zs[size_t(y) * seq.w4 + x] |= above;
        }
    }
    BitCounts est_cats{};
    BitReader br(rbsp.data(), rbsp.size(), sh.data_bit);
    next_ctu = read_slice_data(sc, br, int(sh.address), est_cats, sao);
    const size_t stop_end = stop_bit_end(rbsp);
    if (stop_end == 0 || br.pos() > stop_end || br.pos() + 16 < stop_end)
      throw ParseError("slice data does not end at the RBSP stop bit (bit " + std::to_string(br.pos()) + " of " +
                       std::to_string(stop_end) + ")", next_ctu - 1);
    const size_t zero_tail = rbsp.size() - (stop_end + 7) / 8;
    auto charge = [](BitCounts& bits, const BitCounts& cats, double header, double total) {
      const double data = total - header;
      double est = 0;
      for (int c = 0; c < NUM_CATS; ++c) est += cats[size_t(c)];
      for (int c = 0; c < NUM_CATS; ++c) bits[size_t(c)] += est > 0 ? cats[size_t(c)] * data / est : 0.0;
      bits[CAT_HEADER] += header;
    };
    const double header = 8.0 * double(u.lead_size + 2) + double(sh.data_bit);
    charge(rp.bits, est_cats, header, 8.0 * double(u.lead_size + u.size));
    rp.bytes += u.lead_size + u.size;

    if (!opt.rewrite) return;
    const bool off = opt.drop.find(rp.type) != std::string::npos;
    Cabac cab;
    cab.ctx.init_type(init_type, sh.qp);
    cab.start();
    SliceCtx wc{&seq, &f, off, sh.sao_luma, sh.sao_chroma};
    wc.crop_intra_pictures = true;
    wc.max_merge = sh.max_num_merge_cand;
    wc.amp = sps.amp;
    wc.slice_addr = int(sh.address);
    wc.sign_hiding = pps.sign_hiding;
    wc.sao_max[0] = sc.sao_max[0];
    wc.sao_max[1] = sc.sao_max[1];
    wc.transform_skip = pps.transform_skip;
    wc.transquant_bypass = pps.transquant_bypass;
    wc.cu_qp_delta = pps.cu_qp_delta;
    wc.log2_min_dqp = sc.log2_min_dqp;
    std::vector<std::vector<uint8_t>> subs;  // the substreams (RBSP bytes, each byte aligned)
    BitWriter sub;
    CtxSet wpp_saved = cab.ctx;
    const bool sync = pps.entropy_sync;
    for (int i = int(sh.address); i < next_ctu; ++i) {
      const int rx = i % seq.ctu_cols, ry = i / seq.ctu_cols;
      if (sync && rx == 0) {
        if (ry > 0 && seq.ctu_cols > 1 && (ry - 1) * seq.ctu_cols + 1 >= int(sh.address)) cab.ctx = wpp_saved;
        else cab.ctx.init_type(init_type, sh.qp);
      }
      if (sh.sao_luma || sh.sao_chroma) write_sao(cab, wc, sao[size_t(i)], rx, ry);
      write_coding_quadtree(cab, wc, rx << seq.ctu_log2, ry << seq.ctu_log2, seq.ctu_log2, 0);
      if (sync && rx == 1) wpp_saved = cab.ctx;
      const bool last = i == next_ctu - 1;
      cab.terminate(last, CAT_END);
      if (!last && sync && (i + 1) % seq.ctu_cols == 0) {
        cab.terminate(1, CAT_END);  // end_of_subset_one_bit; the flush's last bit is byte_alignment()'s one
        cab.flush_to(sub);
        sub.align_zero();
        subs.push_back(sub.bytes());
        sub.clear();
        cab.start();
      }
    }
    cab.flush_to(sub);
    sub.align_zero();
    subs.push_back(sub.bytes());
    if (subs.size() != sh.entry_offsets.size() + 1)
      throw ParseError("num_entry_point_offsets " + std::to_string(sh.entry_offsets.size()) + " for " +
                       std::to_string(subs.size()) + " substreams", next_ctu - 1);
    // entry_point_offset_minus1 counts the NAL unit's bytes, emulation prevention included:
    // recomputed until the header that carries them gives the same escaped sizes
    std::vector<uint32_t> offsets = sh.entry_offsets;
    BitWriter bw;
    std::vector<uint8_t> body;
    for (int iter = 0;; ++iter) {
      bw.clear();
      if (offsets == sh.entry_offsets) {
        copy_bits(rbsp, 0, sh.data_bit, bw);
      } else {
        copy_bits(rbsp, 0, sh.entry_bit, bw);
        uint32_t mx = 1;
        for (uint32_t o : offsets) mx = std::max(mx, o);
        int len = 1;
        while (len < 32 && ((mx - 1) >> len) != 0) ++len;
        bw.ue(uint32_t(offsets.size()));
        bw.ue(uint32_t(len - 1));
        for (uint32_t o : offsets) bw.put(o - 1, len);
        copy_bits(rbsp, sh.entry_end_bit, sh.ext_end_bit, bw);
        bw.put1(1);
        bw.align_zero();
      }
      body = bw.bytes();
      std::vector<size_t> starts;
      for (const auto& b : subs) {
        starts.push_back(body.size());
        body.insert(body.end(), b.begin(), b.end());
      }
      if (subs.size() == 1) break;
      std::vector<size_t> esc(body.size() + 1);  // escaped position of each RBSP byte
      int zeros = 0;
      size_t e = 0;
      for (size_t k = 0; k < body.size(); ++k) {
        if (zeros >= 2 && body[k] <= 3) { ++e; zeros = 0; }
        esc[k] = e++;
        zeros = body[k] == 0 ? zeros + 1 : 0;
      }
      std::vector<uint32_t> now;
      for (size_t k = 0; k + 1 < subs.size(); ++k) now.push_back(uint32_t(esc[starts[k + 1]] - esc[starts[k]]));
      if (now == offsets) break;
      if (iter == 8) throw ParseError("entry point offsets do not converge", next_ctu - 1);
      offsets = now;
    }
    for (size_t i = 0; i < zero_tail; ++i) body.push_back(0);
    nal.clear();
    rbsp_to_nal(payload, body, nal);
    res.rewritten.insert(res.rewritten.end(), data + u.lead_offset, data + u.lead_offset + u.lead_size);
    res.rewritten.insert(res.rewritten.end(), nal.begin(), nal.end());
    charge(rp.bits_out, cab.cat_bits, 8.0 * double(u.lead_size + 2) + double(8 * (body.size() - zero_tail) - 8 * sub_total(subs)),
           8.0 * double(u.lead_size + nal.size()));
    rp.bytes_out += u.lead_size + nal.size();
  }

  // One NAL unit of data, in stream order.
  void unit(const NalUnit& u) {
    if (u.size < 2) throw ParseError("NAL unit " + std::to_string(u.index) + " shorter than its 2-byte header", -1);
    const uint8_t* p = data + u.offset;
    const int t = (p[0] >> 1) & 63, layer = ((p[0] & 1) << 5) | (p[1] >> 3), tid = (p[1] & 7) - 1;
    if (tid < 0) throw ParseError("NAL unit " + std::to_string(u.index) + ": nuh_temporal_id_plus1 is 0", -1);
    if (layer > 0) throw Unsupported("multi-layer streams (nuh_layer_id " + std::to_string(layer) + ") are not supported");
    if (t <= 21 && !(t >= 10 && t <= 15)) {
      try {
        slice(u, t, tid);
      } catch (const ParseError& e) {
        throw ParseError(where(npics() - (in_pic ? 1 : 0), f.poc, e.mb) + ": " + e.what(), e.mb);
      } catch (const Unsupported& e) {
        throw Unsupported(where(npics() - (in_pic ? 1 : 0), f.poc, -1) + ": " + e.what());
      }
      return;
    }
    if (t < 32) throw Unsupported("reserved VCL NAL unit type " + std::to_string(t));
    if (t == NAL_VPS || t == NAL_SPS || t == NAL_PPS) {
      nal_to_rbsp(p, u.size, rbsp);
      if (t == NAL_VPS) parse_vps(rbsp, *ps);
      else if (t == NAL_SPS) parse_sps(rbsp, *ps);
      else parse_pps(rbsp, *ps);
    }
    if (t == 36 || t == 37) after_eos = true;  // end of sequence / bitstream
    mark(u);
    add_header_bytes(u.lead_size + u.size);
    if (opt.rewrite) res.rewritten.insert(res.rewritten.end(), data + u.lead_offset, data + u.offset + u.size);
  }

  // The end of the stream: data[tail_offset, + tail_size) are the bytes after the last NAL unit.
  void end(size_t tail_offset, size_t tail_size) {
    try {
      finish_picture();
    } catch (const ParseError& e) {
      throw ParseError(where(npics() - 1, f.poc, e.mb) + ": " + e.what(), e.mb);
    }
    if (npics() == 0) throw ParseError("no picture in the stream", -1);
    ReadPicture& last = res.pictures.back();
    take_pending(last);
    last.bits[CAT_HEADER] += 8.0 * double(tail_size);
    last.bits_out[CAT_HEADER] += 8.0 * double(tail_size);
    last.bytes += tail_size;
    last.bytes_out += tail_size;
    if (opt.rewrite) res.rewritten.insert(res.rewritten.end(), data + tail_offset, data + tail_offset + tail_size);
  }

  void run() {
    const AnnexB ab = h264::split_annexb(data, size);
    for (const NalUnit& u : ab.units) unit(u);
    end(ab.tail_offset, ab.tail_size);
  }
};

}  // namespace

ReadResult read_hevc(const uint8_t* data, size_t size, const ReadOptions& opt) {
  Reader r(data, size, opt);
  if (opt.strict) {
    r.run();
    return std::move(r.res);
  }
  try {
    r.run();
  } catch (const std::exception& e) {
    // keep the complete pictures read so far (the one being read is dropped); the motion arrays
    // are appended only for complete pictures
    const size_t n4 = size_t(r.res.w4) * size_t(r.res.h4);
    const size_t complete = n4 ? r.res.kind.size() / n4 : 0;
    if (r.res.pictures.size() > complete) r.res.pictures.resize(complete);
    r.res.error = e.what();
    r.res.rewritten.clear();
    if (r.res.pictures.empty()) throw;
  }
  return std::move(r.res);
}

std::unique_ptr<h264::StreamReader> make_stream_reader_hevc(const ReadOptions& opt) {
  return std::make_unique<h264::StreamDriver<Reader>>(opt);
}

}  // namespace hevc
}  // namespace mvc
