"""The streaming keyword detector of `detector_spec.md` (integer arithmetic, exact with C++).

`tflm_app/detector/` implements the same spec; `tests/test_detector_parity.py` compares them.

    det = StreamingDetector(DetectorParams(keywords=(2, 3)))
    for t, scores in enumerate(score_frames):        # scores: uint8 [num_classes] per frame
        d = det.push(scores)                          # Detection or None
    detections = detect(score_array, params)          # the same over a [frames, classes] array
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np

from keyword_spotting.features import FeatureSpec

MAX_WINDOW_FRAMES = 256
"""Largest `window_frames` accepted; the C++ detector's ring buffer is sized by the same constant."""
MAX_KEYWORDS = 16
"""Largest number of keyword classes accepted (C++ `kMaxKeywords`)."""


@dataclasses.dataclass(frozen=True)
class DetectorParams:
    """Detector parameters (`detector_spec.md`); `min_frames=None` means `window_frames`."""

    keywords: tuple[int, ...] = (1,)
    window_frames: int = 30
    threshold: int = 160
    refractory_frames: int = 100
    min_frames: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "keywords", tuple(int(k) for k in self.keywords))
        if not 1 <= self.window_frames <= MAX_WINDOW_FRAMES:
            raise ValueError(f"window_frames must be in [1, {MAX_WINDOW_FRAMES}], got {self.window_frames}")
        if not 0 <= self.threshold <= 255:
            raise ValueError(f"threshold must be in [0, 255], got {self.threshold}")
        if self.refractory_frames < 0:
            raise ValueError(f"refractory_frames must be >= 0, got {self.refractory_frames}")
        if self.min_frames is None:
            object.__setattr__(self, "min_frames", self.window_frames)
        elif self.min_frames < 0:
            raise ValueError(f"min_frames must be >= 0, got {self.min_frames}")
        if not 1 <= len(self.keywords) <= MAX_KEYWORDS:
            raise ValueError(f"keywords must hold 1..{MAX_KEYWORDS} class indices, got {list(self.keywords)}")
        if min(self.keywords) < 0 or len(set(self.keywords)) != len(self.keywords):
            raise ValueError(f"keywords must be distinct class indices >= 0, got {list(self.keywords)}")

    def to_dict(self) -> dict:
        """Plain dict (the `detector.<param>` bundle entries use these names)."""
        d = dataclasses.asdict(self)
        d["keywords"] = list(self.keywords)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> DetectorParams:
        """Inverse of `to_dict`; unknown keys are a ValueError."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown detector parameters: {sorted(unknown)}")
        kw = dict(d)
        if "keywords" in kw:
            kw["keywords"] = tuple(int(k) for k in np.asarray(kw["keywords"]).reshape(-1))
        for name in ("window_frames", "threshold", "refractory_frames", "min_frames"):
            if kw.get(name) is not None:
                kw[name] = int(np.asarray(kw[name]).reshape(()))
        return cls(**kw)


@dataclasses.dataclass(frozen=True)
class Detection:
    """One detection: newest frame index, class index, smoothed score `sum // window_frames`."""

    frame: int
    class_index: int
    score: int

    def time_s(self, hop_samples: int, window_samples: int, sample_rate: int) -> float:
        """End of the newest frame in seconds: `(frame * hop + window) / sample_rate`."""
        return (self.frame * hop_samples + window_samples) / sample_rate


class StreamingDetector:
    """Per-keyword moving sums over the last `window_frames` scores, threshold and refractory."""

    def __init__(self, params: DetectorParams) -> None:
        self.params = params
        self.reset()

    def reset(self) -> None:
        """Forget every score and the last detection."""
        n, k = self.params.window_frames, len(self.params.keywords)
        self._ring = np.zeros((k, n), np.int64)
        self._sums = [0] * k
        self._frame = 0
        self._last: int | None = None

    @property
    def frames_seen(self) -> int:
        return self._frame

    def push(self, scores: Sequence[int] | np.ndarray) -> Detection | None:
        """Add one frame of uint8 scores (one per class); return the detection it triggers, if any."""
        s = np.asarray(scores)
        if s.ndim != 1:
            raise ValueError(f"scores must be 1-D (one per class), got shape {s.shape}")
        p = self.params
        if max(p.keywords) >= s.shape[0]:
            raise ValueError(f"scores has {s.shape[0]} classes but keywords include {max(p.keywords)}")
        if s.size and (int(s.min()) < 0 or int(s.max()) > 255):
            raise ValueError("scores must be in [0, 255]")
        t = self._frame
        slot = t % p.window_frames
        for i, k in enumerate(p.keywords):
            v = int(s[k])
            self._sums[i] += v - int(self._ring[i, slot])
            self._ring[i, slot] = v
        self._frame += 1
        if t + 1 < p.min_frames:
            return None
        if self._last is not None and t - self._last < p.refractory_frames:
            return None
        firing = [(self._sums[i], k) for i, k in enumerate(p.keywords)
                  if self._sums[i] >= p.threshold * p.window_frames]
        if not firing:
            return None
        best_sum = max(sm for sm, _ in firing)
        cls = min(k for sm, k in firing if sm == best_sum)
        self._last = t
        return Detection(frame=t, class_index=cls, score=best_sum // p.window_frames)


def detect(scores: np.ndarray, params: DetectorParams) -> list[Detection]:
    """Run a fresh detector over uint8 scores [frames, classes]; all detections in order."""
    s = np.asarray(scores)
    if s.ndim != 2:
        raise ValueError(f"scores must be [frames, classes], got shape {s.shape}")
    det = StreamingDetector(params)
    out = []
    for row in s:
        d = det.push(row)
        if d is not None:
            out.append(d)
    return out


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
