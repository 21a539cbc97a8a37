"""Streaming metrics on hand-made detections and scores whose answers are worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from keyword_spotting.detector import DetectorParams, detect
from keyword_spotting.metrics import (
    DetCurve,
    MatchResult,
    ScoredStream,
    choose_operating_point,
    combine,
    det_curve,
    match_detections,
    plot_det,
)
from keyword_spotting.streams import Event

# Times are binary-exact so window boundaries compare exactly.
EVENTS = [Event(1.0, 1.5, "yes"), Event(5.0, 5.75, "no"), Event(10.0, 10.25, "yes")]


def test_hand_made_stream_counts_hits_false_accepts_and_latency() -> None:
    detections = [
        (1.75, "yes"),   # hit E0 (window [1.0, 2.0]), latency 0.25
        (1.875, "yes"),  # second detection of E0: false accept
        (5.25, "yes"),   # inside E1's window but E1 is "no": wrong label, false accept
        (10.75, "yes"),  # hit E2 exactly at the window end 10.25 + 0.5, latency 0.5
        (12.0, "yes"),   # nothing there: false accept
        (0.5, "yes"),    # before E0 starts: false accept
    ]
    r = match_detections(detections, EVENTS, duration_s=1800.0, tolerance_s=0.5)
    assert (r.num_events, r.hits, r.misses) == (3, 2, 1)
    assert r.frr == pytest.approx(1 / 3)
    assert r.false_accepts == 4 and r.wrong_label == 1
    assert r.fa_per_hour == pytest.approx(8.0)  # 4 in half an hour
    assert r.latencies_s == (0.25, 0.5)
    assert r.mean_latency_s == pytest.approx(0.375) and r.median_latency_s == pytest.approx(0.375)
    assert r.misses_by_label == (("no", 1),)


def test_detection_just_after_the_window_is_a_false_accept() -> None:
    r = match_detections([(10.7501, "yes")], [Event(10.0, 10.25, "yes")], 3600.0, tolerance_s=0.5)
    assert (r.hits, r.false_accepts, r.wrong_label) == (0, 1, 0)
    assert r.frr == 1.0 and r.fa_per_hour == pytest.approx(1.0)
    assert math.isnan(r.mean_latency_s)


def test_detection_order_does_not_matter_and_matching_is_maximal() -> None:
    # A long event A [0, 3] (window to 3.5) contains a short one B [1, 1.2] (window to 1.7).
    # Giving 1.1 to A would leave 3.0 unmatched; the earliest-closing window takes it instead.
    events = [Event(0.0, 3.0, "yes"), Event(1.0, 1.2, "yes")]
    r = match_detections([(3.0, "yes"), (1.1, "yes")], events, 60.0, tolerance_s=0.5)
    assert (r.hits, r.false_accepts) == (2, 0)
    assert sorted(r.latencies_s) == pytest.approx([-0.1, 0.0])  # 1.1 - 1.2, 3.0 - 3.0


def _max_matching(detections: list[tuple[float, str]], events: list[Event], tol: float) -> int:
    """Maximum bipartite matching size by augmenting paths (Kuhn), the brute-force reference."""
    owner: dict[int, int] = {}

    def augment(d: int, seen: set[int]) -> bool:
        t, lab = detections[d]
        for i, e in enumerate(events):
            if e.label == lab and e.start_s <= t <= e.end_s + tol and i not in seen:
                seen.add(i)
                if i not in owner or augment(owner[i], seen):
                    owner[i] = d
                    return True
        return False

    return sum(augment(d, set()) for d in range(len(detections)))


def test_matching_is_maximum_on_random_cases() -> None:
    rng = np.random.default_rng(0)
    for _ in range(300):
        events = []
        for _ in range(int(rng.integers(0, 7))):
            a = float(rng.uniform(0, 10))
            events.append(Event(a, a + float(rng.uniform(0, 2)), str(rng.choice(["a", "b"]))))
        n_dets = int(rng.integers(0, 9))
        dets = [(float(rng.uniform(0, 12)), str(rng.choice(["a", "b"]))) for _ in range(n_dets)]
        r = match_detections(dets, events, 60.0, tolerance_s=0.5)
        assert r.hits == _max_matching(dets, events, 0.5)
        assert r.false_accepts == len(dets) - r.hits and r.misses == len(events) - r.hits


def test_no_events_gives_nan_frr_and_counts_false_accepts() -> None:
    r = match_detections([(1.0, "yes"), (2.0, "no")], [], duration_s=7200.0)
    assert math.isnan(r.frr)
    assert r.false_accepts == 2 and r.fa_per_hour == pytest.approx(1.0)


def test_bad_inputs_raise_value_errors_naming_the_argument() -> None:
    with pytest.raises(ValueError, match="duration_s"):
        match_detections([], EVENTS, duration_s=0.0)
    with pytest.raises(ValueError, match="tolerance_s"):
        match_detections([], EVENTS, 10.0, tolerance_s=-0.1)
    with pytest.raises(ValueError, match=r"events\[0\]"):
        match_detections([], [Event(2.0, 1.0, "yes")], 10.0)
    with pytest.raises(ValueError, match="results"):
        combine([])


def test_combine_pools_counts_durations_and_latencies() -> None:
    a = match_detections([(1.75, "yes")], EVENTS, 1800.0)  # 1 hit, 2 misses (no, yes)
    b = match_detections([(3.0, "no")], [Event(2.0, 2.5, "no")], 1800.0)  # 1 hit at +0.5
    c = combine([a, b])
    assert (c.num_events, c.hits, c.false_accepts) == (4, 2, 0)
    assert c.duration_s == 3600.0 and c.frr == 0.5
    assert c.latencies_s == (0.25, 0.5)
    assert c.misses_by_label == (("no", 1), ("yes", 1))


# --- DET sweep ------------------------------------------------------------------------------
HOP_S = 0.01


def _edges(scores: np.ndarray, threshold: int) -> list[tuple[float, str]]:
    """A toy detector: a detection at each frame where the score rises to >= threshold."""
    above = scores >= threshold
    rising = above & ~np.concatenate([[False], above[:-1]])
    return [(round(i * HOP_S, 2), "yes") for i in np.flatnonzero(rising)]


def _toy_stream() -> ScoredStream:
    s = np.zeros(1000, np.int64)
    s[120:131] = 200  # 1.2 s: inside E0 [1.0, 1.5]
    s[320:331] = 100  # 3.2 s: inside E1 [3.0, 3.5]
    s[600:611] = 150  # 6.0 s: no event -> false accept
    return ScoredStream(s, [Event(1.0, 1.5, "yes"), Event(3.0, 3.5, "yes")], duration_s=360.0)  # 0.1 h


def test_det_curve_on_toy_scores() -> None:
    curve = det_curve([_toy_stream()], _edges, thresholds=[50, 60, 120, 180, 250])
    # 50, 60: all three bumps fire -> FRR 0, 1 FA in 0.1 h; 120: 200 and 150 -> FRR 1/2, 10 FA/h;
    # 180: only 200 -> FRR 1/2, 0 FA/h; 250: nothing -> FRR 1.
    np.testing.assert_allclose(curve.frr, [0.0, 0.0, 0.5, 0.5, 1.0])
    np.testing.assert_allclose(curve.fa_per_hour, [10.0, 10.0, 10.0, 0.0, 0.0])
    assert [r.hits for r in curve.results] == [2, 2, 1, 1, 0]


def test_operating_point_is_lowest_frr_within_the_fa_budget() -> None:
    curve = det_curve([_toy_stream()], _edges, thresholds=[50, 60, 120, 180, 250])
    op = choose_operating_point(curve, max_fa_per_hour=10.0)
    assert (op.threshold, op.frr, op.fa_per_hour) == (60, 0.0, 10.0)  # tie with 50 -> higher threshold
    op = choose_operating_point(curve, max_fa_per_hour=5.0)
    assert (op.threshold, op.frr, op.fa_per_hour) == (180, 0.5, 0.0)
    with pytest.raises(ValueError, match="lowest on the curve is 0"):
        choose_operating_point(curve, max_fa_per_hour=-1.0)


def test_det_curve_with_two_streams_pools_them() -> None:
    one = _toy_stream()
    curve = det_curve([one, one], _edges, thresholds=[120])
    assert curve.results[0].num_events == 4 and curve.results[0].hits == 2
    assert curve.frr[0] == 0.5 and curve.fa_per_hour[0] == pytest.approx(10.0)  # 2 FA in 0.2 h


def test_det_curve_with_the_real_detector_is_monotonic() -> None:
    # One keyword class (1) of two; a 0.5 s loud stretch inside the event, a short blip outside.
    frames = 2000
    scores = np.zeros((frames, 2), np.uint8)
    scores[:, 0] = 255
    scores[300:350] = [35, 220]   # event at 3.0-3.5 s
    scores[1200:1215] = [55, 200]  # 15 frames of a confusable sound
    p = DetectorParams(keywords=(1,), window_frames=30, refractory_frames=100)

    def run(s: np.ndarray, th: int) -> list[tuple[float, str]]:
        params = DetectorParams(keywords=p.keywords, window_frames=p.window_frames, threshold=th,
                                refractory_frames=p.refractory_frames)
        return [(d.time_s(160, 400, 16000), "kw") for d in detect(s, params)]

    stream = ScoredStream(scores, [Event(3.0, 3.5, "kw")], duration_s=frames * 0.01)
    curve = det_curve([stream], run, thresholds=range(0, 256, 5))
    # Raising the threshold never adds detections: FA/h never rises, FRR never falls.
    assert np.all(np.diff(curve.fa_per_hour) <= 0) and np.all(np.diff(curve.frr) >= 0)
    # The blip sums to 15 * 200 / 30 = 100 at most: thresholds in (100, 220] keep the hit, no FA.
    op = choose_operating_point(curve, max_fa_per_hour=0.0)
    assert op.frr == 0.0 and 100 < op.threshold <= 220


def test_plot_det_writes_a_png_atomically(tmp_path) -> None:
    curve = det_curve([_toy_stream()], _edges, thresholds=[50, 120, 180, 250])
    op = choose_operating_point(curve, 5.0)
    out = plot_det(curve, tmp_path / "det" / "curve.png", operating_point=op, max_fa_per_hour=5.0)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in out.parent.iterdir()] == ["curve.png"]  # no temporary left behind
    with pytest.raises(ValueError, match="png"):
        plot_det(curve, tmp_path / "curve.pdf")


def test_result_types_are_plain_values() -> None:
    curve = det_curve([_toy_stream()], _edges, thresholds=[50])
    assert isinstance(curve, DetCurve) and isinstance(curve.results[0], MatchResult)
    assert curve.thresholds.tolist() == [50]
