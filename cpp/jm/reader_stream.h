// StreamDriver: one of the stream readers (jm/reader.cpp, hm/reader.cpp) fed chunk by chunk (the
// StreamReader of jm/reader.h). The reader R keeps its state (parameter sets, reference pictures,
// the picture being read) between NAL units; the driver keeps the bytes of the NAL unit not yet
// complete and hands out the pictures that are final, with their arrays and access-unit bytes.
// R provides: data / size (the bytes its NAL units point into), in_base / out_base (stream offsets
// of data[0] and of res.rewritten[0]), taken (pictures handed out), streaming, res, unit(NalUnit)
// and end(tail_offset, tail_size).
#pragma once
#include <iterator>
#include <stdexcept>
#include <utility>
#include <vector>

#include "jm/reader.h"

namespace mvc {
namespace h264 {

template <class R>
class StreamDriver final : public StreamReader {
 public:
  explicit StreamDriver(const ReadOptions& o) : opt_(o), r_(nullptr, 0, opt_) { r_.streaming = true; }

  ReadResult feed(const uint8_t* p, size_t n, size_t max_pictures) override {
    check_open();
    buf_.insert(buf_.end(), p, p + n);
    return guarded([&] {
      size_t sealed = 0;
      for (;;) {
        if (qi_ == q_.size()) {  // every complete unit read: split what has arrived since
          drop_read();
          split_annexb_complete(buf_.data(), buf_.size(), q_, buf_base_, nunits_);
          nunits_ += q_.size();
          if (q_.empty()) break;
        }
        r_.data = buf_.data();
        r_.size = buf_.size();
        r_.in_base = buf_base_;
        const NalUnit& u = q_[qi_++];
        acc_.insert(acc_.end(), buf_.begin() + std::ptrdiff_t(u.lead_offset), buf_.begin() + std::ptrdiff_t(u.offset + u.size));
        r_.unit(u);
        // every picture but the last is final: the last may still be charged header NAL units
        sealed = r_.res.pictures.empty() ? 0 : r_.res.pictures.size() - 1;
        if (max_pictures && sealed >= max_pictures) break;
      }
      drop_read();
      return take(sealed);
    });
  }

  ReadResult finish() override {
    check_open();
    return guarded([&] {
      for (; qi_ < q_.size(); ++qi_) {  // units a feed left queued
        const NalUnit& u = q_[qi_];
        r_.data = buf_.data();
        r_.size = buf_.size();
        r_.in_base = buf_base_;
        acc_.insert(acc_.end(), buf_.begin() + std::ptrdiff_t(u.lead_offset), buf_.begin() + std::ptrdiff_t(u.offset + u.size));
        r_.unit(u);
      }
      drop_read();
      const AnnexB ab = split_annexb(buf_.data(), buf_.size(), buf_base_, nunits_);  // the rest of the stream
      acc_.insert(acc_.end(), buf_.begin(), buf_.end());
      r_.data = buf_.data();
      r_.size = buf_.size();
      r_.in_base = buf_base_;
      for (const NalUnit& u : ab.units) r_.unit(u);
      r_.end(ab.tail_offset, ab.tail_size);
      buf_base_ += buf_.size();
      buf_.clear();
      done_ = true;
      return take(r_.res.pictures.size());
    });
  }

 private:
  // Drops the bytes of the units read from buf_; the units still queued move with the rest.
  void drop_read() {
    const size_t used = qi_ < q_.size() ? q_[qi_].lead_offset : q_.empty() ? 0 : q_.back().offset + q_.back().size;
    buf_.erase(buf_.begin(), buf_.begin() + std::ptrdiff_t(used));
    buf_base_ += used;
    q_.erase(q_.begin(), q_.begin() + std::ptrdiff_t(qi_));
    qi_ = 0;
    for (NalUnit& u : q_) {
      u.lead_offset -= used;
      u.offset -= used;
    }
  }

  void check_open() const {
    if (failed_) throw std::invalid_argument("the stream reader stopped at an earlier error");
    if (done_) throw std::invalid_argument("the stream reader has finished");
  }

