// HEVC encoder picture loop: IDR/P structure, DPB, analysis -> reconstruction -> loop filters,
// then the same decisions serialised twice (full and cropped streams) with per-category bits.
#include <algorithm>
#include <cmath>
#include <deque>
#include <memory>
#include <stdexcept>
#include <string>

#include "hm/hevc.h"

namespace mvc {
namespace hevc {
namespace {

constexpr int kPad = 80;

int ilog2(int v) {
  int l = 0;
  while ((1 << l) < v) ++l;
  return l;
}

class HevcEncoder final : public Encoder {
 public:
  explicit HevcEncoder(const EncoderConfig& cfg) {
    validate_common(cfg);
    if ((cfg.width & 1) || (cfg.height & 1))
      throw std::invalid_argument("frame width and height must be even for 4:2:0, got " + std::to_string(cfg.width) +
                                  "x" + std::to_string(cfg.height));
    if (cfg.cabac)  // the option chooses H.264's entropy coder
      throw std::invalid_argument("option 'cabac' applies to h264 only: HEVC always codes CABAC");
    if (cfg.ctu_size != 16 && cfg.ctu_size != 32 && cfg.ctu_size != 64)
      throw std::invalid_argument("ctu_size must be 16, 32 or 64, got " + std::to_string(cfg.ctu_size));
    // max_depth counts CU sizes as HM's MaxPartitionDepth does: 2 with CTU 16 gives CUs 16 and 8
    if (cfg.max_depth < 1 || (cfg.ctu_size >> (cfg.max_depth - 1)) < 8)
      throw std::invalid_argument("max_depth " + std::to_string(cfg.max_depth) + " with ctu_size " +
                                  std::to_string(cfg.ctu_size) + " must be >= 1 and give a minimum CU of at least 8x8");
    Seq& s = seq_;
    s.cfg = cfg;
    s.vis_w = cfg.width;
    s.vis_h = cfg.height;
    s.ctu_log2 = ilog2(cfg.ctu_size);
    s.ctu = cfg.ctu_size;
    s.min_cb_log2 = s.ctu_log2 - (cfg.max_depth - 1);
    s.max_tb_log2 = std::min(5, s.ctu_log2);
    const int mcb = 1 << s.min_cb_log2;
    s.W = (cfg.width + mcb - 1) / mcb * mcb;
    s.H = (cfg.height + mcb - 1) / mcb * mcb;
    s.ctu_cols = (s.W + s.ctu - 1) >> s.ctu_log2;
    s.ctu_rows = (s.H + s.ctu - 1) >> s.ctu_log2;
    s.w4 = s.W / 4;
    s.h4 = s.H / 4;
    s.qp = cfg.qp;
    s.qpc = chroma_qp(cfg.qp);
    // MinTbAddrZs (6.5.2) for 4x4 units: CTU raster address then z-order inside the CTU
    s.zs.resize(static_cast<size_t>(s.w4) * s.h4);
    const int per = 1 << (2 * (s.ctu_log2 - 2));
    for (int y = 0; y < s.h4; ++y)
      for (int x = 0; x < s.w4; ++x) {
        const int ctb = (y * 4 >> s.ctu_log2) * s.ctu_cols + (x * 4 >> s.ctu_log2);
        const int lx = x & ((s.ctu >> 2) - 1), ly = y & ((s.ctu >> 2) - 1);
        uint32_t z = 0;
        for (int i = 0; i < s.ctu_log2 - 2; ++i) z |= (((lx >> i) & 1) << (2 * i)) | (((ly >> i) & 1) << (2 * i + 1));
        s.zs[y * s.w4 + x] = static_cast<uint32_t>(ctb) * per + z;
      }
  }

