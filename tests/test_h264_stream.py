"""The H.264 stream layer (cpp/jm/stream.cpp): Annex B splitting and emulation prevention,
parameter sets and slice headers, POC, reference lists and marking, through the test-only
bindings ``_core._h264_stream_info`` / ``_h264_split`` / ``_h264_nal_to_rbsp`` /
``_h264_rbsp_to_nal``.

Oracles: FFmpeg (PyAV) for the number of pictures, the encoder's packet pts (decode order in,
display index out) for the display order, the reference streams' known structure, hand-made
streams (parameter sets and slice headers written here bit by bit, no slice data) for POC
types, gaps, MMCO and list modification, and a fuzz loop that must only ever raise."""
from __future__ import annotations

import fractions
import random

import numpy as np
import pytest

from mvclass import _core

from _util import translating_clip

av = pytest.importorskip("av")

P, B, I = 0, 1, 2  # SliceType


# ------------------------------------------------------------------ stream sources

def x264_stream(params: str, n: int = 40, opts: dict | None = None, w: int = 64, h: int = 48,
                pix_fmt: str = "yuv420p"):
    """libx264 through PyAV: (packets in decoding order, their pts = display index)."""
    frames = translating_clip(n, h, w, 3, 1, seed=1)
    c = av.CodecContext.create("libx264", "w")
    c.width, c.height, c.pix_fmt = w, h, pix_fmt
    c.time_base = fractions.Fraction(1, 25)
    c.framerate = 25
    o = {"preset": "fast", "x264-params": params, "qp": "30"}
    o.update(opts or {})
    c.options = o
    packets, pts = [], []
    for i, (y, u, v) in enumerate(frames):
        f = av.VideoFrame(w, h, pix_fmt)
        for plane, a in zip(f.planes, (y, u, v)):
            if plane.line_size != a.shape[1]:  # rows padded to the plane's stride
                a = np.pad(a, ((0, 0), (0, plane.line_size - a.shape[1])))
            plane.update(np.ascontiguousarray(a).tobytes())
        f.pts = i
        for p in c.encode(f):
            packets.append(bytes(p))
            pts.append(p.pts)
    for p in c.encode(None):
        packets.append(bytes(p))
        pts.append(p.pts)
    return packets, pts


def carphone_annexb(shared_data):
    from av.bitstream import BitStreamFilterContext

    with av.open(str(shared_data / "clips" / "carphone_pristine.mp4")) as c:
        s = c.streams.video[0]
        f = BitStreamFilterContext("h264_mp4toannexb", s)
        out, pts = [], []
        for p in c.demux(s):
            for q in f.filter(p):
                out.append(bytes(q))
                pts.append(q.pts)
        for q in f.filter(None):
            out.append(bytes(q))
            pts.append(q.pts)
    return out, pts


def own_stream(n=6, ref_frames=3):
    frames = translating_clip(n, 48, 64, 2, -1)
    enc = _core.Encoder("h264", 64, 48, {"qp": 30, "ref_frames": ref_frames, "intra_period": 4})
    return [enc.encode(*f)["nal_full"] for f in frames]


def ffmpeg_frame_count(data: bytes) -> int:
    c = av.CodecContext.create("h264", "r")
    n = 0
    for p in list(c.parse(data)) + list(c.parse(None)):
        n += len(c.decode(p))
    return n + len(c.decode(None))


def read(path):
    with open(path, "rb") as f:
        return f.read()


# ------------------------------------------------------------------ Annex B and emulation prevention

def check_split(data: bytes):
    s = _core._h264_split(data)
    rebuilt = bytearray()
    for lead_off, lead_size, off, size, typ, ref_idc in s["units"]:
        assert lead_off == len(rebuilt) and off == lead_off + lead_size and size >= 1
        rebuilt += data[lead_off:off + size]
        assert data[off + size - 1] != 0, "a payload never ends in a zero byte"
        assert typ == data[off] & 31 and ref_idc == data[off] >> 5 & 3
        assert data[off - 3:off] == b"\0\0\1"
    tail_off, tail_size = s["tail"]
    assert tail_off == len(rebuilt)
    rebuilt += data[tail_off:tail_off + tail_size]
    assert bytes(rebuilt) == data
    return s["units"]


def test_split_reference_streams_identity(shared_data):
    for name in ("jm_qp30.264", "x264_medium_qp30.264", "jm_qp30_paper_cropped.264"):
        data = read(shared_data / "reference" / name)
        units = check_split(data)
        assert [u[4] for u in units[:2]] == [7, 8]
    units = check_split(b"".join(carphone_annexb(shared_data)[0]))
    assert sum(u[4] in (1, 5) for u in units) == 120


def test_split_start_codes_garbage_and_zeros():
    a, b, c = b"\x67\x42\x00\x1e\xab", b"\x68\xce\x38\x80", b"\x65\x88\x00\x00\x03\x01\x84"
    cases = [
        b"\0\0\1" + a + b"\0\0\1" + b + b"\0\0\0\1" + c,            # 3- and 4-byte start codes
        b"\0\0\0\0\0\1" + a + b"\0\0\0\0\0\1" + b + b"\0\0\1" + c + b"\0\0\0",  # zero padding, trailing zeros
        b"\xff\x12garbage\0\0\1" + a + b"\0\0\1" + c,               # bytes before the first start code
        b"\0\0\1" + a + b"\0\0\0\x05junk\0\0\1" + c + b"\0",        # junk between units goes to the next lead
    ]
    for data in cases:
        units = check_split(data)
        assert data[units[0][2]:units[0][2] + units[0][3]] == a
        assert data[units[-1][2]:units[-1][2] + units[-1][3]] == c
    # where the junk went
    units = check_split(cases[3])
    assert units[1][1] == len(b"\0\0\0\x05junk\0\0\1")
    units = check_split(cases[2])
    assert units[0][0] == 0 and units[0][1] == len(b"\xff\x12garbage\0\0\1")
    assert _core._h264_split(cases[1])["tail"][1] == 3


