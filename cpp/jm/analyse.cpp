// Macroblock analysis: Lagrangian mode decision (SATD + lambda_motion * header bits, JM with
// RDO off), motion-vector prediction (8.4.1.3), residual coding and reconstruction. The
// decision record (Mb) is the only input of the CAVLC writer.
#include <algorithm>
#include <climits>
#include <cstring>
#include <cstdlib>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "common/pixel.h"
#include "jm/h264.h"

namespace mvc {
namespace h264 {

namespace {

inline int blk_idx(int x, int y) { return (y >> 1) * 8 + (x >> 1) * 4 + (y & 1) * 2 + (x & 1); }

struct Nb {
  bool avail = false;
  int ref = -1;
  int mv[2] = {0, 0};
};

// Neighbouring 4x4 block (X, Y) in picture 4x4 units, seen from macroblock (mbx, mby) whose
// already-decoded 4x4 blocks are flagged in `done` (raster bit y*4+x).
Nb get_nb(const EncCtx& c, int X, int Y, int mbx, int mby, unsigned done) {
  Nb n;
  if (X < 0 || Y < 0 || X >= c.w4 || Y >= c.h4) return n;
  const int nx = X >> 2, ny = Y >> 2;
  if (ny > mby || (ny == mby && nx > mbx)) return n;
  if (nx == mbx && ny == mby && !((done >> ((Y & 3) * 4 + (X & 3))) & 1)) return n;
  n.avail = true;
  const size_t i = static_cast<size_t>(Y) * c.w4 + X;
  n.ref = c.ref4[i];
  if (n.ref >= 0) { n.mv[0] = c.mv4[2 * i]; n.mv[1] = c.mv4[2 * i + 1]; }
  return n;
}

// Residual of one 4x4 block, raster order.
inline void diff4x4(const uint8_t* s, int ss, const uint8_t* p, int ps, int16_t* d) {
#if defined(__SSE2__)
  const __m128i z = _mm_setzero_si128();
  auto rows = [&](const uint8_t* q, int st) {
    int32_t r0, r1, r2, r3;
    std::memcpy(&r0, q, 4); std::memcpy(&r1, q + st, 4); std::memcpy(&r2, q + 2 * st, 4); std::memcpy(&r3, q + 3 * st, 4);
    const __m128i v = _mm_unpacklo_epi64(_mm_unpacklo_epi32(_mm_cvtsi32_si128(r0), _mm_cvtsi32_si128(r1)),
                                         _mm_unpacklo_epi32(_mm_cvtsi32_si128(r2), _mm_cvtsi32_si128(r3)));
    return v;
  };
  const __m128i a = rows(s, ss), b = rows(p, ps);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(d), _mm_sub_epi16(_mm_unpacklo_epi8(a, z), _mm_unpacklo_epi8(b, z)));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(d + 8), _mm_sub_epi16(_mm_unpackhi_epi8(a, z), _mm_unpackhi_epi8(b, z)));
#else
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) d[y * 4 + x] = int16_t(s[y * ss + x] - p[y * ps + x]);
#endif
}

// A vector towards reference `from` stretched to reference `to` by temporal distance (no division when equal).
inline int scale_mv(int v, int to, int from) { return to == from ? v : v * (to + 1) / (from + 1); }

inline int median3(int a, int b, int c) { return std::max(std::min(a, b), std::min(std::max(a, b), c)); }

enum Shape { SH_MEDIAN = 0, SH_16x8_TOP, SH_16x8_BOTTOM, SH_8x16_LEFT, SH_8x16_RIGHT };

// The neighbours of a partition at (bx, by) (4x4 units in the MB), width bw, for motion vector
// prediction: A (left), B (above), C (above right) and D (above left, consulted only when C is
// unavailable). They do not depend on the reference, so one fetch serves every ref_idx tried.
struct PredNbs {
  Nb a, b, c, d;
  // Availability as in get_nb, decided from the position inside the macroblock: a block of
  // this macroblock counts once `done`, the left/top macroblocks always, the top-right one when
  // it exists, the right one never.
  PredNbs(const EncCtx& ctx, int mbx, int mby, int bx, int by, int bw, unsigned done) {
    const int X = mbx * 4 + bx, Y = mby * 4 + by;
    auto own = [&](int x, int y) { return ((done >> (y * 4 + x)) & 1) != 0; };
    auto fetch = [&](Nb& n, int x, int y) {
      const size_t i = static_cast<size_t>(y) * ctx.w4 + x;
      n.avail = true;
      n.ref = ctx.ref4[i];
      if (n.ref >= 0) { n.mv[0] = ctx.mv4[2 * i]; n.mv[1] = ctx.mv4[2 * i + 1]; }
    };
    if (bx > 0 ? own(bx - 1, by) : mbx > 0) fetch(a, X - 1, Y);
    if (by > 0 ? own(bx, by - 1) : mby > 0) fetch(b, X, Y - 1);
    const int xc = bx + bw;
    if (by > 0 ? (xc < 4 && own(xc, by - 1)) : (mby > 0 && (xc < 4 || mbx + 1 < ctx.mbw))) fetch(c, X + bw, Y - 1);
    if (!c.avail && (bx > 0 ? (by > 0 ? own(bx - 1, by - 1) : mby > 0) : (mbx > 0 && (by > 0 || mby > 0))))
      fetch(d, X - 1, Y - 1);
  }
};

