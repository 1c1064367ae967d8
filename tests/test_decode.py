"""The FFmpeg oracle itself: it must accept real encoders' streams and reject broken ones,
or the conformance tests built on it would prove nothing."""
import numpy as np
import pytest

from mvclass.decode import decode, exported_motion, sniff_codec


@pytest.fixture(scope="module")
def ref(shared_data):
    return shared_data / "reference"


def test_production_streams_decode_strictly(ref):
    assert len(decode(ref / "x264_medium_qp30.264")) == 296
    frames = decode((ref / "x265_medium_qp30.265").read_bytes())  # codec sniffed from the NAL header
    assert len(frames) == 296 and frames[0][0].shape == (240, 320)


def test_exported_motion_of_x264_stream(ref):
    mv, valid = exported_motion(ref / "x264_medium_qp30.264")
    assert mv.shape == (296, 60, 80, 2) and valid.shape == (296, 60, 80)
    assert not valid[0].any()           # the IDR picture has no motion
    assert valid[1:].mean() > 0.5       # P-pictures: mostly inter/skip blocks
    assert np.abs(mv[valid]).max() > 0  # the boxer's bag moves


def test_paper_jm_cropped_stream_is_rejected(ref):
    # Residual syntax removed while the CBP still announces it: not conforming.
    with pytest.raises(ValueError, match="could not decode"):
        decode(ref / "jm_qp30_paper_cropped.264")


def test_paper_hm_cropped_stream_decodes_to_garbage(ref):
    full = decode(ref / "hm_qp30.265")
    crop = decode(ref / "hm_qp30_paper_cropped.265")  # no error at all...
    assert len(crop) == len(full) == 296
    # ...yet even the first picture is far from what the full stream shows.
    assert np.abs(full[0][0].astype(int) - crop[0][0]).mean() > 30


def test_codec_sniffing_and_errors(ref, tmp_path):
    assert sniff_codec((ref / "jm_qp30.264").read_bytes()[:64]) == "h264"
    assert sniff_codec((ref / "hm_qp30.265").read_bytes()[:64]) == "hevc"
    with pytest.raises(FileNotFoundError):
        decode(tmp_path / "missing.264")
    with pytest.raises(ValueError, match="empty"):
        decode(b"")
    with pytest.raises(ValueError, match="start code"):
        decode(b"not a video stream")
    with pytest.raises(ValueError, match="unknown codec"):
        decode(ref / "jm_qp30.264", codec="vp9")
