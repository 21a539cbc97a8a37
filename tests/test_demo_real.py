"""`make demo`'s real-audio check (keyword_spotting/demo.py): the phrase it picks, that no real audio trains it,
and the real-people step (the wake-word benchmark on one short real condition) on a random int8 model: seconds."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from test_wakeword_bench import _random_model, _tree

from keyword_spotting import demo, real_data
from keyword_spotting.train_config import load_config


def test_phrase_without_real_data(tmp_path: Path) -> None:
    phrase, data, line = demo.demo_phrase(tmp_path / "absent")
    assert (phrase, data) == ("hey nano", None)
    assert line.startswith("skipped: ") and "absent does not exist" in line
    _tree(tmp_path / "data")  # real data, but no recordings of "alexa"
    phrase, data, line = demo.demo_phrase(tmp_path / "data")
    assert (phrase, data) == ("hey nano", None) and "no recordings of 'alexa'" in line and "['hey']" in line


def test_demo_recipe_trains_on_no_real_audio() -> None:
    for phrase in ("hey nano", "alexa"):
        cfg = load_config(None, [*demo.DEMO_OVERRIDES, f"data.phrase={phrase}"])
        d = cfg.data
        assert d.kind == "tts" and d.phrase == phrase
        assert (d.real_data, d.real_positives, d.negative_dirs, d.noise_dirs) == ("", "", (), ())
        assert "shared" not in json.dumps(cfg.to_dict(), default=str)


def test_stale_phrase_and_bad_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    assert demo.stale_phrase(out, "alexa") is None
    out.mkdir()
    (out / "config.json").write_text(json.dumps({"data": {"kind": "tts", "phrase": "hey nano"}}))
    assert demo.stale_phrase(out, "hey nano") is None
    msg = demo.stale_phrase(out, "alexa")
    assert msg is not None and "trained for 'hey nano'" in msg and "'alexa'" in msg
    # main stops before training, naming the cause (exit 2)
    _alexa_tree(tmp_path / "data")
    assert demo.main(["--out", str(out), "--real-data", str(tmp_path / "data")]) == 2
    assert "trained for 'hey nano'" in capsys.readouterr().err
    assert demo.main(["--out", str(out), "--real-data", str(tmp_path / "nope")]) == 2
    assert f"--real-data {tmp_path / 'nope'} is not a folder" in capsys.readouterr().err


def test_default_folder_of_another_phrase_is_moved_aside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """make demo (no --out) is idempotent across phrases: an earlier demo of another phrase is renamed, not
    deleted and not an error; a folder the user named is never touched."""
    out = tmp_path / "demo"
    out.mkdir()
    (out / "config.json").write_text(json.dumps({"data": {"kind": "tts", "phrase": "hey nano"}}))
    (out / "model.fgb").write_bytes(b"earlier model")
    (tmp_path / "demo-old-1").mkdir()
    assert demo.move_aside(out) == tmp_path / "demo-old-2"
    assert (tmp_path / "demo-old-2" / "model.fgb").read_bytes() == b"earlier model" and not out.exists()
    # main: reaches the move, then stops at a bad --data before training (so the test trains nothing)
    (tmp_path / "demo-old-2").rename(out)
    monkeypatch.setattr(demo, "DEFAULT_OUT", out)
    monkeypatch.setattr(demo, "load_config", lambda *a, **k: (_ for _ in ()).throw(SystemExit(7)))
    _alexa_tree(tmp_path / "data")
    with pytest.raises(SystemExit, match="7"):
        demo.main(["--real-data", str(tmp_path / "data")])
    assert "moved to" in capsys.readouterr().out
    assert (tmp_path / "demo-old-2" / "model.fgb").read_bytes() == b"earlier model" and not out.exists()


def _alexa_tree(root: Path) -> None:
    """test_wakeword_bench's tiny data tree, its word folder named "alexa" (6 readable recordings, 1 broken)."""
    _tree(root)
    (root / "wakewords" / "hey").rename(root / "wakewords" / "alexa")


def _check(rep: dict, run: Path, recordings: int) -> None:
    assert rep["word"] == "alexa" and rep["condition"] == "10dB" and rep["snr_db"] == 10.0
    assert rep["recordings"] == recordings and 0 < rep["positives"] <= recordings
    assert set(rep["miss_rate_at_fa_per_hour"]) == {"0.1", "0.5", "1"}
    assert 0 < rep["negative_hours"] < rep["stream_hours"] and rep["chunks"] == 3
    assert "det_curve" not in rep and "streams" not in rep and "calibration" not in rep
    assert rep["configured_threshold"]["threshold"] == 130  # the model's (the demo's chosen) threshold
    assert rep["summary"].startswith("miss ") and "negative h" in rep["summary"]
    assert f"{recordings} real recordings" in rep["summary"] and "at the demo's threshold 130" in rep["summary"]
    assert rep["seconds"] >= 0 and rep["cpu_seconds"] >= 0
    assert Path(rep["det_plot"]).is_file() and Path(rep["det_plot"]).is_relative_to(run / "real_bench")
    json.dumps(rep, allow_nan=False)


def test_real_people_step_on_a_tree(tmp_path: Path) -> None:
    _alexa_tree(tmp_path / "data")
    phrase, data, line = demo.demo_phrase(tmp_path / "data")
    assert phrase == "alexa" and data is not None and "7 real recordings" in line
    run = tmp_path / "run"
    _random_model(run / "model.fgb")
    rep = demo.real_people(run, data, hours=60 / 3600, chunk_s=20)
    _check(rep, run, 7)
    assert len(rep["skipped_files"]) == 1 and "broken.flac" in rep["skipped_files"][0]


@pytest.mark.skipif(not real_data.ROOT.is_dir(), reason=f"no real data folder {real_data.ROOT} (see README)")
def test_real_people_step_on_shared_data(tmp_path: Path) -> None:
    """The default real data: a few of its "alexa" recordings and measuring files, to stay fast."""
    phrase, data, _ = demo.demo_phrase(None)
    assert phrase == "alexa" and data is not None and len(data.wakewords["alexa"]) > 100
    small = dataclasses.replace(data, wakewords={"alexa": data.wakewords["alexa"][:6]},
                                negatives=data.negatives[::8], noise=data.noise[::4])
    run = tmp_path / "run"
    _random_model(run / "model.fgb")
    rep = demo.real_people(run, small, hours=60 / 3600, chunk_s=20)
    _check(rep, run, 6)
    assert rep["data_root"] == str(real_data.ROOT)
