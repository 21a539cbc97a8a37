"""Streaming wake-word metrics: matching, FRR, false accepts per hour, latency, DET curves.

    r = match_detections(detections, events, duration_s, tolerance_s=0.5)
    r.frr, r.fa_per_hour, r.mean_latency_s
    curve = det_curve([ScoredStream(scores, events, duration_s)], detect, thresholds=range(256))
    op = choose_operating_point(curve, max_fa_per_hour=1.0)
    plot_det(curve, "build/eval/det.png", operating_point=op)

With the project's detector (keyword_spotting.detector), `detect` can be:

    def detect(scores, threshold):
        params = dataclasses.replace(base_params, threshold=threshold)
        dets = detector.detect(scores, params)
        return [(d.time_s(160, 400, 16000), class_names[d.class_index]) for d in dets]

Definitions (all here, nowhere else):
- A detection is `(time_s, label)`; an event is `keyword_spotting.streams.Event(start_s, end_s,
  label)`. A detection *can match* an event when the labels are equal and
  `start_s <= time_s <= end_s + tolerance_s`. Each event is matched by at most one detection and
  each detection matches at most one event; detections are taken in time order and each takes,
  among the unmatched events it can match, the one whose window closes first (this maximises the
  number of matches for interval windows).
- hit = matched event; miss = unmatched event; FRR = misses / events (NaN when there are none).
- false accept = a detection that matches no event: outside every window of its label, a
  repeated detection of an event already matched, or a wrong label (inside the window of an
  event of another label only; counted in `wrong_label` too). FA/h = false accepts / duration in
  hours, the duration being the whole stream (keyword time included).
- latency = detection time - event end (seconds, negative when the detector fires before the
  word ends), over hits.
- `det_curve` runs a caller-given `detect(scores, threshold) -> [(time_s, label), ...]` for every
  threshold, so it does not depend on any detector's internals.
"""

from __future__ import annotations

import bisect
import dataclasses
import heapq
import math
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from fastgrnn_tf.atomic_io import atomic_path
from keyword_spotting.streams import Event

Detection = tuple[float, str]
DetectFn = Callable[[np.ndarray, int], Sequence[Detection]]


@dataclasses.dataclass(frozen=True)
class MatchResult:
    """Counts of one stream (or several, combined) and the derived rates."""

    num_events: int
    hits: int
    false_accepts: int
    wrong_label: int
    duration_s: float
    latencies_s: tuple[float, ...] = ()
    misses_by_label: tuple[tuple[str, int], ...] = ()

    @property
    def misses(self) -> int:
        return self.num_events - self.hits

    @property
    def frr(self) -> float:
        """False rejection rate in [0, 1]; NaN without events."""
        return self.misses / self.num_events if self.num_events else math.nan

    @property
    def fa_per_hour(self) -> float:
        return self.false_accepts / (self.duration_s / 3600.0)

    @property
    def mean_latency_s(self) -> float:
        """Mean of detection time - event end over hits; NaN without hits."""
        return float(np.mean(self.latencies_s)) if self.latencies_s else math.nan

    @property
    def median_latency_s(self) -> float:
        return float(np.median(self.latencies_s)) if self.latencies_s else math.nan


def _check_events(events: Sequence[Event], duration_s: float) -> None:
    if not duration_s > 0:
        raise ValueError(f"duration_s must be positive, got {duration_s}")
    for i, e in enumerate(events):
        if not (0 <= e.start_s <= e.end_s):
            raise ValueError(f"events[{i}] must have 0 <= start_s <= end_s, got {e}")


def _merged_windows(events: Sequence[Event], tolerance_s: float) -> tuple[list[float], list[float]]:
    """Union of the windows [start, end + tolerance] as sorted disjoint (starts, ends)."""
    starts: list[float] = []
    ends: list[float] = []
    for e in sorted(events, key=lambda e: e.start_s):
        a, b = e.start_s, e.end_s + tolerance_s
        if starts and a <= ends[-1]:
            ends[-1] = max(ends[-1], b)
        else:
            starts.append(a)
            ends.append(b)
    return starts, ends


def _covered(windows: tuple[list[float], list[float]], t: float) -> bool:
    i = bisect.bisect_right(windows[0], t) - 1
    return i >= 0 and t <= windows[1][i]


def match_detections(
    detections: Iterable[Detection], events: Sequence[Event], duration_s: float, tolerance_s: float = 0.5
) -> MatchResult:
    """Match detections to events and count hits, false accepts and latencies (module docstring).

    O((detections + events) log events): per label, the events whose window has opened wait in a
    heap ordered by window close; a detection takes the top after dropping closed windows.
    """
    if tolerance_s < 0:
        raise ValueError(f"tolerance_s must be >= 0, got {tolerance_s}")
    _check_events(events, duration_s)
    dets = sorted((float(t), str(lab)) for t, lab in detections)
    by_label: dict[str, list[int]] = {}
    for i in sorted(range(len(events)), key=lambda i: events[i].start_s):
        by_label.setdefault(events[i].label, []).append(i)
    next_event = dict.fromkeys(by_label, 0)
    open_windows: dict[str, list[tuple[float, int]]] = {lab: [] for lab in by_label}
    windows = {lab: _merged_windows([events[i] for i in idx], tolerance_s) for lab, idx in by_label.items()}
    matched = [False] * len(events)
    hits, false_accepts, wrong_label = 0, 0, 0
    latencies: list[float] = []
    for t, label in dets:
        if label in by_label:
            order, heap = by_label[label], open_windows[label]
            while next_event[label] < len(order) and events[order[next_event[label]]].start_s <= t:
                i = order[next_event[label]]
                heapq.heappush(heap, (events[i].end_s + tolerance_s, i))
                next_event[label] += 1
            while heap and heap[0][0] < t:
                heapq.heappop(heap)  # window closed before t: that event can only be missed now
            if heap:
                _, i = heapq.heappop(heap)
                matched[i] = True
                hits += 1
                latencies.append(t - events[i].end_s)
                continue
        false_accepts += 1
        in_own = label in windows and _covered(windows[label], t)
        if not in_own and any(_covered(w, t) for lab, w in windows.items() if lab != label):
            wrong_label += 1
    misses: dict[str, int] = {}
    for e, m in zip(events, matched, strict=True):
        if not m:
            misses[e.label] = misses.get(e.label, 0) + 1
    return MatchResult(len(events), hits, false_accepts, wrong_label, float(duration_s), tuple(latencies),
                       tuple(sorted(misses.items())))


