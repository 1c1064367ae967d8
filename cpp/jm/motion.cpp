// Motion vectors of parsed macroblocks (8.4.1): P_Skip, median / directional prediction plus
// mvd, B direct spatial (8.4.1.2.2) and temporal (8.4.1.2.3) prediction. Works on one slice
// after its syntax is read: the neighbours' final vectors come from the current picture's
// per-4x4 motion (DecPic), written partition by partition in decoding order.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include "jm/reader.h"

namespace mvc {
namespace h264 {

namespace {

struct NbMv {
  bool avail = false;
  int ref = -1;
  int mv[2] = {0, 0};
};

inline int median3(int a, int b, int c) { return std::max(std::min(a, b), std::min(std::max(a, b), c)); }
inline int wrap16(int v) { return static_cast<int16_t>(static_cast<uint16_t>(v & 0xFFFF)); }
inline int min_positive(int a, int b) { return (a >= 0 && b >= 0) ? std::min(a, b) : std::max(a, b); }

struct MotionDeriver {
  const SliceSyntax& s;
  bool direct_spatial;
  const RefLists& lists;
  PicSyntax& pic;
  DecPic& cur;
  const DecPic* col = nullptr;  // RefPicList1[0] (B slices)
  int mb = 0, mbx = 0, mby = 0;
  uint16_t done = 0;            // 4x4 blocks of the current MB whose motion is final (raster bits)

  MotionDeriver(const SliceSyntax& sl, bool spatial, const RefLists& l, PicSyntax& p, DecPic& c)
      : s(sl), direct_spatial(spatial), lists(l), pic(p), cur(c) {
    if (s.type == SLICE_B) {
      if (lists.list[1].empty() || !lists.list[1][0]) throw ParseError("B slice without RefPicList1[0]", s.first_mb);
      col = lists.list[1][0];
      if (col->mv[0].size() != cur.mv[0].size())
        throw ParseError("co-located picture has no motion field of this size", s.first_mb);
    }
  }

  size_t g(int x, int y) const { return static_cast<size_t>(mby * 4 + y) * cur.w4 + mbx * 4 + x; }

  // Motion of the 4x4 block at (x, y) (4x4 units relative to the current MB, -1..4) in list l.
  NbMv nb(int x, int y, int l) const {
    NbMv r;
    const int mx = x < 0 ? -1 : x > 3 ? 1 : 0, my = y < 0 ? -1 : 0;
    if (mx == 1 && my == 0) return r;  // right of the current MB: not yet decoded
    int n;
    if (mx || my) {
      n = pic.neighbour(mb, mx, my);
      if (n < 0) return r;
    } else if (!(done >> (y * 4 + x) & 1)) {
      return r;
    }
    r.avail = true;
    const size_t i = static_cast<size_t>(mby * 4 + y) * cur.w4 + mbx * 4 + x;
    r.ref = cur.ref[l][i];
    if (r.ref >= 0) { r.mv[0] = cur.mv[l][2 * i]; r.mv[1] = cur.mv[l][2 * i + 1]; }
    return r;
  }

  // mvpLX of a partition at (x, y), w x h (4x4 units); shape 1 = 16x8, 2 = 8x16, 0 other (8.4.1.3).
  void mvp(int x, int y, int w, int l, int ref, int shape, int out[2]) const {
    NbMv A = nb(x - 1, y, l), B = nb(x, y - 1, l), C = nb(x + w, y - 1, l);
    if (!C.avail) C = nb(x - 1, y - 1, l);
    if (!B.avail && !C.avail && A.avail) { B = A; C = A; }
    const NbMv* pick = nullptr;
    if (shape == 1) pick = y == 0 ? (B.ref == ref ? &B : nullptr) : (A.ref == ref ? &A : nullptr);
    else if (shape == 2) pick = x == 0 ? (A.ref == ref ? &A : nullptr) : (C.ref == ref ? &C : nullptr);
    if (!pick) {
      const int matches = (A.ref == ref) + (B.ref == ref) + (C.ref == ref);
      if (matches == 1) pick = A.ref == ref ? &A : B.ref == ref ? &B : &C;
    }
    if (pick) { out[0] = pick->mv[0]; out[1] = pick->mv[1]; return; }
    out[0] = median3(A.mv[0], B.mv[0], C.mv[0]);
    out[1] = median3(A.mv[1], B.mv[1], C.mv[1]);
  }

