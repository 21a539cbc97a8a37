"""kws-eval: accuracy per model, the streaming sweep, the report, and bad input.

The run folder is built fast and without shared data: a wake-word folder of synthetic "words"
(a rising chirp is the keyword, falling chirps / steady tones are negatives, six "speakers"), a
small FastGRNN trained for a few epochs, QAT, and the int8 exports, laid out as `kws-train`
writes them (config.json, stages/, model.tflite, model.fgb).
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import train_until_learned

from keyword_spotting import detector, evaluate, run_folder, stream_eval
from keyword_spotting.detector import DetectorParams, detect
from keyword_spotting.features import model_view

SR = 16000
SPEAKERS = ("ann", "bob", "cid", "dot", "eve", "fay")
EPOCHS = 12
INPUT_QUANT = {"scale": 0.1, "zero_point": -40}  # the model's view of the codes (not the spec's 0.1, 12)


# ----------------------------------------------------------------------------------------------
# Synthetic data and a tiny run folder.
def _word(kind: str, rng: np.random.Generator) -> np.ndarray:
    """1 s int16 clip: a ~0.5 s tone "word" in faint noise."""
    n = int(SR * rng.uniform(0.4, 0.6))
    t = np.arange(n) / SR
    if kind == "pos":
        f0, f1 = 500.0 * rng.uniform(0.9, 1.1), 1800.0 * rng.uniform(0.9, 1.1)
    elif rng.random() < 0.5:
        f0, f1 = 1800.0 * rng.uniform(0.9, 1.1), 500.0 * rng.uniform(0.9, 1.1)
    else:
        f0 = f1 = rng.uniform(2500.0, 3500.0)
    phase = 2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * t[-1]))
    word = rng.uniform(0.2, 0.4) * np.sin(phase) * np.hanning(n)
    clip = rng.normal(0, 0.002, SR)
    start = int(rng.integers(1000, SR - n - 1000))
    clip[start:start + n] += word
    return np.round(np.clip(clip, -1, 1) * 32767).astype(np.int16)


def _make_data(root: Path) -> None:
    from keyword_spotting.audio_io import write_wav

    rng = np.random.default_rng(0)
    for spk in SPEAKERS:
        for i in range(8):
            write_wav(root / "positives" / f"{spk}__pos_{i}.wav", _word("pos", rng))
            write_wav(root / "negatives" / f"{spk}__neg_{i}.wav", _word("neg", rng))
    noise = np.round(rng.normal(0, 0.01, 3 * SR) * 32767).astype(np.int16)
    write_wav(root / "noise" / "hiss.wav", noise)


def _make_run(data: Path, run: Path) -> None:
    """The artifacts of `kws-train` (same functions, same layout), with a tiny, quickly trained model."""
    import tf_keras as keras

    from fastgrnn_tf import qat
    from fastgrnn_tf.atomic_io import atomic_write_bytes
    from fastgrnn_tf.export import tflite_reader
    from fastgrnn_tf.export.custom_op import export_custom_tflite
    from fastgrnn_tf.export.model_bundle import ModelBundle, write_model_bundle
    from keyword_spotting.augment import AugmentConfig
    from keyword_spotting.model import build_model
    from keyword_spotting.tfdata import make_split_arrays
    from keyword_spotting.train import training_dataset
    from keyword_spotting.train_config import config_from_dict, save_config

    cfg = config_from_dict({"data": {"kind": "custom", "root": str(data), "augment_copies": 0},
                            "model": {"units": 16, "w_rank": None, "u_rank": None},
                            "out_dir": str(run)})
    run.mkdir(parents=True)
    save_config(cfg, run / "config.json")
    ds = run_folder.load_run_dataset(run_folder.Run(run, cfg))  # load_run wants model.tflite, made last
    spec = cfg.features
    x, y = make_split_arrays(ds, spec, AugmentConfig(), copies=1, cache_dir=run / "cache")["train"]
    # The model reads the codes through its own input quantization, as kws-train does (feature_spec.md).
    view = model_view(spec, INPUT_QUANT["scale"], INPUT_QUANT["zero_point"])
    # Bare clips and clips after streaming context, batched as kws-train batches them (context alone
    # teaches the model to need a warmed-up state: it then stayed at chance on the bare test clips).
    train_ds = training_dataset(x, y, view, 16, cfg.data.context_frames, 0)

    def fit():
        model = build_model(cfg.model, spec, len(ds.class_names))
        model.compile(keras.optimizers.Adam(1e-2, clipnorm=1.0), "sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        hist = model.fit(train_ds, epochs=EPOCHS, verbose=0)
        return model, hist.history["accuracy"][-1]

    # Seen once (FASTGRNN_TEST_SEED=2, one core, after the other training tests): a start that stayed near
    # chance (test accuracy 0.59); the tone words are easy, so anything under 0.8 on the training clips is that.
    model = train_until_learned(fit, 0, above=0.8)
    for sub, name in (("dense", "dense.keras"), ("retrain", "stripped.keras")):
        (run / "stages" / sub).mkdir(parents=True)
        model.save(run / "stages" / sub / name)
    q = qat.make_qat_model(model, (INPUT_QUANT["scale"], INPUT_QUANT["zero_point"]))
    batches = qat.input_batches(train_ds, 64, 8)  # ranges started as the QAT stage does
    qat.init_activation_ranges(q, model, batches)
    qat.calibrate(q, batches)
    q.compile(keras.optimizers.Adam(2e-3, clipnorm=1.0), "sparse_categorical_crossentropy", metrics=["accuracy"])
    q.fit(train_ds, epochs=2, verbose=0)
    (run / "stages" / "qat").mkdir(parents=True)
    q.save(run / "stages" / "qat" / "qat.h5")
    exp = export_custom_tflite(q, calib_features=x[:32], time_steps=1, calibrate=False,
                               input_scale=INPUT_QUANT["scale"], input_zero_point=INPUT_QUANT["zero_point"])
    atomic_write_bytes(run / "model.tflite", exp.tflite)
    det = cfg.detector
    det_params = {"window_frames": det.window_frames, "threshold": det.threshold,
                "refractory_frames": det.refractory_frames, "min_frames": det.window_frames, "keywords": [1]}
    write_model_bundle(run / "model.fgb", ModelBundle.from_model(tflite_reader.read_exported(exp.tflite),
                                                                 spec.to_dict(), det_params, ds.class_names))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("eval")
    _make_data(base / "data")
    _make_run(base / "data", base / "run")
    return base / "run"


@pytest.fixture(scope="module")
def report(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """`kws-eval --run <run> --minutes 3 --out <out>`, then the report it wrote."""
    from keyword_spotting import eval_cli

    out = tmp_path_factory.mktemp("eval_out")
    assert eval_cli.main(["--run", str(run_dir), "--minutes", "3", "--out", str(out), "--no-progress"]) == 0
    rep = json.loads((out / "eval_report.json").read_text())
    rep["_out"] = str(out)
    return rep


# ----------------------------------------------------------------------------------------------
# The detector sweep (no TensorFlow).
@pytest.mark.parametrize("params", [
    DetectorParams(keywords=(1,), window_frames=30, refractory_frames=100),
    DetectorParams(keywords=(3, 1), window_frames=5, refractory_frames=0, min_frames=0),
    DetectorParams(keywords=(1, 2, 3), window_frames=1, refractory_frames=7, min_frames=1),
    DetectorParams(keywords=(2, 0), window_frames=12, refractory_frames=1, min_frames=40),
])
def test_threshold_sweep_equals_the_detector(params: DetectorParams) -> None:
    rng = np.random.default_rng(1)
    n = 1500
    # Smooth bursts plus noise, and a coarse grid so that keyword sums tie often.
    base = np.repeat(rng.integers(0, 256, (n // 25, 4)), 25, axis=0)
    scores = np.clip(base + rng.integers(-30, 31, (n, 4)), 0, 255)
    scores[::7] = (scores[::7] // 64) * 64
    scores = scores.astype(np.uint8)
    sweep = detector.ThresholdSweep(scores, params)
    for th in (0, 1, 50, 100, 128, 160, 200, 240, 255):
        expected = detect(scores, dataclasses.replace(params, threshold=th))
        assert sweep.detect(th) == expected, th


def test_threshold_sweep_rejects_bad_input() -> None:
    p = DetectorParams(keywords=(1,))
    with pytest.raises(ValueError, match="scores must be"):
        detector.ThresholdSweep(np.zeros(10, np.uint8), p)
    with pytest.raises(ValueError, match="keywords include 1"):
        detector.ThresholdSweep(np.zeros((10, 1), np.uint8), p)
    with pytest.raises(ValueError, match="threshold"):
        detector.ThresholdSweep(np.zeros((10, 2), np.uint8), p).detect(256)


def test_operating_point_falls_back_to_the_lowest_fa() -> None:
    from keyword_spotting import metrics
    from keyword_spotting.streams import Event

    events = [Event(1.0, 1.5, "kw"), Event(5.0, 5.5, "kw")]
    dets = {0: [(1.2, "kw"), (3.0, "kw"), (4.0, "kw"), (5.2, "kw")], 1: [(3.0, "kw"), (5.2, "kw")],
            2: [(3.0, "kw")]}
    curve = metrics.det_curve([metrics.ScoredStream(np.zeros((1, 1)), events, 3600.0)],
                              lambda s, th: dets[th], thresholds=[0, 1, 2])
    op, met = stream_eval.operating_point(curve, 2.0)
    assert met and op.threshold == 0 and op.frr == 0.0
    op, met = stream_eval.operating_point(curve, 1.0)
    assert met and op.threshold == 1 and op.frr == 0.5
    op, met = stream_eval.operating_point(curve, 0.5)  # no threshold has < 1 FA/h
    assert not met and op.threshold == 1 and op.frr == 0.5 and op.fa_per_hour == 1.0


def test_report_json_is_strict() -> None:
    r = evaluate._jsonable({"a": math.nan, "b": [np.float32(1.5), math.inf], "c": np.int64(3)})
    assert r == {"a": None, "b": [1.5, None], "c": 3}
    json.dumps(r, allow_nan=False)


# ----------------------------------------------------------------------------------------------
# Bad input.
def test_bad_run_folder(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from keyword_spotting import eval_cli

    missing = tmp_path / "nope"
    assert eval_cli.main(["--run", str(missing)]) == 2
    assert f"{missing} is not a directory" in capsys.readouterr().err
    assert eval_cli.main(["--run", str(tmp_path)]) == 2
    assert "no config.json" in capsys.readouterr().err
    (tmp_path / "config.json").write_text("{}")
    assert eval_cli.main(["--run", str(tmp_path)]) == 2
    assert "no model.tflite" in capsys.readouterr().err
    (tmp_path / "config.json").write_text('{"model": {"unitz": 3}}')
    assert eval_cli.main(["--run", str(tmp_path)]) == 2
    assert "model.unitz" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        eval_cli.main(["--run", str(tmp_path), "--minutes", "0"])
    with pytest.raises(SystemExit):
        eval_cli.main(["--run", str(tmp_path), "--fa-target", "-1"])
    with pytest.raises(SystemExit):
        eval_cli.main(["--run", str(tmp_path), "--no-accuracy", "--no-streaming"])


def test_bad_extra_folders_and_minutes(run_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="extra negative folder .*nowhere"):
        stream_eval.make_test_stream(run_dir, tmp_path / "s.wav", 0.5,
                                  extra_negative_dirs=[tmp_path / "nowhere"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="extra noise folder .*empty.* no .wav"):
        stream_eval.make_test_stream(run_dir, tmp_path / "s.wav", 0.5, extra_noise_dirs=[tmp_path / "empty"])
    with pytest.raises(ValueError, match="minutes"):
        stream_eval.make_test_stream(run_dir, tmp_path / "s.wav", 0)


# ----------------------------------------------------------------------------------------------
# Accuracy.
def test_accuracy_matches_direct_computations(run_dir: Path, report: dict) -> None:
    import tf_keras as keras

    from fastgrnn_tf.export import tflite_reader
    from fastgrnn_tf.int8.model import predict
    from keyword_spotting.features import dequantize

    run = run_folder.load_run(run_dir)
    ds = run_folder.load_run_dataset(run)
    x, y = run_folder.split_arrays(run, ds, "test")
    assert report["num_clips"] == len(y) > 0 and report["classes"] == ["negative", "positive"]
    pred = predict(tflite_reader.read_exported(run_dir / "model.tflite"), x)
    assert report["accuracy_int8"] == pytest.approx(float(np.mean(pred == y)))
    scale, zp = INPUT_QUANT["scale"], INPUT_QUANT["zero_point"]
    assert report["input_quantization"] == {"scale": pytest.approx(scale, rel=1e-6), "zero_point": zp}
    model = keras.models.load_model(run_dir / "stages" / "dense" / "dense.keras", compile=False)
    x_model = (x.astype(np.float32) - zp) * np.float32(scale)
    view = model_view(run.spec, scale, zp)
    np.testing.assert_allclose(dequantize(x, view), x_model, rtol=1e-5, atol=1e-6)
    pred_f = np.argmax(model.predict(x_model, verbose=0), axis=-1)
    assert report["accuracy_float"] == pytest.approx(float(np.mean(pred_f == y)))
    assert report["accuracy_pruned"] == report["accuracy_float"]  # the fixture saved one model twice
    assert report["accuracy_int8"] >= 0.7, report  # the tone words are easy (chance is about 0.5)
    for m in ("float", "pruned", "qat", "int8"):
        cm = np.array(report[f"confusion_{m}"])
        assert cm.shape == (2, 2) and cm.sum() == len(y)
        assert np.trace(cm) / cm.sum() == pytest.approx(report[f"accuracy_{m}"])
        assert (Path(report["_out"]) / "plots" / f"eval_confusion_{m}_test.png").stat().st_size > 1000
    assert 0.0 <= report["int8_vs_qat_agreement"] <= 1.0


def test_accuracy_without_stage_models(run_dir: Path, tmp_path: Path) -> None:
    import shutil

    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("config.json", "model.tflite", "model.fgb"):
        shutil.copy(run_dir / name, bare / name)
    acc = evaluate.evaluate_accuracy(bare, "val")
    assert acc["accuracy_float"] is None and acc["accuracy_qat"] is None and acc["confusion_qat"] is None
    assert acc["int8_vs_qat_agreement"] is None
    assert 0.0 <= acc["accuracy_int8"] <= 1.0 and acc["split"] == "val"


# ----------------------------------------------------------------------------------------------
# Streaming.
def test_streaming_report_is_consistent(report: dict) -> None:
    keys = ("accuracy_float", "accuracy_qat", "accuracy_int8", "confusion_int8", "frr", "fa_per_hour",
            "threshold", "latency_ms", "det_curve", "stream_hours", "operating_point", "target_met")
    assert all(k in report for k in keys), [k for k in keys if k not in report]
    assert report["stream_hours"] == pytest.approx(3 / 60)
    curve = report["det_curve"]
    assert curve["threshold"] == list(range(256))
    n_events = report["stream"]["num_events"]
    assert n_events > 10
    frr = np.array(curve["frr"], float)
    fa = np.array(curve["fa_per_hour"], float)
    assert np.all((frr >= 0) & (frr <= 1)) and np.all(fa >= 0)
    assert np.allclose(frr, 1 - np.array(curve["hits"]) / n_events)
    assert np.allclose(fa, np.array(curve["false_accepts"]) / report["stream_hours"])
    # Fewer candidate frames can only give fewer detections (greedy refractory spacing is optimal).
    total = np.array(curve["hits"]) + np.array(curve["false_accepts"])
    assert np.all(np.diff(total) <= 0)
    # The operating point: the target is met and no threshold meeting it has a lower FRR.
    assert report["target_met"] and report["fa_per_hour"] <= report["fa_target_per_hour"]
    assert report["frr"] == pytest.approx(frr[fa <= report["fa_target_per_hour"]].min())
    # The scores carry the keywords: some threshold finds half of them with few false accepts
    # (threshold 0 fires every refractory period, which trivially "finds" every keyword).
    fas = np.array(curve["false_accepts"])
    assert np.any((frr <= 0.5) & (fas <= 0.25 * fas[0])), (frr.tolist(), fas.tolist())
    # The operating point's hits are the ones with a latency. (Whether the tiny model finds any keyword at zero
    # false accepts in 3 minutes depends on its training: 0 on one fresh-clone run of make test.)
    op = report["operating_point"]
    assert op["hits"] == report["latency_ms"]["count"]
    if op["hits"]:
        assert -1000 < report["latency_ms"]["median"] < 1000
    assert Path(report["plots"]["det"]).stat().st_size > 1000


def test_configured_threshold_equals_the_streaming_pipeline(run_dir: Path, report: dict) -> None:
    """The sweep at the bundle's threshold gives what the pipeline's own detector gives on the WAV."""
    from keyword_spotting import kws_model, metrics, streaming
    from keyword_spotting.streams import read_stream

    stream = read_stream(report["stream"]["wav"])
    assert len(stream.events) == report["stream"]["num_events"]
    model = kws_model.load_model(run_dir / "model.fgb")
    res = streaming.run_stream(model, stream.audio)
    assert len(res.scores) == report["stream"]["frames"]
    r = metrics.match_detections([(d.time_s, d.label) for d in res.detections], stream.events,
                                 stream.duration_s, report["tolerance_s"])
    conf = report["configured_threshold"]
    assert conf["threshold"] == model.detector.threshold
    assert (conf["hits"], conf["false_accepts"]) == (r.hits, r.false_accepts)


def test_test_stream_is_deterministic_and_uses_extra_folders(run_dir: Path, tmp_path: Path) -> None:
    from keyword_spotting.audio_io import write_wav
    from keyword_spotting.streams import read_stream

    extra = tmp_path / "speech"
    rng = np.random.default_rng(5)
    for i in range(3):
        write_wav(extra / f"talk{i}.wav", np.round(rng.normal(0, 3000, SR)).astype(np.int16))
    a = stream_eval.make_test_stream(run_dir, tmp_path / "a.wav", 0.5, seed=3, extra_negative_dirs=[extra])
    b = stream_eval.make_test_stream(run_dir, tmp_path / "b.wav", 0.5, seed=3, extra_negative_dirs=[extra])
    c = stream_eval.make_test_stream(run_dir, tmp_path / "c.wav", 0.5, seed=4, extra_negative_dirs=[extra])
    assert len(a.audio) == 30 * SR and np.array_equal(a.audio, b.audio) and a.events == b.events
    assert not np.array_equal(a.audio, c.audio)
    back = read_stream(tmp_path / "a.wav")
    assert np.array_equal(back.audio, a.audio) and back.events == a.events
    assert all(e.label == "positive" for e in a.events)
    run = run_folder.load_run(run_dir)
    src = stream_eval.stream_sources(run, run_folder.load_run_dataset(run), extra_negative_dirs=[extra])
    base = stream_eval.stream_sources(run, run_folder.load_run_dataset(run))
    assert src.counts["negative_clips"] == base.counts["negative_clips"] + 3


def test_demo_helpers(run_dir: Path, report: dict, tmp_path: Path) -> None:
    """What `kws-demo` uses: op detections, re-scoring other detections, the bundle at a new threshold."""
    from fastgrnn_tf.export.bundle import read_bundle
    from keyword_spotting import kws_model

    op = report["operating_point"]
    assert len(report["detections"]) == op["hits"] + op["false_accepts"]
    assert report["stream_wav"] == report["stream"]["wav"]
    assert report["events"] == report["stream"]["num_events"]
    again = stream_eval.score_detections(report, [(d["time_s"], d["label"]) for d in report["detections"]])
    assert (again["hits"], again["false_accepts"]) == (op["hits"], op["false_accepts"])
    assert again["latency_ms"]["median"] == pytest.approx(report["latency_ms"]["median"])
    new = evaluate.write_bundle_with_threshold(run_dir, 201, tmp_path / "m.fgb")
    assert kws_model.load_model(new).detector.threshold == 201
    a, b = read_bundle(run_dir / "model.fgb"), read_bundle(new)
    assert sorted(a) == sorted(b)
    assert all(np.array_equal(a[k], b[k]) for k in a if k != "detector.threshold")
    with pytest.raises(ValueError, match="threshold"):
        evaluate.write_bundle_with_threshold(run_dir, 256, tmp_path / "m.fgb")
    with pytest.raises(ValueError, match="no model.fgb"):
        evaluate.write_bundle_with_threshold(tmp_path, 100)
