"""A synthetic labelled motion set with known optical flow.

Each clip shows a textured elliptical object over a textured background that drifts slowly,
with sensor noise; the class is the object's motion pattern. Rendering is numpy only (inverse
warping with bilinear sampling of periodic textures), deterministic per (seed, class, index),
so workers anywhere render the same pixels, and the true backward flow is known analytically.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._common import Video, VideoDataset

MOTION_CLASSES = (
    "translate_right", "translate_left", "translate_down", "translate_up",
    "rotate_cw", "rotate_ccw", "zoom_in", "zoom_out", "oscillate", "still_shake",
)


def periodic_texture(rng: np.random.Generator, size: int, slope: float, contrast: float, mean) -> np.ndarray:
    """A (size,size,3) float32 colour texture with a 1/f^slope spectrum; it tiles seamlessly."""
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.fftfreq(size)[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    f[0, 0] = 1.0
    gain = f ** -slope
    gain[0, 0] = 0.0
    noise = rng.standard_normal((4, size, size))
    fields = np.real(np.fft.ifft2(np.fft.fft2(noise) * gain))
    fields /= fields.std(axis=(1, 2), keepdims=True)
    tint = rng.uniform(0.6, 1.0, 3)
    tex = fields[0][..., None] * tint + 0.35 * np.moveaxis(fields[1:], 0, -1)
    return (np.asarray(mean, np.float32) + contrast * tex).astype(np.float32)


def sample_wrap(tex: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Bilinear sample of a periodic texture (S_h,S_w,C) at columns ``u`` and rows ``v``."""
    s_h, s_w, ch = tex.shape
    flat = tex.reshape(-1, ch)
    u0f, v0f = np.floor(u), np.floor(v)
    fu = (u - u0f).astype(np.float32)[..., None]
    fv = (v - v0f).astype(np.float32)[..., None]
    u0 = u0f.astype(np.int64) % s_w
    v0 = v0f.astype(np.int64) % s_h
    u1 = (u0 + 1) % s_w
    r0, r1 = v0 * s_w, ((v0 + 1) % s_h) * s_w
    top = flat[r0 + u0] * (1 - fu) + flat[r0 + u1] * fu
    bot = flat[r1 + u0] * (1 - fu) + flat[r1 + u1] * fu
    return top * (1 - fv) + bot * fv


@dataclass(frozen=True)
class ClipSpec:
    """Everything that determines one clip; calling it renders the (T,H,W,3) uint8 RGB array."""

    motion: str
    width: int
    height: int
    frames: int
    seed: int
    label: int
    index: int
    noise: float = 2.0

    def __call__(self) -> np.ndarray:
        return render(self)[0]


def _trajectory(spec: ClipSpec, rng: np.random.Generator) -> dict:
    """Per-frame object centre, angle, scale, camera shake and background offset."""
    w, h, t_n = spec.width, spec.height, spec.frames
    t = np.arange(t_n, dtype=np.float64)
    unit = min(w, h) / 240.0  # motion magnitudes scale with the picture
    radius = 0.22 * min(w, h)
    aspect = rng.uniform(0.65, 1.0)
    theta0 = rng.uniform(0, 2 * math.pi)
    bg_dir = rng.uniform(0, 2 * math.pi)
    bg_speed = rng.uniform(0.0, 0.5) * unit
    bg = np.stack([np.cos(bg_dir), np.sin(bg_dir)]) [None, :] * bg_speed * t[:, None]
    cx = w / 2 + rng.uniform(-0.1, 0.1) * w
    cy = h / 2 + rng.uniform(-0.1, 0.1) * h
    centre = np.tile([cx, cy], (t_n, 1))
    angle = np.full(t_n, theta0)
    scale = np.ones(t_n)
    shake = np.zeros((t_n, 2))
    m = spec.motion
    if m.startswith("translate_"):
        speed = rng.uniform(2.0, 3.5) * unit
        d = {"right": (1, 0), "left": (-1, 0), "down": (0, 1), "up": (0, -1)}[m.split("_")[1]]
        span = np.array([w, h], float) + 2 * radius  # leaves one side, comes back on the other
        start = centre[0] - np.array(d) * speed * (t_n - 1) / 2
        centre = (start + np.outer(t, d) * speed + radius) % span - radius
    elif m.startswith("rotate_"):
        omega = math.radians(rng.uniform(2.0, 4.0)) * (1 if m == "rotate_cw" else -1)  # y points down: + is clockwise
        angle = theta0 + omega * t
    elif m.startswith("zoom_"):
        lo, hi = math.log(0.55), math.log(1.45)
        rate = max((hi - lo) / t_n, 0.02)  # no wrap-around within short clips
        ramp = (rate * t) % (hi - lo)
        scale = np.exp(lo + ramp if m == "zoom_in" else hi - ramp)
    elif m == "oscillate":
        amp = rng.uniform(12.0, 20.0) * unit
        period = rng.uniform(16, 28)
        phase = rng.uniform(0, 2 * math.pi)
        direction = rng.uniform(0, 2 * math.pi)
        off = amp * np.sin(2 * math.pi * t / period + phase)
        centre = centre + np.outer(off, [math.cos(direction), math.sin(direction)])
    elif m == "still_shake":
        shake = rng.normal(0, 1.5 * max(unit, 0.5), (t_n, 2))
    else:
        raise ValueError(f"unknown motion pattern {m!r}; choose from {', '.join(MOTION_CLASSES)}")
    return dict(centre=centre, angle=angle, scale=scale, shake=shake, bg=bg, radius=radius, aspect=aspect)


