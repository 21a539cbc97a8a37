"""Smoke test of the wake-word benchmark on a tiny synthetic data tree with a random int8 model (seconds, no training):
streams -> features -> batched int8 scores (= the streaming pipeline's) -> report; caches reused; recipe checks."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from keyword_spotting import kws_model, real_data, streaming, wakeword_bench, wakeword_calibration
from keyword_spotting.detector import DetectorParams
from keyword_spotting.features import FeatureSpec
from keyword_spotting.streams import Event
from keyword_spotting.wakeword_bench import BenchConfig, batch_scores, recipe_config, run_word
from keyword_spotting.wakeword_metrics import sweep

SR = 16000


def _write(path: Path, pcm: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, pcm.astype(np.int16), SR, format="FLAC" if path.suffix == ".flac" else "WAV", subtype="PCM_16")


def _tree(root: Path) -> None:
    rng = np.random.default_rng(0)
    for i in range(6):
        t = np.arange(int(0.7 * SR)) / SR
        word = 5000 * np.sin(2 * np.pi * (250 + 30 * i) * t * (1 + t))
        _write(root / "wakewords" / "hey" / f"{i}.flac", np.concatenate([np.zeros(4000), word, np.zeros(4000)]))
    for spk in range(6):
        n = int(rng.uniform(2, 4) * SR)
        babble = rng.normal(0, 2500, n) * (np.sin(np.arange(n) / (300 + 50 * spk)) > 0.2)
        _write(root / "negatives" / "librispeech" / f"ls__{100 + spk}-7-0001.flac", babble)
        _write(root / "negatives" / "speech" / f"phrase_{spk}.wav", babble[::-1])
        _write(root / "noise" / "ambience" / f"amb_{spk}.flac", rng.normal(0, 1500, 5 * SR))
    (root / "wakewords" / "hey" / "broken.flac").write_bytes(b"fLaC not really")


def _random_model(path: Path) -> kws_model.KwsModel:
    from fastgrnn_tf.int8.head_oracle import random_head
    from fastgrnn_tf.int8.quantize import random_int8_params

    step, _ = random_int8_params(32, 24, 8, 8, keep=0.5, seed=3, input_zero_point=FeatureSpec().zero_point)
    layers, scale, zp = random_head(24, 2, seed=5)
    model = kws_model.KwsModel(step, layers, scale, zp, FeatureSpec(),
                              DetectorParams(keywords=(1,), window_frames=20, threshold=130),
                              ("negative", "positive"))
    path.parent.mkdir(parents=True, exist_ok=True)
    kws_model.save_model(path, model)
    return model


def test_benchmark_smoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _tree(tmp_path / "data")
    data = real_data.discover(tmp_path / "data")
    run = tmp_path / "work" / "hey" / "run-x"
    model = _random_model(run / "model.fgb")
    bench = BenchConfig(work=str(tmp_path / "work"), hours=60 / 3600, chunk_s=20, progress=True, windows=(20,),
                        seed=1, calibration_hours=40 / 3600)
    rep = run_word("hey", run, data, bench)
    cal = rep["calibration"]
    assert cal["streams"]["part"] == "train" and cal["negative_hours"] == pytest.approx(40 / 3600)
    assert 0 <= cal["threshold"] <= 256 and rep["10dB"]["calibrated_threshold"]["threshold"] == cal["threshold"]
    for cond in ("10dB", "quiet"):
        r = rep[cond]
        assert r["positives"] == 6 and r["chunks"] == 3 and r["streams"]["positive_files"] == 7
        assert len(r["streams"]["skipped_files"]) == 1 and "broken.flac" in r["streams"]["skipped_files"][0]
        assert 0 < r["unique_negative_hours"] and 0 < r["negative_hours"] < r["stream_hours"] <= 60 / 3600 + 1e-6
        assert set(r["miss_rate_at_fa_per_hour"]) == {"0.1", "0.5", "1"}
        assert all(0.0 <= v <= 1.0 for v in r["miss_rate_at_fa_per_hour"].values())
        assert r["detector_for_target"]["windows_tried"] == [20]
        assert Path(r["det_plot"]).is_file()
        src = r["false_accept_sources"]  # every placed background clip, named, with its peak
        assert 0 < src["clips"] <= src["copies"] and src["top"] and src["clips_reaching_threshold"] <= src["clips"]
        assert all(t["clip"].endswith(".flac") or t["clip"].endswith(".wav") for t in src["top"])
    json.dumps(rep, allow_nan=True)
    out = capsys.readouterr().out
    assert "10dB streams: 3/3" in out and "scored" in out

    # The batched scores are the streaming pipeline's, chunk by chunk (each from a reset state).
    feats = next((tmp_path / "work" / "hey" / "streams").glob("10dB-*.npz"))
    with np.load(feats) as z:
        f = z["features"]
    got = batch_scores(model, f, batch=2)
    for c in range(len(f)):
        assert np.array_equal(got[c], streaming.frame_scores(model, f[c]))

    # A rerun reuses the stream features and the scores, and gives the same numbers.
    again = run_word("hey", run, data, dataclasses.replace(bench, conditions=("10dB",)))
    out = capsys.readouterr().out
    assert "reusing stream features" in out and "reusing scores" in out
    assert again["10dB"]["miss_rate_at_fa_per_hour"] == rep["10dB"]["miss_rate_at_fa_per_hour"]
    assert again["10dB"]["det_curve"] == rep["10dB"]["det_curve"]
    assert again["10dB"]["false_accept_sources"] == rep["10dB"]["false_accept_sources"]  # spans cached too
    # Not a kws-train folder: no held-out synthetic positives, so only the threshold is calibrated.
    assert rep["calibration"]["detector"] is None and "not calibrated" in rep["calibration"]["detector_note"]
    assert "calibrated_detector" not in rep["10dB"]


def test_calibrated_detector_from_synthetic_positives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The window and threshold chosen on training-part streams with the run's held-out synthetic positives
    (here: stand-in clips) are measured on every condition; the choice is the best of `windows` there."""
    _tree(tmp_path / "data")
    data = real_data.discover(tmp_path / "data")
    run = tmp_path / "work" / "hey" / "run-x"
    model = _random_model(run / "model.fgb")
    synthetic = []
    for i in range(5):
        t = np.arange(int(0.6 * SR)) / SR
        synthetic.append(tmp_path / "tts" / f"voice{i}__pos_{i:05d}.wav")
        _write(synthetic[-1], np.concatenate([np.zeros(3000), 6000 * np.sin(2 * np.pi * 300 * t * (1 + t)),
                                              np.zeros(3000)]))
    monkeypatch.setattr(wakeword_calibration, "held_out_positives", lambda run, label: synthetic)
    bench = BenchConfig(work=str(tmp_path / "work"), hours=40 / 3600, chunk_s=20, progress=False, windows=(10, 20),
                        seed=1, calibration_hours=40 / 3600)
    rep = run_word("hey", run, data, bench)
    det = rep["calibration"]["detector"]
    assert det["positives"] == 5 and det["window_frames"] in (10, 20) and det["windows_tried"] == [10, 20]
    for cond in ("10dB", "quiet"):
        got = rep[cond]["calibrated_detector"]
        assert got["window_frames"] == det["window_frames"] and got["threshold"] == det["threshold"]
        # The same numbers as sweeping the measured streams with that window directly.
        params = dataclasses.replace(model.detector, window_frames=got["window_frames"],
                                     min_frames=got["window_frames"])
        feats = next((tmp_path / "work" / "hey" / "streams").glob(f"{cond}-*.npz"))
        with np.load(feats) as z:
            meta = json.loads(str(z["meta"]))
            scores = batch_scores(model, z["features"])
        events = [[Event(a, b, "positive") for a, b in chunk] for chunk in meta["events"]]
        curve = sweep(scores, events, meta["negative_seconds"], params, model.classes, model.features)
        assert got["miss_rate"] == curve.frr[got["threshold"]]
        assert got["fa_per_hour"] == curve.fa_per_hour[got["threshold"]]


