"""tts: wake-word data (here from espeak-ng alone; every engine: test_tts_engines.py): valid 16 kHz mono
clips, deterministic, voice-disjoint, clear errors."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from keyword_spotting import tts, tts_cli
from keyword_spotting.audio_io import check_wav, read_wav
from keyword_spotting.datasets import SPLITS, load_custom_folder
from keyword_spotting.features import int8_features
from keyword_spotting.tts_engines import EspeakEngine

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="espeak-ng is not installed (apt-get install espeak-ng)")


def test_near_misses_exclude_phrase() -> None:
    m = tts.near_misses("hey nano")
    assert "hey nano" not in m
    assert {"hey", "nano", "hey mano", "hay nano"} <= set(m)
    assert all(m_.split() != ["hey", "nano"] for m_ in m)
    with pytest.raises(ValueError, match="phrase"):
        tts.near_misses("  ")


def test_missing_espeak_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(tts.EngineMissingError, match="espeak-ng"):
        tts.generate_dataset(tmp_path / "out", positives=1, negatives=1, noise=0, progress=False,
                             engines=["espeak"])
    assert tts_cli.main(["--out", str(tmp_path / "out"), "--positives", "1", "--quiet", "--engines", "espeak"]) == 2
    assert "'espeak' is not installed; install the Debian package espeak-ng" in capsys.readouterr().err
    assert not (tmp_path / "out" / "manifest.json").exists()


@needs_espeak
def test_list_voices_has_english_and_variants() -> None:
    langs, variants = EspeakEngine().languages_and_variants()
    assert "en-us" in langs and "en-gb" in langs
    assert {"f3", "m2"} <= set(variants)
    voices = tts.list_voices(["espeak"])["espeak"]
    assert {"espeak-en-us", "espeak-en-gb-x-rp", "espeak-en-us+f3", "espeak-en-029+m2"} <= set(voices)


@needs_espeak
def test_generate_small_dataset(tmp_path: Path) -> None:
    t0 = time.time()
    manifest = tts.generate_dataset(tmp_path / "a", "hey nano", positives=6, negatives=6, noise=5, seed=7,
                                    workers=1, progress=False, engines=["espeak"])
    elapsed = time.time() - t0
    assert elapsed < 30, f"12 clips took {elapsed:.1f} s"
    files = sorted((tmp_path / "a").rglob("*.wav"))
    assert len(files) == 17 == len(manifest["files"])
    for f in files:
        info = check_wav(f)
        assert (info["sample_rate"], info["channels"], info["bits"], info["frames"]) == (16000, 1, 16, 16000)
        pcm = read_wav(f)
        assert np.sqrt(np.mean(pcm.astype(np.float64) ** 2)) > 50, f"{f.name} is silent"
    pos = sorted((tmp_path / "a" / "positives").glob("*.wav"))
    assert len(pos) == 6 and all("__pos_" in p.name for p in pos)
    noise_kinds = {p.name.split("__")[1].split("_")[0] for p in (tmp_path / "a" / "noise").glob("*.wav")}
    assert noise_kinds == {"white", "pink", "brown", "hum", "babble"}
    on_disk = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert on_disk["params"]["phrase"] == "hey nano" and on_disk["params"]["seed"] == 7
    # The custom-folder loader reads it with voice-disjoint splits.
    ds = load_custom_folder(tmp_path / "a", val_percentage=20, test_percentage=20)
    assert sum(len(ds.split(s)) for s in SPLITS) >= 12
    # Same seed (here with 2 workers) -> identical files; another seed -> different clips.
    tts.generate_dataset(tmp_path / "b", "hey nano", positives=6, negatives=6, noise=5, seed=7, workers=2,
                         progress=False, engines=["espeak"])
    for f in files:
        rel = f.relative_to(tmp_path / "a")
        assert (tmp_path / "b" / rel).read_bytes() == f.read_bytes(), rel
    tts.generate_dataset(tmp_path / "c", "hey nano", positives=6, negatives=0, noise=0, seed=8, workers=1,
                         progress=False, engines=["espeak"])
    assert sorted(p.name for p in (tmp_path / "c" / "positives").glob("*.wav")) != [p.name for p in pos]


@needs_espeak
def test_wake_phrase_is_whole_and_placed_at_random_offsets(tmp_path: Path) -> None:
    tts.generate_dataset(tmp_path, "hey nano", positives=8, negatives=0, noise=0, seed=1, workers=1,
                         progress=False, engines=["espeak"])
    onsets = []
    for f in sorted((tmp_path / "positives").glob("*.wav")):
        pcm = np.abs(read_wav(f).astype(np.float64))
        loud = np.nonzero(pcm > 0.05 * pcm.max())[0]
        assert loud[-1] < 15990, f"{f.name}: phrase runs to the end of the clip"
        onsets.append(loud[0])
    assert np.std(onsets) > 300


@needs_espeak
def test_distinct_voices_give_different_audio(tmp_path: Path) -> None:
    espeak = EspeakEngine()
    a = espeak.synth("hey nano", "espeak-en-us+f3", 0.85)
    b = espeak.synth("hey nano", "espeak-en-gb+m3", 0.85)
    a2 = espeak.synth("hey nano", "espeak-en-us+f3", 0.85)
    assert np.array_equal(a, a2)
    fa = int8_features(np.pad(a, (0, max(0, 16000 - len(a))))[:16000]).astype(np.float32)
    fb = int8_features(np.pad(b, (0, max(0, 16000 - len(b))))[:16000]).astype(np.float32)
    assert np.mean(np.abs(fa - fb)) > 3.0


@needs_espeak
def test_ensure_dataset_reuses_matching_folder(tmp_path: Path) -> None:
    kw = {"seed": 0, "workers": 1, "progress": False, "engines": ["espeak"]}
    out = tts.ensure_dataset(tmp_path, positives=2, negatives=2, noise=1, **kw)
    first = {p: p.stat().st_mtime_ns for p in out.rglob("*.wav")}
    tts.ensure_dataset(tmp_path, positives=2, negatives=2, noise=1, **kw)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.wav")} == first
    tts.ensure_dataset(tmp_path, positives=3, negatives=1, noise=1, **kw)
    assert len(list((tmp_path / "positives").glob("*.wav"))) == 3
    assert len(list((tmp_path / "negatives").glob("*.wav"))) == 1


def test_plan_rejects_bad_counts(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="negatives"):
        tts.plan(tmp_path, "hey nano", 1, -1, 0, 0, {"espeak": ["espeak-en-us+f3"]})
    with pytest.raises(ValueError, match="phrase"):
        tts.plan(tmp_path, " ", 1, 1, 0, 0, {"espeak": ["espeak-en-us+f3"]})
    with pytest.raises(ValueError, match="no voices"):
        tts.plan(tmp_path, "hey nano", 1, 1, 0, 0, {"flite": []})
    voices = {"espeak": ["espeak-en-us", "espeak-en-gb+m2"], "flite": ["flite-slt"]}
    jobs = tts.plan(tmp_path, "hey nano", 3, 3, 5, 0, voices)
    assert jobs == tts.plan(tmp_path, "hey nano", 3, 3, 5, 0, voices)
    assert all(Path(j.path).name.split("__")[0] == tts._safe(j.voices[0]) for j in jobs if j.kind != "noise")


def test_weight_cap_sets_the_engines_shares(tmp_path: Path) -> None:
    """Engines are drawn with weight min(voices, weight_cap): one natural voice can get as many clips as 30 others."""
    voices = {"espeak": [f"espeak-v{i}" for i in range(30)], "piper": ["piper-joe"]}

    def piper_share(**kw: int) -> float:
        jobs = tts.plan(tmp_path, "hey nano", 1000, 0, 0, 0, voices, **kw)
        return sum(j.voices[0] == "piper-joe" for j in jobs) / len(jobs)

    assert abs(piper_share() - 1 / 9) < 0.04  # default cap 8: 8 : 1
    assert abs(piper_share(weight_cap=1) - 0.5) < 0.05
    assert tts.plan(tmp_path, "hey nano", 5, 5, 0, 0, voices) == tts.plan(tmp_path, "hey nano", 5, 5, 0, 0, voices,
                                                                         weight_cap=8)
    for bad in (0, -1, True):
        with pytest.raises(ValueError, match="weight cap"):
            tts.plan(tmp_path, "hey nano", 5, 5, 0, 0, voices, weight_cap=bad)
    # The default keeps the manifests of existing folders valid; another cap is part of the parameters.
    assert "weight_cap" not in tts._params("hey nano", 1, 1, 1, 0, voices)
    assert tts._params("hey nano", 1, 1, 1, 0, voices, 1)["weight_cap"] == 1
    from keyword_spotting.train_config import DataConfig

    with pytest.raises(ValueError, match="data.tts_weight_cap"):
        DataConfig(tts_weight_cap=0).validate()


@needs_espeak
def test_interrupted_run_is_cleaned_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}
    real_render = tts.render

    def flaky(job, engines):
        calls["n"] += 1
        if calls["n"] > 3:
            raise KeyboardInterrupt
        return real_render(job, engines)

    monkeypatch.setattr(tts, "render", flaky)
    with pytest.raises(KeyboardInterrupt):
        tts.generate_dataset(tmp_path, positives=4, negatives=4, noise=0, seed=0, workers=1, progress=False,
                             engines=["espeak"])
    assert json.loads((tmp_path / "manifest.json").read_text())["complete"] is False
    stale = set(tmp_path.rglob("*.wav"))
    assert len(stale) == 3
    monkeypatch.setattr(tts, "render", real_render)
    tts.ensure_dataset(tmp_path, positives=2, negatives=1, noise=0, seed=5, workers=1, progress=False,
                       engines=["espeak"])
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["complete"] is True
    assert set(tmp_path.rglob("*.wav")) == {tmp_path / f for f in manifest["files"]}  # stale clips removed
    assert stale - {tmp_path / f for f in manifest["files"]}  # (the interrupted run had other clips)