def render(spec: ClipSpec, with_flow: bool = False):
    """Render ``spec``: (frames uint8 (T,H,W,3), backward flow float32 (T,H,W,2) or None).

    ``flow[t, y, x]`` = (dx, dy) from pixel (x, y) of frame t to where the same scene point was
    in frame t-1 (backward, the direction motion vectors point); ``flow[0]`` is zero.
    """
    ss = np.random.SeedSequence([spec.seed, spec.label, spec.index])
    rng_motion, rng_tex, rng_noise = (np.random.default_rng(s) for s in ss.spawn(3))
    tr = _trajectory(spec, rng_motion)
    w, h = spec.width, spec.height
    tex_size = 1 << int(math.ceil(math.log2(max(w, h, 64))))
    bg_tex = periodic_texture(rng_tex, tex_size, slope=1.4, contrast=40.0, mean=rng_tex.uniform(90, 160, 3))
    obj_size = 1 << int(math.ceil(math.log2(max(2 * tr["radius"], 32))))
    obj_tex = periodic_texture(rng_tex, obj_size, slope=1.1, contrast=50.0, mean=rng_tex.uniform(60, 200, 3))
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    a_ax, b_ax = tr["radius"], tr["radius"] * tr["aspect"]
    frames = np.empty((spec.frames, h, w, 3), np.uint8)
    flow = np.zeros((spec.frames, h, w, 2), np.float32) if with_flow else None
    prev = None
    for t in range(spec.frames):
        sx, sy = xs + tr["shake"][t, 0], ys + tr["shake"][t, 1]  # scene coordinates
        (cx, cy), th, s = tr["centre"][t], tr["angle"][t], tr["scale"][t]
        c, sn = math.cos(th), math.sin(th)
        # object-local coordinates: rotate by -theta, divide by scale
        qx = (c * (sx - cx) + sn * (sy - cy)) / s
        qy = (-sn * (sx - cx) + c * (sy - cy)) / s
        r = np.sqrt((qx / a_ax) ** 2 + (qy / b_ax) ** 2)
        alpha = np.clip((1.0 - r) * b_ax * s + 0.5, 0.0, 1.0)[..., None]  # 1-pixel anti-aliased rim
        img = sample_wrap(bg_tex, sx + tr["bg"][t, 0], sy + tr["bg"][t, 1])
        inside = alpha[..., 0] > 0
        if inside.any():
            obj = sample_wrap(obj_tex, qx[inside], qy[inside])
            img[inside] = img[inside] * (1 - alpha[inside]) + obj * alpha[inside]
        img += rng_noise.normal(0.0, spec.noise, img.shape)
        frames[t] = np.clip(np.rint(img), 0, 255).astype(np.uint8)
        if with_flow and prev is not None:
            (pcx, pcy), pth, ps = prev
            pc, psn = math.cos(pth), math.sin(pth)
            ox = pcx + ps * (pc * qx - psn * qy) - tr["shake"][t - 1, 0]
            oy = pcy + ps * (psn * qx + pc * qy) - tr["shake"][t - 1, 1]
            d_bg = tr["shake"][t] - tr["shake"][t - 1] + tr["bg"][t] - tr["bg"][t - 1]
            on_obj = alpha[..., 0] >= 0.5
            flow[t, ..., 0] = np.where(on_obj, ox - xs, d_bg[0])
            flow[t, ..., 1] = np.where(on_obj, oy - ys, d_bg[1])
        prev = (tr["centre"][t], tr["angle"][t], tr["scale"][t])
    return frames, flow