  const DecPic* ref_pic(int l, int ref) const {
    if (ref < 0) return nullptr;
    if (ref >= static_cast<int>(lists.list[l].size()) || !lists.list[l][size_t(ref)])
      throw ParseError("ref_idx_l" + std::to_string(l) + " " + std::to_string(ref) + " names no reference picture", mb);
    return lists.list[l][size_t(ref)];
  }

  // Stores the motion of one list for a rectangle of the current MB: the picture's per-4x4 field
  // and the record's ref_idx per 8x8 (the record's mv arrays are the encoder's; the reader's
  // vectors live in the DecPic). Local pointers: byte stores would make the compiler reload them.
  void put(int x, int y, int w, int h, int l, int ref, const int mv[2]) {
    const DecPic* rp = ref_pic(l, ref);
    const int16_t m0 = int16_t(ref >= 0 ? mv[0] : 0), m1 = int16_t(ref >= 0 ? mv[1] : 0);
    const int32_t id = rp ? rp->id : -1;
    int8_t* rec_ref = l ? pic.mbs[size_t(mb)].ref1 : pic.mbs[size_t(mb)].ref;
    int16_t* cmv = cur.mv[l].data();
    int8_t* cref = cur.ref[l].data();
    int32_t* cpic = cur.ref_pic[l].data();
    for (int yy = y; yy < y + h; ++yy) {
      const size_t i = g(x, yy);
      for (int k = 0; k < w; ++k) {
        cmv[2 * (i + k)] = m0;
        cmv[2 * (i + k) + 1] = m1;
        cref[i + k] = int8_t(ref);
        cpic[i + k] = id;
      }
    }
    for (int yy = y; yy < y + h; yy += 2)
      for (int xx = x; xx < x + w; xx += 2) rec_ref[(yy >> 1) * 2 + (xx >> 1)] = int8_t(ref);
  }
  void finish(int x, int y, int w, int h) {
    for (int yy = y; yy < y + h; ++yy)
      for (int xx = x; xx < x + w; ++xx) done |= uint16_t(1u << (yy * 4 + xx));
  }

  // A partition coded with mvd: for each list it uses, mvp + mvd.
  void coded(int x, int y, int w, int h, int pred, int ref0, int ref1, int shape) {
    const Mb& m = pic.mbs[size_t(mb)];
    for (int l = 0; l < 2; ++l) {
      const int ref = l ? ref1 : ref0;
      if (!(pred & (1 << l))) { put(x, y, w, h, l, -1, nullptr); continue; }
      int p[2];
      mvp(x, y, w, l, ref, shape, p);
      const int16_t* d = l ? m.mvd1[y * 4 + x] : m.mvd[y * 4 + x];
      const int mv[2] = {wrap16(p[0] + d[0]), wrap16(p[1] + d[1])};
      put(x, y, w, h, l, ref, mv);
    }
    finish(x, y, w, h);
  }

  // Co-located motion for the 4x4 block (x, y) of the current MB (8.4.1.2.1, frames).
  void colocated(int x, int y, int mv_col[2], int& ref_col, int& refpic_col) const {
    if (s.direct_8x8_inference) { x = (x >> 1) * 3; y = (y >> 1) * 3; }
    const size_t i = g(x, y);
    int l = 0;
    if (col->ref[0][i] < 0) l = 1;
    ref_col = col->ref[l][i];
    if (ref_col < 0) { mv_col[0] = mv_col[1] = 0; refpic_col = -1; return; }
    mv_col[0] = col->mv[l][2 * i];
    mv_col[1] = col->mv[l][2 * i + 1];
    refpic_col = col->ref_pic[l][i];
  }

