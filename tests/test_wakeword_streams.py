"""wakeword_streams: every positive once, events where the words are, the noise at the requested SNR, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from keyword_spotting.wakeword_streams import BenchStreamConfig, active_rms, plan_streams, render_chunk

SR = 16000


def _word(freq: float, seed: int) -> np.ndarray:
    """0.5 s of silence, a 0.6 s tone burst, 0.5 s of silence (a recording with silence around the word)."""
    rng = np.random.default_rng(seed)
    tone = 6000 * np.sin(2 * np.pi * freq * np.arange(int(0.6 * SR)) / SR) + rng.normal(0, 50, int(0.6 * SR))
    return np.concatenate([np.zeros(8000), tone, np.zeros(8000)]).astype(np.int16)


def _speech(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 3000, int(seconds * SR)) * (np.sin(np.arange(int(seconds * SR)) / 800.0) > 0)
    return x.astype(np.int16)


POS = [_word(300 + 40 * i, i) for i in range(7)]
NEG = [_speech(s, i) for i, s in enumerate((2.0, 3.5, 5.0, 1.2))]
NOISE = [(np.random.default_rng(9).normal(0, 2000, 10 * SR)).astype(np.int16)]


def test_plan_deals_each_positive_once() -> None:
    cfg = BenchStreamConfig(hours=0.05, chunk_s=40)  # 180 s -> 5 chunks
    plan = plan_streams(7, cfg, seed=3)
    assert cfg.num_chunks == 5 and len(plan.chunks) == 5
    dealt = sorted(k for c in plan.chunks for k in c.positives)
    assert dealt == list(range(7))
    assert {len(c.positives) for c in plan.chunks} == {1, 2}
    assert plan == plan_streams(7, cfg, seed=3) and plan != plan_streams(7, cfg, seed=4)
    assert all(c.positives == () for c in plan_streams(0, cfg).chunks)  # a negatives-only stream
    with pytest.raises(ValueError, match="num_positives"):
        plan_streams(-1, cfg)


def test_chunk_events_levels_and_snr() -> None:
    cfg = BenchStreamConfig(hours=40 / 3600, chunk_s=40, snr_db=10.0, gain_jitter_db=0.0)
    chunk = plan_streams(7, cfg).chunks[0]
    spans: list[tuple[int, int, int]] = []
    audio, events, used = render_chunk(chunk, POS, NEG, NOISE, cfg, "positive", seed=1, spans=spans)
    assert audio.dtype == np.int16 and len(audio) == 40 * SR
    assert len(events) == 7 and all(e.label == "positive" for e in events)
    assert all(a.end_s < b.start_s for a, b in zip(events, events[1:], strict=False))
    assert used and set(used) <= set(range(len(NEG)))
    quiet_cfg = BenchStreamConfig(hours=40 / 3600, chunk_s=40, snr_db=None, gain_jitter_db=0.0)
    clean, clean_events, _ = render_chunk(chunk, POS, NEG, NOISE, quiet_cfg, "positive", seed=1)
    assert clean_events == events  # the speech does not depend on the noise
    target = 32768 * 10 ** (cfg.speech_dbfs / 20)
    # Where each background clip went: in order, the clips `used` names, each its own length, at the speech
    # level, between the wake words and never overlapping them, nothing but silence between them.
    assert [i for i, _, _ in spans] == used and all(n == len(NEG[i]) for i, _, n in spans)
    placed = sorted([(a, a + n) for _, a, n in spans] + [(round(e.start_s * SR), round(e.end_s * SR))
                                                         for e in events])
    assert all(b <= c for (_, b), (c, _) in zip(placed, placed[1:], strict=False))
    for i, a, n in spans:
        seg = clean[a: a + n].astype(np.float64)
        gain = target / active_rms(NEG[i])
        assert np.max(np.abs(seg - NEG[i] * gain)) <= 1.0  # the clip, scaled (rounded to int16)
    gaps = np.ones(len(clean), bool)
    for a, b in placed:
        gaps[a:b] = False
    assert not np.any(clean[gaps])
    for e in events:
        a, b = int(round(e.start_s * SR)), int(round(e.end_s * SR))
        assert 0.55 <= e.end_s - e.start_s <= 0.65  # the tone, trimmed of its silence
        assert 20 * np.log10(active_rms(clean[a:b]) / target) == pytest.approx(0.0, abs=0.2)
    # The noise bed alone (noisy - clean) sits snr_db below the speech level.
    bed = audio.astype(np.float64) - clean.astype(np.float64)
    level = 20 * np.log10(np.sqrt(np.mean(bed ** 2)) / target)
    assert level == pytest.approx(-10.0, abs=0.5)
    # Deterministic.
    again, _, _ = render_chunk(chunk, POS, NEG, NOISE, cfg, "positive", seed=1)
    assert np.array_equal(again, audio)
    other, _, _ = render_chunk(chunk, POS, NEG, NOISE, cfg, "positive", seed=2)
    assert not np.array_equal(other, audio)


def test_positives_that_do_not_fit_are_an_error() -> None:
    cfg = BenchStreamConfig(hours=10 / 3600, chunk_s=10)
    chunk = plan_streams(7, cfg).chunks[0]  # 7 words of 0.6 s with pauses up to 1.5 s: does not fit in 10 s
    with pytest.raises(ValueError, match="did not fit"):
        render_chunk(chunk, POS, NEG, NOISE, cfg, "positive", seed=0)
    with pytest.raises(ValueError, match="negative"):
        render_chunk(chunk, POS, [], NOISE, cfg, "positive")
    with pytest.raises(ValueError, match="chunk_s"):
        BenchStreamConfig(chunk_s=5)