class SyntheticMotion(VideoDataset):
    """``num_classes`` (≤ 10) motion classes × ``videos_per_class`` rendered clips.

    Classes, in label order, are the first ``num_classes`` of :data:`MOTION_CLASSES`. Item
    ``i`` is a :class:`~mvclass.datasets.Video` whose ``source()`` renders a (T,H,W,3) uint8
    RGB clip; ``clip(i)`` renders it directly and ``flow(i)`` gives its true backward flow.
    Every fourth video of a class (index 3, 7, ...) is in the "test" split, the rest "train".
    ``size`` is (width, height), both even.
    """

    def __init__(self, num_classes: int = 10, videos_per_class: int = 10, size=(320, 240), frames: int = 32,
                 seed: int = 0, *, noise: float = 2.0):
        if not 1 <= num_classes <= len(MOTION_CLASSES):
            raise ValueError(f"num_classes must be 1..{len(MOTION_CLASSES)}, got {num_classes}")
        if videos_per_class < 1:
            raise ValueError(f"videos_per_class must be >= 1, got {videos_per_class}")
        width, height = (int(x) for x in size)
        if width < 16 or height < 16 or width % 2 or height % 2:
            raise ValueError(f"size must be (width, height), even and at least 16, got {size}")
        if frames < 1:
            raise ValueError(f"frames must be >= 1, got {frames}")
        self.size, self.frames, self.seed = (width, height), int(frames), int(seed)
        classes = list(MOTION_CLASSES[:num_classes])
        videos = []
        for label, motion in enumerate(classes):
            for k in range(videos_per_class):
                spec = ClipSpec(motion, width, height, self.frames, self.seed, label, k, float(noise))
                videos.append(Video(name=f"{motion}_{k:04d}", label=label, label_name=motion,
                                    split="test" if k % 4 == 3 else "train", render=spec))
        super().__init__(videos, classes)

    def clip(self, i: int) -> np.ndarray:
        """Video ``i`` as a (T,H,W,3) uint8 RGB array."""
        return self.videos[i].render()

    def flow(self, i: int) -> np.ndarray:
        """True backward flow of video ``i``: float32 (T,H,W,2), pixels; see :func:`render`."""
        return render(self.videos[i].render, with_flow=True)[1]

    def write(self, directory, fmt: str = "y4m", fps: float = 25.0) -> list[Path]:
        """Write every clip as ``directory/<class>/<name>.<fmt>`` (y4m: raw 4:2:0; avi: lossless FFV1)."""
        if fmt not in ("y4m", "avi"):
            raise ValueError(f"fmt must be 'y4m' or 'avi', got {fmt!r}")
        from mvclass.io import rgb_to_yuv420

        out = []
        for v in self.videos:
            path = Path(directory) / v.label_name / f"{v.name}.{fmt}"
            path.parent.mkdir(parents=True, exist_ok=True)
            clip = v.render()
            if fmt == "y4m":
                w, h = self.size
                num, den = _fps_fraction(fps)
                with open(path, "wb") as f:
                    f.write(f"YUV4MPEG2 W{w} H{h} F{num}:{den} Ip A1:1 C420jpeg\n".encode())
                    for frame in clip:
                        f.write(b"FRAME\n")
                        for plane in rgb_to_yuv420(frame):
                            f.write(plane.tobytes())
            else:
                _write_ffv1(path, clip, fps)
            out.append(path)
        return out


def _fps_fraction(fps: float) -> tuple[int, int]:
    from fractions import Fraction

    f = Fraction(fps).limit_denominator(1001)
    return f.numerator, f.denominator


def _write_ffv1(path: Path, clip: np.ndarray, fps: float) -> None:
    """Lossless FFV1 in AVI of our own 4:2:0 conversion, so it decodes to what .y4m holds."""
    import av
    from fractions import Fraction

    from mvclass.io import rgb_to_yuv420

    h, w = clip.shape[1:3]
    with av.open(str(path), "w") as c:
        st = c.add_stream("ffv1", rate=Fraction(fps).limit_denominator(1001))
        st.width, st.height, st.pix_fmt = w, h, "yuv420p"
        for rgb in clip:
            frame = av.VideoFrame(w, h, "yuv420p")
            for plane, data in zip(frame.planes, rgb_to_yuv420(rgb)):
                buf = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
                buf[:data.shape[0], :data.shape[1]] = data
            for pkt in st.encode(frame):
                c.mux(pkt)
        for pkt in st.encode():
            c.mux(pkt)