  // Spatial direct reference indices and predictors of the current MB (computed once per MB).
  int sp_ref[2] = {-1, -1}, sp_mv[2][2] = {};
  bool sp_zero = false;
  void spatial_prepare() {
    for (int l = 0; l < 2; ++l) {
      NbMv A = nb(-1, 0, l), B = nb(0, -1, l), C = nb(4, -1, l);
      if (!C.avail) C = nb(-1, -1, l);
      sp_ref[l] = min_positive(A.ref, min_positive(B.ref, C.ref));
    }
    sp_zero = sp_ref[0] < 0 && sp_ref[1] < 0;
    if (sp_zero) sp_ref[0] = sp_ref[1] = 0;
    for (int l = 0; l < 2; ++l)
      if (!sp_zero && sp_ref[l] >= 0) mvp(0, 0, 4, l, sp_ref[l], 0, sp_mv[l]);
      else sp_mv[l][0] = sp_mv[l][1] = 0;
  }

  // Direct prediction (both lists) of the 4x4 block (x, y), or of its 8x8 quadrant under
  // direct_8x8_inference_flag, where every block of a quadrant reads the same co-located corner.
  struct Direct {
    int ref[2];
    int mv[2][2];
    bool operator==(const Direct& o) const {
      return ref[0] == o.ref[0] && ref[1] == o.ref[1] && mv[0][0] == o.mv[0][0] && mv[0][1] == o.mv[0][1] &&
             mv[1][0] == o.mv[1][0] && mv[1][1] == o.mv[1][1];
    }
  };
  Direct direct(int x, int y) const {
    Direct d{};
    int mvc[2], refc, refpicc;
    colocated(x, y, mvc, refc, refpicc);
    if (direct_spatial) {
      const bool col_zero = !col->long_ref && refc == 0 && std::abs(mvc[0]) <= 1 && std::abs(mvc[1]) <= 1;
      for (int l = 0; l < 2; ++l) {
        const int ref = sp_ref[l];
        d.ref[l] = ref;
        if (!(sp_zero || ref < 0 || (ref == 0 && col_zero))) { d.mv[l][0] = sp_mv[l][0]; d.mv[l][1] = sp_mv[l][1]; }
      }
      return d;
    }
    int ref0 = 0;
    if (refc >= 0) {
      ref0 = -1;
      for (size_t k = 0; k < lists.list[0].size(); ++k)
        if (lists.list[0][k] && lists.list[0][k]->id == refpicc) { ref0 = int(k); break; }
      if (ref0 < 0) throw ParseError("temporal direct: the co-located block's reference is not in RefPicList0", mb);
    }
    const DecPic* p0 = ref_pic(0, ref0);
    d.ref[0] = ref0;
    d.ref[1] = 0;
    const int td = std::clamp(col->poc - p0->poc, -128, 127);
    if (p0->long_ref || td == 0) {
      d.mv[0][0] = mvc[0]; d.mv[0][1] = mvc[1];
    } else {
      const int tb = std::clamp(cur.poc - p0->poc, -128, 127);
      const int tx = (16384 + std::abs(td / 2)) / td;
      const int dsf = std::clamp((tb * tx + 32) >> 6, -1024, 1023);
      for (int c = 0; c < 2; ++c) {
        d.mv[0][c] = (dsf * mvc[c] + 128) >> 8;
        d.mv[1][c] = d.mv[0][c] - mvc[c];
      }
    }
    return d;
  }
  void put_direct(int x, int y, int size, const Direct& d) {
    for (int l = 0; l < 2; ++l) put(x, y, size, size, l, d.ref[l], d.mv[l]);
  }

  // Direct prediction of the 8x8 quadrant q.
  void direct8x8(int q) {
    const int x8 = (q & 1) * 2, y8 = (q >> 1) * 2;
    if (s.direct_8x8_inference) {
      put_direct(x8, y8, 2, direct(x8, y8));
    } else {
      for (int y = y8; y < y8 + 2; ++y)
        for (int x = x8; x < x8 + 2; ++x) put_direct(x, y, 1, direct(x, y));
    }
    finish(x8, y8, 2, 2);
  }