// Luma motion vector prediction (8.4.1.3) for reference `ref` from the partition's neighbours.
void mv_pred(const PredNbs& n, int ref, int shape, int mvp[2]) {
  Nb A = n.a, B = n.b, C = n.c.avail ? n.c : n.d;
  const Nb* dir = nullptr;
  if (shape == SH_16x8_TOP && B.ref == ref) dir = &B;
  else if (shape == SH_16x8_BOTTOM && A.ref == ref) dir = &A;
  else if (shape == SH_8x16_LEFT && A.ref == ref) dir = &A;
  else if (shape == SH_8x16_RIGHT && C.ref == ref) dir = &C;
  if (dir) { mvp[0] = dir->mv[0]; mvp[1] = dir->mv[1]; return; }
  if (!B.avail && !C.avail && A.avail) { B = A; C = A; }
  const int m = (A.ref == ref) + (B.ref == ref) + (C.ref == ref);
  if (m == 1) {
    const Nb& s = A.ref == ref ? A : B.ref == ref ? B : C;
    mvp[0] = s.mv[0]; mvp[1] = s.mv[1];
    return;
  }
  mvp[0] = median3(A.mv[0], B.mv[0], C.mv[0]);
  mvp[1] = median3(A.mv[1], B.mv[1], C.mv[1]);
}

void skip_mv(const EncCtx& c, int mbx, int mby, int mv[2]) {  // 8.4.1.1
  const Nb A = get_nb(c, mbx * 4 - 1, mby * 4, mbx, mby, 0);
  const Nb B = get_nb(c, mbx * 4, mby * 4 - 1, mbx, mby, 0);
  mv[0] = mv[1] = 0;
  if (!A.avail || !B.avail) return;
  if (A.ref == 0 && A.mv[0] == 0 && A.mv[1] == 0) return;
  if (B.ref == 0 && B.mv[0] == 0 && B.mv[1] == 0) return;
  mv_pred(PredNbs(c, mbx, mby, 0, 0, 4, 0), 0, SH_MEDIAN, mv);
}

void set_motion(EncCtx& c, int mbx, int mby, int bx, int by, int bw, int bh, int ref, const int mv[2]) {
  const int16_t pair[2] = {static_cast<int16_t>(mv[0]), static_cast<int16_t>(mv[1])};
  uint32_t v;  // one block's (mvx, mvy), stored as a unit
  std::memcpy(&v, pair, 4);
  for (int y = 0; y < bh; ++y) {
    const size_t i = static_cast<size_t>(mby * 4 + by + y) * c.w4 + mbx * 4 + bx;
    for (int x = 0; x < bw; ++x) {
      c.ref4[i + x] = static_cast<int8_t>(ref);
      std::memcpy(&c.mv4[2 * (i + x)], &v, 4);
    }
  }
}

unsigned rect_mask(int bx, int by, int bw, int bh) {  // bits y*4+x of the 4x4 blocks covered
  static const unsigned kRows[5] = {0, 0x1, 0x11, 0x111, 0x1111};
  return (((1u << bw) - 1) << bx) * kRows[bh] << (4 * by);
}

// ------------------------------------------------------------------ intra helpers
// Neighbours of an n x n block at (px, py) of plane r; the top row is extended to 2n samples
// (top-right, or its last sample repeated where top-right is unavailable).
void plane_edge(const Plane& r, int px, int py, int n, bool topright_avail, IntraEdge& e) {
  e.has_left = px > 0;
  e.has_top = py > 0;
  e.has_topleft = px > 0 && py > 0;
  uint8_t* t = e.top();
  if (e.has_top) {
    const uint8_t* row = r.at(px, py - 1);
    for (int i = 0; i < n; ++i) t[i] = row[i];
    for (int i = n; i < 2 * n; ++i) t[i] = topright_avail ? row[i] : row[n - 1];
    t[-1] = e.has_topleft ? row[-1] : 0;
  }
  if (e.has_left)
    for (int i = 0; i < n; ++i) e.left[i] = *r.at(px - 1, py + i);
}

bool topright4(const EncCtx& c, int mbx, int mby, int bx, int by) {
  if (by == 0) {
    if (mby == 0) return false;
    return bx < 3 ? true : (mbx + 1 < c.mbw);
  }
  if (bx == 3) return false;
  return blk_idx(bx + 1, by - 1) < blk_idx(bx, by);
}

int pred_i4_mode(const EncCtx& c, int mbx, int mby, int bx, int by) {  // 8.3.1.1
  const int X = mbx * 4 + bx, Y = mby * 4 + by;
  if (X == 0 || Y == 0) return 2;
  const int a = c.i4mode4[static_cast<size_t>(Y) * c.w4 + X - 1];
  const int b = c.i4mode4[static_cast<size_t>(Y - 1) * c.w4 + X];
  return std::min(a < 0 ? 2 : a, b < 0 ? 2 : b);
}

