// The paper's 8x8 MV grid from an encoder's (or decoder's) 4x4-block motion field, one pass per
// frame. The rules are documented with their Python entry points in python/mvclass/grid.py.
#pragma once
#include <cstdint>

namespace mvc {

// T frames of h4 x w4 blocks (field: 2 values per block, kind (KIND_INTRA: no motion), optional ref) -> T frames of
// rows x cols cells: the rounded mean of each cell's blocks with motion, whether it has any, and
// (ref_out) the ref of its first block with motion in raster order; cells beyond the blocks stay
// empty. fill_holes: an empty cell with >= 2 non-empty 4-neighbours takes their rounded mean
// (its mask stays false). ref4 / ref_out may be null.
void motion_grid(const int16_t* field4, const int8_t* kind4, const int8_t* ref4, int frames, int h4, int w4,
                 int rows, int cols, bool fill_holes, int16_t* field_out, uint8_t* mask_out, int8_t* ref_out);

}  // namespace mvc
