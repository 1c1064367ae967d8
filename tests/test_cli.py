"""The README's first command (`mvclass demo`) and the encode command on both codecs."""
import subprocess
import sys

import numpy as np
import pytest

from mvclass.cli import main


def test_demo_prints_rate_table(capsys, tmp_path):
    assert main(["demo", "--frames", "8", "--qp", "30", "51", "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Rorig" in out and out.count("h264") >= 2 and out.count("hevc") >= 2
    assert (tmp_path / "sample_hevc_qp51.265").stat().st_size > 0
    assert (tmp_path / "sample_h264_qp30.cropped.264").stat().st_size > 0


def test_encode_hevc_writes_streams(boxing_clip, tmp_path, capsys):
    assert main(["encode", str(boxing_clip), "--codec", "hevc", "--qp", "30", "40", "--max-frames", "4",
                 "--ctu-size", "32", "--max-depth", "2", "--sao", "off", "-q", "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("hevc") >= 2
    from mvclass.decode import decode
    assert len(decode(tmp_path / "v_BoxingPunchingBag_g05_c01_qp40.cropped.265")) == 4


def test_wrong_codec_option_is_a_clean_error(boxing_clip, capsys):
    assert main(["encode", str(boxing_clip), "--codec", "h264", "--ctu-size", "32", "-q"]) == 2
    assert "ctu_size" in capsys.readouterr().err


def test_console_entry_point_runs():
    r = subprocess.run([sys.executable, "-m", "mvclass", "--help"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "encode" in r.stdout and "build-dataset" in r.stdout


def test_bad_numbers_are_rejected_by_the_parser(capsys):
    from mvclass.cli import main

    for argv in (["demo", "--frames", "-5"], ["demo", "--frames", "0"], ["encode", "x.yuv", "--width", "64.7"],
                 ["encode", "x.yuv", "--max-frames", "five"]):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 2
        assert "expected a positive integer" in capsys.readouterr().err


def test_unwritable_output_fails_before_encoding(tmp_path, capsys, monkeypatch, boxing_clip):
    import mvclass.api
    from mvclass.cli import main

    def never(*a, **k):
        raise AssertionError("encoding started")

    monkeypatch.setattr(mvclass.api, "encode_cropped", never)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for cmd in (["encode", str(boxing_clip)], ["demo", "--frames", "3"]):
        assert main([*cmd, "-o", str(blocker / "out")]) == 2
        err = capsys.readouterr().err.strip()
        assert "output directory" in err and "not writable" in err and "\n" not in err


def test_ctrl_c_prints_one_line_and_exits_130(capsys, monkeypatch, boxing_clip):
    import mvclass.api
    from mvclass.cli import main

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(mvclass.api, "encode_cropped", interrupted)
    assert main(["encode", str(boxing_clip), "-q"]) == 130
    assert capsys.readouterr().err == "mvclass encode: interrupted\n"


def test_raw_yuv_through_the_cli(tmp_path, capsys):
    from mvclass.cli import main

    raw = tmp_path / "clip.yuv"
    raw.write_bytes(np.random.default_rng(0).integers(0, 256, 64 * 48 * 3 // 2 * 3, np.uint8).tobytes())
    assert main(["encode", str(raw), "--width", "64", "--height", "48", "-q"]) == 0
    assert "Rorig" in capsys.readouterr().out
