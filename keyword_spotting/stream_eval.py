"""Streaming evaluation of a `kws-train` run: FRR and false accepts per hour of the int8 pipeline on a
long test stream, swept over every detector threshold.

    stream = make_test_stream("build/train", "build/eval/stream.wav", minutes=10, seed=0)  # + stream.json
    st = evaluate_streaming("build/train", minutes=10, fa_target=1.0, seed=0)   # DET sweep, op point

The stream (`keyword_spotting.streams`) is the dataset's noise recordings (plus `extra_noise_dirs`)
with the split's keyword clips and negative clips (the non-keyword classes of the split, plus
`extra_negative_dirs`) inserted at known times. The int8 pipeline (`keyword_spotting.streaming`)
computes the per-frame scores once; the detector (`detector_spec.md`) is then replayed for every
threshold 0..255 by `detector.ThresholdSweep`, and `keyword_spotting.metrics` gives FRR and FA/h per
threshold, the DET curve and the operating point: the lowest FRR with FA/h <= `fa_target`, or, when
no threshold reaches the target, the lowest FA/h (`target_met` false).
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fastgrnn_tf.atomic_io import atomic_write_bytes
from keyword_spotting import metrics, streaming, streams
from keyword_spotting.audio_io import read_audio
from keyword_spotting.datasets import SplitDataset, wav_files
from keyword_spotting.detector import Detection, ThresholdSweep, sweep_detect_fn
from keyword_spotting.features import FeatureSpec
from keyword_spotting.run_folder import (
    EVAL_STREAM,
    PLOTS,
    Run,
    load_pipeline_model,
    load_run,
    load_run_dataset,
    run_keywords,
)

THRESHOLDS = tuple(range(256))


def _wavs_in(folder: str | os.PathLike, what: str) -> list[Path]:
    d = Path(folder)
    if not d.is_dir():
        raise ValueError(f"{what} {d} is not a directory")
    files = wav_files(d)
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


def operating_point(curve: Any, fa_target: float) -> tuple[Any, bool]:
    """(`metrics.OperatingPoint`, target met): the lowest FRR with FA/h <= `fa_target`
    (`metrics.choose_operating_point`); when no threshold reaches it, the lowest FA/h (then the
    lowest FRR, then the highest threshold) and False."""
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
    if not (isinstance(fa_target, (int, float)) and fa_target >= 0 and math.isfinite(fa_target)):
        raise ValueError(f"fa_target must be a number >= 0, got {fa_target!r}")
    if not tolerance_s >= 0:
        raise ValueError(f"tolerance_s must be >= 0, got {tolerance_s}")
    run = load_run(run_dir)
    dataset = load_run_dataset(run, progress)
    model = load_pipeline_model(run, dataset.class_names)
    out = Path(out_dir) if out_dir is not None else run.path
    wav = out / EVAL_STREAM
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
    det_png = metrics.plot_det(curve, out / PLOTS / "det.png", op, fa_target, title=title)
    timeline_png = plot_stream_scores(sweep, stream, spec, op.threshold, out / PLOTS / "stream_scores.png")
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
    meta_path = Path(stream_eval["stream"]["json"])
    try:
        meta = json.loads(meta_path.read_text())
        events = [streams.Event(float(e["start_s"]), float(e["end_s"]), str(e["label"])) for e in meta["events"]]
        duration = float(meta["duration_s"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{meta_path}: not a readable stream ground-truth file: {e}") from e
    r = metrics.match_detections(detections, events, duration, float(stream_eval["tolerance_s"]))
    return {"frr": r.frr, "fa_per_hour": r.fa_per_hour, "latency_ms": _latency_ms(r.latencies_s),
            "hits": r.hits, "misses": r.misses, "false_accepts": r.false_accepts,
            "wrong_label": r.wrong_label}
