// Intra prediction (H.264 8.3.1.2 Intra_4x4, 8.3.3 Intra_16x16, 8.3.4 chroma, 4:2:0).
#include "jm/h264.h"

namespace mvc {
namespace h264 {

static inline uint8_t clip1(int v) { return static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v); }

bool pred4x4(int mode, const IntraEdge& e, uint8_t* d, int s) {
  const uint8_t* t = e.top();  // t[-1] is the corner p[-1,-1]; t[4..7] already substituted when needed
  const uint8_t* l = e.left;
  auto P = [&](int x, int y) -> int { return y < 0 ? t[x] : l[y]; };  // x == -1 when y >= 0
  switch (mode) {
    case 0:
      if (!e.has_top) return false;
      for (int y = 0; y < 4; ++y) for (int x = 0; x < 4; ++x) d[y * s + x] = t[x];
      return true;
    case 1:
      if (!e.has_left) return false;
      for (int y = 0; y < 4; ++y) for (int x = 0; x < 4; ++x) d[y * s + x] = l[y];
      return true;
    case 2: {
      int v;
      if (e.has_top && e.has_left) v = (t[0] + t[1] + t[2] + t[3] + l[0] + l[1] + l[2] + l[3] + 4) >> 3;
      else if (e.has_left) v = (l[0] + l[1] + l[2] + l[3] + 2) >> 2;
      else if (e.has_top) v = (t[0] + t[1] + t[2] + t[3] + 2) >> 2;
      else v = 128;
      for (int y = 0; y < 4; ++y) for (int x = 0; x < 4; ++x) d[y * s + x] = uint8_t(v);
      return true;
    }
    case 3:
      if (!e.has_top) return false;
      for (int y = 0; y < 4; ++y)
        for (int x = 0; x < 4; ++x)
          d[y * s + x] = (x == 3 && y == 3) ? uint8_t((t[6] + 3 * t[7] + 2) >> 2)
                                            : uint8_t((t[x + y] + 2 * t[x + y + 1] + t[x + y + 2] + 2) >> 2);
      return true;
    case 7:
      if (!e.has_top) return false;
      for (int y = 0; y < 4; ++y)
        for (int x = 0; x < 4; ++x) {
          const int i = x + (y >> 1);
          d[y * s + x] = (y & 1) ? uint8_t((t[i] + 2 * t[i + 1] + t[i + 2] + 2) >> 2) : uint8_t((t[i] + t[i + 1] + 1) >> 1);
        }
      return true;
    case 8:
      if (!e.has_left) return false;
      for (int y = 0; y < 4; ++y)
        for (int x = 0; x < 4; ++x) {
          const int z = x + 2 * y, i = y + (x >> 1);
          int v;
          if (z > 5) v = l[3];
          else if (z == 5) v = (l[2] + 3 * l[3] + 2) >> 2;
          else if (z & 1) v = (l[i] + 2 * l[i + 1] + l[i + 2] + 2) >> 2;
          else v = (l[i] + l[i + 1] + 1) >> 1;
          d[y * s + x] = uint8_t(v);
        }
      return true;
    default: break;
  }
  if (!(e.has_top && e.has_left && e.has_topleft)) return false;
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) {
      int v;
      if (mode == 4) {
        if (x > y) {
          v = (P(x - y - 2, -1) + 2 * P(x - y - 1, -1) + P(x - y, -1) + 2) >> 2;
        } else if (x < y) {
          const int a = (y - x - 2 < 0) ? t[-1] : l[y - x - 2];
          v = (a + 2 * l[y - x - 1] + l[y - x] + 2) >> 2;
        } else {
          v = (t[0] + 2 * t[-1] + l[0] + 2) >> 2;
        }
      } else if (mode == 5) {
        const int z = 2 * x - y;
        if (z >= 0 && !(z & 1)) v = (P(x - (y >> 1) - 1, -1) + P(x - (y >> 1), -1) + 1) >> 1;
        else if (z >= 0) v = (P(x - (y >> 1) - 2, -1) + 2 * P(x - (y >> 1) - 1, -1) + P(x - (y >> 1), -1) + 2) >> 2;
        else if (z == -1) v = (l[0] + 2 * t[-1] + t[0] + 2) >> 2;
        else {
          const int a = (y - 3 < 0) ? t[-1] : l[y - 3];
          const int b = (y - 2 < 0) ? t[-1] : l[y - 2];
          v = (l[y - 1] + 2 * b + a + 2) >> 2;
        }
      } else {  // mode 6
        const int z = 2 * y - x;
        auto L = [&](int yy) { return yy < 0 ? int(t[-1]) : int(l[yy]); };
        if (z >= 0 && !(z & 1)) v = (L(y - (x >> 1) - 1) + L(y - (x >> 1)) + 1) >> 1;
        else if (z >= 0) v = (L(y - (x >> 1) - 2) + 2 * L(y - (x >> 1) - 1) + L(y - (x >> 1)) + 2) >> 2;
        else if (z == -1) v = (l[0] + 2 * t[-1] + t[0] + 2) >> 2;
        else v = (t[x - 1] + 2 * t[x - 2] + t[x - 3] + 2) >> 2;
      }
      d[y * s + x] = uint8_t(v);
    }
  return true;
}