// ------------------------------------------------------------------ residual coding
void code_luma_inter(EncCtx& c, Mb& m, const uint8_t* src, int ss, const uint8_t* pred, uint8_t* rec, int rs) {
  int32_t coef[32];
  m.cbp &= ~15;
  for (int b = 0; b < 16; b += 2) {
    const int bx = b & 3, by = b >> 2;
    fdct4x2(src + by * 4 * ss + bx * 4, ss, pred + by * 4 * 16 + bx * 4, 16, coef);
    for (int k = 0; k < 2; ++k) {
      m.nz[b + k] = uint8_t(quant4(coef + 16 * k, m.luma[b + k], c.qp, false, 0));
      if (m.nz[b + k]) m.cbp |= uint8_t(1 << ((by >> 1) * 2 + (bx >> 1)));
    }
  }
  for (int y = 0; y < 16; ++y) std::memcpy(rec + y * rs, pred + y * 16, 16);
  for (int b = 0; b < 16; ++b) {
    if (!m.nz[b]) continue;
    const int bx = b & 3, by = b >> 2;
    std::memset(coef, 0, sizeof(coef));
    dequant4(m.luma[b], coef, c.qp, 0);
    idct4_add(coef, rec + by * 4 * rs + bx * 4, rs);
  }
}

void code_i16(EncCtx& c, Mb& m, const uint8_t* src, int ss, const uint8_t* pred, uint8_t* rec, int rs) {
  int32_t coef[16][16], dc[16];
  bool any_ac = false;
  for (int b = 0; b < 16; ++b) {
    const int bx = b & 3, by = b >> 2;
    if (!(b & 1)) fdct4x2(src + by * 4 * ss + bx * 4, ss, pred + by * 4 * 16 + bx * 4, 16, coef[b]);
    dc[b] = coef[b][0];
    m.luma[b][0] = 0;
    m.nz[b] = uint8_t(quant4(coef[b], m.luma[b], c.qp, true, 1));
    any_ac |= m.nz[b] != 0;
  }
  quant_dc_luma(dc, m.luma_dc, c.qp, true);
  m.cbp = uint8_t((m.cbp & ~15) | (any_ac ? 15 : 0));
  int32_t dcr[16];
  dequant_dc_luma(m.luma_dc, dcr, c.qp);
  for (int b = 0; b < 16; ++b) {
    const int bx = b & 3, by = b >> 2;
    int32_t cf[16] = {};
    if (any_ac) dequant4(m.luma[b], cf, c.qp, 1);
    cf[0] = dcr[b];
    uint8_t* d = rec + by * 4 * rs + bx * 4;
    for (int y = 0; y < 4; ++y) std::memcpy(d + y * rs, pred + (by * 4 + y) * 16 + bx * 4, 4);
    idct4_add(cf, d, rs);
  }
}

void code_chroma(EncCtx& c, Mb& m, int mbx, int mby, const uint8_t* predu, const uint8_t* predv, bool intra) {
  const Plane* sp[2] = {&c.src.u, &c.src.v};
  Plane* rp[2] = {&c.rec.u, &c.rec.v};
  const uint8_t* pp[2] = {predu, predv};
  bool any_ac = false, any_dc = false;
  int32_t coef[2][4][16];
  for (int k = 0; k < 2; ++k) {
    const uint8_t* s = sp[k]->at(mbx * 8, mby * 8);
    int32_t dc[4];
    for (int b = 0; b < 4; ++b) {
      const int bx = b & 1, by = b >> 1;
      if (!bx) fdct4x2(s + by * 4 * sp[k]->stride, sp[k]->stride, pp[k] + by * 4 * 8, 8, coef[k][b]);
      dc[b] = coef[k][b][0];
      m.chroma_ac[k][b][0] = 0;
      any_ac |= quant4(coef[k][b], m.chroma_ac[k][b], c.qpc, intra, 1) != 0;
    }
    any_dc |= quant_dc_chroma(dc, m.chroma_dc[k], c.qpc, intra) != 0;
  }
  const int cbpc = any_ac ? 2 : any_dc ? 1 : 0;
  m.cbp = uint8_t((m.cbp & 15) | (cbpc << 4));
  for (int k = 0; k < 2; ++k) {
    int32_t dcr[4];
    dequant_dc_chroma(m.chroma_dc[k], dcr, c.qpc);
    uint8_t* r = rp[k]->at(mbx * 8, mby * 8);
    const int rs = rp[k]->stride;
    for (int y = 0; y < 8; ++y) std::memcpy(r + y * rs, pp[k] + y * 8, 8);
    for (int b = 0; b < 4; ++b) {
      const int bx = b & 1, by = b >> 1;
      if (cbpc < 2) std::memset(m.chroma_ac[k][b], 0, sizeof(m.chroma_ac[k][b]));
      if (!cbpc) continue;
      int32_t cf[16] = {};
      if (cbpc == 2) dequant4(m.chroma_ac[k][b], cf, c.qpc, 1);
      cf[0] = dcr[b];
      idct4_add(cf, r + by * 4 * rs + bx * 4, rs);
    }
  }
}

