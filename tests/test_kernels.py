"""The AVX2 kernels chosen at run time (SATD, quantisation, transforms, interpolation) give exactly
what the SSE2 / scalar kernels give, the path of CPUs without AVX2: with MVCLASS_NO_AVX2 set the
encoders produce the same streams, motion fields and reconstructions, byte for byte."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Encodes a few frames per configuration and prints one digest per configuration.
SCRIPT = r"""
import hashlib, sys
import numpy as np
from mvclass import _core
from mvclass.io import read_frames

frames = read_frames(sys.argv[1], max_frames=6)
h, w = frames[0][0].shape
configs = [
    ("hevc", dict(qp=30, ref_frames=3, ctu_size=16, max_depth=2, keep_recon=True)),
    ("hevc", dict(qp=22, ref_frames=2, ctu_size=32, max_depth=3, intra_period=3, keep_recon=True)),
    ("hevc", dict(qp=4, ref_frames=1, ctu_size=64, max_depth=3, sao=False, keep_recon=True)),
    ("h264", dict(qp=30, ref_frames=3, keep_recon=True)),
    # 312x232: the padded reference rows (312 + 2 * 32) end in an 8-sample tail after the 16-wide
    # AVX2 steps of the half-sample planes, which the SSE2 / scalar columns finish
    ("hevc", dict(qp=30, ref_frames=2, ctu_size=16, max_depth=2, keep_recon=True, crop=(312, 232))),
]
for codec, opts in configs:
    cw, ch = opts.pop("crop", (w, h))
    enc = _core.Encoder(codec, cw, ch, opts)
    digest = hashlib.sha256()
    for f in frames:
        f = (np.ascontiguousarray(f[0][:ch, :cw]), np.ascontiguousarray(f[1][: ch // 2, : cw // 2]),
             np.ascontiguousarray(f[2][: ch // 2, : cw // 2]))
        r = enc.encode(*f)
        digest.update(bytes(r["nal_full"]))
        digest.update(bytes(r["nal_cropped"]))
        for key in ("mv", "mvd", "ref", "kind"):
            digest.update(np.ascontiguousarray(r[key]).tobytes())
        for plane in r["recon"]:
            digest.update(np.ascontiguousarray(plane).tobytes())
    print(codec, sorted(opts.items()), digest.hexdigest())
"""


def _cpu_has_avx2() -> bool:
    try:
        return " avx2 " in f" {Path('/proc/cpuinfo').read_text()} ".replace("\n", " ")
    except OSError:
        return False


def _digests(clip: Path, no_avx2: bool) -> list[str]:
    env = dict(os.environ)
    env.pop("MVCLASS_NO_AVX2", None)
    if no_avx2:
        env["MVCLASS_NO_AVX2"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(clip)], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


@pytest.mark.skipif(not _cpu_has_avx2(), reason="the CPU has no AVX2: only the SSE2 / scalar kernels exist here")
def test_avx2_kernels_match_the_portable_path(boxing_clip):
    fast = _digests(boxing_clip, no_avx2=False)
    portable = _digests(boxing_clip, no_avx2=True)
    assert len(fast) == 5
    assert fast == portable