bool pred16x16(int mode, const IntraEdge& e, uint8_t* d, int s) {
  const uint8_t* t = e.top();
  const uint8_t* l = e.left;
  switch (mode) {
    case 0:
      if (!e.has_top) return false;
      for (int y = 0; y < 16; ++y) for (int x = 0; x < 16; ++x) d[y * s + x] = t[x];
      return true;
    case 1:
      if (!e.has_left) return false;
      for (int y = 0; y < 16; ++y) for (int x = 0; x < 16; ++x) d[y * s + x] = l[y];
      return true;
    case 2: {
      int st = 0, sl = 0, v;
      for (int i = 0; i < 16; ++i) { st += t[i]; sl += l[i]; }
      if (e.has_top && e.has_left) v = (st + sl + 16) >> 5;
      else if (e.has_left) v = (sl + 8) >> 4;
      else if (e.has_top) v = (st + 8) >> 4;
      else v = 128;
      for (int y = 0; y < 16; ++y) for (int x = 0; x < 16; ++x) d[y * s + x] = uint8_t(v);
      return true;
    }
    case 3: {
      if (!(e.has_top && e.has_left && e.has_topleft)) return false;
      int H = 0, V = 0;
      for (int i = 0; i < 8; ++i) {
        H += (i + 1) * (t[8 + i] - t[6 - i]);
        V += (i + 1) * (l[8 + i] - (6 - i < 0 ? t[-1] : l[6 - i]));
      }
      const int a = 16 * (l[15] + t[15]), b = (5 * H + 32) >> 6, c = (5 * V + 32) >> 6;
      for (int y = 0; y < 16; ++y)
        for (int x = 0; x < 16; ++x) d[y * s + x] = clip1((a + b * (x - 7) + c * (y - 7) + 16) >> 5);
      return true;
    }
  }
  return false;
}

bool pred_chroma(int mode, const IntraEdge& e, uint8_t* d, int s) {
  const uint8_t* t = e.top();
  const uint8_t* l = e.left;
  switch (mode) {
    case 0: {  // DC per 4x4 chroma block (8.3.4.1-3)
      for (int by = 0; by < 2; ++by)
        for (int bx = 0; bx < 2; ++bx) {
          int st = 0, sl = 0;
          for (int i = 0; i < 4; ++i) { st += t[4 * bx + i]; sl += l[4 * by + i]; }
          int v;
          const bool T = e.has_top, Lf = e.has_left;
          if ((bx == 0 && by == 0) || (bx && by)) {
            v = (T && Lf) ? (st + sl + 4) >> 3 : Lf ? (sl + 2) >> 2 : T ? (st + 2) >> 2 : 128;
          } else if (bx && !by) {
            v = T ? (st + 2) >> 2 : Lf ? (sl + 2) >> 2 : 128;
          } else {
            v = Lf ? (sl + 2) >> 2 : T ? (st + 2) >> 2 : 128;
          }
          for (int y = 0; y < 4; ++y) for (int x = 0; x < 4; ++x) d[(4 * by + y) * s + 4 * bx + x] = uint8_t(v);
        }
      return true;
    }
    case 1:
      if (!e.has_left) return false;
      for (int y = 0; y < 8; ++y) for (int x = 0; x < 8; ++x) d[y * s + x] = l[y];
      return true;
    case 2:
      if (!e.has_top) return false;
      for (int y = 0; y < 8; ++y) for (int x = 0; x < 8; ++x) d[y * s + x] = t[x];
      return true;
    case 3: {
      if (!(e.has_top && e.has_left && e.has_topleft)) return false;
      int H = 0, V = 0;
      for (int i = 0; i < 4; ++i) {
        H += (i + 1) * (t[4 + i] - t[2 - i]);
        V += (i + 1) * (l[4 + i] - (2 - i < 0 ? t[-1] : l[2 - i]));
      }
      const int a = 16 * (l[7] + t[7]), b = (34 * H + 32) >> 6, c = (34 * V + 32) >> 6;
      for (int y = 0; y < 8; ++y)
        for (int x = 0; x < 8; ++x) d[y * s + x] = clip1((a + b * (x - 3) + c * (y - 3) + 16) >> 5);
      return true;
    }
  }
  return false;
}

}  // namespace h264
}  // namespace mvc