@pytest.mark.parametrize("data, msg", [
    (b"", "no Annex B start code"),
    (b"\x67\x42\x00\x1e", "no Annex B start code"),
    (b"\0\0\1\0\0\1\x67", "empty NAL unit"),
    (b"\0\0\1\x67\x42\0\0\1", "empty NAL unit"),
    (b"\0\0\1\x67\x42\0\0\1\0\0", "empty NAL unit"),
    (b"\0\0\1\xe7\x42", "forbidden_zero_bit"),
])
def test_split_errors(data, msg):
    with pytest.raises(_core.StreamError, match=msg):
        _core._h264_split(data)


def test_emulation_prevention_round_trip(shared_data):
    # every NAL unit of real streams: RBSP and back gives the payload (the encoders insert
    # exactly the necessary emulation_prevention_three_bytes)
    streams = [read(shared_data / "reference" / n) for n in ("jm_qp30.264", "x264_medium_qp30.264")]
    streams.append(b"".join(carphone_annexb(shared_data)[0]))
    n_ep = 0
    for data in streams:
        for _, _, off, size, _, _ in _core._h264_split(data)["units"]:
            payload = data[off:off + size]
            rbsp = _core._h264_nal_to_rbsp(payload)
            n_ep += size - 1 - len(rbsp)
            assert _core._h264_rbsp_to_nal(payload[0], rbsp) == payload
    assert n_ep > 0
    # random RBSPs rich in zeros, including ones ending in 0x00 (cabac_zero_word)
    rng = random.Random(5)
    for _ in range(2000):
        rbsp = bytes(rng.choice((0, 0, 0, 1, 2, 3, 4, 0x80, 0xff)) for _ in range(rng.randrange(0, 40)))
        if (len(rbsp) - len(rbsp.rstrip(b"\0"))) % 2:
            rbsp += b"\0"  # an RBSP ends in its stop bit or in cabac_zero_words (0x0000)
        nal = _core._h264_rbsp_to_nal(0x65, rbsp)
        body = nal[1:]
        for i in range(len(body) - 2):
            assert not (body[i] == 0 and body[i + 1] == 0 and body[i + 2] <= 2)
        assert body[-1:] != b"\0"
        assert _core._h264_nal_to_rbsp(nal) == rbsp
    # the SVC / MVC header extension (types 14 / 20) is 3 more bytes
    assert _core._h264_nal_to_rbsp(b"\x74\x01\x02\x03\x00\x00\x03\x01") == b"\x00\x00\x01"
    with pytest.raises(ValueError, match="odd number of zero bytes"):
        _core._h264_rbsp_to_nal(0x65, b"\x80\x00")


# ------------------------------------------------------------------ real streams

def display_order_matches(info, pts):
    """Sorting the pictures by (segment, POC) gives the encoder's display order."""
    assert len(info) == len(pts)
    ours = sorted(range(len(info)), key=lambda i: (info[i]["segment"], info[i]["poc"]))
    theirs = sorted(range(len(pts)), key=lambda i: pts[i])
    assert ours == theirs


def test_reference_streams(shared_data):
    for name in ("x264_medium_qp30.264", "jm_qp30.264"):
        data = read(shared_data / "reference" / name)
        info = _core._h264_stream_info(data)
        # 296 frames (the Boxing clip). JM writes one out-of-range abs_diff_pic_num_minus1 (17
        # with MaxPicNum 16: FFmpeg logs "abs_diff_pic_num overflow"), which ref_lists reduces
        assert len(info) == ffmpeg_frame_count(data) == 296
        assert [p["poc"] for p in info] == [2 * i for i in range(296)]  # all P after one IDR, POC type 0
        assert [p["idr"] for p in info].count(True) == 1
        assert all(p["segment"] == 0 for p in info)
        assert [p["frame_num"] for p in info] == [i % 16 for i in range(296)]
        for i, p in enumerate(info):
            s = p["slices"][0]
            assert s["type"] == (I if i == 0 or (name == "jm_qp30.264" and i % 100 == 0) else P)
            assert len(p["dpb"]) <= p["max_num_ref_frames"] and s["header_bits"] < s["rbsp_bits"]
            if s["type"] == P:
                assert s["l0_poc"] and None not in s["l0_poc"]
                assert all(poc < p["poc"] for poc in s["l0_poc"])
                if s["mod"] == (0, 0):  # initial order: nearest first
                    assert s["l0_poc"] == sorted(s["l0_poc"], reverse=True)
                assert s["l0_poc"][0] == p["poc"] - 2 or s["mod"][0]
            if s["cabac"]:
                assert s["align_ones"]


