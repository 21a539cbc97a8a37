"""The wake-word benchmark's numbers from per-frame scores: miss rate at FA/h targets, FA/h at miss targets,
the detector settings for a target FA/h, the DET plot.

    curve = sweep(scores, events, negative_seconds, model.detector, model.classes, model.features)
    miss_at_fa(curve, 0.5)      # lowest miss rate with FA/h <= 0.5 over thresholds 0..255 (1.0 if none)
    fa_at_miss(curve, 0.05)     # lowest FA/h with miss rate <= 5% (None if no threshold gets there)
    rep = condition_report(scores, events, negative_seconds, model, windows=(10, 20, 30, 50), target_fa=0.5)

Matching, FRR and FA/h are `metrics.match_detections` (a detection counts for a wake word from its start
to `tolerance_s` after its end); FA/h is false accepts per hour of NEGATIVE audio (each chunk's duration
minus its wake-word spans). Every chunk is its own stream from a reset state; `metrics.det_curve` pools
them. The detector is `detector_spec.md`'s, replayed for every threshold by `detector.ThresholdSweep`.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from keyword_spotting import metrics
from keyword_spotting.detector import DetectorParams
from keyword_spotting.streams import Event

FA_TARGETS = (0.1, 0.5, 1.0)
MISS_TARGETS = (0.05, 0.10)
TOLERANCE_S = 1.0


def _key(x: float) -> str:
    return f"{x:g}"


def sweep(scores: np.ndarray, events: Sequence[Sequence[Event]], negative_seconds: Sequence[float],
          params: DetectorParams, classes: Sequence[str], spec: Any, tolerance_s: float = TOLERANCE_S
          ) -> metrics.DetCurve:
    """FRR and FA/h (per negative hour) for thresholds 0..255, pooled over the chunks `scores[c]`."""
    from keyword_spotting.detector import sweep_detect_fn

    if len(scores) != len(events) or len(events) != len(negative_seconds):
        raise ValueError(f"need one events list and one negative duration per chunk, got {len(scores)} chunks, "
                         f"{len(events)} event lists, {len(negative_seconds)} durations")
    streams = [metrics.ScoredStream(scores[c], list(events[c]), float(negative_seconds[c]))
               for c in range(len(scores))]
    return metrics.det_curve(streams, sweep_detect_fn(classes, params, spec), range(256), tolerance_s)


def miss_at_fa(curve: metrics.DetCurve, fa_per_hour: float) -> float:
    """The lowest miss rate among thresholds with FA/h <= `fa_per_hour`; 1.0 when no threshold is that quiet."""
    ok = curve.fa_per_hour <= fa_per_hour
    return float(np.min(curve.frr[ok])) if ok.any() else 1.0


def fa_at_miss(curve: metrics.DetCurve, miss_rate: float) -> float | None:
    """The lowest FA/h among thresholds with miss rate <= `miss_rate`; None when no threshold detects that much."""
    ok = curve.frr <= miss_rate + 1e-12
    return float(np.min(curve.fa_per_hour[ok])) if ok.any() else None


def _point(curve: metrics.DetCurve, i: int) -> dict[str, Any]:
    r = curve.results[i]
    return {"threshold": int(curve.thresholds[i]), "miss_rate": float(curve.frr[i]),
            "fa_per_hour": float(curve.fa_per_hour[i]), "hits": r.hits, "misses": r.misses,
            "false_accepts": r.false_accepts,
            "median_latency_ms": None if not r.latencies_s else 1000 * r.median_latency_s}


def _window_sweep(scores: np.ndarray, events: Sequence[Sequence[Event]], negative_seconds: Sequence[float],
                  model: Any, window: int, tolerance_s: float) -> tuple[DetectorParams, metrics.DetCurve]:
    """The model's detector with another smoothing window (and min_frames = window), and its curve."""
    params = dataclasses.replace(model.detector, window_frames=window, min_frames=window)
    return params, sweep(scores, events, negative_seconds, params, model.classes, model.features, tolerance_s)


def detector_for_target(scores: np.ndarray, events: Sequence[Sequence[Event]], negative_seconds: Sequence[float],
                        model: Any, windows: Sequence[int], target_fa: float, tolerance_s: float = TOLERANCE_S
                        ) -> dict[str, Any]:
    """The smoothing window (from `windows`) and threshold with the lowest miss rate at FA/h <= `target_fa`
    (ties: lower FA/h, then higher threshold); refractory as configured. Chosen on these streams."""
    best: tuple[tuple[float, float, int], dict[str, Any]] | None = None
    for w in windows:
        params, curve = _window_sweep(scores, events, negative_seconds, model, int(w), tolerance_s)
        try:
            op = metrics.choose_operating_point(curve, target_fa)
        except ValueError:
            continue
        i = int(np.flatnonzero(curve.thresholds == op.threshold)[0])
        rank = (op.frr, op.fa_per_hour, -op.threshold)
        if best is None or rank < best[0]:
            best = (rank, {"window_frames": int(w), "refractory_frames": int(params.refractory_frames),
                           **_point(curve, i)})
    out: dict[str, Any] = {"target_fa_per_hour": float(target_fa), "windows_tried": [int(w) for w in windows]}
    if best is None:
        out["reached"] = False
    else:
        out.update(best[1], reached=True)
    return out