  // B_Skip / B_Direct_16x16: the four quadrants, stored once when they agree (the common case).
  void direct16x16() {
    if (direct_spatial) spatial_prepare();
    if (!s.direct_8x8_inference) {
      for (int q = 0; q < 4; ++q) direct8x8(q);
      return;
    }
    const Direct d[4] = {direct(0, 0), direct(2, 0), direct(0, 2), direct(2, 2)};
    if (d[1] == d[0] && d[2] == d[0] && d[3] == d[0]) put_direct(0, 0, 4, d[0]);
    else
      for (int q = 0; q < 4; ++q) put_direct((q & 1) * 2, (q >> 1) * 2, 2, d[q]);
    finish(0, 0, 4, 4);
  }

  void macroblock(int addr) {
    mb = addr;
    mbx = addr % pic.mbw;
    mby = addr / pic.mbw;
    done = 0;
    Mb& m = pic.mbs[size_t(addr)];
    static const int kZero[2] = {0, 0};
    if (is_intra(m.type)) {
      for (int l = 0; l < 2; ++l) put(0, 0, 4, 4, l, -1, kZero);
      return;
    }
    switch (m.type) {
      case MB_PSKIP: {
        const NbMv A = nb(-1, 0, 0), B = nb(0, -1, 0);
        int mv[2] = {0, 0};
        if (A.avail && B.avail && !(A.ref == 0 && A.mv[0] == 0 && A.mv[1] == 0) &&
            !(B.ref == 0 && B.mv[0] == 0 && B.mv[1] == 0))
          mvp(0, 0, 4, 0, 0, 0, mv);
        put(0, 0, 4, 4, 0, 0, mv);
        put(0, 0, 4, 4, 1, -1, kZero);
        finish(0, 0, 4, 4);
        return;
      }
      case MB_P16x16: case MB_B16x16: coded(0, 0, 4, 4, part_pred(m, 0), m.ref[0], m.ref1[0], 0); return;
      case MB_P16x8: case MB_B16x8:
        coded(0, 0, 4, 2, part_pred(m, 0), m.ref[0], m.ref1[0], 1);
        coded(0, 2, 4, 2, part_pred(m, 1), m.ref[2], m.ref1[2], 1);
        return;
      case MB_P8x16: case MB_B8x16:
        coded(0, 0, 2, 4, part_pred(m, 0), m.ref[0], m.ref1[0], 2);
        coded(2, 0, 2, 4, part_pred(m, 1), m.ref[1], m.ref1[1], 2);
        return;
      case MB_BSKIP: case MB_BDIRECT:
        direct16x16();
        return;
      default: {  // P_8x8 / B_8x8
        bool prepared = false;
        for (int k = 0; k < 4; ++k) {
          const int pr = sub_pred(m, k), sh = sub_shape(m, k);
          if (pr == 0) {
            if (direct_spatial && !prepared) { spatial_prepare(); prepared = true; }
            direct8x8(k);
            continue;
          }
          const int x8 = (k & 1) * 2, y8 = (k >> 1) * 2;
          for (int j = 0; j < kSubN[sh]; ++j)
            coded(x8 + kSubXY[sh][j][0], y8 + kSubXY[sh][j][1], kSubW[sh], kSubH[sh], pr, m.ref[k], m.ref1[k], 0);
        }
      }
    }
  }
};

}  // namespace

void derive_motion(const SliceSyntax& s, bool direct_spatial, const RefLists& lists, PicSyntax& pic, DecPic& cur) {
  MotionDeriver d(s, direct_spatial, lists, pic, cur);
  const int n = pic.mbw * pic.mbh;
  for (int a = s.first_mb; a < n && pic.slice_id[size_t(a)] == s.id; ++a) d.macroblock(a);
}

}  // namespace h264
}  // namespace mvc
