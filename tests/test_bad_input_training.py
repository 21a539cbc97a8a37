"""Bad input in the training path stops in seconds with the cause named, before TensorFlow, synthesis or
features; an interrupted synthesis is resumed, not redone."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from keyword_spotting import tts
from keyword_spotting.audio_io import write_wav
from keyword_spotting.train_config import load_config
from keyword_spotting.train_inputs import check_training_inputs
from keyword_spotting.tts_engines import Engine

ROOT = Path(__file__).resolve().parent.parent
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed (make setup)")


def _kws_train(*args: str) -> subprocess.CompletedProcess:
    """kws-train in a fresh interpreter that reports whether TensorFlow got imported."""
    code = ("import sys; from keyword_spotting.train_cli import main; rc = main(sys.argv[1:]); "
            "print('TF loaded' if 'tensorflow' in sys.modules else 'TF not loaded'); sys.exit(rc)")
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300, check=False)


@pytest.mark.parametrize("phrase, why", [("", "empty"), ("   ", "empty"), ("!!!", "nothing to say"),
                                         ("... ?", "nothing to say")])
def test_unspeakable_phrase_stops_before_tensorflow(phrase: str, why: str) -> None:
    res = _kws_train("--phrase", phrase, "--out", "/nonexistent/never-written")
    assert res.returncode == 2, res.stderr
    assert why in res.stderr and "Traceback" not in res.stderr
    assert "TF not loaded" in res.stdout


def test_kws_tts_names_a_bad_phrase(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from keyword_spotting import tts_cli

    assert tts_cli.main(["--phrase", "?!", "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert "the wake phrase '?!' has nothing to say" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_check_phrase() -> None:
    assert tts.check_phrase("  hey nano ") == "hey nano"
    assert tts.check_phrase("R2D2") == "R2D2"
    for bad in ("", "\t", "!!!", "-_-"):
        with pytest.raises(ValueError, match="wake phrase"):
            tts.check_phrase(bad)


class _Fake(Engine):
    """A stand-in engine: loud speech, silence, a near-silent hum (flite on "!!!") or a crash (festival)."""

    name = "espeak"

    def __init__(self, kind: str) -> None:
        self.kind = kind

    @classmethod
    def available(cls) -> bool:
        return True

    def list_voices(self) -> list[str]:
        return ["espeak-fake"]

    def synth(self, text: str, voice: str, rate: float = 1.0, pitch: float = 1.0,
              emphasis: bool = False) -> np.ndarray:
        t = np.arange(8000) / 16000
        if self.kind == "crash":
            raise RuntimeError("festival exited")
        level = {"loud": 0.5, "silent": 0.0, "hum": 0.003}[self.kind]
        return (level * np.sin(2 * np.pi * 300 * t)).astype(np.float32)


@pytest.mark.parametrize("kind, why", [("silent", "renders it as silence"), ("hum", "renders it as silence"),
                                       ("crash", "fails on it")])
def test_phrase_no_engine_can_say_stops_before_synthesis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         kind: str, why: str) -> None:
    monkeypatch.setattr(tts, "get_engines", lambda names=None: {"espeak": _Fake(kind)})
    with pytest.raises(ValueError, match=why) as e:
        tts.generate_dataset(tmp_path / "out", "hey nano", 2, 2, 0, progress=False, workers=1)
    assert "'hey nano'" in str(e.value) and "espeak" in str(e.value)
    assert not (tmp_path / "out").exists()  # nothing written
    tts.check_speakable("hey nano", {"espeak": _Fake("loud")}, {"espeak": ["espeak-fake"]})  # a good one passes


def test_unknown_or_missing_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    res = _kws_train("--set", "data.tts_engines=[espeak, nope]")
    assert res.returncode == 2 and "data.tts_engines must be a list of espeak, flite, festival, piper" in res.stderr
    monkeypatch.setenv("PATH", str(tmp_path))  # no espeak-ng, flite or festival on PATH
    cfg = load_config(None, ["data.tts_engines=[flite]"])
    with pytest.raises(RuntimeError, match="'flite' is not installed; install the Debian package flite"):
        check_training_inputs(cfg)


@needs_espeak
def test_unknown_voice() -> None:
    from keyword_spotting.tts_engines import EspeakEngine

    with pytest.raises(ValueError, match="unknown espeak voice 'espeak-xx-nowhere'; installed: espeak-en"):
        EspeakEngine().synth("hello", "espeak-xx-nowhere")
    with pytest.raises(ValueError, match="not a espeak voice"):
        EspeakEngine().synth("hello", "flite-slt")


def test_ranks_larger_than_the_cell_allows() -> None:
    with pytest.raises(ValueError, match="model.u_rank must be <= model.units=16, got 25"):
        check_training_inputs(load_config(None, ["model.units=16"]))
    with pytest.raises(ValueError, match="model.w_rank must be <= min"):
        check_training_inputs(load_config(None, ["model.units=100", "model.w_rank=40"]))
    check_training_inputs(load_config(None, ["model.units=16", "model.u_rank=null", "model.w_rank=8"]))


def test_data_folders_without_audio_or_with_unreadable_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no audio")
    good = tmp_path / "good"
    write_wav(good / "a.wav", np.full(16000, 900, np.int16))
    cases = [
        ([f"data.negative_dirs=[{empty}]"], f"negative folder {empty} holds no audio"),
        ([f"data.noise_dirs=[{empty}]"], f"noise folder {empty} holds no audio"),
        ([f"data.real_positives={empty}"], f"real positives folder {empty} holds no audio"),
        ([f"data.real_data={empty}"], f"real data folder {empty} has no audio"),
        (["data.kind=custom", f"data.root={tmp_path / 'nope'}"], "is not a directory"),
    ]
    for overrides, message in cases:
        try:
            cfg = load_config(None, overrides)
            check_training_inputs(cfg)
        except ValueError as e:
            assert message in str(e), (overrides, str(e))
        else:
            pytest.fail(f"no error for {overrides}")
    check_training_inputs(load_config(None, [f"data.negative_dirs=[{good}]", f"data.real_positives={good}"]))
    (good / "b.flac").write_bytes(b"fLaC not really")
    with pytest.raises(ValueError, match=r"b\.flac: not a readable audio file"):
        check_training_inputs(load_config(None, [f"data.negative_dirs=[{good}]"]))
    write_wav(tmp_path / "mute" / "m.wav", np.zeros(16000, np.int16))
    with pytest.raises(ValueError, match=r"m\.wav: silent"):
        check_training_inputs(load_config(None, [f"data.real_positives={tmp_path / 'mute'}"]))
    res = _kws_train("--real-positives", str(good), "--out", str(tmp_path / "run"))
    assert res.returncode == 2 and "b.flac" in res.stderr and "TF not loaded" in res.stdout
    assert not (tmp_path / "run").exists()


@needs_espeak
def test_interrupted_synthesis_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}
    real_render = tts.render

    def flaky(job: tts.ClipJob, engines: dict) -> str:
        calls["n"] += 1
        if calls["n"] > 3:
            raise KeyboardInterrupt
        return real_render(job, engines)

    kw = {"positives": 3, "negatives": 3, "noise": 0, "seed": 0, "workers": 1, "progress": False,
          "engines": ["espeak"]}
    monkeypatch.setattr(tts, "render", flaky)
    with pytest.raises(KeyboardInterrupt):
        tts.ensure_dataset(tmp_path, "hey nano", **kw)
    done = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.wav")}
    assert len(done) == 3
    monkeypatch.setattr(tts, "render", real_render)
    tts.ensure_dataset(tmp_path, "hey nano", **kw)  # the same parameters: the 3 clips are kept
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["complete"] and len(manifest["files"]) == 6
    assert all(p.stat().st_mtime_ns == t for p, t in done.items())
    assert set(tmp_path.rglob("*.wav")) == {tmp_path / f for f in manifest["files"]}