def false_accept_sources(scores: np.ndarray, spans: Sequence[Sequence[tuple[int, float, float]]],
                         clip_names: Sequence[str], params: DetectorParams, spec: Any, threshold: int,
                         events: Sequence[Sequence[Event]] | None = None, tolerance_s: float = TOLERANCE_S,
                         top: int = 10) -> dict[str, Any]:
    """Where the highest negative scores come from: each placed background clip's peak smoothed score (the
    detector's `sum // window_frames`, over the frames that end from the clip's start to one window after its
    end, leaving out those a wake word's detection window covers: from its start to `tolerance_s` after its end,
    as `metrics.match_detections` counts hits), pooled per unique clip (a clip recurs in several chunks, in
    other noise). Counts the unique clips and the copies that reach `threshold`, and lists the `top` clips by
    peak: when a few unique clips fire in most of their copies, the low-FA/h end of the DET curve measures
    those few clips."""
    from keyword_spotting.detector import ThresholdSweep

    if len(spans) != len(scores) or (events is not None and len(events) != len(scores)):
        raise ValueError(f"need the placed clips (and events) of every chunk: {len(scores)} chunks, "
                         f"{len(spans)} span lists, {'no' if events is None else len(events)} event lists")
    n = int(params.window_frames)
    peaks: dict[int, list[int]] = {}
    for c, chunk_spans in enumerate(spans):
        best = ThresholdSweep(scores[c], params).best.copy()
        t_end = (np.arange(len(best)) * spec.hop_samples + spec.window_samples) / spec.sample_rate
        for e in events[c] if events is not None else ():
            best[(t_end >= e.start_s) & (t_end <= e.end_s + tolerance_s)] = -1  # a hit there, not a false accept
        for idx, a, b in chunk_spans:
            if not 0 <= int(idx) < len(clip_names):
                raise ValueError(f"chunk {c}: clip index {idx} out of range ({len(clip_names)} clips)")
            sel = best[(t_end >= a) & (t_end < b + n * spec.hop_samples / spec.sample_rate)]
            peaks.setdefault(int(idx), []).append(int(sel.max()) // n if len(sel) and sel.max() >= 0 else 0)
    rows = sorted(((max(v), name_i, v) for name_i, v in peaks.items()), key=lambda r: (-r[0], r[1]))
    return {
        "threshold": int(threshold), "window_frames": n,
        "clips": len(peaks), "copies": int(sum(len(v) for v in peaks.values())),
        "clips_reaching_threshold": int(sum(1 for v in peaks.values() if max(v) >= threshold)),
        "copies_reaching_threshold": int(sum(sum(1 for x in v if x >= threshold) for v in peaks.values())),
        "top": [{"clip": clip_names[i], "peak": int(m), "copies": len(v),
                 "copies_reaching_threshold": int(sum(1 for x in v if x >= threshold)),
                 "median_peak": float(np.median(v))} for m, i, v in rows[:top]],
    }


def calibrate_threshold(scores: np.ndarray, negative_seconds: Sequence[float], model: Any, target_fa: float
                        ) -> dict[str, Any]:
    """The lowest threshold (the model's window and refractory) whose FA/h on wake-word-free `scores` is
    <= `target_fa` (256 = never fires, when none is)."""
    curve = sweep(scores, [[] for _ in range(len(scores))], negative_seconds, model.detector, model.classes,
                  model.features)
    ok = np.flatnonzero(curve.fa_per_hour <= target_fa)
    th = int(curve.thresholds[ok[0]]) if len(ok) else 256
    return {"threshold": th, "target_fa_per_hour": float(target_fa),
            "fa_per_hour": float(curve.fa_per_hour[ok[0]]) if len(ok) else None,
            "negative_hours": float(sum(negative_seconds)) / 3600,
            "window_frames": int(model.detector.window_frames)}


def condition_report(scores: np.ndarray, events: Sequence[Sequence[Event]], negative_seconds: Sequence[float],
                     model: Any, windows: Sequence[int] = (10, 20, 30, 50), target_fa: float = 0.5,
                     plot: str | os.PathLike | None = None, title: str = "DET",
                     tolerance_s: float = TOLERANCE_S, calibrated_threshold: int | None = None,
                     negative_spans: Sequence[Sequence[tuple[int, float, float]]] | None = None,
                     negative_clips: Sequence[str] = (), calibrated_detector: tuple[int, int] | None = None
                     ) -> dict[str, Any]:
    """All numbers of one condition (the JSON entry `words.<word>.<condition>`), and its DET plot.
    `calibrated_threshold`: also the numbers at that threshold (chosen elsewhere, e.g. `calibrate_threshold`).
    `negative_spans` / `negative_clips` (where each background clip was placed): also `false_accept_sources`
    at the `target_fa` threshold (255 when no threshold is that quiet). `calibrated_detector` (window frames,
    threshold; chosen elsewhere, e.g. `wakeword_calibration`): also the numbers with that detector."""
    curve = sweep(scores, events, negative_seconds, model.detector, model.classes, model.features, tolerance_s)
    configured = int(model.detector.threshold)
    rep: dict[str, Any] = {
        "miss_rate_at_fa_per_hour": {_key(f): miss_at_fa(curve, f) for f in FA_TARGETS},
        "fa_targets_not_reached": [_key(f) for f in FA_TARGETS if not (curve.fa_per_hour <= f).any()],
        "fa_per_hour_at_miss_rate": {_key(m): fa_at_miss(curve, m) for m in MISS_TARGETS},
        "positives": int(sum(len(e) for e in events)),
        "negative_hours": float(sum(negative_seconds)) / 3600,
        "stream_hours": float(scores.shape[0] * scores.shape[1] * model.features.hop_samples
                              / model.features.sample_rate / 3600),
        "chunks": int(len(scores)),
        "tolerance_s": float(tolerance_s),
        "detector": {"window_frames": int(model.detector.window_frames),
                     "refractory_frames": int(model.detector.refractory_frames)},
        "configured_threshold": _point(curve, configured),
        "detector_for_target": detector_for_target(scores, events, negative_seconds, model, windows, target_fa,
                                                   tolerance_s),
        "det_curve": {"threshold": curve.thresholds.tolist(), "miss_rate": curve.frr.tolist(),
                      "fa_per_hour": curve.fa_per_hour.tolist()},
    }
    if calibrated_threshold is not None:
        rep["calibrated_threshold"] = (_point(curve, int(calibrated_threshold)) if calibrated_threshold <= 255
                                       else {"threshold": int(calibrated_threshold), "miss_rate": 1.0,
                                             "fa_per_hour": 0.0})
    if calibrated_detector is not None:
        w, th = (int(x) for x in calibrated_detector)
        _, wcurve = _window_sweep(scores, events, negative_seconds, model, w, tolerance_s)
        rep["calibrated_detector"] = {"window_frames": w, **_point(wcurve, th)}
    try:
        op = metrics.choose_operating_point(curve, target_fa)
    except ValueError:
        op = None
    if negative_spans is not None:
        rep["false_accept_sources"] = false_accept_sources(
            scores, negative_spans, negative_clips, model.detector, model.features, op.threshold if op else 255,
            events, tolerance_s)
    if plot is not None:
        rep["det_plot"] = str(metrics.plot_det(curve, plot, op, target_fa, title=title))
    return rep


def _pct(x: float | None) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}%"