def test_paper_cropped_jm_stream_has_the_same_headers(shared_data):
    # the paper's cropped JM stream (non-conforming slice data) keeps every header: same
    # pictures, POCs, lists and header lengths as the full stream
    def summary(name):
        info = _core._h264_stream_info(read(shared_data / "reference" / name))
        return [(p["poc"], p["frame_num"], [(s["type"], s["l0_id"], s["header_bits"]) for s in p["slices"]])
                for p in info]
    full = summary("jm_qp30.264")
    assert len(full) == 296 and summary("jm_qp30_paper_cropped.264") == full


def test_carphone_cabac_b_frames(shared_data):
    packets, pts = carphone_annexb(shared_data)
    data = b"".join(packets)
    info = _core._h264_stream_info(data)
    assert len(info) == ffmpeg_frame_count(data) == 120
    display_order_matches(info, pts)
    assert {p["slices"][0]["type"] for p in info} == {I, P, B}
    check_b_lists(info, pts)
    for p in info:
        for s in p["slices"]:
            assert s["cabac"] and s["align_ones"]


def test_own_encoder_stream():
    nals = own_stream(n=9, ref_frames=3)
    info = _core._h264_stream_info(b"".join(nals))
    assert len(info) == 9
    assert [p["poc"] for p in info] == [0, 2, 4, 6, 0, 2, 4, 6, 0]  # POC type 2, IDR every 4
    assert [p["segment"] for p in info] == [0, 0, 0, 0, 1, 1, 1, 1, 2]
    assert all(p["poc_type"] == 2 for p in info)
    for p in info:
        s = p["slices"][0]
        if s["type"] == P:
            k = p["poc"] // 2
            assert s["l0_poc"][:k] == [p["poc"] - 2 * j for j in range(1, min(k, 3) + 1)]


def check_b_lists(info, pts):
    """L0[0] of an unmodified B slice is the nearest earlier reference in display order, L1[0]
    the nearest later one, among the reference pictures decoded before it in its segment
    (an independent model: x264 keeps every reference of a GOP here)."""
    n_b = 0
    by_id = {p["id"]: i for i, p in enumerate(info)}
    for i, p in enumerate(info):
        for s in p["slices"]:
            if s["type"] != B or s["mod"] != (0, 0):
                continue
            prev_refs = [j for j in range(i) if info[j]["nal_ref_idc"] and info[j]["segment"] == p["segment"]]
            held = {by_id[e[0]] for e in info[i - 1]["dpb"]}
            refs = [j for j in prev_refs if j in held]
            before = [j for j in refs if pts[j] < pts[i]]
            after = [j for j in refs if pts[j] > pts[i]]
            if before and after:
                assert by_id[s["l0_id"][0]] == max(before, key=lambda j: pts[j])
                assert by_id[s["l1_id"][0]] == min(after, key=lambda j: pts[j])
                n_b += 1
    assert n_b > 0


X264_MATRIX = [
    ("bframes=0:ref=1:keyint=8", None),
    ("bframes=0:ref=4:keyint=15:weightp=2", None),
    ("bframes=0:ref=16:keyint=16:weightp=0:slices=4", None),
    ("bframes=0:pulldown=32:ref=2:keyint=12", None),
    ("bframes=3:b-pyramid=normal:ref=4:keyint=12", None),
    ("bframes=3:b-pyramid=strict:ref=4:keyint=12:weightp=2", None),
    ("bframes=3:b-pyramid=normal:ref=16:keyint=20:slices=4:weightp=2", None),
    ("bframes=3:b-pyramid=none:ref=1:keyint=10:cabac=0", None),
    ("bframes=2:b-pyramid=strict:ref=3:keyint=16:slices=4:cabac=0:8x8dct=0", None),
    ("bframes=2:nal-hrd=cbr:ref=3:keyint=12", {"b": "200k", "maxrate": "200k", "bufsize": "200k"}),
    ("bframes=2:keyint=14:cqm4=" + ",".join(str(6 + 3 * i) for i in range(16))   # PPS scaling lists
     + ":cqm8=" + ",".join(str(10 + i) for i in range(64)), None),
    ("bframes=2:weightp=2:ref=3:keyint=14", {"pix_fmt": "gray"}),  # 4:0:0: no chroma weights
    ("bframes=0:keyint=14", {"size": (70, 42)}),             # frame cropping
    ("bframes=3:open-gop=1:keyint=12:ref=3", None),          # non-IDR I pictures, one IDR
    ("bframes=0:intra-refresh=1:keyint=10:ref=2", None),     # no I picture after the first
]


