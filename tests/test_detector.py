"""Unit tests of keyword_spotting/detector.py on hand-made score streams with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from keyword_spotting.detector import Detection, DetectorParams, StreamingDetector, detect


def _stream(values: list[int], classes: int = 2, cls: int = 1) -> np.ndarray:
    """[frames, classes] uint8 scores with `values` in column `cls`, zeros elsewhere."""
    s = np.zeros((len(values), classes), np.uint8)
    s[:, cls] = values
    return s


def test_threshold_equality_fires() -> None:
    p = DetectorParams(keywords=(1,), window_frames=3, threshold=100, refractory_frames=0)
    # sums over the last 3: 100, 200, 299, 300 -> only the last reaches 300.
    assert detect(_stream([100, 100, 99, 101]), p) == [Detection(frame=3, class_index=1, score=100)]


def test_one_below_threshold_never_fires() -> None:
    p = DetectorParams(keywords=(1,), window_frames=2, threshold=200, refractory_frames=0)
    assert detect(_stream([200, 199] * 10), p) == []


def test_min_frames_defaults_to_window() -> None:
    p = DetectorParams(keywords=(1,), window_frames=4, threshold=0, refractory_frames=0)
    assert p.min_frames == 4
    assert [d.frame for d in detect(_stream([0] * 6), p)] == [3, 4, 5]


def test_explicit_min_frames_and_partial_window() -> None:
    p = DetectorParams(keywords=(1,), window_frames=4, threshold=50, refractory_frames=100, min_frames=1)
    # one 255 is a sum of 255 >= 200 at frame 0; smoothed score is floor(255 / 4).
    assert detect(_stream([255, 255]), p) == [Detection(0, 1, 63)]


def test_refractory_is_exactly_r_frames() -> None:
    p = DetectorParams(keywords=(1,), window_frames=2, threshold=10, refractory_frames=3)
    assert [d.frame for d in detect(_stream([255] * 8), p)] == [1, 4, 7]


def test_refractory_spans_keywords() -> None:
    p = DetectorParams(keywords=(1, 2), window_frames=1, threshold=100, refractory_frames=2)
    s = np.array([[0, 200, 0], [0, 0, 200], [0, 0, 200]], np.uint8)
    assert detect(s, p) == [Detection(0, 1, 200), Detection(2, 2, 200)]


def test_largest_sum_wins() -> None:
    p = DetectorParams(keywords=(1, 2), window_frames=2, threshold=100, refractory_frames=0)
    s = np.array([[0, 150, 100], [0, 100, 160]], np.uint8)  # sums 250 vs 260
    assert detect(s, p) == [Detection(1, 2, 130)]


def test_tie_goes_to_lowest_class_index_regardless_of_order() -> None:
    p = DetectorParams(keywords=(3, 1), window_frames=1, threshold=100, refractory_frames=0)
    assert detect(np.array([[0, 180, 0, 180]], np.uint8), p) == [Detection(0, 1, 180)]


def test_non_keyword_classes_are_ignored() -> None:
    p = DetectorParams(keywords=(1,), window_frames=1, threshold=10, refractory_frames=0)
    assert detect(np.array([[255, 0, 255]] * 3, np.uint8), p) == []


def test_streaming_equals_batch_and_reset() -> None:
    rng = np.random.default_rng(0)
    s = rng.integers(0, 256, size=(300, 4)).astype(np.uint8)
    p = DetectorParams(keywords=(1, 3), window_frames=5, threshold=150, refractory_frames=7)
    det = StreamingDetector(p)
    got = [d for d in (det.push(row) for row in s) if d is not None]
    assert got == detect(s, p) and len(got) > 3
    det.reset()
    assert det.frames_seen == 0
    assert [d for d in (det.push(row) for row in s) if d is not None] == got


def test_matches_brute_force_definition() -> None:
    """Spec re-stated directly (sum over a slice of the history) on random streams."""
    rng = np.random.default_rng(1)
    for trial in range(20):
        n, r = int(rng.integers(1, 12)), int(rng.integers(0, 15))
        p = DetectorParams(keywords=(1, 2), window_frames=n, threshold=int(rng.integers(60, 200)),
                           refractory_frames=r, min_frames=int(rng.integers(0, 15)))
        s = rng.integers(0, 256, size=(200, 3)).astype(np.uint8)
        expected, last = [], None
        for t in range(len(s)):
            sums = s[max(0, t + 1 - n): t + 1].astype(np.int64).sum(axis=0)
            if t + 1 < p.min_frames or (last is not None and t - last < r):
                continue
            firing = [(int(sums[k]), k) for k in (1, 2) if sums[k] >= p.threshold * n]
            if firing:
                best = max(f[0] for f in firing)
                k = min(c for sm, c in firing if sm == best)
                expected.append(Detection(t, k, best // n))
                last = t
        assert detect(s, p) == expected, f"trial {trial}"


def test_detection_time() -> None:
    assert Detection(98, 1, 0).time_s(160, 400, 16000) == pytest.approx((98 * 160 + 400) / 16000)


def test_params_round_trip() -> None:
    p = DetectorParams(keywords=(2, 5), window_frames=12, threshold=90, refractory_frames=40, min_frames=3)
    assert DetectorParams.from_dict(p.to_dict()) == p
    with pytest.raises(ValueError, match="unknown detector parameters"):
        DetectorParams.from_dict({"window": 3})


@pytest.mark.parametrize("kwargs, match", [
    ({"window_frames": 0}, "window_frames"),
    ({"window_frames": 257}, "window_frames"),
    ({"threshold": 256}, "threshold"),
    ({"threshold": -1}, "threshold"),
    ({"refractory_frames": -1}, "refractory_frames"),
    ({"min_frames": -1}, "min_frames"),
    ({"keywords": ()}, "keywords"),
    ({"keywords": (1, 1)}, "keywords"),
    ({"keywords": (-1,)}, "keywords"),
])
def test_bad_params_rejected(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        DetectorParams(**kwargs)


def test_bad_scores_rejected() -> None:
    det = StreamingDetector(DetectorParams(keywords=(2,)))
    with pytest.raises(ValueError, match="classes"):
        det.push(np.zeros(2, np.uint8))
    with pytest.raises(ValueError, match="1-D"):
        det.push(np.zeros((2, 3), np.uint8))
    with pytest.raises(ValueError, match=r"\[0, 255\]"):
        det.push(np.array([0, 0, 300]))
    with pytest.raises(ValueError, match="frames, classes"):
        detect(np.zeros(3, np.uint8), DetectorParams(keywords=(1,)))