// Chooses the chroma intra mode by SATD over both components and writes its prediction.
void choose_chroma_mode(EncCtx& c, Mb& m, int mbx, int mby, uint8_t* pu, uint8_t* pv) {
  IntraEdge eu, ev;
  plane_edge(c.rec.u, mbx * 8, mby * 8, 8, false, eu);
  plane_edge(c.rec.v, mbx * 8, mby * 8, 8, false, ev);
  const uint8_t* su = c.src.u.at(mbx * 8, mby * 8);
  const uint8_t* sv = c.src.v.at(mbx * 8, mby * 8);
  int best = INT_MAX, bm = 0;
  uint8_t tu[64], tv[64];
  for (int mode = 0; mode < 4; ++mode) {
    if (!pred_chroma(mode, eu, tu, 8)) continue;
    pred_chroma(mode, ev, tv, 8);
    static const PixelCmp satd8 = satd_fn(8, 8);
    const int cost = satd8(su, c.src.u.stride, tu, 8) + satd8(sv, c.src.v.stride, tv, 8) +
                     c.lambda_bits(ue_bits(mode));
    if (cost < best) { best = cost; bm = mode; }
  }
  m.chroma_mode = uint8_t(bm);
  pred_chroma(bm, eu, pu, 8);
  pred_chroma(bm, ev, pv, 8);
}

// Best Intra16x16 mode by SATD; returns its cost and leaves the prediction in pred.
int choose_i16(EncCtx& c, int mbx, int mby, int& mode_out, uint8_t* pred) {
  IntraEdge e;
  plane_edge(c.rec.y, mbx * 16, mby * 16, 16, false, e);
  const uint8_t* s = c.src.y.at(mbx * 16, mby * 16);
  int best = INT_MAX;
  uint8_t tmp[256];
  for (int mode = 0; mode < 4; ++mode) {
    if (!pred16x16(mode, e, tmp, 16)) continue;
    static const PixelCmp satd16 = satd_fn(16, 16);
    const int cost = satd16(s, c.src.y.stride, tmp, 16) + c.lambda_bits(c.idr ? 5 : 7);
    if (cost < best) { best = cost; mode_out = mode; std::memcpy(pred, tmp, 256); }
  }
  return best;
}

// Intra4x4: decides the 16 modes and reconstructs block by block; returns the SATD cost.
int code_i4(EncCtx& c, Mb& m, int mbx, int mby) {
  const int ss = c.src.y.stride, rs = c.rec.y.stride;
  int total = c.lambda_bits(c.idr ? 1 : 5);
  m.cbp &= ~15;
  for (int k = 0; k < 16; ++k) {
    const int bx = kBlkX[k], by = kBlkY[k], r = by * 4 + bx;
    const int px = mbx * 16 + bx * 4, py = mby * 16 + by * 4;
    IntraEdge e;
    plane_edge(c.rec.y, px, py, 4, topright4(c, mbx, mby, bx, by), e);
    const int pm = pred_i4_mode(c, mbx, mby, bx, by);
    const uint8_t* s = c.src.y.at(px, py);
    alignas(16) uint8_t pred[9][16];
    const int allowed = pred4x4_all(e, pred);
    int best = INT_MAX, bm = 2;
    static const PixelCmp satd4 = satd_fn(4, 4);
    const int cost_pm = c.lambda_bits(1), cost_other = c.lambda_bits(4);
    for (int mode = 0; mode < 9; ++mode) {
      if (!((allowed >> mode) & 1)) continue;
      const int cost = satd4(s, ss, pred[mode], 4) + (mode == pm ? cost_pm : cost_other);
      if (cost < best) { best = cost; bm = mode; }
    }
    const uint8_t* best_pred = pred[bm];
    total += best;
    m.i4_mode[r] = int8_t(bm);
    c.i4mode4[static_cast<size_t>(mby * 4 + by) * c.w4 + mbx * 4 + bx] = int8_t(bm);
    int16_t diff[16];
    int32_t coef[16];
    diff4x4(s, ss, best_pred, 4, diff);
    fdct4(diff, coef);
    m.nz[r] = uint8_t(quant4(coef, m.luma[r], c.qp, true, 0));
    uint8_t* d = c.rec.y.at(px, py);
    for (int y = 0; y < 4; ++y) std::memcpy(d + y * rs, best_pred + y * 4, 4);
    if (m.nz[r]) {
      std::memset(coef, 0, sizeof(coef));
      dequant4(m.luma[r], coef, c.qp, 0);
      idct4_add(coef, d, rs);
      m.cbp |= uint8_t(1 << ((by >> 1) * 2 + (bx >> 1)));
    }
  }
  return total;
}

// ------------------------------------------------------------------ inter helpers
struct Part {
  int ref = 0, mv[2] = {0, 0}, mvd[2] = {0, 0};
};

struct InterMode {
  MbType type = MB_P16x16;
  Part part[4];           // per partition (16x16: 1, 16x8/8x16: 2, 8x8: 4 = per 8x8 ref)
  uint8_t sub[4] = {};
  Part subp[4][4];        // P_8x8 sub-partitions
  int cost = INT_MAX;
};

struct InterSearch {
  EncCtx& c;
  int mbx, mby;
  int best16[4][2] = {};  // 16x16 result per ref, a candidate for smaller partitions
  int ref16 = 0;          // reference chosen for 16x16
  unsigned ref_set = ~0u; // references a search may use (bit per ref_idx)