@pytest.mark.parametrize("params, opts", X264_MATRIX)
def test_x264_matrix(params, opts):
    opts = dict(opts or {})
    pix_fmt, (w, h) = opts.pop("pix_fmt", "yuv420p"), opts.pop("size", (64, 48))
    packets, pts = x264_stream(params, n=40, opts=opts, w=w, h=h, pix_fmt=pix_fmt)
    data = b"".join(packets)
    info = _core._h264_stream_info(data)
    assert len(info) == len(packets) == ffmpeg_frame_count(data)
    display_order_matches(info, pts)
    bframes = "bframes=0" not in params
    assert all(p["poc_type"] == (0 if bframes else 2) for p in info)
    assert sum(p["idr"] for p in info) == 1 if "open-gop" in params or "intra-refresh" in params else \
        sum(p["idr"] for p in info) >= 2
    segments = [p["segment"] for p in info]
    assert segments == [sum(q["idr"] for q in info[:i + 1]) - 1 for i in range(len(info))]
    sliced = "slices=4" in params  # 3 macroblock rows: x264 makes 3 slices
    assert all(p["size"] == (w, h) and p["chroma_format_idc"] == (0 if pix_fmt == "gray" else 1) for p in info)
    assert all(p["vui"][:2] == (1, 50) for p in info)  # x264: num_units_in_tick 1, time_scale 2 * 25
    if "cqm4" in params:
        assert info[0]["scaling_matrix"] == (False, True) and info[0]["transform_8x8_mode"]
    types = set()
    for i, p in enumerate(info):
        assert len(p["slices"]) == (3 if sliced else 1)
        assert [s["first_mb"] for s in p["slices"]] == sorted({s["first_mb"] for s in p["slices"]})
        assert len(p["dpb"]) <= max(p["max_num_ref_frames"], 1)
        assert p["non_existing_before"] == 0
        for s in p["slices"]:
            types.add(s["type"])
            assert len(s["l0_id"]) == s["num_ref"][0] and len(s["l1_id"]) == s["num_ref"][1]
            assert None not in s["l0_id"] + s["l1_id"]
            assert s["header_bits"] < s["rbsp_bits"]
            if s["cabac"]:
                assert s["align_ones"]
            if s["type"] == P:
                assert all(pts[j] < pts[i] for j in (by_id(info, r) for r in s["l0_id"]))
                if s["mod"] == (0, 0):  # descending PicNum: most recently decoded first
                    assert s["l0_id"] == sorted(s["l0_id"], reverse=True)
    assert B in types if bframes else B not in types
    if bframes:
        check_b_lists(info, pts)


def test_cut_stream_open_gop():
    """A stream cut before a non-IDR I picture of an open GOP (parameter sets put in front): the
    reader starts there; its leading B pictures' references from before the cut are missing,
    so their lists hold what the DPB has, as any decoder's would."""
    packets, pts = x264_stream("bframes=3:open-gop=1:keyint=12:ref=3")
    full = _core._h264_stream_info(b"".join(packets))
    k = next(i for i in range(1, len(full)) if full[i]["slices"][0]["type"] == I)
    params = packets[0][:_core._h264_split(packets[0])["units"][2][0]]  # SPS, PPS
    info = _core._h264_stream_info(params + b"".join(packets[k:]))
    assert len(info) == len(packets) - k and not info[0]["idr"]
    display_order_matches(info, pts[k:])
    assert [p["poc"] - info[0]["poc"] for p in info] == [p["poc"] - full[k]["poc"] for p in full[k:]]
    assert info[1]["slices"][0]["type"] == B and info[1]["slices"][0]["l0_id"][0] == info[0]["id"]
    # from the first P on, the lists match the full stream's (by POC)
    j = next(i for i in range(1, len(info)) if info[i]["slices"][0]["type"] == P)
    for a, b in zip(info[j + 1:], full[k + j + 1:]):
        assert a["slices"][0]["l0_poc"] == b["slices"][0]["l0_poc"]


def test_x264_1080p_cropping():
    packets, _ = x264_stream("bframes=0:keyint=3", n=3, w=1920, h=1080, opts={"preset": "ultrafast"})
    info = _core._h264_stream_info(b"".join(packets))
    assert len(info) == 3 and all(p["size"] == (1920, 1080) for p in info)


def by_id(info, pic_id):
    for j, p in enumerate(info):
        if p["id"] == pic_id:
            return j
    raise KeyError(pic_id)


@pytest.mark.parametrize("pix_fmt, params, opts, msg", [
    ("yuv422p", "", None, "4:2:2"),
    ("yuv444p", "", None, "4:4:4"),
    ("yuv420p", "interlaced=1", None, "frame_mbs_only_flag 0"),
    ("yuv420p", "", {"qp": "0"}, "lossless"),
])
def test_x264_unsupported(pix_fmt, params, opts, msg):
    c = av.CodecContext.create("libx264", "w")
    c.width, c.height, c.pix_fmt = 64, 48, pix_fmt
    c.time_base = fractions.Fraction(1, 25)
    o = {"preset": "fast", "x264-params": params, "qp": "30"}
    o.update(opts or {})
    c.options = o
    f = av.VideoFrame(64, 48, pix_fmt)
    f.pts = 0
    data = b"".join(bytes(p) for p in list(c.encode(f)) + list(c.encode(None)))
    with pytest.raises(ValueError, match=msg):
        _core._h264_stream_info(data)


# ------------------------------------------------------------------ hand-made streams

class Bits:
    def __init__(self):
        self.bits: list[int] = []

    def u(self, v, n):
        self.bits += [(v >> (n - 1 - i)) & 1 for i in range(n)]
        return self

    def ue(self, v):
        v += 1
        self.bits += [0] * (v.bit_length() - 1)
        return self.u(v, v.bit_length())

    def se(self, v):
        return self.ue(2 * v - 1 if v > 0 else -2 * v)

    def rbsp(self):
        bits = self.bits + [1]
        bits += [0] * (-len(bits) % 8)
        return bytes(int("".join(map(str, bits[i:i + 8])), 2) for i in range(0, len(bits), 8))


def nal(ref_idc, typ, rbsp):
    return b"\0\0\0\1" + _core._h264_rbsp_to_nal((ref_idc << 5) | typ, rbsp)