  template <class F>
  ReadResult guarded(F&& f) {
    try {
      return f();
    } catch (const std::exception& e) {
      if (opt_.strict) {
        failed_ = true;
        throw;
      }
      // keep the complete pictures (the motion arrays are appended only for complete pictures)
      done_ = true;
      ReadResult& res = r_.res;
      const size_t n4 = size_t(res.w4) * size_t(res.h4);
      const size_t complete = n4 ? res.kind.size() / n4 : 0;
      if (res.pictures.size() > complete) res.pictures.resize(complete);
      ReadResult out = take(res.pictures.size());
      out.error = e.what();
      if (r_.taken == 0) throw;
      return out;
    }
  }

  // The first k pictures of r_.res, moved out with their arrays and access-unit bytes.
  ReadResult take(size_t k) {
    ReadResult& res = r_.res;
    ReadResult out;
    out.width = res.width;
    out.height = res.height;
    out.w4 = res.w4;
    out.h4 = res.h4;
    out.fps_num = res.fps_num;
    out.fps_den = res.fps_den;
    out.cabac = res.cabac;
    out.profile_idc = res.profile_idc;
    if (k == 0) return out;
    auto& P = res.pictures;
    const uint64_t in_end = acc_base_ + acc_.size(), out_end = r_.out_base + res.rewritten.size();
    for (size_t i = 0; i < k; ++i) {
      const uint64_t b_in = P[i].au_in, e_in = i + 1 < P.size() ? P[i + 1].au_in : in_end;
      const uint64_t b_out = P[i].au_out, e_out = i + 1 < P.size() ? P[i + 1].au_out : out_end;
      if (b_in < acc_base_ || e_in > in_end || b_in > e_in || b_out < r_.out_base || e_out > out_end || b_out > e_out)
        throw std::logic_error("stream reader: inconsistent access unit offsets");
      out.au_data.emplace_back(acc_.begin() + std::ptrdiff_t(b_in - acc_base_), acc_.begin() + std::ptrdiff_t(e_in - acc_base_));
      out.au_rewritten.emplace_back(res.rewritten.begin() + std::ptrdiff_t(b_out - r_.out_base),
                                    res.rewritten.begin() + std::ptrdiff_t(e_out - r_.out_base));
    }
    const uint64_t cut_in = k < P.size() ? P[k].au_in : in_end, cut_out = k < P.size() ? P[k].au_out : out_end;
    acc_.erase(acc_.begin(), acc_.begin() + std::ptrdiff_t(cut_in - acc_base_));
    acc_base_ = cut_in;
    res.rewritten.erase(res.rewritten.begin(), res.rewritten.begin() + std::ptrdiff_t(cut_out - r_.out_base));
    r_.out_base = cut_out;
    out.pictures.assign(std::make_move_iterator(P.begin()), std::make_move_iterator(P.begin() + std::ptrdiff_t(k)));
    P.erase(P.begin(), P.begin() + std::ptrdiff_t(k));
    const size_t n4 = size_t(res.w4) * size_t(res.h4);
    auto move_front = [](auto& from, auto& to, size_t n) {
      if (n > from.size()) throw std::logic_error("stream reader: picture arrays missing");
      to.assign(from.begin(), from.begin() + std::ptrdiff_t(n));
      from.erase(from.begin(), from.begin() + std::ptrdiff_t(n));
    };
    for (int l = 0; l < 2; ++l) {
      move_front(res.mv[l], out.mv[l], 2 * k * n4);
      move_front(res.mvd[l], out.mvd[l], 2 * k * n4);
      move_front(res.ref[l], out.ref[l], k * n4);
    }
    move_front(res.kind, out.kind, k * n4);
    r_.taken += k;
    return out;
  }

  ReadOptions opt_;
  R r_;
  std::vector<uint8_t> buf_;   // the stream from byte buf_base_ on: NAL units not yet complete
  uint64_t buf_base_ = 0;
  std::vector<uint8_t> acc_;   // bytes read into units, from byte acc_base_ on, not yet handed out
  uint64_t acc_base_ = 0;
  std::vector<NalUnit> q_;     // complete units of buf_, read up to q_[qi_]
  size_t qi_ = 0, nunits_ = 0;
  bool failed_ = false, done_ = false;
};

}  // namespace h264
}  // namespace mvc