def test_held_out_positives_are_the_validation_and_test_clips(monkeypatch: pytest.MonkeyPatch) -> None:
    from keyword_spotting import run_folder
    from keyword_spotting.datasets import Item, SplitDataset

    ds = SplitDataset([Item("t/pos_1.wav", 1, "a")], [Item("v/pos_2.wav", 1, "b"), Item("v/neg_1.wav", 0, "b")],
                      [Item("s/pos_3.wav", 1, "c"), Item("", 1, "")], ["negative", "hey"], [])
    monkeypatch.setattr(run_folder, "load_run", lambda run: run)
    monkeypatch.setattr(run_folder, "load_run_dataset", lambda run: ds)
    assert wakeword_calibration.held_out_positives(Path("r"), "hey") == [Path("s/pos_3.wav"), Path("v/pos_2.wav")]
    assert wakeword_calibration.held_out_positives(Path("r"), "other") == []

    def broken(run: object) -> None:
        raise ValueError("no config.json")

    monkeypatch.setattr(run_folder, "load_run", broken)
    assert wakeword_calibration.held_out_positives(Path("r"), "hey") == []


def test_recipe_is_text_only(tmp_path: Path) -> None:
    cfg = recipe_config("jarvis", BenchConfig())
    assert cfg.data.kind == "tts" and cfg.data.phrase == "jarvis"
    cfg = recipe_config("hey nano", BenchConfig(overrides=("train.epochs_dense=3",)))
    assert cfg.data.phrase == "hey nano" and cfg.train.epochs_dense == 3
    with pytest.raises(ValueError, match="text only"):
        recipe_config("alexa", BenchConfig(overrides=("data.kind=custom", "data.root=/x")))
    with pytest.raises(ValueError, match="wakewords"):
        recipe_config("alexa", BenchConfig(overrides=("data.root=../shared/data/wakewords/alexa",)))


def test_benchmark_rejects_unknown_words(tmp_path: Path) -> None:
    _tree(tmp_path / "data")
    bench = BenchConfig(words=("nope",), data_root=str(tmp_path / "data"), work=str(tmp_path / "w"))
    with pytest.raises(ValueError, match=r"nope.*found: \['hey'\]"):
        wakeword_bench.run_benchmark(bench)
    with pytest.raises(ValueError, match="unknown conditions"):
        wakeword_bench.run_benchmark(BenchConfig(words=("hey",), data_root=str(tmp_path / "data"),
                                                 conditions=("loud",)))