def summary_line(rep: dict[str, Any]) -> str:
    """One line: miss rates at the FA/h targets, FA/h at 5% and 10% miss, hours (and the false accepts'
    sources when known)."""
    miss = ", ".join(f"{_pct(v)} @ {k}/h" for k, v in rep["miss_rate_at_fa_per_hour"].items())
    fa = ", ".join(f"{'n/a' if v is None else f'{v:.1f}/h'} @ {_pct(float(k))}"
                   for k, v in rep["fa_per_hour_at_miss_rate"].items())
    line = (f"miss {miss}; FA {fa}; {rep['positives']} positives, {rep['negative_hours']:.2f} negative h "
            f"({rep.get('unique_negative_hours', float('nan')):.2f} unique)")
    src = rep.get("false_accept_sources")
    if src:
        line += (f"; at threshold {src['threshold']}: {src['clips_reaching_threshold']} of {src['clips']} unique "
                 f"background clips reach it ({src['copies_reaching_threshold']} of {src['copies']} copies)")
    det = rep.get("calibrated_detector")
    if det:
        line += (f"; calibrated detector (window {det['window_frames']}, threshold {det['threshold']}): miss "
                 f"{_pct(det['miss_rate'])} at {det['fa_per_hour']:.2f} FA/h")
    return line


def mean_over_words(words: dict[str, Any], conditions: Sequence[str]) -> dict[str, Any]:
    """Mean miss rate at each FA/h target over the words, per condition."""
    out: dict[str, Any] = {}
    for c in conditions:
        reps = [w[c] for w in words.values() if c in w]
        if reps:
            out[c] = {"miss_rate_at_fa_per_hour": {
                k: float(np.mean([r["miss_rate_at_fa_per_hour"][k] for r in reps]))
                for k in reps[0]["miss_rate_at_fa_per_hour"]}, "words": len(reps)}
    return out


def write_json(report: dict[str, Any], path: str | os.PathLike) -> Path:
    """Strict JSON (NaN -> null), atomically (`evaluate.write_report`)."""
    from keyword_spotting.evaluate import write_report

    return write_report(report, path)