class Seq:
    """A hand-written stream: SPS + PPS, then slice headers (no slice data is parsed here)."""

    def __init__(self, profile=77, log2_mfn=4, poc_type=0, log2_lsb=6, poc1=None, max_refs=4, gaps=0,
                 mbw=4, mbh=3, chroma=1, bit_depth=8, frame_mbs_only=1, num_ref=(1, 1), slice_groups=1,
                 scaling=None, redundant=0):
        self.log2_mfn, self.poc_type, self.log2_lsb, self.poc1 = log2_mfn, poc_type, log2_lsb, poc1
        w = Bits().u(profile, 8).u(0, 8).u(30, 8).ue(0)
        if profile in (100, 110, 122, 244):
            w.ue(chroma)
            if chroma == 3:
                w.u(0, 1)
            w.ue(bit_depth - 8).ue(bit_depth - 8).u(0, 1).u(scaling is not None, 1)
            if scaling is not None:  # {list index: delta_scale values}; absent lists use fall-back
                for i in range(8):
                    w.u(i in scaling, 1)
                    for d in scaling.get(i, []):
                        w.se(d)
        w.ue(log2_mfn - 4).ue(poc_type)
        if poc_type == 0:
            w.ue(log2_lsb - 4)
        elif poc_type == 1:
            always0, non_ref, t2b, offsets = poc1
            w.u(always0, 1).se(non_ref).se(t2b).ue(len(offsets))
            for o in offsets:
                w.se(o)
        w.ue(max_refs).u(gaps, 1).ue(mbw - 1).ue(mbh - 1).u(frame_mbs_only, 1)
        if not frame_mbs_only:
            w.u(0, 1)
        w.u(1, 1).u(0, 1).u(0, 1)  # direct_8x8_inference, no cropping, no VUI
        p = Bits().ue(0).ue(0).u(0, 1).u(0, 1).ue(slice_groups - 1)
        if slice_groups > 1:
            p.ue(0)
            for _ in range(slice_groups):
                p.ue(0)
        p.ue(num_ref[0] - 1).ue(num_ref[1] - 1).u(0, 1).u(0, 2).se(0).se(0).se(0).u(1, 1).u(0, 1).u(redundant, 1)
        self.redundant = redundant
        self.data = nal(3, 7, w.rbsp()) + nal(3, 8, p.rbsp())

    def slice(self, typ, frame_num, idr=False, ref_idc=2, poc_lsb=0, delta_poc=0, num_ref=None, mod=(None, None),
              mmco=None, long_term=False, first_mb=0, qp_delta=0, raw_type=None, redundant_pic_cnt=0):
        w = Bits().ue(first_mb).ue(raw_type if raw_type is not None else typ + 5).ue(0).u(frame_num, self.log2_mfn)
        if idr:
            w.ue(0)
        if self.poc_type == 0:
            w.u(poc_lsb, self.log2_lsb)
        if self.poc_type == 1 and not self.poc1[0]:
            w.se(delta_poc)
        if self.redundant:
            w.ue(redundant_pic_cnt)
        if typ == B:
            w.u(1, 1)
        if typ in (P, B):
            if num_ref:
                w.u(1, 1).ue(num_ref[0] - 1)
                if typ == B:
                    w.ue(num_ref[1] - 1)
            else:
                w.u(0, 1)
            for lst in range(2 if typ == B else 1):
                if mod[lst] is None:
                    w.u(0, 1)
                else:
                    w.u(1, 1)
                    for idc, val in mod[lst]:
                        w.ue(idc).ue(val)
                    w.ue(3)
        if ref_idc:
            if idr:
                w.u(0, 1).u(int(long_term), 1)
            elif mmco is None:
                w.u(0, 1)
            else:
                w.u(1, 1)
                for op in mmco:
                    for v in op:
                        w.ue(v)
                w.ue(0)
        w.se(qp_delta).ue(1)  # slice_qp_delta, disable_deblocking_filter_idc 1
        self.data += nal(ref_idc, 5 if idr else 1, w.rbsp())
        return self

    def info(self):
        return _core._h264_stream_info(self.data)


def test_poc_type0_msb_wrap():
    s = Seq(log2_lsb=4)
    s.slice(I, 0, idr=True, ref_idc=3)
    for i in range(1, 21):
        s.slice(P, i % 16, poc_lsb=(2 * i) % 16)
    assert [p["poc"] for p in s.info()] == [2 * i for i in range(21)]
    # a non-reference B picture between: its POC counts from the previous *reference* picture
    s = Seq(log2_lsb=4)
    s.slice(I, 0, idr=True, ref_idc=3).slice(P, 1, poc_lsb=8).slice(B, 2, ref_idc=0, poc_lsb=4, num_ref=(2, 2))
    s.slice(P, 2, poc_lsb=14).slice(P, 3, poc_lsb=4)  # 14, then 20 (lsb wrapped)
    info = s.info()
    assert [p["poc"] for p in info] == [0, 8, 4, 14, 20]
    assert info[2]["slices"][0]["l0_poc"] == [0, 8] and info[2]["slices"][0]["l1_poc"] == [8, 0]