  // Searches partition (bx, by, bw, bh) for reference `ref_only` (or all when < 0): an integer
  // search per reference, then sub-sample refinement of the references that can still win.
  int search(int bx, int by, int bw, int bh, int shape, unsigned done, int ref_only, bool count_ref, Part& out,
             const int* parent = nullptr) {
    int r0 = 0, r1 = c.num_ref_active - 1;
    if (ref_only >= 0) r0 = r1 = ref_only;
    else if (bw * bh < 16 && ref_set == ~0u) r1 = std::min(r1, ref16);  // refs older than the 16x16 choice rarely win
    MeQuery q[4];
    int imv[4][2], icost[4] = {INT_MAX, INT_MAX, INT_MAX, INT_MAX};
    int prev = -1;
    int best_int = INT_MAX;
    const int X = mbx * 4 + bx, Y = mby * 4 + by;
    const PredNbs pn(c, mbx, mby, bx, by, bw, done);
    const PixelCmp sadf = sad_fn(bw * 4, bh * 4), satdf = satd_fn(bw * 4, bh * 4);
    const PixelCmpAvg satd_avgf = satd_avg_fn(bw * 4, bh * 4);
    const Nb* const nbs[3] = {&pn.a, &pn.b, &pn.c};  // search candidates: A, B, C (never D)
    for (int ref = r0; ref <= r1; ++ref) {
      if (!((ref_set >> ref) & 1)) continue;
      MeQuery& qr = q[ref];
      qr.x = mbx * 16 + bx * 4; qr.y = mby * 16 + by * 4; qr.w = bw * 4; qr.h = bh * 4;
      qr.src = c.src.y.at(qr.x, qr.y); qr.src_stride = c.src.y.stride;
      qr.ref = c.refs[ref];
      qr.sad = sadf; qr.satd = satdf; qr.satd_avg = satd_avgf;
      mv_pred(pn, ref, shape, qr.mvp);
      qr.ref_cost = count_ref ? c.lambda_bits(ref_bits(ref, c.num_ref_active)) : 0;
      qr.range = c.cfg.search_range;
      // Smaller partitions start next to their parent's vector: a short descent suffices.
      qr.max_iter = bw * bh == 16 ? qr.range : bw * bh >= 4 ? 4 : 2;
      int cand[10][2];
      int n = 0;
      for (const Nb* nb : nbs)
        if (nb->ref >= 0) {
          cand[n][0] = scale_mv(nb->mv[0], ref, nb->ref);
          cand[n][1] = scale_mv(nb->mv[1], ref, nb->ref);
          ++n;
        }
      const RefPic* col = c.refs[0];
      if (!col->mv.empty()) {
        const size_t i = static_cast<size_t>(Y) * c.w4 + X;
        if (col->ref[i] >= 0) {
          cand[n][0] = scale_mv(col->mv[2 * i], ref, col->ref[i]);
          cand[n][1] = scale_mv(col->mv[2 * i + 1], ref, col->ref[i]);
          ++n;
        }
      }
      if (bw * bh < 16) { cand[n][0] = best16[ref][0]; cand[n][1] = best16[ref][1]; ++n; }
      if (parent) { cand[n][0] = parent[0]; cand[n][1] = parent[1]; ++n; }
      if (prev >= 0) { cand[n][0] = scale_mv(imv[prev][0], ref, prev); cand[n][1] = scale_mv(imv[prev][1], ref, prev); ++n; }
      icost[ref] = motion_search_int(c, qr, cand, n, imv[ref]);
      best_int = std::min(best_int, icost[ref]);
      prev = ref;
    }
    int best = INT_MAX;
    for (int ref = r0; ref <= r1; ++ref) {
      int mv[2] = {imv[ref][0], imv[ref][1]};
      if (icost[ref] == INT_MAX) continue;
      if (icost[ref] > best_int + best_int / 8) {  // a clearly worse reference is not refined
        if (bw == 4 && bh == 4) { best16[ref][0] = mv[0]; best16[ref][1] = mv[1]; }
        continue;
      }
      const int cost = motion_refine(c, q[ref], mv);
      if (bw == 4 && bh == 4) { best16[ref][0] = mv[0]; best16[ref][1] = mv[1]; }
      if (cost < best) {
        best = cost;
        out.ref = ref; out.mv[0] = mv[0]; out.mv[1] = mv[1];
        out.mvd[0] = mv[0] - q[ref].mvp[0]; out.mvd[1] = mv[1] - q[ref].mvp[1];
      }
    }
    if (bw == 4 && bh == 4) ref16 = out.ref;
    return best;
  }
};

void mc_rect(const EncCtx& c, int mbx, int mby, int bx, int by, int bw, int bh, int ref, const int mv[2],
             uint8_t* py, uint8_t* pu, uint8_t* pv) {
  const RefPic& r = *c.refs[ref];
  mc_luma(r, mbx * 16 + bx * 4, mby * 16 + by * 4, mv[0], mv[1], bw * 4, bh * 4, py + by * 4 * 16 + bx * 4, 16);
  mc_chroma(r.pic.u, mbx * 8 + bx * 2, mby * 8 + by * 2, mv[0], mv[1], bw * 2, bh * 2, pu + by * 2 * 8 + bx * 2, 8);
  mc_chroma(r.pic.v, mbx * 8 + bx * 2, mby * 8 + by * 2, mv[0], mv[1], bw * 2, bh * 2, pv + by * 2 * 8 + bx * 2, 8);
}

