"""Hard-negative mining (keyword_spotting/hard_negatives.py): windows chosen by the model's score, cached."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from keyword_spotting import hard_negatives
from keyword_spotting.features import FeatureSpec

SPEC = FeatureSpec()


class LoudnessModel:
    """Stands in for a sequence model: 'keyword' probability per frame grows with the frame's mean feature."""

    def __init__(self) -> None:
        self.calls = 0

    def predict(self, x: np.ndarray, batch_size: int = 256, verbose: int = 0) -> np.ndarray:
        self.calls += 1
        p = 1 / (1 + np.exp(-(x.mean(axis=-1) + 4.0)))
        return np.stack([1 - p, p], axis=-1)


def _recordings(tmp: Path) -> list[tuple[Path, str]]:
    """Two 6 s recordings of noise whose level rises by 10 dB a second (-60..-10 dBFS; rec1 7 dB louder)."""
    rng = np.random.default_rng(0)
    out = []
    for k in range(2):
        y = np.concatenate([rng.standard_normal(16000) * 10 ** ((level - 60 + 7 * k) / 20)
                            for level in (0, 10, 20, 30, 40, 50)])
        path = tmp / f"rec{k}.wav"
        sf.write(path, y, 16000, subtype="FLOAT")
        out.append((path, f"speaker{k}"))
    return out


def test_mines_the_highest_scoring_windows_and_caches_them(tmp_path: Path) -> None:
    sources = _recordings(tmp_path)
    cache = tmp_path / "run" / "hard_negatives.json"
    model = LoudnessModel()
    x, rep = hard_negatives.mine(model, sources, SPEC, SPEC, [1], count=3, hop_ms=500, cache=cache, log=lambda s: None)
    assert x.dtype == np.int8 and x.shape == (3, 98, 32)
    # 11 windows per file at a 0.5 s hop; those below -45 dBFS are skipped: 3 of rec0, 2 of rec1 (7 dB louder)
    assert rep["candidates"] == 8 + 9 and rep["chosen"] == 3
    stored = json.loads(cache.read_text())
    chosen = [(Path(w["file"]).name, w["start"]) for w in stored["windows"]]
    # A window scores its loudest frame: rec1's last second (-3 dBFS), the window half in it, then rec0's
    # window half in its last second (-10 dBFS) before rec1's second-to-last (-13 dBFS).
    assert chosen == [("rec1.wav", 80000), ("rec1.wav", 72000), ("rec0.wav", 72000)], chosen
    scores = [w["score"] for w in stored["windows"]]
    assert scores == sorted(scores, reverse=True)
    # A rerun reads the cache (no scoring) and rebuilds the same features.
    again = LoudnessModel()
    x2, rep2 = hard_negatives.mine(again, sources, SPEC, SPEC, [1], count=3, hop_ms=500, cache=cache,
                                   log=lambda s: None)
    assert again.calls == 0 and rep2 == rep
    np.testing.assert_array_equal(x2, x)
    # Another count is another mining.
    x3, _ = hard_negatives.mine(again, sources, SPEC, SPEC, [1], count=5, hop_ms=500, cache=cache, log=lambda s: None)
    assert again.calls == 1 and len(x3) == 5


def test_noisy_copies_are_scored_too_and_rebuilt_from_the_cache(tmp_path: Path) -> None:
    sources = _recordings(tmp_path)
    rng = np.random.default_rng(5)
    hum = tmp_path / "noise" / "hum.wav"
    hum.parent.mkdir()
    sf.write(hum, 0.5 * rng.standard_normal(3 * 16000), 16000, subtype="FLOAT")
    sf.write(tmp_path / "noise" / "zeros.wav", np.zeros(16000), 16000, subtype="FLOAT")  # dropped: silent
    noise = sorted(hum.parent.glob("*.wav"))
    cache = tmp_path / "hn.json"
    x, rep = hard_negatives.mine(LoudnessModel(), sources, SPEC, SPEC, [1], count=6, hop_ms=500, cache=cache,
                                 log=lambda s: None, noise=noise, snr_db=(-5.0, 0.0), seed=3)
    assert rep["candidates"] == 2 * 17
    # Loud noise at -5..0 dB SNR raises the quiet windows most: noisy copies are among the chosen.
    assert rep["chosen_noisy"] >= 1
    stored = json.loads(cache.read_text())["windows"]
    for w in stored:
        if "noise" in w:
            assert w["noise"] == str(hum) and -5.0 <= w["snr"] <= 0.0
    again = LoudnessModel()
    x2, _ = hard_negatives.mine(again, sources, SPEC, SPEC, [1], count=6, hop_ms=500, cache=cache,
                                log=lambda s: None, noise=noise, snr_db=(-5.0, 0.0), seed=3)
    assert again.calls == 0
    np.testing.assert_array_equal(x2, x)
    # The mix is at the SNR it records.
    from keyword_spotting.augment import snr_db

    window = (np.random.default_rng(1).standard_normal(16000) * 3000).astype(np.int16)
    mixed = hard_negatives.noisy(window, 0.5 * rng.standard_normal(48000).astype(np.float32), 7, 3.0)
    assert abs(snr_db(window.astype(np.float64), mixed.astype(np.float64) - window) - 3.0) < 0.1