def test_poc_type1():
    offsets = [4, 2]

    def expected(fn_abs, ref, delta=0):
        a = fn_abs - (0 if ref or fn_abs == 0 else 1)
        e = 0
        if a > 0:
            e = (a - 1) // 2 * sum(offsets) + sum(offsets[:(a - 1) % 2 + 1])
        top = e + (0 if ref else -3) + delta
        return min(top, top + 1)  # offset_for_top_to_bottom_field 1

    s = Seq(poc_type=1, poc1=(0, -3, 1, offsets))
    s.slice(I, 0, idr=True, ref_idc=3)
    want = [0]
    for i in range(1, 22):
        s.slice(P, i % 16, delta_poc=-1 if i == 7 else 0)
        want.append(expected(i, True, -1 if i == 7 else 0))
        if i % 5 == 0:  # a non-reference picture after it, frame_num one on
            s.slice(B, (i + 1) % 16, ref_idc=0, num_ref=(1, 1))
            want.append(expected(i + 1, False))
    assert [p["poc"] for p in s.info()] == want
    assert want[:4] == [0, 4, 6, 10]


def test_sps_scaling_lists():
    # list 0: 16 deltas (no zero scale), list 1: a zero scale at j = 0 ("use default"), list 6:
    # 64 deltas; then the rest of the SPS must still be in sync (trailing bits are checked)
    lists = {0: [1] * 16, 1: [-8], 6: [2, -1] * 32}
    s = Seq(profile=100, scaling=lists)
    s.slice(I, 0, idr=True, ref_idc=3)
    assert s.info()[0]["scaling_matrix"] == (True, False)
    with pytest.raises(_core.StreamError, match="delta_scale = 128 out of range"):
        Seq(profile=100, scaling={0: [128] + [0] * 15}).info()
    with pytest.raises(_core.StreamError, match="SPS: truncated: read past the end of the RBSP"):
        Seq(profile=100, scaling={0: [1] * 15}).info()  # one delta short: out of sync


def test_poc_type2_and_non_reference():
    s = Seq(poc_type=2)
    s.slice(I, 0, idr=True, ref_idc=3).slice(P, 1).slice(P, 2, ref_idc=0).slice(P, 2).slice(P, 3)
    info = s.info()
    assert [p["poc"] for p in info] == [0, 2, 3, 4, 6]
    assert [len(p["dpb"]) for p in info] == [1, 2, 2, 3, 4]  # the non-reference picture is not stored
    assert info[3]["slices"][0]["l0_poc"] == [2]


def test_frame_num_gaps():
    s = Seq(poc_type=2, gaps=1, max_refs=3, num_ref=(3, 1))
    s.slice(I, 0, idr=True, ref_idc=3).slice(P, 1).slice(P, 4).slice(P, 5)
    info = s.info()
    assert [p["id"] for p in info] == [0, 1, 4, 5]
    assert info[2]["non_existing_before"] == 2
    # non-existing frames 2 and 3 went through the sliding window (frame 0 left), then are listed
    assert info[2]["slices"][0]["l0_id"] == [3, 2, 1]
    assert [(e[0], e[3]) for e in info[2]["dpb"]] == [(2, True), (3, True), (4, False)]
    assert info[3]["slices"][0]["l0_id"] == [4, 3, 2]
    # POC type 0: non-existing frames are not in B slices' lists (8.2.4.2.3), but are in P lists
    s = Seq(log2_lsb=6, gaps=1, max_refs=5, num_ref=(4, 4))
    s.slice(I, 0, idr=True, ref_idc=3).slice(P, 1, poc_lsb=8).slice(P, 4, poc_lsb=16)
    s.slice(B, 5, ref_idc=0, poc_lsb=12)
    info = s.info()
    assert info[2]["slices"][0]["l0_id"] == [3, 2, 1, 0]
    assert info[3]["slices"][0]["l0_id"] == [1, 0, 4, None] and info[3]["slices"][0]["l1_id"] == [4, 1, 0, None]
    # without gaps_in_frame_num_value_allowed_flag the gap is an error naming it
    s = Seq(poc_type=2, gaps=0)
    s.slice(I, 0, idr=True, ref_idc=3).slice(P, 1).slice(P, 4)
    with pytest.raises(_core.StreamError, match="gap in frame_num"):
        s.info()
    # frame_num wrapping is not a gap
    s = Seq(poc_type=2, max_refs=2)
    s.slice(I, 0, idr=True, ref_idc=3)
    for i in range(1, 40):
        s.slice(P, i % 16)
    assert len(s.info()) == 40


def test_marking_long_term_and_mmco():
    s = Seq(poc_type=2, max_refs=4, num_ref=(4, 1))
    s.slice(I, 0, idr=True, ref_idc=3)
    s.slice(P, 1, mmco=[(4, 2), (6, 0)])      # MaxLongTermFrameIdx 1; the current frame long-term 0
    s.slice(P, 2)
    s.slice(P, 3, mmco=[(3, 0, 1)])           # picNum 2 (frame 2) -> long-term 1
    s.slice(P, 4, mmco=[(2, 0)])              # long-term 0 (frame 1) unused
    s.slice(P, 5, mmco=[(1, 4)])              # picNum 0 (the IDR) unused
    s.slice(P, 6, mod=([(2, 1)], None))       # long-term picture 1 first
    s.slice(P, 7, mmco=[(5,)])                # everything unused, new segment
    s.slice(P, 1)
    info = s.info()
    l0 = [p["slices"][0]["l0_id"] for p in info]
    assert l0[2] == [0, 1, None, None]        # short-term (desc PicNum), then long-term, then none
    assert info[2]["slices"][0]["l0_long"] == [False, True, None, None]
    assert l0[3] == [2, 0, 1, None]
    assert l0[4] == [3, 0, 1, 2]              # long-term ascending LongTermPicNum: frame 1 (0), frame 2 (1)
    assert l0[5] == [4, 3, 0, 2]
    assert l0[6] == [2, 5, 4, 3]              # modified: long-term 1 first, others follow
    assert [(e[0], e[2]) for e in info[6]["dpb"]] == [(2, 1), (4, -1), (5, -1), (6, -1)]  # sliding window took 3
    assert {e[0] for e in info[5]["dpb"]} == {2, 3, 4, 5}
    # MMCO 5: the picture's POC becomes 0 in a new segment, frame_num counts from 0 again
    assert info[7]["mmco5"] and info[7]["segment"] == 1 and info[7]["poc"] == 0
    assert [e[0] for e in info[7]["dpb"]] == [7]
    assert info[8]["segment"] == 1 and info[8]["poc"] == 2 and l0[8] == [7, None, None, None]