// Would the skip prediction leave nothing to code? (all luma and chroma levels quantise to zero)
bool luma_residual_is_zero(const EncCtx& c, int mbx, int mby, const uint8_t* py) {
  int32_t coef[32];
  const uint8_t* s = c.src.y.at(mbx * 16, mby * 16);
  const int ss = c.src.y.stride;
  for (int b = 0; b < 16; b += 2) {
    const int bx = b & 3, by = b >> 2;
    fdct4x2(s + by * 4 * ss + bx * 4, ss, py + by * 4 * 16 + bx * 4, 16, coef);
    if (!quant4_zero(coef, c.qp, false, 0) || !quant4_zero(coef + 16, c.qp, false, 0)) return false;
  }
  return true;
}
bool chroma_residual_is_zero(const EncCtx& c, int mbx, int mby, const uint8_t* pu, const uint8_t* pv) {
  int16_t lv[16];
  int32_t coef[32];
  const Plane* sp[2] = {&c.src.u, &c.src.v};
  const uint8_t* pp[2] = {pu, pv};
  for (int k = 0; k < 2; ++k) {
    const uint8_t* cs = sp[k]->at(mbx * 8, mby * 8);
    int32_t dc[4];
    for (int by = 0; by < 2; ++by) {
      fdct4x2(cs + by * 4 * sp[k]->stride, sp[k]->stride, pp[k] + by * 4 * 8, 8, coef);
      dc[2 * by] = coef[0];
      dc[2 * by + 1] = coef[16];
      if (!quant4_zero(coef, c.qpc, false, 1) || !quant4_zero(coef + 16, c.qpc, false, 1)) return false;
    }
    if (quant_dc_chroma(dc, lv, c.qpc, false)) return false;
  }
  return true;
}

// The common tail of every intra decision: chroma mode and residual, then no motion.
void finish_intra_mb(EncCtx& c, Mb& m, int mbx, int mby, uint8_t* pu, uint8_t* pv) {
  choose_chroma_mode(c, m, mbx, mby, pu, pv);
  code_chroma(c, m, mbx, mby, pu, pv, true);
  const int zero[2] = {0, 0};
  set_motion(c, mbx, mby, 0, 0, 4, 4, -1, zero);
  std::memset(m.mv, 0, sizeof(m.mv));
  std::memset(m.mvd, 0, sizeof(m.mvd));
  for (int k = 0; k < 4; ++k) m.ref[k] = -1;
}

void clear_i4modes(EncCtx& c, int mbx, int mby) {
  static const int8_t kNone[4] = {-1, -1, -1, -1};
  for (int y = 0; y < 4; ++y) std::memcpy(&c.i4mode4[static_cast<size_t>(mby * 4 + y) * c.w4 + mbx * 4], kNone, 4);
}

}  // namespace

