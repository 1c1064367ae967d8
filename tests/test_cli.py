"""The README's first command (`mvclass demo`) and the encode command on both codecs."""
import subprocess
import sys

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