def combine(results: Sequence[MatchResult]) -> MatchResult:
    """Pool several streams: counts, durations and latencies are summed/concatenated."""
    if not results:
        raise ValueError("results must not be empty")
    misses: dict[str, int] = {}
    for r in results:
        for lab, k in r.misses_by_label:
            misses[lab] = misses.get(lab, 0) + k
    return MatchResult(
        sum(r.num_events for r in results), sum(r.hits for r in results),
        sum(r.false_accepts for r in results), sum(r.wrong_label for r in results),
        sum(r.duration_s for r in results), tuple(x for r in results for x in r.latencies_s),
        tuple(sorted(misses.items())))


@dataclasses.dataclass(frozen=True)
class ScoredStream:
    """Per-frame scores of one stream with its ground truth."""

    scores: np.ndarray
    events: Sequence[Event]
    duration_s: float


@dataclasses.dataclass(frozen=True)
class DetCurve:
    """FRR and FA/h per threshold (pooled over the streams), in threshold order."""

    thresholds: np.ndarray
    frr: np.ndarray
    fa_per_hour: np.ndarray
    results: tuple[MatchResult, ...]


@dataclasses.dataclass(frozen=True)
class OperatingPoint:
    threshold: int
    frr: float
    fa_per_hour: float
    result: MatchResult


def det_curve(
    streams: Sequence[ScoredStream], detect: DetectFn, thresholds: Iterable[int] = range(256),
    tolerance_s: float = 0.5,
) -> DetCurve:
    """Run `detect(scores, threshold)` on every stream for every threshold and pool the results."""
    if isinstance(streams, ScoredStream):
        streams = [streams]
    if not streams:
        raise ValueError("streams must hold at least one ScoredStream")
    ths = [int(t) for t in thresholds]
    if not ths:
        raise ValueError("thresholds must not be empty")
    results = []
    for th in ths:
        results.append(combine([match_detections(detect(s.scores, th), s.events, s.duration_s, tolerance_s)
                                for s in streams]))
    return DetCurve(np.asarray(ths), np.array([r.frr for r in results]),
                    np.array([r.fa_per_hour for r in results]), tuple(results))


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Clip classification counts: int64 [true class, predicted class]."""
    cm = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(cm, (np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)), 1)
    return cm


def choose_operating_point(curve: DetCurve, max_fa_per_hour: float) -> OperatingPoint:
    """The threshold with the lowest FRR among those with FA/h <= `max_fa_per_hour`.

    Ties go to the lower FA/h, then to the higher threshold. ValueError when no threshold meets
    the target (the message gives the lowest FA/h on the curve).
    """
    ok = [i for i in range(len(curve.thresholds)) if curve.fa_per_hour[i] <= max_fa_per_hour]
    if not ok:
        raise ValueError(f"no threshold reaches FA/h <= {max_fa_per_hour}; "
                         f"the lowest on the curve is {float(np.min(curve.fa_per_hour)):.3g}")
    best = min(ok, key=lambda i: (np.nan_to_num(curve.frr[i], nan=1.0), curve.fa_per_hour[i],
                                  -int(curve.thresholds[i])))
    return OperatingPoint(int(curve.thresholds[best]), float(curve.frr[best]), float(curve.fa_per_hour[best]),
                          curve.results[best])


def plot_det(curve: DetCurve, path: str | os.PathLike, operating_point: OperatingPoint | None = None,
             max_fa_per_hour: float | None = None, title: str = "DET curve") -> Path:
    """FRR (%) against false accepts per hour as a PNG, written atomically (Agg, no global state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"path must end in .png, got {path}")
    order = np.lexsort((curve.thresholds, curve.fa_per_hour))
    fig = Figure(figsize=(5.5, 4.0), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(curve.fa_per_hour[order], 100 * curve.frr[order], ".-", lw=1.2, ms=3, label="thresholds")
    if max_fa_per_hour is not None:
        ax.axvline(max_fa_per_hour, color="gray", ls="--", lw=1, label=f"target {max_fa_per_hour:g} FA/h")
    if operating_point is not None:
        ax.plot([operating_point.fa_per_hour], [100 * operating_point.frr], "o", color="C3",
                label=f"threshold {operating_point.threshold}: FRR {100 * operating_point.frr:.1f}%, "
                      f"{operating_point.fa_per_hour:.2f} FA/h")
    ax.set_xlabel("false accepts per hour")
    ax.set_ylabel("false rejection rate (%)")
    ax.set_ylim(-2, 102)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return path
