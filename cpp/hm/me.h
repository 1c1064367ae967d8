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
  bool wide = true;  // shrinking diamond pattern (off where a good start is known)
  double frac_above = 1e300;  // integer cost above which the sub-pel refinement is not worth doing
};
struct MeResult {
  Mv mv;
  int mvp_idx = 0;
  double cost = 0;       // SATD + sqrt(lambda) * bits at the final (sub-pel) vector
  double int_cost = 0;   // SAD + sqrt(lambda) * bits at the best integer vector
  bool refined = true;   // false: the integer vector, cost set to 1e300 (frac_above exceeded)
};

int mvd_bits_1d(int v);  // estimated bins of one mvd component
MeResult motion_search(const MeInput& in);

}  // namespace hevc
}  // namespace mvc
