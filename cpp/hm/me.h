// Motion estimation interface (me.cpp).
#pragma once
#include "hm/hevc.h"

namespace mvc {
namespace hevc {

struct MeInput {
  const Plane* src;
  const RefPic* ref;
  int x, y, w, h;
  Mv mvp[2];
  const Mv* extra = nullptr;
  int n_extra = 0;
  int range = 16;
  double sqrt_lambda = 1.0;
  bool wide = true;  // shrinking square pattern (off where a good start is known)
};
struct MeResult {
  Mv mv;
  int mvp_idx = 0;
  double cost = 0;
};

int mvd_bits_1d(int v);  // estimated bins of one mvd component
MeResult motion_search(const MeInput& in);

}  // namespace hevc
}  // namespace mvc