def test_scores_skip_the_warmup_and_read_clip_models_at_the_end() -> None:
    probs = np.zeros((2, 30, 3))
    probs[0, 5, 1] = 0.9   # inside the warm-up: ignored
    probs[0, 25, 2] = 0.4
    probs[1, 25, 1] = probs[1, 25, 2] = 0.3

    class Fixed:
        def predict(self, x, batch_size=256, verbose=0):
            return probs if x.ndim == 3 else None

    got = hard_negatives.window_scores(Fixed(), np.zeros((2, 30, 32), np.int8), SPEC, [1, 2], warmup_frames=20)
    np.testing.assert_allclose(got, [0.4, 0.6], rtol=1e-6)


def test_bad_settings() -> None:
    with pytest.raises(ValueError, match="hop must be positive"):
        hard_negatives.candidates([], 0)


def test_config_needs_real_negatives(tmp_path: Path) -> None:
    from keyword_spotting.train import hard_negative_step
    from keyword_spotting.train_config import load_config

    cfg = load_config(None, ["data.kind=tts", "train.hard_negatives=10"])
    with pytest.raises(ValueError, match="needs real negative audio"):
        hard_negative_step(cfg, {}, ["negative", "hey"], SPEC, None, {})
    with pytest.raises(ValueError, match="train.hard_negatives must be >= 0"):
        load_config(None, ["train.hard_negatives=-1"])
    assert hard_negative_step(load_config(None, []), {}, [], SPEC, None, {}) is None


def test_kws_train_mines_after_dense(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """kws-train with train.hard_negatives on a tiny custom folder + a folder of real negative speech: the
    windows are mined after the dense stage and listed in the model card and hard_negatives.json. (A wiring
    test: the 2-epoch model need not learn, so the stages' chance check is switched off.)"""
    from test_real_positives import _custom_folder, _recording

    from fastgrnn_tf import collapse
    from keyword_spotting import train_cli

    monkeypatch.setattr(collapse, "verdict", lambda *a, **k: None)
    _custom_folder(tmp_path / "data")
    speech = tmp_path / "speech"
    speech.mkdir()
    for i in range(2):
        sf.write(speech / f"talk_{i}.wav", _recording(6.0, 2.0, 40 + i), 16000, subtype="PCM_16")
    args = ["--set", "data.kind=custom", "--set", f"data.root={tmp_path / 'data'}",
            "--set", f"data.negative_dirs=[{speech}]", "--set", "train.hard_negatives=4",
            "--set", "train.stream_clips=2", "--set", "train.batch_size=4", "--set", "train.epochs_dense=2",
            "--set", "train.epochs_prune=1", "--set", "train.epochs_retrain=1", "--set", "train.epochs_qat=1",
            "--set", "model.units=8", "--set", "model.w_rank=4", "--set", "model.u_rank=4",
            "--out", str(tmp_path / "run"), "--no-progress"]
    assert train_cli.main(args) == 0
    card = json.loads((tmp_path / "run" / "model_card.json").read_text())
    assert card["hard_negatives"]["chosen"] == 4 and card["hard_negatives"]["candidates"] >= 4
    mined = json.loads((tmp_path / "run" / "hard_negatives.json").read_text())["windows"]
    assert len(mined) == 4 and {Path(w["file"]).parent for w in mined} == {speech}