def test_mmco5_poc_type0():
    s = Seq(log2_lsb=6, max_refs=2)
    s.slice(I, 0, idr=True, ref_idc=3).slice(P, 1, poc_lsb=4).slice(P, 2, poc_lsb=8, mmco=[(5,)])
    s.slice(B, 1, ref_idc=0, poc_lsb=2, num_ref=(1, 1)).slice(P, 1, poc_lsb=6)
    info = s.info()
    assert [(p["segment"], p["poc"]) for p in info] == [(0, 0), (0, 4), (1, 0), (1, 2), (1, 6)]


def test_idr_long_term_and_list_modification_wrap():
    s = Seq(poc_type=2, max_refs=3, num_ref=(2, 1))
    s.slice(I, 0, idr=True, ref_idc=3, long_term=True)
    s.slice(P, 1)
    info = s.info()
    assert info[0]["long_term"] and info[0]["dpb"][0][2] == 0
    assert info[1]["slices"][0]["l0_id"] == [0, None] and info[1]["slices"][0]["l0_long"] == [True, None]
    # short-term modification across the frame_num wrap, and JM's out-of-range difference
    s = Seq(poc_type=2, max_refs=3, num_ref=(3, 1))
    s.slice(I, 0, idr=True, ref_idc=3)
    for i in range(1, 17):
        s.slice(P, i % 16)  # frames 14, 15, 0 are held when frame_num 1 comes
    s.slice(P, 1, mod=([(0, 1)], None))       # picNumPred 1 - 2 wraps to 15 -> PicNum -1: frame 15
    s.slice(P, 2, mod=([(0, 17), (1, 0)], None))  # 17 taken modulo 16 -> PicNum 0 (frame 0), then +1 -> frame 1
    info = s.info()
    fn = {p["id"]: p["frame_num"] for p in info}
    assert [fn[i] for i in info[17]["slices"][0]["l0_id"]] == [15, 0, 14]
    assert [fn[i] for i in info[18]["slices"][0]["l0_id"]] == [0, 1, 15]
    # a modification naming a missing picture is an error (the stream started with an IDR)
    s = Seq(poc_type=2, max_refs=3, num_ref=(2, 1))
    s.slice(I, 0, idr=True, ref_idc=3).slice(P, 1, mod=([(1, 3)], None))
    with pytest.raises(_core.StreamError, match="not a short-term reference"):
        s.info()


def test_b_list_swap_truncation_extension():
    for num_ref, l0, l1 in (((2, 2), [8, 0], [0, 8]), ((1, 1), [8], [0]), ((3, 3), [8, 0, None], [0, 8, None])):
        s = Seq(log2_lsb=6, num_ref=num_ref)
        s.slice(I, 0, idr=True, ref_idc=3).slice(P, 1, poc_lsb=8).slice(B, 2, ref_idc=0, poc_lsb=12)
        sl = s.info()[2]["slices"][0]
        assert sl["l0_poc"] == l0 and sl["l1_poc"] == l1  # equal initial lists: L1's first two swapped


def test_b_lists_with_long_term_and_redundant_slices():
    s = Seq(log2_lsb=6, max_refs=4, num_ref=(4, 4), redundant=1)
    s.slice(I, 0, idr=True, ref_idc=3, long_term=True)       # long-term 0, POC 0
    s.slice(I, 0, idr=True, ref_idc=3, redundant_pic_cnt=1)  # a redundant copy: not a picture
    s.slice(P, 1, poc_lsb=4).slice(P, 2, poc_lsb=16).slice(B, 3, ref_idc=0, poc_lsb=8)
    info = s.info()
    assert len(info) == 4 and len(info[0]["slices"]) == 1
    sl = info[3]["slices"][0]
    assert sl["l0_poc"] == [4, 16, 0, None] and sl["l1_poc"] == [16, 4, 0, None]  # long-term last
    assert sl["l0_long"] == [False, False, True, None]


def test_marking_overflow_is_an_error():
    s = Seq(poc_type=2, max_refs=2)
    s.slice(I, 0, idr=True, ref_idc=3).slice(P, 1, mmco=[(4, 1)]).slice(P, 2, mmco=[(4, 1)])
    with pytest.raises(_core.StreamError, match="overflow"):
        s.info()