void analyse_mb(EncCtx& c, int mbx, int mby) {
  Mb& m = c.pic.mbs[static_cast<size_t>(mby) * c.mbw + mbx];
  const uint8_t* sy = c.src.y.at(mbx * 16, mby * 16);
  const int ss = c.src.y.stride;
  uint8_t* ry = c.rec.y.at(mbx * 16, mby * 16);
  const int rs = c.rec.y.stride;
  alignas(16) uint8_t py[256], pu[64], pv[64];

  if (c.idr) {
    m = Mb();
    int i16_mode = 2;
    const int cost16 = choose_i16(c, mbx, mby, i16_mode, py);
    Mb m4;
    const int cost4 = code_i4(c, m4, mbx, mby);  // reconstructs in place
    if (cost4 < cost16) {
      m4.type = MB_I4x4;
      m = m4;
    } else {
      clear_i4modes(c, mbx, mby);
      m.type = MB_I16x16;
      m.i16_mode = uint8_t(i16_mode);
      code_i16(c, m, sy, ss, py, ry, rs);
    }
    finish_intra_mb(c, m, mbx, mby, pu, pv);
    return;
  }

  clear_i4modes(c, mbx, mby);
  // P_Skip first: when its prediction leaves no coefficient, nothing cheaper exists.
  int smv[2];
  skip_mv(c, mbx, mby, smv);
  // luma first: the chroma prediction is needed only when the luma residual vanishes
  const RefPic& r0 = *c.refs[0];
  mc_luma(r0, mbx * 16, mby * 16, smv[0], smv[1], 16, 16, py, 16);
  bool skip = luma_residual_is_zero(c, mbx, mby, py);
  if (skip) {
    mc_chroma(r0.pic.u, mbx * 8, mby * 8, smv[0], smv[1], 8, 8, pu, 8);
    mc_chroma(r0.pic.v, mbx * 8, mby * 8, smv[0], smv[1], 8, 8, pv, 8);
    skip = chroma_residual_is_zero(c, mbx, mby, pu, pv);
  }
  if (skip) {
    // What deblocking, the writers and the motion output read of a skip; its levels are never read.
    m.type = MB_PSKIP;
    m.i16_mode = m.chroma_mode = 0;
    std::memset(m.i4_mode, 0, sizeof(m.i4_mode));
    std::memset(m.sub, 0, sizeof(m.sub));
    std::memset(m.ref, 0, sizeof(m.ref));
    std::memset(m.mvd, 0, sizeof(m.mvd));
    std::memset(m.nz, 0, sizeof(m.nz));
    m.cbp = 0;
    for (int i = 0; i < 16; ++i) { m.mv[i][0] = int16_t(smv[0]); m.mv[i][1] = int16_t(smv[1]); }
    set_motion(c, mbx, mby, 0, 0, 4, 4, 0, smv);
    for (int y = 0; y < 16; ++y) std::memcpy(ry + y * rs, py + y * 16, 16);
    for (int y = 0; y < 8; ++y) {
      std::memcpy(c.rec.u.at(mbx * 8, mby * 8 + y), pu + y * 8, 8);
      std::memcpy(c.rec.v.at(mbx * 8, mby * 8 + y), pv + y * 8, 8);
    }
    return;
  }

  m = Mb();
  InterSearch is{c, mbx, mby};
  InterMode best;
  {  // P_L0_16x16
    InterMode im;
    im.type = MB_P16x16;
    im.cost = is.search(0, 0, 4, 4, SH_MEDIAN, 0, -1, true, im.part[0]) + c.lambda_bits(1);
    best = im;
  }
  if (c.cfg.partitions_all) {
    // P_8x8 with one vector per 8x8 first; smaller shapes are analysed only when it pays (x264 habit).
    Part p8[4];
    int c8[4];
    int cost8 = c.lambda_bits(5);
    unsigned done = 0;
    // Every 8x8 costs at least its sub_mb_type and two one-bit mvd components: once the blocks
    // searched plus that floor for the rest reach the 16x16 cost, P_8x8 and everything gated on
    // it are out, exactly as after the full pass.
    const int floor8 = c.lambda_bits(1) + c.lambda_bits(2);  // sub_mb_type bit + search floor
    for (int k = 0; k < 4; ++k) {
      if (cost8 + (4 - k) * floor8 >= best.cost) { cost8 = INT_MAX; break; }
      const int x8 = (k & 1) * 2, y8 = (k >> 1) * 2;
      c8[k] = is.search(x8, y8, 2, 2, SH_MEDIAN, done, -1, true, p8[k]) + c.lambda_bits(1);
      set_motion(c, mbx, mby, x8, y8, 2, 2, p8[k].ref, p8[k].mv);
      done |= rect_mask(x8, y8, 2, 2);
      cost8 += c8[k];
    }
    if (cost8 < best.cost) {
      // 16x8 and 8x16 use only the references their 8x8 blocks chose (x264 habit)
      auto refs_of = [&](int a, int b) { return (1u << p8[a].ref) | (1u << p8[b].ref); };
      const int floor_part = c.lambda_bits(2);  // a searched partition's cost: at least two one-bit mvd components
      {  // 16x8
        InterMode im;
        im.type = MB_P16x8;
        is.ref_set = refs_of(0, 1);
        int cost = is.search(0, 0, 4, 2, SH_16x8_TOP, 0, -1, true, im.part[0]) + c.lambda_bits(3);
        if (cost + floor_part < best.cost) {  // else the second half cannot bring it below the best
          set_motion(c, mbx, mby, 0, 0, 4, 2, im.part[0].ref, im.part[0].mv);
          is.ref_set = refs_of(2, 3);
          im.cost = cost + is.search(0, 2, 4, 2, SH_16x8_BOTTOM, rect_mask(0, 0, 4, 2), -1, true, im.part[1]);
          if (im.cost < best.cost) best = im;
        }
      }
      {  // 8x16
        InterMode im;
        im.type = MB_P8x16;
        is.ref_set = refs_of(0, 2);
        int cost = is.search(0, 0, 2, 4, SH_8x16_LEFT, 0, -1, true, im.part[0]) + c.lambda_bits(3);
        if (cost + floor_part < best.cost) {
          set_motion(c, mbx, mby, 0, 0, 2, 4, im.part[0].ref, im.part[0].mv);
          is.ref_set = refs_of(1, 3);
          im.cost = cost + is.search(2, 0, 2, 4, SH_8x16_RIGHT, rect_mask(0, 0, 2, 4), -1, true, im.part[1]);
          if (im.cost < best.cost) best = im;
        }
        is.ref_set = ~0u;
      }
      // P_8x8 sub-partitions, with each 8x8's reference from the first pass
      InterMode im;
      im.type = MB_P8x8;
      int cost = c.lambda_bits(5);
      done = 0;
      static const int kSubShape[4][4][2] = {{{0, 0}}, {{0, 0}, {0, 1}}, {{0, 0}, {1, 0}}, {{0, 0}, {1, 0}, {0, 1}, {1, 1}}};
      static const int kSubN[4] = {1, 2, 2, 4}, kSubW[4] = {2, 2, 1, 1}, kSubH[4] = {2, 1, 2, 1}, kSubBits[4] = {1, 3, 3, 5};
      for (int k = 0; k < 4; ++k) {
        const int x8 = (k & 1) * 2, y8 = (k >> 1) * 2;
        const int ref = p8[k].ref;
        // the vector stays; its predictor follows the final choices of the earlier 8x8s
        int mvp[2];
        mv_pred(PredNbs(c, mbx, mby, x8, y8, 2, done), ref, SH_MEDIAN, mvp);
        p8[k].mvd[0] = p8[k].mv[0] - mvp[0];
        p8[k].mvd[1] = p8[k].mv[1] - mvp[1];
        int best8 = c8[k];
        const int rc = c.lambda_bits(ref_bits(ref, c.num_ref_active));
        int bsub = SUB_8x8;
        Part bparts[4];
        bparts[0] = p8[k];
        for (int st = 1; st < 4; ++st) {
          Part parts[4];
          int cs = rc + c.lambda_bits(kSubBits[st]);
          unsigned d = done;
          for (int j = 0; j < kSubN[st]; ++j) {
            if (cs + (kSubN[st] - j) * floor_part >= best8) { cs = INT_MAX; break; }  // cannot win any more
            const int bx = x8 + kSubShape[st][j][0], by = y8 + kSubShape[st][j][1];
            cs += is.search(bx, by, kSubW[st], kSubH[st], SH_MEDIAN, d, ref, false, parts[j], p8[k].mv);
            set_motion(c, mbx, mby, bx, by, kSubW[st], kSubH[st], ref, parts[j].mv);
            d |= rect_mask(bx, by, kSubW[st], kSubH[st]);
          }
          if (cs < best8) { best8 = cs; bsub = st; std::copy(parts, parts + 4, bparts); }
        }
        im.sub[k] = uint8_t(bsub);
        im.part[k].ref = ref;
        for (int j = 0; j < kSubN[bsub]; ++j) {
          im.subp[k][j] = bparts[j];
          set_motion(c, mbx, mby, x8 + kSubShape[bsub][j][0], y8 + kSubShape[bsub][j][1], kSubW[bsub], kSubH[bsub], ref,
                     bparts[j].mv);
        }
        done |= rect_mask(x8, y8, 2, 2);
        cost += best8;
      }
      im.cost = cost;
      if (im.cost < best.cost) best = im;
    }
  }

  // Intra candidates in a P picture.
  int i16_mode = 2;
  uint8_t pi16[256];
  const int cost16 = choose_i16(c, mbx, mby, i16_mode, pi16);
  int cost4 = INT_MAX;
  Mb& m4 = c.i4_trial;  // zeroed only when Intra4x4 is tried
  if (cost16 < best.cost + best.cost / 4) {
    m4 = Mb();
    cost4 = code_i4(c, m4, mbx, mby);
    if (cost4 >= best.cost || cost4 >= cost16) clear_i4modes(c, mbx, mby);
  }
  if (cost4 < best.cost && cost4 < cost16) {
    m = m4;
    m.type = MB_I4x4;
    finish_intra_mb(c, m, mbx, mby, pu, pv);
    return;
  }
  if (cost16 < best.cost) {
    m.type = MB_I16x16;
    m.i16_mode = uint8_t(i16_mode);
    code_i16(c, m, sy, ss, pi16, ry, rs);
    finish_intra_mb(c, m, mbx, mby, pu, pv);
    return;
  }

  // Commit the inter decision: record, motion field, prediction.
  m.type = best.type;
  static const int kSubShape[4][4][2] = {{{0, 0}}, {{0, 0}, {0, 1}}, {{0, 0}, {1, 0}}, {{0, 0}, {1, 0}, {0, 1}, {1, 1}}};
  static const int kSubN[4] = {1, 2, 2, 4}, kSubW[4] = {2, 2, 1, 1}, kSubH[4] = {2, 1, 2, 1};
  auto put = [&](int bx, int by, int bw, int bh, const Part& p) {
    for (int y = by; y < by + bh; ++y)
      for (int x = bx; x < bx + bw; ++x) {
        const int r = y * 4 + x;
        m.mv[r][0] = int16_t(p.mv[0]); m.mv[r][1] = int16_t(p.mv[1]);
        m.mvd[r][0] = int16_t(p.mvd[0]); m.mvd[r][1] = int16_t(p.mvd[1]);
        m.ref[(y >> 1) * 2 + (x >> 1)] = int8_t(p.ref);
      }
    set_motion(c, mbx, mby, bx, by, bw, bh, p.ref, p.mv);
    mc_rect(c, mbx, mby, bx, by, bw, bh, p.ref, p.mv, py, pu, pv);
  };
  switch (best.type) {
    case MB_P16x16: put(0, 0, 4, 4, best.part[0]); break;
    case MB_P16x8: put(0, 0, 4, 2, best.part[0]); put(0, 2, 4, 2, best.part[1]); break;
    case MB_P8x16: put(0, 0, 2, 4, best.part[0]); put(2, 0, 2, 4, best.part[1]); break;
    default:
      for (int k = 0; k < 4; ++k) {
        const int x8 = (k & 1) * 2, y8 = (k >> 1) * 2, st = best.sub[k];
        m.sub[k] = uint8_t(st);
        for (int j = 0; j < kSubN[st]; ++j)
          put(x8 + kSubShape[st][j][0], y8 + kSubShape[st][j][1], kSubW[st], kSubH[st], best.subp[k][j]);
      }
  }
  code_luma_inter(c, m, sy, ss, py, ry, rs);
  code_chroma(c, m, mbx, mby, pu, pv, false);
  if (m.type == MB_P16x16 && m.cbp == 0 && m.ref[0] == 0 && m.mv[0][0] == smv[0] && m.mv[0][1] == smv[1]) {
    m.type = MB_PSKIP;  // identical prediction, nothing coded: the skip is free
    std::memset(m.mvd, 0, sizeof(m.mvd));
  }
}

}  // namespace h264
}  // namespace mvc
