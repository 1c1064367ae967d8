// H.264 CABAC internals shared by cabac_tables.cpp and cabac_syntax.cpp: the context variables
// (ctxIdx 0..459, frame-coded 4:2:0 / 4:0:0 slices) and their initialisation (9.3.1.1).
#pragma once
#include <cstdint>

#include "common/cabac.h"
#include "jm/syntax.h"

namespace mvc {
namespace h264 {

constexpr int kNumCtx = 460;
extern const int8_t kCabacInitI[kNumCtx][2];      // (m, n), I slices
extern const int8_t kCabacInitPB[3][kNumCtx][2];  // (m, n), P / B slices by cabac_init_idc

// 9.3.1.1: state bytes ((pStateIdx << 1) | valMPS) of all kNumCtx contexts for a slice of
// slice_type (SliceType), cabac_init_idc (0..2, P / B only) and SliceQPY.
void cabac_init_contexts(uint8_t* s, int slice_type, int cabac_init_idc, int slice_qp);

// ctxIdxOffset of each syntax element (Table 9-34), frame-coded macroblocks.
enum CtxOffset : int {
  CTX_MB_TYPE_SI = 0, CTX_MB_TYPE_I = 3, CTX_SKIP_P = 11, CTX_MB_TYPE_P = 14, CTX_SUB_P = 21,
  CTX_SKIP_B = 24, CTX_MB_TYPE_B = 27, CTX_SUB_B = 36, CTX_MVD_X = 40, CTX_MVD_Y = 47,
  CTX_REF_IDX = 54, CTX_QP_DELTA = 60, CTX_CHROMA_PRED = 64, CTX_PREV_INTRA = 68,
  CTX_REM_INTRA = 69, CTX_CBP_LUMA = 73, CTX_CBP_CHROMA = 77, CTX_CBF = 85, CTX_SIG = 105,
  CTX_LAST = 166, CTX_ABS = 227, CTX_END_OF_SLICE = 276, CTX_T8X8 = 399, CTX_SIG8 = 402,
  CTX_LAST8 = 417, CTX_ABS8 = 426
};

}  // namespace h264
}  // namespace mvc