@pytest.mark.parametrize("kw, slice_kw, msg", [
    (dict(profile=100, chroma=2), None, "4:2:2"),
    (dict(profile=100, bit_depth=10), None, "bit depth 10"),
    (dict(frame_mbs_only=0), None, "frame_mbs_only_flag 0"),
    (dict(slice_groups=2), None, "FMO"),
    ({}, dict(raw_type=3), "slice type SP"),
    ({}, dict(raw_type=9), "slice type SI"),
])
def test_unsupported(kw, slice_kw, msg):
    s = Seq(**kw)
    if slice_kw is not None:
        s.slice(I, 0, idr=True, ref_idc=3).slice(P, 1, **slice_kw)
    with pytest.raises(ValueError, match=msg):
        s.info()


@pytest.mark.parametrize("typ, msg", [(2, "data partitioning"), (20, "MVC"), (14, "SVC"), (15, "SVC")])
def test_unsupported_nal_types(typ, msg):
    s = Seq()
    s.slice(I, 0, idr=True, ref_idc=3)
    s.data += nal(2, typ, b"\x80\x00\x00\x80")
    with pytest.raises(ValueError, match=msg):
        s.info()


@pytest.mark.parametrize("slice_kw, msg", [
    (dict(qp_delta=30), "SliceQPY 56"),
    (dict(first_mb=12), "first_mb_in_slice 12"),
    (dict(num_ref=(17, 1)), "exceeds 16"),
    (dict(raw_type=10), "slice_type = 10"),
])
def test_slice_header_ranges(slice_kw, msg):
    s = Seq(mbw=4, mbh=3)
    s.slice(I, 0, idr=True, ref_idc=3).slice(P, 1, **slice_kw)
    with pytest.raises(_core.StreamError, match=msg):
        s.info()
    s = Seq()
    s.data = s.data[:s.data.index(b"\0\0\0\1", 4)]  # SPS only
    s.slice(I, 0, idr=True, ref_idc=3)
    with pytest.raises(_core.StreamError, match="PPS 0, which was not received"):
        s.info()


def test_stream_starting_without_idr_is_lenient():
    # a stream cut before a non-IDR picture: references named by list modification or MMCO may
    # be missing (the entry is None, the MMCO is ignored) until the next IDR
    s = Seq(poc_type=2, max_refs=3, num_ref=(3, 1))
    s.slice(P, 2).slice(P, 3, mmco=[(1, 1)], mod=([(0, 1)], None)).slice(P, 4)
    info = s.info()
    assert len(info) == 3 and info[1]["slices"][0]["l0_id"] == [None, 0, None]
    assert info[2]["slices"][0]["l0_id"] == [1, 0, None]
    s.slice(I, 0, idr=True, ref_idc=3).slice(P, 1, mmco=[(1, 3)])
    with pytest.raises(_core.StreamError, match="MMCO 1 names picNum"):
        s.info()


# ------------------------------------------------------------------ fuzz

def fuzz_inputs(shared_data, rng, with_encoder=True):
    bases = [b"".join(x264_stream("bframes=3:b-pyramid=normal:ref=3:keyint=6:slices=2:weightp=2", n=14)[0]),
             b"".join(x264_stream("bframes=0:ref=2:keyint=5:cabac=0", n=10)[0]),
             read(shared_data / "reference" / "jm_qp30.264")[:40000],
             b"".join(carphone_annexb(shared_data)[0][:12]),
             b"".join(own_stream(n=5)) if with_encoder else b"\0\0\1\x09\xf0"]
    # bias mutations towards the headers: the first bytes of each NAL unit
    for _ in range(3000):
        data = bytearray(rng.choice(bases))
        units = _core._h264_split(bytes(data))["units"]
        for _ in range(rng.randint(1, 6)):
            u = rng.choice(units)
            pos = min(u[2] + min(rng.randrange(0, 24), u[3] - 1), len(data) - 1)  # (earlier edits shift)
            r = rng.random()
            if r < 0.6:
                data[pos] ^= 1 << rng.randrange(8)
            elif r < 0.8:
                data[pos] = rng.randrange(256)
            elif r < 0.9:
                del data[pos:pos + rng.randint(1, 8)]
            else:
                data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
            if len(data) < 8:
                break
        if rng.random() < 0.2:
            data = data[:rng.randrange(len(data) + 1)]
        yield bytes(data)
    # streams of random units behind valid parameter sets (and some without them)
    params = bases[0][:_core._h264_split(bases[0])["units"][2][0]]
    for _ in range(1000):
        units = []
        for _ in range(rng.randint(1, 8)):
            head = rng.choice((0x65, 0x41, 0x01, 0x21, 0x67, 0x68, 0x06, 0x09, rng.randrange(256)))
            units.append(b"\0\0\1" + bytes([head]) + bytes(rng.randrange(256) for _ in range(rng.randint(0, 30))))
        yield (params if rng.random() < 0.8 else b"") + b"".join(units)


def test_fuzz_never_crashes(shared_data):
    rng = random.Random(1234)
    outcomes = {"ok": 0, "StreamError": 0, "ValueError": 0}
    for data in fuzz_inputs(shared_data, rng):
        try:
            _core._h264_stream_info(data)
            outcomes["ok"] += 1
        except ValueError as e:  # StreamError (corrupt data) is a ValueError; so is Unsupported
            outcomes[type(e).__name__] += 1
            assert str(e)
    assert outcomes["ok"] > 0 and outcomes["StreamError"] > 0
