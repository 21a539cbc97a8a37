"""The wake-word benchmark's arithmetic on hand-made score streams with known answers."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from keyword_spotting.detector import DetectorParams
from keyword_spotting.features import FeatureSpec
from keyword_spotting.streams import Event
from keyword_spotting.wakeword_metrics import (
    calibrate_threshold,
    condition_report,
    detector_for_target,
    fa_at_miss,
    false_accept_sources,
    mean_over_words,
    miss_at_fa,
    sweep,
)

SPEC = FeatureSpec()  # frame t ends at (160 t + 400) / 16000 s = 0.01 t + 0.025 s


def _hand_made() -> tuple[np.ndarray, list[list[Event]], list[float], SimpleNamespace]:
    """Two chunks of 1,000 frames, one detection frame per spike (window 1, no refractory).

    Wake words: chunk 0 at [1.0, 1.5] s (spike 200 at 1.205 s) and [5.0, 5.5] s (spike 100 at 5.225 s);
    chunk 1 at [2.0, 2.4] s (spike 250 at 2.175 s). False spikes: 150 (chunk 0), 50 and 220 (chunk 1).
    Each chunk stands for 1,800 s of negative audio: one false accept = 1 per hour.
    """
    scores = np.zeros((2, 1000, 2), np.uint8)
    for c, frame, v in ((0, 118, 200), (0, 520, 100), (0, 800, 150), (1, 215, 250), (1, 600, 50), (1, 900, 220)):
        scores[c, frame, 1] = v
    scores[..., 0] = 255 - scores[..., 1]
    events = [[Event(1.0, 1.5, "positive"), Event(5.0, 5.5, "positive")], [Event(2.0, 2.4, "positive")]]
    det = DetectorParams(keywords=(1,), window_frames=1, threshold=120, refractory_frames=0, min_frames=1)
    model = SimpleNamespace(detector=det, classes=("negative", "positive"), features=SPEC)
    return scores, events, [1800.0, 1800.0], model


def test_sweep_counts_by_threshold() -> None:
    scores, events, neg, model = _hand_made()
    curve = sweep(scores, events, neg, model.detector, model.classes, model.features)
    fa = dict(zip(curve.thresholds.tolist(), curve.fa_per_hour.tolist(), strict=True))
    frr = dict(zip(curve.thresholds.tolist(), curve.frr.tolist(), strict=True))
    assert (fa[1], fa[50], fa[51], fa[150], fa[151], fa[220], fa[221], fa[255]) == (3, 3, 2, 2, 1, 1, 0, 0)
    assert (frr[1], frr[100], frr[101], frr[200], frr[201], frr[250], frr[251]) == (0, 0, 1 / 3, 1 / 3, 2 / 3,
                                                                                    2 / 3, 1)
    assert fa[0] > 1000  # threshold 0 fires on every frame


def test_miss_at_fa_and_fa_at_miss() -> None:
    scores, events, neg, model = _hand_made()
    curve = sweep(scores, events, neg, model.detector, model.classes, model.features)
    assert miss_at_fa(curve, 0.1) == pytest.approx(2 / 3)
    assert miss_at_fa(curve, 0.5) == pytest.approx(2 / 3)
    assert miss_at_fa(curve, 1.0) == pytest.approx(1 / 3)
    assert miss_at_fa(curve, 2.0) == 0.0
    assert fa_at_miss(curve, 0.05) == 2.0 and fa_at_miss(curve, 0.10) == 2.0
    assert fa_at_miss(curve, 0.34) == 1.0 and fa_at_miss(curve, 1.0) == 0.0


def test_fa_counts_per_negative_hour_and_tolerance() -> None:
    scores, events, _, model = _hand_made()
    curve = sweep(scores, events, [900.0, 900.0], model.detector, model.classes, model.features)
    assert miss_at_fa(curve, 1.0) == pytest.approx(2 / 3)  # half an hour: one false accept is 2 per hour
    # A detection 0.8 s after the word ends is a hit with the 1 s tolerance, a miss + false accept with 0.5 s.
    late = np.zeros((1, 1000, 2), np.uint8)
    late[0, 228, 1] = 200  # 2.305 s, the word ends at 1.5 s
    ev = [[Event(1.0, 1.5, "positive")]]
    tolerant = sweep(late, ev, [3600.0], model.detector, model.classes, SPEC)
    assert miss_at_fa(tolerant, 0.0) == 0.0 and fa_at_miss(tolerant, 0.0) == 0.0
    strict = sweep(late, ev, [3600.0], model.detector, model.classes, SPEC, tolerance_s=0.5)
    # Only threshold 0 (every frame fires, one frame inside the word) hits it: 999 false accepts in the hour.
    assert miss_at_fa(strict, 0.0) == 1.0 and fa_at_miss(strict, 0.0) == 999.0
    with pytest.raises(ValueError, match="one events list"):
        sweep(scores, events[:1], [1.0, 1.0], model.detector, model.classes, SPEC)


def test_detector_for_target_picks_window_and_threshold() -> None:
    scores, events, neg, model = _hand_made()
    got = detector_for_target(scores, events, neg, model, windows=(1,), target_fa=1.0)
    assert got["reached"] and got["window_frames"] == 1
    # Lowest miss (1/3) at <= 1 FA/h: thresholds 151..200; ties go to the higher threshold.
    assert got["threshold"] == 200 and got["miss_rate"] == pytest.approx(1 / 3) and got["fa_per_hour"] == 1.0
    # A window of 2 halves every spike's mean: the same counts at half the thresholds, so window 1 stays
    # (equal miss and FA/h, higher threshold).
    both = detector_for_target(scores, events, neg, model, windows=(2, 1), target_fa=1.0)
    assert both["window_frames"] == 1 and both["threshold"] == 200


def test_condition_report(tmp_path: Path) -> None:
    scores, events, neg, model = _hand_made()
    rep = condition_report(scores, events, neg, model, windows=(1,), target_fa=1.0, plot=tmp_path / "det.png")
    assert rep["miss_rate_at_fa_per_hour"] == {"0.1": pytest.approx(2 / 3), "0.5": pytest.approx(2 / 3),
                                               "1": pytest.approx(1 / 3)}
    assert rep["fa_per_hour_at_miss_rate"] == {"0.05": 2.0, "0.1": 2.0}
    assert rep["positives"] == 3 and rep["negative_hours"] == 1.0 and rep["fa_targets_not_reached"] == []
    assert math.isclose(rep["stream_hours"], 2 * 1000 * 0.01 / 3600)
    c = rep["configured_threshold"]  # threshold 120: E2 (100) missed; 150 and 220 false
    assert (c["threshold"], c["hits"], c["misses"], c["false_accepts"]) == (120, 2, 1, 2)
    assert (tmp_path / "det.png").stat().st_size > 1000
    mean = mean_over_words({"a": {"10dB": rep}, "b": {"10dB": {**rep, "miss_rate_at_fa_per_hour":
                                                               {"0.1": 0.0, "0.5": 0.0, "1": 0.0}}}}, ["10dB"])
    assert mean["10dB"]["miss_rate_at_fa_per_hour"]["1"] == pytest.approx(1 / 6)


def test_calibrated_threshold_on_negatives_only() -> None:
    scores, _, neg, model = _hand_made()
    scores = scores.copy()
    scores[0, 118, 1] = scores[0, 520, 1] = scores[1, 215, 1] = 0  # no wake words: spikes 150, 50, 220 only
    assert calibrate_threshold(scores, neg, model, 1.0)["threshold"] == 151
    cal = calibrate_threshold(scores, neg, model, 0.0)
    assert cal["threshold"] == 221 and cal["fa_per_hour"] == 0.0 and cal["negative_hours"] == 1.0
    scores[1, 300, 1] = 255
    assert calibrate_threshold(scores, neg, model, 0.0) == {**cal, "threshold": 256, "fa_per_hour": None}
    _, events, _, _ = _hand_made()
    rep = condition_report(_hand_made()[0], events, neg, model, windows=(1,), calibrated_threshold=151)
    assert (rep["calibrated_threshold"]["miss_rate"], rep["calibrated_threshold"]["fa_per_hour"]) == (1 / 3, 1.0)
    rep = condition_report(_hand_made()[0], events, neg, model, windows=(1,), calibrated_threshold=256)
    assert rep["calibrated_threshold"] == {"threshold": 256, "miss_rate": 1.0, "fa_per_hour": 0.0}
    # A calibrated detector (window, threshold): its numbers on these streams. Window 1, threshold 200: the
    # 100 wake word missed, the 220 spike false. Window 2, threshold 100: each spike's mean is halved over two
    # frames (no refractory: both fire), so the 200 and 250 words hit and fire again (2 false), the 220 spike
    # fires twice (2 false), the 100 word (50) is missed.
    rep = condition_report(_hand_made()[0], events, neg, model, windows=(1,), calibrated_detector=(1, 200))
    c = rep["calibrated_detector"]
    assert (c["window_frames"], c["threshold"], c["hits"], c["misses"], c["false_accepts"]) == (1, 200, 2, 1, 1)
    c = condition_report(_hand_made()[0], events, neg, model, windows=(1,), calibrated_detector=(2, 100))[
        "calibrated_detector"]
    assert (c["window_frames"], c["hits"], c["misses"], c["false_accepts"]) == (2, 2, 1, 4)


def test_false_accept_sources_name_the_clips() -> None:
    """The hand-made false spikes (150 at 8.025 s in chunk 0; 50 at 6.025 s and 220 at 9.025 s in chunk 1)
    inside placed background clips: clip "a" twice (150 and 220), "c" once (50), "b" once (nothing)."""
    scores, events, neg, model = _hand_made()
    names = ["a.flac", "b.flac", "c.flac"]
    spans = [[(0, 7.5, 8.5), (1, 3.0, 4.0)], [(0, 8.8, 9.5), (2, 5.8, 6.5)]]
    src = false_accept_sources(scores, spans, names, model.detector, model.features, threshold=200)
    assert (src["clips"], src["copies"], src["clips_reaching_threshold"], src["copies_reaching_threshold"]) == (
        3, 4, 1, 1)
    assert [(r["clip"], r["peak"], r["copies"], r["copies_reaching_threshold"]) for r in src["top"]] == [
        ("a.flac", 220, 2, 1), ("c.flac", 50, 1, 0), ("b.flac", 0, 1, 0)]
    assert src["top"][0]["median_peak"] == 185.0
    low = false_accept_sources(scores, spans, names, model.detector, model.features, threshold=50)
    assert (low["clips_reaching_threshold"], low["copies_reaching_threshold"]) == (2, 3)
    # A clip right after a wake word: the word's own detection window (to 1 s after it ends) is not the clip's.
    after = [[(0, 7.5, 8.5), (1, 1.2, 2.0)], [(0, 8.8, 9.5), (2, 5.8, 6.5)]]  # "b" over the 200 at 1.205 s
    assert false_accept_sources(scores, after, names, model.detector, model.features, 200)["top"][1]["peak"] == 200
    kept = false_accept_sources(scores, after, names, model.detector, model.features, 200, events=events)
    assert kept == src
    # In the report: at the target's threshold (200 for 1 FA/h), the wake words' windows left out.
    rep = condition_report(scores, events, neg, model, windows=(1,), target_fa=1.0, negative_spans=after,
                           negative_clips=names)
    assert rep["false_accept_sources"] == src
    with pytest.raises(ValueError, match="span lists"):
        false_accept_sources(scores, spans[:1], names, model.detector, model.features, 200)
    with pytest.raises(ValueError, match="out of range"):
        false_accept_sources(scores, [[(3, 1.0, 2.0)], []], names, model.detector, model.features, 200)


def test_false_accept_sources_count_one_window_after_the_clip() -> None:
    """A smoothed score that completes just after a clip ends (within one window) is that clip's; a clip that
    starts after the smoothed peak has passed gets none of it."""
    det = DetectorParams(keywords=(1,), window_frames=10, threshold=120, refractory_frames=0, min_frames=10)
    scores = np.zeros((1, 600, 2), np.uint8)
    scores[0, 291:301, 1] = 250  # the window's mean reaches 250 at frame 300, which ends at 3.025 s
    src = false_accept_sources(scores, [[(0, 2.0, 2.95), (1, 3.5, 4.5)]], ["x", "y"], det, SPEC, threshold=250)
    assert [(r["clip"], r["peak"]) for r in src["top"]] == [("x", 250), ("y", 0)]
    assert src["copies_reaching_threshold"] == 1
