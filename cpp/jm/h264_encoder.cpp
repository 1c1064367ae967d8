// H.264 encoder front: frame loop (IDR + P pictures, IPPP), sliding-window DPB, the two
// output streams (full and cropped) written from one set of decisions in CAVLC or CABAC (the
// decisions do not depend on the entropy coder: CABAC changes the rate only), and the per-frame
// motion field / distortion / reconstruction outputs.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

#include "jm/syntax.h"

namespace mvc {
namespace h264 {
namespace {

class H264Encoder final : public Encoder {
 public:
  explicit H264Encoder(const EncoderConfig& cfg) {
    validate_common(cfg);
    if (cfg.width % 2 || cfg.height % 2)
      throw std::invalid_argument("h264: width and height must be even for 4:2:0 frame cropping, got " +
                                  std::to_string(cfg.width) + "x" + std::to_string(cfg.height));
    c_.cfg = cfg;
    c_.w = (cfg.width + 15) & ~15;
    c_.h = (cfg.height + 15) & ~15;
    c_.mbw = c_.w / 16; c_.mbh = c_.h / 16;
    c_.w4 = c_.w / 4; c_.h4 = c_.h / 4;
    c_.qp = cfg.qp;
    c_.qpc = kChromaQp[std::min(std::max(cfg.qp, 0), 51)];
    // JM's Lagrangian multiplier with rate-distortion optimisation off (its low-complexity mode
    // decision, the paper's setting): one integer lambda for motion search and mode decision
    // alike, 2^((QP - 12) / 6) rounded, and 1 for every QP below 12. (sqrt(0.85 * 2^((QP - 12) / 3)),
    // JM's lambda_motion with RDO on, agrees within 8% from QP 12 up but falls to 0.23 at QP 0,
    // where it let sub-partitions with 4x4 vectors win on SATD differences of a unit or two.)
    c_.lam_fp = static_cast<int>(std::floor(std::pow(2.0, std::max(cfg.qp - 12, 0) / 6.0) + 0.5)) << 16;
    // vectors stay within the padded picture, so a difference spans at most twice its extent
    c_.init_mv_cost(8 * (std::max(c_.w, c_.h) + PAD + 16));
    c_.src.alloc(c_.w, c_.h, 0);
    c_.rec.alloc(c_.w, c_.h, PAD);
    c_.pic.reset(c_.mbw, c_.mbh);
    std::fill(c_.pic.slice_id.begin(), c_.pic.slice_id.end(), 0);
    c_.mv4.resize(static_cast<size_t>(c_.w4) * c_.h4 * 2);
    c_.ref4.resize(static_cast<size_t>(c_.w4) * c_.h4);
    c_.i4mode4.resize(static_cast<size_t>(c_.w4) * c_.h4);
  }

  int frames_encoded() const override { return frames_; }

  FrameOutput encode(const uint8_t* y, int ys, const uint8_t* u, int us, const uint8_t* v, int vs) override {
    EncCtx& c = c_;
    const int W = c.cfg.width, H = c.cfg.height;
    c.src.y.load(y, ys, W, H);
    c.src.u.load(u, us, W / 2, H / 2);
    c.src.v.load(v, vs, W / 2, H / 2);

    const int ip = c.cfg.intra_period;
    c.idr = frames_ == 0 || (ip > 0 && frames_ - last_idr_ >= ip);
    if (c.idr) {
      if (frames_ > 0) c.idr_pic_id = (c.idr_pic_id + 1) & 1;  // consecutive IDRs must differ
      last_idr_ = frames_;
      c.frame_num = 0;
      for (auto& r : dpb_) pool_.push_back(std::move(r));
      dpb_.clear();
    }
    c.refs.clear();
    for (auto& r : dpb_) c.refs.push_back(r.get());
    c.num_ref_active = std::min<int>(c.cfg.ref_frames, static_cast<int>(dpb_.size()));
    std::fill(c.mv4.begin(), c.mv4.end(), 0);
    std::fill(c.ref4.begin(), c.ref4.end(), -1);
    std::fill(c.i4mode4.begin(), c.i4mode4.end(), -1);

    for (int mby = 0; mby < c.mbh; ++mby) {
      if (c.cfg.interrupt()) throw Interrupted();
      for (int mbx = 0; mbx < c.mbw; ++mbx) analyse_mb(c, mbx, mby);
    }

    FrameOutput out;
    out.type = c.idr ? 'I' : 'P';
    out.poc = 2 * (frames_ - last_idr_);
    for (Mb& m : c.pic.mbs) m.qp = uint8_t(c.qp);  // fixed QP (the cropped writer keeps I16x16 QPs)
    write_stream(false, out.nal_full, out.bits_full);
    if (c.idr) {  // I pictures keep their texture: the cropped stream is the same bytes
      out.nal_cropped = out.nal_full;
      out.bits_cropped = out.bits_full;
    } else {
      write_stream(true, out.nal_cropped, out.bits_cropped);
    }

    deblock_picture(c);

    store_reconstruction(c.rec, y, ys, u, us, v, vs, W, H, c.cfg.keep_recon, out);
    motion_output(out);

    // The deblocked picture becomes reference 0; the oldest falls out (sliding window).
    std::unique_ptr<RefPic> r;
    if (static_cast<int>(dpb_.size()) >= c.cfg.ref_frames) { r = std::move(dpb_.back()); dpb_.pop_back(); }
    else if (!pool_.empty()) { r = std::move(pool_.back()); pool_.pop_back(); }
    else { r = std::make_unique<RefPic>(); r->pic.alloc(c.w, c.h, PAD); }
    std::swap(r->pic, c.rec);
    r->pic.extend_borders();
    r->build_hpel();
    r->mv = c.mv4;
    r->ref = c.ref4;
    dpb_.insert(dpb_.begin(), std::move(r));
    c.frame_num = (c.frame_num + 1) % (1 << c.log2_max_frame_num);
    ++frames_;
    return out;
  }

