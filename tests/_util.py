"""Helpers shared by the encoder tests: clips with known content, encoding through the native
module, and decoding with FFmpeg (PyAV) as the independent oracle."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import numpy as np

from mvclass import _core
from mvclass.decode import decode_frames
from mvclass.io import av_frame_planes as planes  # noqa: F401  (re-exported for the tests)
from mvclass.io import read_frames


def load_yuv(path, n):
    """First ``n`` frames of a video as (Y, U, V) uint8 planes (4:2:0)."""
    return read_frames(path, max_frames=n)


def translating_clip(n, h, w, dx4, dy4, seed=0):
    """Smooth random texture moving by (dx4, dy4) quarter samples per frame (known motion).
    Frames are sampled from a 4x upsampled texture so sub-sample motion is exact."""
    from scipy.ndimage import gaussian_filter, zoom

    rng = np.random.default_rng(seed)
    margin = 8 + n * max(abs(dx4), abs(dy4)) // 4 + 8
    base = rng.integers(0, 256, (h + 2 * margin, w + 2 * margin)).astype(np.float32)
    base = np.clip((gaussian_filter(base, 1.5) - 128) * 4 + 128, 0, 255)
    up = zoom(base, 4, order=1)
    frames = []
    for t in range(n):
        # content moves by +d per frame: frame t samples the texture at offset -t*d
        oy, ox = 4 * margin - t * dy4, 4 * margin - t * dx4
        y = up[oy:oy + 4 * h:4, ox:ox + 4 * w:4].astype(np.uint8)
        u = (96 + y[::2, ::2] // 4).astype(np.uint8)
        v = (160 - y[1::2, 1::2] // 4).astype(np.uint8)
        frames.append(tuple(np.ascontiguousarray(p) for p in (y, u, v)))
    return frames


def encode(frames, codec="h264", **opts):
    """Encode (Y, U, V) frames with the native encoder; one output dict per frame."""
    h, w = frames[0][0].shape
    enc = _core.Encoder(codec, w, h, dict(opts))
    return [enc.encode(*f) for f in frames]


def decode(data: bytes, codec="h264", export_mvs: bool = False):
    """Decode an Annex B stream with FFmpeg into PyAV frames, failing on any bitstream error."""
    return decode_frames(data, codec, strict=True, export_mvs=export_mvs)


def check_bit_exact(frames, res, codec="h264"):
    """FFmpeg decodes the full stream to exactly our reconstruction, every frame and plane."""
    dec = decode(b"".join(r["nal_full"] for r in res), codec)
    assert len(dec) == len(frames)
    for i, (r, d) in enumerate(zip(res, dec)):
        y, u, v = planes(d)
        ry, ru, rv = r["recon"]
        assert y.shape == frames[i][0].shape
        assert np.array_equal(y, ry), f"frame {i} ({r['type']}): luma differs from FFmpeg's decode"
        assert np.array_equal(u, ru) and np.array_equal(v, rv), f"frame {i} ({r['type']}): chroma differs"
    return dec


def check_rate_order(res, motion_categories):
    """cropped < orig over the whole stream, and the P pictures' motion bits (the codec's R_motion
    categories, counted in the full stream) fit inside the cropped stream."""
    full = sum(len(r["nal_full"]) for r in res)
    cropped = sum(len(r["nal_cropped"]) for r in res)
    motion = sum(sum(r["bits_full"][c] for c in motion_categories) for r in res if r["type"] == "P")
    assert cropped < full
    assert motion <= 8 * cropped


def check_cropped(frames, res, codec="h264", slack_bytes=0):
    """The cropped stream decodes strictly with the same frame count; I pictures are unchanged;
    P pictures grow by at most ``slack_bytes`` each and shrink as a whole."""
    dec = decode(b"".join(r["nal_cropped"] for r in res), codec)
    assert len(dec) == len(frames)
    for r in res:
        if r["type"] == "I":
            assert r["nal_cropped"] == r["nal_full"]  # I pictures keep their texture
        else:
            assert len(r["nal_cropped"]) <= len(r["nal_full"]) + slack_bytes
    p = [r for r in res if r["type"] == "P"]
    if p:
        assert sum(len(r["nal_cropped"]) for r in p) < sum(len(r["nal_full"]) for r in p)
    return dec


def x264_stream(frames, params: str, *, preset: str = "medium", qp: int = 30, fps: int = 25, fmt: str = "h264",
                pix_fmt: str = "yuv420p", codec: str = "libx264", crf: int | None = None) -> bytes:
    """Encode (Y, U, V) frames with PyAV's libx264 (one thread) into an Annex B stream (fmt 'h264')
    or a container (e.g. fmt 'mp4'): third-party streams for the readers."""
    import io

    import av

    buf = io.BytesIO()
    out = av.open(buf, "w", format=fmt)
    h, w = frames[0][0].shape
    st = out.add_stream(codec, rate=fps)
    st.width, st.height, st.pix_fmt = w, h, pix_fmt
    key = "x265-params" if codec == "libx265" else "x264-params"
    st.options = {"preset": preset, key: params}
    if crf is None:
        st.options["qp"] = str(qp)
    else:  # rate control by CRF (x265: adaptive quantisation, cu_qp_delta)
        st.options["crf"] = str(crf)
    st.codec_context.thread_count = 1
    for i, (y, u, v) in enumerate(frames):
        f = av.VideoFrame(w, h, "yuv420p")
        for p, a in zip(f.planes, (y, u, v)):
            arr = np.frombuffer(p, np.uint8).reshape(-1, p.line_size)
            arr[:a.shape[0], :a.shape[1]] = a
        f.pts = i
        if pix_fmt != "yuv420p":
            f = f.reformat(format=pix_fmt)
        for pkt in st.encode(f):
            out.mux(pkt)
    for pkt in st.encode(None):
        out.mux(pkt)
    out.close()
    return buf.getvalue()


def ffmpeg_motion_blocks(data: bytes):
    """FFmpeg's exported H.264 motion per decoded frame (display order): a list of
    (list, x4, y4, w4, h4, mvx, mvy) tuples in 4x4 units and quarter-pel, or [] for no side data.
    FFmpeg reports, for sub-8x8 partitions, the top-left 4x4 block's vector of each 8x8, and
    for every partition of a macroblock each list the macroblock uses (a partition that does not
    use a list is reported with (0, 0))."""
    frames = decode_frames(data, "h264", strict=True, export_mvs=True)
    out = []
    for f in frames:
        sd = f.side_data.get("MOTION_VECTORS")
        blocks = []
        if sd is not None:
            for b in sd.to_ndarray():
                bw, bh, sc = int(b["w"]), int(b["h"]), int(b["motion_scale"])
                blocks.append((0 if b["source"] < 0 else 1, (int(b["dst_x"]) - bw // 2) // 4,
                               (int(b["dst_y"]) - bh // 2) // 4, bw // 4, bh // 4,
                               int(b["motion_x"]) * 4 // sc, int(b["motion_y"]) * 4 // sc))
        out.append(blocks)
    return out


def x265_stream(frames, params: str, *, preset: str = "medium", qp: int = 30, fps: int = 25, fmt: str = "hevc",
                pix_fmt: str = "yuv420p", crf: int | None = None) -> bytes:
    """x264_stream's twin for PyAV's libx265: an Annex B HEVC stream (fmt 'hevc') or a container;
    x265 options go through ``x265-params`` (e.g. "bframes=4:b-pyramid=1:ref=4")."""
    params = "log-level=error" + (":" + params if params else "")
    return x264_stream(frames, params, preset=preset, qp=qp, fps=fps, fmt=fmt, pix_fmt=pix_fmt, codec="libx265", crf=crf)


def _exact_planes(frame):
    """(Y, U, V) of a 4:2:0 PyAV frame without conversion: uint8 for 8-bit, uint16 for 10-bit."""
    name = frame.format.name
    assert name in ("yuv420p", "yuv420p10le"), name
    dt = np.uint16 if "10" in name else np.uint8
    out = []
    for i, plane in enumerate(frame.planes):
        w, h = (frame.width, frame.height) if i == 0 else ((frame.width + 1) // 2, (frame.height + 1) // 2)
        out.append(np.ascontiguousarray(np.frombuffer(plane, dt).reshape(-1, plane.line_size // dt().itemsize)[:h, :w]))
    return tuple(out)


DEC265 = shutil.which("libde265-dec265") or shutil.which("dec265")


def _dec265(data: bytes, d: str):
    src, out = os.path.join(d, "in.265"), os.path.join(d, "out.yuv")
    with open(src, "wb") as f:
        f.write(data)
    p = subprocess.run([DEC265, "-q", "-t", "0", "-o", out, src], capture_output=True, text=True, timeout=300)
    log = (p.stdout + p.stderr).strip()
    clean = p.returncode == 0 and "error" not in log.lower() and "warning" not in log.lower()
    return clean, log, out


def _dec265_vs_ffmpeg(data: bytes) -> str | None:
    """None when libde265 decodes ``data`` cleanly to exactly FFmpeg's pictures, else why not."""
    with tempfile.TemporaryDirectory() as d:
        clean, log, out = _dec265(data, d)
        if not clean:
            return f"dec265: {log[-500:]}"
        ffmpeg_frames = decode_frames(data, "hevc", strict=True)
        f0 = _exact_planes(ffmpeg_frames[0])
        yuv = np.fromfile(out, f0[0].dtype)
    per = sum(a.size for a in f0)
    if yuv.size != per * len(ffmpeg_frames):
        return f"dec265 wrote {yuv.size / per:g} pictures, FFmpeg {len(ffmpeg_frames)}"
    for t, fr in enumerate(ffmpeg_frames):
        off = t * per
        for k, a in enumerate(_exact_planes(fr)):
            if not np.array_equal(yuv[off:off + a.size].reshape(a.shape), a):
                return f"picture {t} plane {k}: libde265 and FFmpeg differ"
            off += a.size
    return None


def dec265_matches_ffmpeg(data: bytes, source: bytes | None = None) -> bool:
    """Decode an HEVC Annex B stream with libde265 (Debian's libde265-examples) and with FFmpeg
    (strict), and check that every output picture is identical, samples at the stream's bit depth.
    ``source``: the stream ``data`` was cropped from. Where the two decoders already disagree on
    that one (libde265 warns of missing references on x265's open-GOP streams, and its SAO
    differs from FFmpeg's at x265's slice boundaries), nothing is compared. Returns False where
    nothing was compared (no dec265, or such a source); fails on a decode error or any difference."""
    if DEC265 is None or (source is not None and _dec265_vs_ffmpeg(source) is not None):
        return False
    why = _dec265_vs_ffmpeg(data)
    assert why is None, why
    return True