  FrameOutput encode(const uint8_t* y, int ys, const uint8_t* u, int us, const uint8_t* v, int vs) override {
    const Seq& s = seq_;
    const EncoderConfig& cfg = s.cfg;
    const bool idr = count_ == 0 || (cfg.intra_period > 0 && count_ % cfg.intra_period == 0);
    if (idr) { dpb_.clear(); poc_ = 0; }
    // the frame's buffers are kept from picture to picture: every sample and level read is written first
    Frame& f = frame_;
    f.seq = &s;
    f.poc = poc_;
    f.is_p = !idr;
    f.refs.clear();
    for (int i = static_cast<int>(dpb_.size()) - 1; i >= 0 && static_cast<int>(f.refs.size()) < cfg.ref_frames; --i)
      f.refs.push_back(dpb_[i].get());
    f.tmvp = f.is_p && cfg.tmvp;
    if (f.src.y.width != s.W || f.src.y.height != s.H) {
      f.src.alloc(s.W, s.H, 0);
      f.rec.alloc(s.W, s.H, 0);
      f.coef[0].assign(static_cast<size_t>(s.W) * s.H, 0);
      f.coef[1].assign(static_cast<size_t>(s.W / 2) * (s.H / 2), 0);
      f.coef[2].assign(static_cast<size_t>(s.W / 2) * (s.H / 2), 0);
    }
    f.src.y.load(y, ys, s.vis_w, s.vis_h);
    f.src.u.load(u, us, (s.vis_w + 1) / 2, (s.vis_h + 1) / 2);
    f.src.v.load(v, vs, (s.vis_w + 1) / 2, (s.vis_h + 1) / 2);
    f.blk.assign(static_cast<size_t>(s.w4) * s.h4, Blk{});

    analyse_picture(f, cfg);
    deblock_picture(f);
    std::vector<SaoParam> sao;
    const double lambda = (f.is_p ? 1.0 : 0.57) * std::pow(2.0, (s.qp - 12) / 3.0);
    if (cfg.sao) sao_decide_and_apply(f, sao, lambda);
    bool sao_luma = false, sao_chroma = false;
    for (const SaoParam& p : sao) { sao_luma |= p.type[0] != 0; sao_chroma |= p.type[1] != 0; }

    FrameOutput out;
    out.type = idr ? 'I' : 'P';
    out.poc = f.poc;
    write_picture(f, idr, sao, sao_luma, sao_chroma, false, out.nal_full, out.bits_full);
    write_picture(f, idr, sao, sao_luma, sao_chroma, true, out.nal_cropped, out.bits_cropped);

    // motion field
    out.w4 = s.w4;
    out.h4 = s.h4;
    const size_t n4 = static_cast<size_t>(s.w4) * s.h4;
    out.mv.assign(n4 * 2, 0);
    out.mvd.assign(n4 * 2, 0);
    out.ref.assign(n4, -1);
    out.kind.assign(n4, KIND_INTRA);
    for (size_t i = 0; i < n4; ++i) {
      const Blk& b = f.blk[i];
      if (b.pred == MODE_INTRA) continue;
      out.mv[2 * i] = b.mvf.mv.x;
      out.mv[2 * i + 1] = b.mvf.mv.y;
      out.mvd[2 * i] = b.mvd.x;
      out.mvd[2 * i + 1] = b.mvd.y;
      out.ref[i] = b.mvf.ref;
      out.kind[i] = b.pred == MODE_SKIP ? KIND_SKIP : KIND_INTER;
    }
    store_reconstruction(f.rec, y, ys, u, us, v, vs, s.vis_w, s.vis_h, cfg.keep_recon, out);

    // keep as reference: padded copy of the final picture and its motion field
    // the picture leaving the DPB lends its buffers (no per-frame allocation and zeroing)
    std::unique_ptr<RefPic> ref = spare_ ? std::move(spare_) : std::make_unique<RefPic>();
    ref->poc = f.poc;
    ref->ref_pocs.clear();
    if (ref->rec.y.width != s.W || ref->rec.y.height != s.H || ref->rec.y.pad != kPad) ref->rec.alloc(s.W, s.H, kPad);
    for (int c = 0; c < 3; ++c) {
      const Plane& a = c == 0 ? f.rec.y : (c == 1 ? f.rec.u : f.rec.v);
      Plane& b = c == 0 ? ref->rec.y : (c == 1 ? ref->rec.u : ref->rec.v);
      for (int r = 0; r < a.height; ++r) std::copy_n(a.at(0, r), a.width, b.at(0, r));
    }
    ref->rec.extend_borders();
    ref->sub_margin = std::min(kPad - 8, s.cfg.search_range + 16);
    ref->has_sub = long(s.W) * s.H <= 1920L * 1088;
    if (ref->has_sub) build_subpel_planes(ref->rec.y, ref->sub, ref->sub_margin);
    ref->mvf.resize(n4);
    for (size_t i = 0; i < n4; ++i) ref->mvf[i] = f.blk[i].pred == MODE_INTRA ? MvField{} : f.blk[i].mvf;
    for (const RefPic* r : f.refs) ref->ref_pocs.push_back(r->poc);
    dpb_.push_back(std::move(ref));
    while (static_cast<int>(dpb_.size()) > cfg.ref_frames) {
      spare_ = std::move(dpb_.front());
      dpb_.pop_front();
    }
    ++count_;
    ++poc_;
    return out;
  }