 private:
  void write_stream(bool cropped, std::vector<uint8_t>& nal, BitCounts& counts) {
    EncCtx& c = c_;
    counts.fill(0);
    if (c.idr) {
      write_sps(c, nal, counts);
      write_pps(c, nal, counts);
    }
    SyntaxWriter w;
    w.counts = &counts;
    write_slice_header(c, w);
    SliceSyntax s;
    s.type = c.idr ? SLICE_I : SLICE_P;
    s.num_ref[0] = c.num_ref_active;
    s.qp = c.qp;
    s.cabac = c.cfg.cabac;
    s.cabac_init_idc = 0;
    const bool texture_off = cropped && !c.idr;
    uint64_t bins = 0;
    if (s.cabac) bins = write_slice_data_cabac(s, c.pic, w, texture_off);  // its flush ends with the stop bit
    else write_slice_data_cavlc(s, c.pic, w, texture_off);
    const uint64_t before = w.bw.bits();
    if (s.cabac) w.bw.align_zero();
    else w.bw.trailing_bits();
    if (s.cabac) {
      // 7.4.2.10: BinCountsInNALunits <= 32/3 * NumBytesInVclNALunits + RawMbBits * PicSizeInMbs / 32
      // (RawMbBits = 3072 for 8-bit 4:2:0). Each cabac_zero_word (0x0000, written 00 00 03 after
      // emulation prevention) adds 3 bytes to the NAL unit. Checked in integers (times 96 = 3 * 32);
      // the NAL unit's bytes are the RBSP's, its header byte and the emulation prevention bytes,
      // at least one per word (counted conservatively as that one).
      const uint64_t pic_mbs = static_cast<uint64_t>(c.mbw) * c.mbh;
      auto allowed96 = [&](uint64_t nal_bytes) { return 32 * 32 * nal_bytes + 3 * 3072 * pic_mbs; };
      uint64_t nal_bytes = w.bw.bits() / 8 + 1;
      while (96 * bins > allowed96(nal_bytes)) {
        w.bw.put(0, 16);
        nal_bytes += 3;
      }
    }
    counts[CAT_HEADER] += static_cast<double>(w.bw.bits() - before);
    emit_nal(3, c.idr ? 5 : 1, w.bw, nal, counts);
  }

  void motion_output(FrameOutput& out) const {
    const EncCtx& c = c_;
    out.w4 = c.w4; out.h4 = c.h4;
    const size_t n = static_cast<size_t>(c.w4) * c.h4;
    out.mv.assign(2 * n, 0);
    out.mvd.assign(2 * n, 0);
    out.ref.assign(n, -1);
    out.kind.assign(n, KIND_INTRA);
    for (int mby = 0; mby < c.mbh; ++mby)
      for (int mbx = 0; mbx < c.mbw; ++mbx) {
        const Mb& m = c.pic.mbs[static_cast<size_t>(mby) * c.mbw + mbx];
        if (is_intra(m.type)) continue;
        for (int y = 0; y < 4; ++y) {  // one row of four 4x4 blocks at a time
          const size_t i = static_cast<size_t>(mby * 4 + y) * c.w4 + mbx * 4;
          std::memcpy(&out.mv[2 * i], m.mv[4 * y], sizeof(m.mv[0]) * 4);
          std::memcpy(&out.mvd[2 * i], m.mvd[4 * y], sizeof(m.mvd[0]) * 4);
          const int8_t r0 = m.ref[(y >> 1) * 2], r1 = m.ref[(y >> 1) * 2 + 1];
          out.ref[i] = r0; out.ref[i + 1] = r0; out.ref[i + 2] = r1; out.ref[i + 3] = r1;
          std::memset(&out.kind[i], m.type == MB_PSKIP ? KIND_SKIP : KIND_INTER, 4);
        }
      }
  }

  EncCtx c_;
  std::vector<std::unique_ptr<RefPic>> dpb_, pool_;
  int frames_ = 0, last_idr_ = 0;
};

}  // namespace
}  // namespace h264

std::unique_ptr<Encoder> create_h264_encoder(const EncoderConfig& cfg) {
  return std::make_unique<h264::H264Encoder>(cfg);
}

}  // namespace mvc
