import numpy as np

from mvclass.grid import KIND_INTER, KIND_INTRA, KIND_SKIP, frame_grid, mv_grid, mvd_grid


def _field(h4, w4, mv=(0, 0), kind=KIND_INTER, ref=0):
    return (np.tile(np.array(mv, np.int16), (h4, w4, 1)), np.full((h4, w4), ref, np.int8),
            np.full((h4, w4), kind, np.uint8))


def test_uniform_motion():
    mv4, ref4, kind4 = _field(8, 8, (6, -3))
    mv, mask, ref = frame_grid(mv4, ref4, kind4, 4, 4)
    assert mask.all() and (ref == 0).all()
    assert (mv == np.array([6, -3])).all()


def test_split_block_rounded_mean_half_away_from_zero():
    mv4, ref4, kind4 = _field(2, 2)
    mv4[..., 0] = [[1, 2], [2, 2]]      # 1.75 -> 2
    mv4[..., 1] = [[-1, -2], [-1, -2]]  # -1.5 -> -2
    mv, mask, _ = frame_grid(mv4, ref4, kind4, 1, 1)
    assert mv[0, 0].tolist() == [2, -2]
    mv4[..., 0] = [[1, 1], [2, 2]]      # 1.5 -> 2
    mv4[..., 1] = [[1, 0], [0, 0]]      # 0.25 -> 0
    assert frame_grid(mv4, ref4, kind4, 1, 1)[0][0, 0].tolist() == [2, 0]


def test_skip_blocks_have_motion_and_intra_holes_fill():
    mv4, ref4, kind4 = _field(6, 6, (4, 4), kind=KIND_SKIP)
    kind4[2:4, 2:4] = KIND_INTRA        # the centre 8x8 cell is intra: 4 neighbours with MVs
    mv4[2:4, 2:4] = 99                  # garbage in intra blocks must be ignored
    kind4[0:2, 0:2] = KIND_INTRA        # corner cell: 2 neighbours
    mv, mask, ref = frame_grid(mv4, ref4, kind4, 3, 3)
    assert not mask[1, 1] and not mask[0, 0]
    assert mv[1, 1].tolist() == [4, 4] and mv[0, 0].tolist() == [4, 4]
    assert ref[1, 1] == -1 and mask.sum() == 7


def test_isolated_hole_with_one_neighbour_stays_zero():
    mv4, ref4, kind4 = _field(2, 4, (8, 0))
    kind4[:, 2:] = KIND_INTRA
    mv, mask, _ = frame_grid(mv4, ref4, kind4, 1, 2)
    assert mask.tolist() == [[True, False]]
    assert mv[0, 1].tolist() == [0, 0]


def test_video_grid_crops_to_ceil_size_and_intra_frames_are_empty():
    t, h, w = 2, 100, 60                     # 4x4 field of the padded 112x64 picture
    mv4 = np.ones((t, 28, 16, 2), np.int16)
    ref4 = np.zeros((t, 28, 16), np.int8)
    kind4 = np.full((t, 28, 16), KIND_INTER, np.uint8)
    kind4[0] = KIND_INTRA
    mv, mask, ref = mv_grid(mv4, ref4, kind4, h, w)
    assert mv.shape == (2, 13, 8, 2) and mask.shape == (2, 13, 8)
    assert not mask[0].any() and (mv[0] == 0).all() and mask[1].all()
    assert mvd_grid(mv4, kind4, h, w).shape == (2, 13, 8, 2)


def test_ref_of_first_block_with_motion_and_cells_beyond_the_field_are_empty():
    mv4, ref4, kind4 = _field(2, 2, (4, 0))
    ref4[:] = [[2, 1], [0, 0]]
    kind4[0, 0] = KIND_INTRA             # the first block with motion in raster order is (0, 1)
    mv, mask, ref = frame_grid(mv4, ref4, kind4, 2, 3)
    assert ref[0, 0] == 1 and mask[0, 0] and mv[0, 0].tolist() == [4, 0]
    assert not mask[0, 1:].any() and not mask[1].any() and (ref[1] == -1).all() and (mv[1] == 0).all()


def test_mismatched_field_shapes_raise():
    import pytest

    mv4, ref4, kind4 = _field(4, 4)
    with pytest.raises(ValueError, match="does not match"):
        frame_grid(mv4[:3], ref4, kind4, 2, 2)
    with pytest.raises(ValueError, match="ref4"):
        frame_grid(mv4, ref4[:, :2], kind4, 2, 2)
    with pytest.raises(ValueError, match="kind4"):
        mv_grid(mv4, ref4, kind4[0], 16, 16)