  int frames_encoded() const override { return count_; }

 private:
  void write_picture(Frame& f, bool idr, const std::vector<SaoParam>& sao, bool sao_luma, bool sao_chroma,
                     bool cropped, std::vector<uint8_t>& out, BitCounts& bits) {
    const Seq& s = seq_;
    bits.fill(0.0);
    if (idr) {
      write_vps(out, s);
      write_sps(out, s);
      write_pps(out, s);
    }
    const double ps_bits = 8.0 * out.size();
    BitWriter bw;
    write_slice_header(bw, s, f, idr, sao_luma, sao_chroma);
    const double sh_bits = static_cast<double>(bw.bits());
    Cabac cab;
    cab.ctx.init(f.is_p, s.qp);
    cab.start();
    SliceCtx sc{&s, &f, cropped, sao_luma, sao_chroma};
    const int nctu = s.ctu_cols * s.ctu_rows;
    for (int i = 0; i < nctu; ++i) {
      const int rx = i % s.ctu_cols, ry = i / s.ctu_cols;
      if (sao_luma || sao_chroma) write_sao(cab, sc, sao[i], rx, ry);
      write_coding_quadtree(cab, sc, rx << s.ctu_log2, ry << s.ctu_log2, s.ctu_log2, 0);
      cab.terminate(i == nctu - 1, CAT_END);
    }
    cab.flush_to(bw);
    bw.align_zero();
    const uint8_t hdr[2] = {static_cast<uint8_t>((idr ? 19 : 1) << 1), 1};
    const size_t before = out.size();
    write_nal(out, hdr, 2, bw.bytes(), true);
    const double nal_bits = 8.0 * (out.size() - before);
    // Headers exactly; slice data categories scaled so the picture's categories sum to its size.
    const double header = ps_bits + 48.0 + sh_bits;
    double est = 0;
    for (int c = 0; c < NUM_CATS; ++c) est += cab.cat_bits[c];
    const double data = ps_bits + nal_bits - header;
    for (int c = 0; c < NUM_CATS; ++c) bits[c] = est > 0 ? cab.cat_bits[c] * data / est : 0.0;
    bits[CAT_HEADER] += header;
  }

  Seq seq_;
  Frame frame_;  // the picture being coded (buffers reused)
  std::deque<std::unique_ptr<RefPic>> dpb_;
  std::unique_ptr<RefPic> spare_;  // last picture removed from the DPB, reused for the next one
  int count_ = 0, poc_ = 0;
};

}  // namespace
}  // namespace hevc

std::unique_ptr<Encoder> create_hevc_encoder(const EncoderConfig& cfg) {
  return std::make_unique<hevc::HevcEncoder>(cfg);
}

}  // namespace mvc
