"""Evaluation of a `kws-train` run folder: clip accuracy per model and streaming FRR / false accepts per hour.

    acc = evaluate_accuracy("build/train", split="test")   # float/pruned/QAT/int8 accuracy + confusions
    stream = make_test_stream("build/train", "build/eval/stream.wav", minutes=10, seed=0)  # + stream.json
    st = evaluate_streaming("build/train", minutes=10, fa_target=1.0, seed=0)   # DET sweep, op point
    report = evaluate_run("build/train")        # both; writes eval_report.json and plots/

The run folder is what `kws-train` writes: `config.json` (the dataset and feature spec are reloaded
from it), `model.tflite` (custom op; the int8 oracle is driven from it by `fastgrnn_tf.export.tflite_reader`),
`model.fgb` (the streaming pipeline's bundle) and `stages/` (the Keras models, when present).

Streaming: a long stream (`keyword_spotting.streams`) of the dataset's noise recordings (plus
`extra_noise_dirs`) with the split's keyword clips and negative clips (the non-keyword classes of
the split, plus `extra_negative_dirs`) inserted at known times. The int8 pipeline computes the
per-frame scores once; the detector (`detector_spec.md`) is then replayed for every threshold
0..255 by `ThresholdSweep` (exactly `detector.detect`, but vectorized), and `keyword_spotting.metrics`
gives FRR and FA/h per threshold, the DET curve and the operating point: the lowest FRR with
FA/h <= `fa_target`, or, when no threshold reaches the target, the lowest FA/h (`target_met` false).
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fastgrnn_tf.atomic_io import atomic_write_bytes
from keyword_spotting.audio_io import read_audio
from keyword_spotting.datasets import SILENCE, UNKNOWN, SplitDataset
from keyword_spotting.detector import Detection, DetectorParams
from keyword_spotting.features import FeatureSpec
from keyword_spotting.train_config import Config, config_from_dict

NON_KEYWORD_CLASSES = (SILENCE, UNKNOWN, "negative")
"""Class names that are never keywords (as `kws-train` picks the detector's keywords)."""
STAGE_MODELS = {"float": "dense/dense.keras", "pruned": "retrain/stripped.keras", "qat": "qat/qat.h5"}
"""Keras model of each evaluated stage, relative to `<run>/stages` (`fastgrnn_tf.stages` file names)."""
THRESHOLDS = tuple(range(256))
STREAM_NAME = "eval_stream.wav"
REPORT_NAME = "eval_report.json"


# ----------------------------------------------------------------------------------------------
# The run folder.
@dataclasses.dataclass
class Run:
    """A `kws-train` output folder and its configuration (`out_dir` set to the folder itself)."""

    path: Path
    config: Config

    @property
    def spec(self) -> FeatureSpec:
        return self.config.features

    def file(self, name: str) -> Path:
        return self.path / name


def load_run(run_dir: str | os.PathLike) -> Run:
    """Check `run_dir` is a `kws-train` folder (config.json, model.tflite) and load its config."""
    path = Path(run_dir)
    if not path.is_dir():
        raise ValueError(f"run folder {path} is not a directory")
    cfg_path = path / "config.json"
    if not cfg_path.is_file():
        raise ValueError(f"run folder {path} has no config.json (not a kws-train output folder?)")
    try:
        cfg = config_from_dict(json.loads(cfg_path.read_text()))
    except (ValueError, TypeError) as e:
        raise ValueError(f"{cfg_path}: {e}") from e
    if not (path / "model.tflite").is_file():
        raise ValueError(f"run folder {path} has no model.tflite (training not finished?)")
    cfg.out_dir = str(path)  # a TTS dataset lives in <run>/tts_data even if the folder was moved
    return Run(path, cfg)


def load_run_dataset(run: Run, progress: bool = False) -> SplitDataset:
    """The run's SplitDataset, reloaded from its config exactly as `kws-train` loaded it."""
    from keyword_spotting.train_cli import load_dataset

    try:
        return load_dataset(run.config, progress)
    except ValueError as e:
        raise ValueError(f"run {run.path}: cannot reload its dataset: {e}") from e


def run_keywords(classes: Sequence[str]) -> list[int]:
    """Keyword class indices: every class but silence / unknown / negative (as `kws-train` does)."""
    return [i for i, c in enumerate(classes) if c not in NON_KEYWORD_CLASSES]


def split_arrays(run: Run, dataset: SplitDataset, split: str, progress: bool = False
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Clean int8 features [N, T, D] and labels [N] of a split, as `kws-train` made its val/test arrays."""
    from keyword_spotting.augment import load_noise_clips
    from keyword_spotting.tfdata import make_feature_arrays

    items = dataset.split(split)
    if not items:
        raise ValueError(f"run {run.path}: split {split!r} of its dataset is empty")
    noise = load_noise_clips(dataset.noise, run.spec.sample_rate)
    return make_feature_arrays(items, run.spec, None, noise_clips=noise, cache_dir=run.file("cache"),
                               progress=progress)


def load_stage_model(run: Run, stage: str) -> Any | None:
    """The stage's Keras model (`STAGE_MODELS`), or None when the run has no such file."""
    if stage not in STAGE_MODELS:
        raise ValueError(f"stage must be one of {sorted(STAGE_MODELS)}, got {stage!r}")
    path = run.file("stages") / STAGE_MODELS[stage]
    if not path.is_file():
        return None
    from fastgrnn_tf.saving import load_model

    try:
        return load_model(path)
    except Exception as e:  # whatever the loader raises, name the file
        raise ValueError(f"{path}: cannot load the {stage} Keras model: {e}") from e


def model_input_view(spec: FeatureSpec, input_scale: float, input_zero_point: int) -> FeatureSpec:
    """A FeatureSpec whose `dequantize` is the model's view of the int8 codes, `(q - zp) * scale`
    (`feature_spec.md`, "The model's view of the codes"); only for dequantizing."""
    return dataclasses.replace(spec, quant_scale=float(input_scale),
                               quant_offset=-int(input_zero_point) * float(input_scale))


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """int64 [true, predicted] counts."""
    cm = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(cm, (np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)), 1)
    return cm


# ----------------------------------------------------------------------------------------------
# Clip accuracy.
def evaluate_accuracy(run_dir: str | os.PathLike, split: str = "test", progress: bool = False,
                      plots_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """Accuracy and confusion matrix of the float, pruned, QAT (Keras) and int8 (oracle) models on a split.

    Returns {"split", "num_clips", "classes", "accuracy_<m>", "confusion_<m>" for m in float, pruned,
    qat, int8 (None when the run has no such model), "int8_vs_qat_agreement", "models" (files used),
    "input_quantization"}. The int8 model is `model.tflite` run by `fastgrnn_tf.int8.model.predict` (the oracle,
    from the file's tensors); the Keras models read the same codes through the input quantization
    that file declares (`model_input_view`).
    With `plots_dir`, also writes `eval_confusion_<m>_<split>.png` there.
    """
    from fastgrnn_tf.export import tflite_reader
    from fastgrnn_tf.int8.model import predict
    from keyword_spotting.features import dequantize

    run = load_run(run_dir)
    dataset = load_run_dataset(run, progress)
    classes = list(dataset.class_names)
    x, y = split_arrays(run, dataset, split, progress)
    n_cls = len(classes)
    try:
        m = tflite_reader.read_exported(run.file("model.tflite"))
    except ValueError as e:
        raise ValueError(f"{run.file('model.tflite')}: {e}") from e
    if m.head[-1].weights.shape[0] != n_cls:
        raise ValueError(f"{run.file('model.tflite')}: {m.head[-1].weights.shape[0]} outputs but the dataset "
                         f"has {n_cls} classes")
    view = model_input_view(run.spec, m.input_scale, m.input_zero_point)
    out: dict[str, Any] = {"split": split, "num_clips": int(len(y)), "classes": classes, "models": {},
                           "input_quantization": {"scale": float(m.input_scale),
                                                  "zero_point": int(m.input_zero_point)}}
    preds: dict[str, np.ndarray] = {}
    for stage in ("float", "pruned", "qat"):
        model = load_stage_model(run, stage)
        if model is None:
            continue
        n_out = int(model.output_shape[-1])
        if n_out != n_cls:
            raise ValueError(f"{run.path / 'stages' / STAGE_MODELS[stage]}: {n_out} outputs but the dataset "
                             f"has {n_cls} classes")
        probs = model.predict(dequantize(x, view), batch_size=256, verbose=0)
        preds[stage] = np.argmax(probs, axis=-1)
        out["models"][stage] = str(Path("stages") / STAGE_MODELS[stage])
    preds["int8"] = predict(m, x)
    out["models"]["int8"] = "model.tflite"
    for name in ("float", "pruned", "qat", "int8"):
        p = preds.get(name)
        out[f"accuracy_{name}"] = None if p is None else float(np.mean(p == y))
        out[f"confusion_{name}"] = None if p is None else confusion_matrix(y, p, n_cls).tolist()
    out["int8_vs_qat_agreement"] = (float(np.mean(preds["int8"] == preds["qat"])) if "qat" in preds else None)
    if plots_dir is not None:
        from keyword_spotting import plots

        for name, p in preds.items():
            plots.plot_confusion(confusion_matrix(y, p, n_cls), classes,
                                 Path(plots_dir) / f"eval_confusion_{name}_{split}.png",
                                 f"{name} confusion, {split} split ({len(y)} clips)")
    return out


# ----------------------------------------------------------------------------------------------
# The detector over many thresholds.
class ThresholdSweep:
    """`detector.detect(scores, replace(params, threshold=th))` for any threshold, computed fast.

    The moving sums, the eligible frames and the winning keyword per frame do not depend on the
    threshold (the winner is the keyword with the largest sum, which fires whenever any fires),
    so only the refractory walk over the frames above the threshold is repeated per threshold.
    """

    def __init__(self, scores: np.ndarray, params: DetectorParams) -> None:
        s = np.asarray(scores)
        if s.ndim != 2:
            raise ValueError(f"scores must be [frames, classes], got shape {s.shape}")
        if s.size and (int(s.min()) < 0 or int(s.max()) > 255):
            raise ValueError("scores must be in [0, 255]")
        if max(params.keywords) >= s.shape[1]:
            raise ValueError(f"scores has {s.shape[1]} classes but keywords include {max(params.keywords)}")
        self.scores, self.params = s, params
        n = params.window_frames
        kw = np.array(sorted(params.keywords), np.int64)  # by class index: argmax picks the lowest on ties
        cs = np.cumsum(s[:, kw].astype(np.int64), axis=0)
        sums = cs.copy()
        sums[n:] -= cs[:-n]
        arg = np.argmax(sums, axis=1) if len(s) else np.zeros(0, np.int64)
        self.best = sums[np.arange(len(s)), arg] if len(s) else np.zeros(0, np.int64)
        self.winner = kw[arg]
        self.best[: max(int(params.min_frames) - 1, 0)] = -1  # t + 1 < min_frames: never fires

    def detect(self, threshold: int) -> list[Detection]:
        """All detections at `threshold` (0..255), as `detector.detect` gives them."""
        if not 0 <= int(threshold) <= 255:
            raise ValueError(f"threshold must be in [0, 255], got {threshold}")
        p = self.params
        cand = np.flatnonzero(self.best >= int(threshold) * p.window_frames)
        frames: list[int] = []
        if p.refractory_frames == 0:
            frames = cand.tolist()
        else:
            i = 0
            while i < len(cand):
                t = int(cand[i])
                frames.append(t)
                i = int(np.searchsorted(cand, t + p.refractory_frames, side="left"))
        return [Detection(t, int(self.winner[t]), int(self.best[t]) // p.window_frames) for t in frames]


def sweep_detect_fn(classes: Sequence[str], params: DetectorParams, spec: FeatureSpec
                    ) -> Callable[[np.ndarray, int], list[tuple[float, str]]]:
    """A `metrics.det_curve` detect function (scores, threshold) -> [(time_s, label)], one sweep per array."""
    cache: dict[int, ThresholdSweep] = {}

    def detect(scores: np.ndarray, threshold: int) -> list[tuple[float, str]]:
        sw = cache.get(id(scores))
        if sw is None or sw.scores is not scores:
            sw = cache[id(scores)] = ThresholdSweep(scores, params)
        return [(d.time_s(spec.hop_samples, spec.window_samples, spec.sample_rate), classes[d.class_index])
                for d in sw.detect(threshold)]

    return detect


# ----------------------------------------------------------------------------------------------
# Test streams.
def _wavs_in(folder: str | os.PathLike, what: str) -> list[Path]:
    d = Path(folder)
    if not d.is_dir():
        raise ValueError(f"{what} {d} is not a directory")
    files = sorted(p for p in d.rglob("*") if p.suffix.lower() == ".wav" and p.is_file())
    if not files:
        raise ValueError(f"{what} {d} has no .wav files")
    return files


def _subset(paths: Sequence[str | Path], k: int, rng: np.random.Generator) -> list[str | Path]:
    if len(paths) <= k:
        return list(paths)
    return [paths[i] for i in sorted(rng.permutation(len(paths))[:k])]


def _read_all(paths: Sequence[str | Path], sample_rate: int) -> list[np.ndarray]:
    out = []
    for p in paths:
        a = read_audio(p, sample_rate)
        if a.size and np.any(a):
            out.append(a)
    return out


@dataclasses.dataclass
class StreamSources:
    """What a test stream is made of: noise recordings, keyword clips by label, negative clips."""

    background: list[np.ndarray]
    keywords: dict[str, list[np.ndarray]]
    negatives: list[np.ndarray]
    counts: dict[str, int]


def stream_sources(run: Run, dataset: SplitDataset, split: str = "test",
                   extra_negative_dirs: Sequence[str | os.PathLike] = (),
                   extra_noise_dirs: Sequence[str | os.PathLike] = (), max_clips: int = 400,
                   seed: int = 0, keywords: Sequence[int] | None = None) -> StreamSources:
    """Keyword clips of the split (by class name), its other non-silence clips and the extra negatives,
    the dataset's noise plus the extra noise. Each source keeps at most `max_clips` files (a seeded pick).
    `keywords`: the detector's keyword class indices (default `run_keywords`)."""
    classes = list(dataset.class_names)
    kw = set(run_keywords(classes) if keywords is None else (int(k) for k in keywords))
    if not kw:
        raise ValueError(f"run {run.path}: no keyword class among {classes}")
    rng = np.random.default_rng([seed, 7])
    sr = run.spec.sample_rate
    items = [it for it in dataset.split(split) if not it.is_silence]
    keywords = {}
    for k in sorted(kw):
        paths = [it.path for it in items if it.label == k]
        keywords[classes[k]] = _read_all(_subset(paths, max_clips, rng), sr)
    if not any(keywords.values()):
        raise ValueError(f"run {run.path}: split {split!r} has no keyword clips to put in a stream")
    neg_paths: list[str | Path] = [it.path for it in items if it.label not in kw]
    for d in extra_negative_dirs:
        neg_paths += _wavs_in(d, "extra negative folder")
    negatives = _read_all(_subset(neg_paths, max_clips, rng), sr)
    noise_paths: list[str | Path] = list(dataset.noise)
    for d in extra_noise_dirs:
        noise_paths += _wavs_in(d, "extra noise folder")
    background = _read_all(_subset(noise_paths, max_clips, rng), sr)
    counts = {"keyword_clips": sum(len(v) for v in keywords.values()), "negative_clips": len(negatives),
              "noise_recordings": len(background)}
    return StreamSources(background, keywords, negatives, counts)


def make_test_stream(run_dir: str | os.PathLike, wav_path: str | os.PathLike, minutes: float = 10.0,
                     seed: int = 0, split: str = "test",
                     extra_negative_dirs: Sequence[str | os.PathLike] = (),
                     extra_noise_dirs: Sequence[str | os.PathLike] = (), stream_config: Any | None = None,
                     progress: bool = False) -> Any:
    """Build the run's test stream (`minutes` long, deterministic given `seed`) and write it as
    `wav_path` (16 kHz 16-bit WAV, for the C++ host runner) + the ground truth `<name>.json`.

    Returns the `keyword_spotting.streams.Stream`. `stream_config` (a `StreamConfig`) overrides the
    layout; its `duration_s` is replaced by `minutes`.
    """
    run = load_run(run_dir)
    dataset = load_run_dataset(run, progress)
    keywords = load_pipeline_model(run, dataset.class_names).detector.keywords
    stream, _ = _build_stream(run, dataset, wav_path, minutes, seed, split, extra_negative_dirs,
                              extra_noise_dirs, keywords, stream_config)
    return stream


def _build_stream(run: Run, dataset: SplitDataset, wav_path: str | os.PathLike, minutes: float, seed: int,
                  split: str, extra_negative_dirs: Sequence[str | os.PathLike],
                  extra_noise_dirs: Sequence[str | os.PathLike], keywords: Sequence[int],
                  stream_config: Any | None = None) -> tuple[Any, dict[str, int]]:
    from keyword_spotting import streams

    if isinstance(minutes, bool) or not (isinstance(minutes, (int, float)) and math.isfinite(minutes)
                                         and minutes > 0):
        raise ValueError(f"minutes must be a positive number, got {minutes!r}")
    src = stream_sources(run, dataset, split, extra_negative_dirs, extra_noise_dirs, seed=seed,
                         keywords=keywords)
    cfg = stream_config or streams.StreamConfig()
    cfg = dataclasses.replace(cfg, duration_s=float(minutes) * 60.0, sample_rate=run.spec.sample_rate)
    stream = streams.build_stream(src.background, src.keywords, src.negatives, cfg, seed)
    streams.write_stream(wav_path, stream)
    return stream, src.counts


# ----------------------------------------------------------------------------------------------
# Streaming evaluation.
def load_pipeline_model(run: Run, classes: Sequence[str]) -> Any:
    """The run's streaming model: `model.fgb` (else `model.tflite` + the config's detector), checked
    against the run's feature spec and the dataset's `classes`."""
    from keyword_spotting import kws_model

    fgb = run.file("model.fgb")
    if fgb.is_file():
        model = kws_model.load_model(fgb)
        if model.classes != tuple(classes):
            raise ValueError(f"{fgb}: classes {list(model.classes)} differ from the dataset's "
                             f"{list(classes)}")
    else:
        det = run.config.detector
        params = DetectorParams(keywords=tuple(run_keywords(classes)), window_frames=det.window_frames,
                                threshold=det.threshold, refractory_frames=det.refractory_frames)
        model = kws_model.load_model(run.file("model.tflite"), features=run.spec, detector=params,
                                    classes=classes)
    if model.features != run.spec:
        raise ValueError(f"{fgb}: its feature spec {model.features.to_dict()} differs from config.json's "
                         f"{run.spec.to_dict()}")
    return model


def operating_point(curve: Any, fa_target: float) -> tuple[Any, bool]:
    """(`metrics.OperatingPoint`, target met): the lowest FRR with FA/h <= `fa_target`
    (`metrics.choose_operating_point`); when no threshold reaches it, the lowest FA/h (then the
    lowest FRR, then the highest threshold) and False."""
    from keyword_spotting import metrics

    try:
        return metrics.choose_operating_point(curve, fa_target), True
    except ValueError:
        pass
    best = min(range(len(curve.thresholds)),
               key=lambda i: (curve.fa_per_hour[i], np.nan_to_num(curve.frr[i], nan=1.0),
                              -int(curve.thresholds[i])))
    return metrics.OperatingPoint(int(curve.thresholds[best]), float(curve.frr[best]),
                                  float(curve.fa_per_hour[best]), curve.results[best]), False


def _detection_dict(d: Detection, classes: Sequence[str], spec: FeatureSpec) -> dict[str, Any]:
    return {"time_s": d.time_s(spec.hop_samples, spec.window_samples, spec.sample_rate), "frame": d.frame,
            "class": d.class_index, "label": classes[d.class_index], "score": d.score}


def _latency_ms(latencies_s: Sequence[float]) -> dict[str, Any]:
    if not latencies_s:
        return {"mean": None, "median": None, "p90": None, "count": 0}
    a = 1000.0 * np.asarray(latencies_s, np.float64)
    return {"mean": float(np.mean(a)), "median": float(np.median(a)), "p90": float(np.percentile(a, 90)),
            "count": int(a.size)}


def _point(result: Any, threshold: int) -> dict[str, Any]:
    return {"threshold": int(threshold), "frr": result.frr, "fa_per_hour": result.fa_per_hour,
            "hits": result.hits, "misses": result.misses, "false_accepts": result.false_accepts,
            "wrong_label": result.wrong_label, "misses_by_label": dict(result.misses_by_label)}


def evaluate_streaming(run_dir: str | os.PathLike, minutes: float = 10.0, fa_target: float = 1.0,
                       seed: int = 0, extra_negative_dirs: Sequence[str | os.PathLike] = (),
                       extra_noise_dirs: Sequence[str | os.PathLike] = (), split: str = "test",
                       out_dir: str | os.PathLike | None = None, tolerance_s: float = 0.5,
                       progress: bool = False) -> dict[str, Any]:
    """Streaming FRR / FA/h of the int8 pipeline on a test stream, swept over detector thresholds 0..255.

    Writes `<out_dir>/eval_stream.wav` + `.json` (the stream and its ground truth; `out_dir` defaults
    to the run folder), `<out_dir>/plots/det.png` and `plots/stream_scores.png` (the first minute).
    Returns a dict with, at the operating point: `threshold`, `frr`, `fa_per_hour`, `latency_ms`
    (mean / median / p90 of detection time - keyword end, over hits), `target_met`, `operating_point`
    (counts, misses per label), `detections` (list of {time_s, frame, class, label, score}); and
    `configured_threshold` (the same counts at the bundle's threshold), `det_curve` (per threshold
    0..255: frr, fa_per_hour, hits, false_accepts), `stream_hours`, `stream_minutes`, `stream_wav`,
    `events` (number of keywords), `stream` (paths, events per label, sources), `detector`, `plots`.
    """
    from keyword_spotting import metrics, streaming

    if not (isinstance(fa_target, (int, float)) and fa_target >= 0 and math.isfinite(fa_target)):
        raise ValueError(f"fa_target must be a number >= 0, got {fa_target!r}")
    if not tolerance_s >= 0:
        raise ValueError(f"tolerance_s must be >= 0, got {tolerance_s}")
    run = load_run(run_dir)
    dataset = load_run_dataset(run, progress)
    model = load_pipeline_model(run, dataset.class_names)
    out = Path(out_dir) if out_dir is not None else run.path
    wav = out / STREAM_NAME
    t0 = time.time()
    stream, sources = _build_stream(run, dataset, wav, minutes, seed, split, extra_negative_dirs,
                                    extra_noise_dirs, model.detector.keywords)
    t1 = time.time()
    frontend = streaming.resolve_frontend("auto")  # the device's C++ frontend when built: kws_host's numbers
    feats = streaming.stream_features(stream.audio, model.features, frontend)
    scores = streaming.frame_scores(model, feats)
    t2 = time.time()
    spec = model.features
    sweep = ThresholdSweep(scores, model.detector)
    detect = sweep_detect_fn(model.classes, model.detector, spec)
    scored = metrics.ScoredStream(scores, stream.events, stream.duration_s)
    curve = metrics.det_curve([scored], detect, THRESHOLDS, tolerance_s)
    op, target_met = operating_point(curve, fa_target)
    title = f"DET, {stream.duration_s / 60:.1f} min stream, {len(stream.events)} keywords"
    det_png = metrics.plot_det(curve, out / "plots" / "det.png", op, fa_target, title=title)
    timeline_png = plot_stream_scores(sweep, stream, spec, op.threshold, out / "plots" / "stream_scores.png")
    configured = int(model.detector.threshold)
    labels = sorted({e.label for e in stream.events})
    op_dets = [_detection_dict(d, model.classes, spec) for d in sweep.detect(op.threshold)]
    return {
        "features_frontend": frontend,
        "split": split,
        "threshold": op.threshold,
        "frr": op.frr,
        "fa_per_hour": op.fa_per_hour,
        "latency_ms": _latency_ms(op.result.latencies_s),
        "fa_target_per_hour": float(fa_target),
        "target_met": target_met,
        "operating_point": _point(op.result, op.threshold),
        "configured_threshold": _point(curve.results[THRESHOLDS.index(configured)], configured),
        "det_curve": {"threshold": [int(t) for t in curve.thresholds], "frr": curve.frr.tolist(),
                      "fa_per_hour": curve.fa_per_hour.tolist(),
                      "hits": [r.hits for r in curve.results],
                      "false_accepts": [r.false_accepts for r in curve.results]},
        "stream_hours": stream.duration_s / 3600.0,
        "stream_minutes": stream.duration_s / 60.0,
        "stream_wav": str(wav),
        "events": len(stream.events),
        "detections": op_dets,
        "stream": {"wav": str(wav), "json": str(wav.with_suffix(".json")), "seconds": stream.duration_s,
                   "seed": seed, "num_events": len(stream.events),
                   "events_per_label": {lab: sum(e.label == lab for e in stream.events) for lab in labels},
                   "num_negative_clips": len(stream.negatives), "frames": int(len(scores)),
                   "sources": sources},
        "detector": {**model.detector.to_dict(),
                     "keyword_names": [model.classes[k] for k in model.detector.keywords]},
        "tolerance_s": float(tolerance_s),
        "plots": {"det": str(det_png), "stream_scores": str(timeline_png)},
        "timing_s": {"stream": round(t1 - t0, 2), "scores": round(t2 - t1, 2),
                     "sweep": round(time.time() - t2, 2)},
    }


def plot_stream_scores(sweep: ThresholdSweep, stream: Any, spec: FeatureSpec, threshold: int,
                       path: str | os.PathLike, seconds: float = 60.0) -> Path:
    """PNG of the first `seconds` of a stream: the best keyword's smoothed score per frame, the keyword
    (green) and negative-speech (grey) spans, the threshold and the detections at it (red)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path)
    n = sweep.params.window_frames
    t = (np.arange(len(sweep.best)) * spec.hop_samples + spec.window_samples) / spec.sample_rate
    keep = t <= seconds
    fig = Figure(figsize=(10, 3.2), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for a, b in stream.negatives:
        if a <= seconds:
            ax.axvspan(a, b, color="0.85", lw=0)
    for e in stream.events:
        if e.start_s <= seconds:
            ax.axvspan(e.start_s, e.end_s, color="C2", alpha=0.3, lw=0)
    ax.plot(t[keep], np.maximum(sweep.best[keep], 0) / n, lw=0.8, color="C0", label="smoothed keyword score")
    ax.axhline(threshold, color="C3", ls="--", lw=0.8, label=f"threshold {threshold}")
    for d in sweep.detect(threshold):
        ts = d.time_s(spec.hop_samples, spec.window_samples, spec.sample_rate)
        if ts <= seconds:
            ax.axvline(ts, color="C3", lw=1.2)
    ax.set_xlim(0, min(seconds, stream.duration_s))
    ax.set_ylim(0, 260)
    ax.set_xlabel("time (s)   green: keywords, grey: negative speech, red: detections")
    ax.set_ylabel("score (0..255)")
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return atomic_write_bytes(path, buf.getvalue())


def score_detections(stream_eval: dict[str, Any], detections: Sequence[tuple[float, str]]) -> dict[str, Any]:
    """FRR, FA/h and latency of other detections `[(time_s, label), ...]` (e.g. the C++ host runner's)
    on the stream of an `evaluate_streaming` result, matched with the same tolerance."""
    from keyword_spotting import metrics
    from keyword_spotting.streams import Event

    meta_path = Path(stream_eval["stream"]["json"])
    try:
        meta = json.loads(meta_path.read_text())
        events = [Event(float(e["start_s"]), float(e["end_s"]), str(e["label"])) for e in meta["events"]]
        duration = float(meta["duration_s"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{meta_path}: not a readable stream ground-truth file: {e}") from e
    r = metrics.match_detections(detections, events, duration, float(stream_eval["tolerance_s"]))
    return {"frr": r.frr, "fa_per_hour": r.fa_per_hour, "latency_ms": _latency_ms(r.latencies_s),
            "hits": r.hits, "misses": r.misses, "false_accepts": r.false_accepts,
            "wrong_label": r.wrong_label}


def write_bundle_with_threshold(run_dir: str | os.PathLike, threshold: int,
                                out_path: str | os.PathLike | None = None) -> Path:
    """Rewrite the run's `model.fgb` (or write `out_path`) with `detector.threshold` = `threshold`,
    every other entry unchanged (e.g. to give the host runner / firmware the chosen operating point)."""
    from fastgrnn_tf.export import bundle
    from keyword_spotting import kws_model

    integer = isinstance(threshold, (int, np.integer)) and not isinstance(threshold, bool)
    if not integer or not 0 <= threshold <= 255:
        raise ValueError(f"threshold must be an integer in [0, 255], got {threshold!r}")
    src = Path(run_dir) / "model.fgb"
    if not src.is_file():
        raise ValueError(f"run folder {run_dir} has no model.fgb")
    arrays = bundle.read_bundle(src)
    old = arrays.get("detector.threshold")
    shape = np.shape(old) if old is not None else ()
    arrays["detector.threshold"] = np.asarray(int(threshold), np.int32).reshape(shape)
    dst = Path(out_path) if out_path is not None else src
    bundle.write_bundle(dst, arrays)
    kws_model.load_model(dst)  # still a valid model
    return dst


# ----------------------------------------------------------------------------------------------
# The whole report.
def _jsonable(x: Any) -> Any:
    """NaN / inf -> None, numpy scalars -> Python, recursively (strict JSON)."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def write_report(report: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write `report` as strict JSON (NaN -> null), atomically."""
    text = json.dumps(_jsonable(report), indent=1, allow_nan=False) + "\n"
    return atomic_write_bytes(path, text.encode())


def evaluate_run(run_dir: str | os.PathLike, split: str = "test", out_dir: str | os.PathLike | None = None,
                 accuracy: bool = True, streaming: bool = True, minutes: float = 10.0, fa_target: float = 1.0,
                 seed: int = 0, extra_negative_dirs: Sequence[str | os.PathLike] = (),
                 extra_noise_dirs: Sequence[str | os.PathLike] = (), tolerance_s: float = 0.5,
                 progress: bool = False) -> dict[str, Any]:
    """`evaluate_accuracy` + `evaluate_streaming`; writes `<out_dir>/eval_report.json` and `plots/`."""
    if not (accuracy or streaming):
        raise ValueError("nothing to evaluate: accuracy and streaming are both off")
    run = load_run(run_dir)
    out = Path(out_dir) if out_dir is not None else run.path
    report: dict[str, Any] = {"run_dir": str(run.path), "split": split}
    if accuracy:
        report.update(evaluate_accuracy(run.path, split, progress, plots_dir=out / "plots"))
    if streaming:
        report.update(evaluate_streaming(run.path, minutes, fa_target, seed, extra_negative_dirs,
                                         extra_noise_dirs, split, out, tolerance_s, progress))
    report["report"] = str(out / REPORT_NAME)
    write_report(report, out / REPORT_NAME)
    return _jsonable(report)


def _pct(x: Any) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}%"


def summary(report: dict[str, Any]) -> str:
    """A few lines for the terminal."""
    lines = [f"run {report.get('run_dir')}  split {report.get('split')}"]
    if "accuracy_int8" in report:
        models = ("float", "pruned", "qat", "int8")
        accs = "  ".join(f"{m} {_pct(report.get(f'accuracy_{m}'))}" for m in models)
        lines.append(f"accuracy ({report['num_clips']} clips): {accs}")
        if report.get("int8_vs_qat_agreement") is not None:
            lines.append(f"int8 vs QAT agreement: {_pct(report['int8_vs_qat_agreement'])}")
    if "frr" in report:
        st = report["stream"]
        lat = report["latency_ms"]
        lat_s = ("n/a" if lat["median"] is None
                 else f"median {lat['median']:.0f} ms, mean {lat['mean']:.0f} ms")
        met = ("" if report["target_met"]
               else f" (target {report['fa_target_per_hour']:g}/h not met: lowest FA/h)")
        fa = report["fa_per_hour"]
        lines.append(f"stream: {st['seconds'] / 60:.1f} min, {st['num_events']} keywords, "
                     f"{st['num_negative_clips']} negative clips -> {st['wav']}")
        lines.append(f"operating point: threshold {report['threshold']}: FRR {_pct(report['frr'])}, "
                     f"{'n/a' if fa is None else f'{fa:.2f}'} FA/h{met}; latency {lat_s}")
        c = report["configured_threshold"]
        cfa = c["fa_per_hour"]
        lines.append(f"configured threshold {c['threshold']}: FRR {_pct(c['frr'])}, "
                     f"{'n/a' if cfa is None else f'{cfa:.2f}'} FA/h")
    if "report" in report:
        lines.append(f"report: {report['report']}")
    return "\n".join(lines)
