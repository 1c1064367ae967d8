"""Writes a seed corpus for the reader fuzzers: small real streams (our encoder's and libx264's,
CAVLC and CABAC, with B pictures, slices, 8x8 transform) into the directory given.

    python tests/fuzz/seeds.py build/fuzz/corpus_h264
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np  # noqa: E402

from _util import x264_stream  # noqa: E402


def main(out: str) -> None:
    import mvclass

    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (40, 80), dtype=np.uint8)
    frames = [(np.roll(base, t, axis=1)[:32, :48].copy(), np.full((16, 24), 128, np.uint8),
               np.full((16, 24), 128, np.uint8)) for t in range(6)]
    planes = tuple(np.stack(p) for p in zip(*frames))
    seeds = {"own_cavlc.264": mvclass.encode_cropped(planes, qp=30).bitstream,
             "own_qp0.264": mvclass.encode_cropped(planes, qp=0, intra_period=3).bitstream}
    for name, params in {"x264_cavlc_b.264": "cabac=0:bframes=2:8x8dct=1", "x264_cabac_b.264": "bframes=3:b-pyramid=normal",
                         "x264_cabac_slices.264": "slices=2:bframes=1:direct=temporal:weightp=2",
                         "x264_cabac_p.264": "bframes=0:ref=3:partitions=all"}.items():
        seeds[name] = x264_stream(frames, params)
    for name, data in seeds.items():
        (out_dir / name).write_bytes(data)
        (out_dir / f"{name}.cropped").write_bytes(mvclass.crop(data))
    print(f"wrote {2 * len(seeds)} seeds to {out_dir}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "build/fuzz/corpus_h264")
