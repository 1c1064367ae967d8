"""Quickstart: encode a video into full and cropped streams, check that FFmpeg decodes the
cropped one, and draw the 8x8 motion field of one frame.

    python examples/quickstart.py [VIDEO] [--codec h264|hevc] [--qp 30] [-o quickstart.png]

Without VIDEO the built-in synthetic sample is used (nothing to download).
"""
from __future__ import annotations

import argparse

import numpy as np

import mvclass
from mvclass.decode import decode
from mvclass.io import sample_clip
from mvclass.viz import flow_image


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("video", nargs="?")
    ap.add_argument("--codec", default="h264")
    ap.add_argument("--qp", type=int, default=30)
    ap.add_argument("--max-frames", type=int, default=60)
    ap.add_argument("-o", "--output", default="quickstart.png")
    args = ap.parse_args(argv)

    source = args.video or sample_clip(frames=args.max_frames)
    r = mvclass.encode_cropped(source, qp=args.qp, codec=args.codec, max_frames=args.max_frames)
    print(r)
    print(f"cropped stream: {len(r.cropped)} bytes vs full {len(r.bitstream)} bytes "
          f"({100 * len(r.cropped) / len(r.bitstream):.0f}%)")
    print("bits by category (cropped):", {k: int(v) for k, v in r.bits["cropped"].items() if v})

    frames = decode(r.cropped, r.codec)  # strict: raises if the stream were not conforming
    print(f"FFmpeg decoded the cropped stream: {len(frames)} frames")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = min(10, r.frames - 1)
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.8))
    ax[0].imshow(frames[t][0], cmap="gray")
    ax[0].set_title(f"cropped stream, frame {t}")
    ax[1].imshow(flow_image(r.mv[t]))
    ax[1].set_title(f"8x8 MV field ({100 * r.mv_mask[t].mean():.0f}% cells with MV)")
    for a in ax:
        a.axis("off")
    fig.tight_layout()
    fig.savefig(args.output, dpi=100)
    print(f"wrote {args.output}; mean |mv| on frame {t}: {np.abs(r.mv[t][r.mv_mask[t]]).mean() / 4:.2f} px")


if __name__ == "__main__":
    main()
