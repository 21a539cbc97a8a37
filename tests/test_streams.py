"""Test streams: layout, SNR, trimming, determinism and the WAV+JSON files."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

from keyword_spotting.streams import (
    Event,
    StreamConfig,
    build_stream,
    read_stream,
    trim_silence,
    write_stream,
)

SR = 16000
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _tone_clip(freq: float, voiced_s: float, pad_s: float, amp: float = 8000.0) -> np.ndarray:
    """`pad_s` of silence, a tone of `voiced_s`, `pad_s` of silence (int16)."""
    t = np.arange(int(voiced_s * SR)) / SR
    tone = amp * np.sin(2 * np.pi * freq * t)
    pad = np.zeros(int(pad_s * SR))
    return np.round(np.concatenate([pad, tone, pad])).astype(np.int16)


def _noise(seconds: float, std: float = 300.0, seed: int = 1) -> np.ndarray:
    return np.round(np.random.default_rng(seed).normal(0, std, int(seconds * SR))).astype(np.int16)


KEYWORDS = {"yes": [_tone_clip(440, 0.4, 0.3)], "no": [_tone_clip(660, 0.3, 0.2), _tone_clip(700, 0.5, 0.1)]}
NEGATIVES = [_tone_clip(300, 0.6, 0.2, amp=5000)]


def test_trim_silence_finds_the_voiced_part() -> None:
    clip = _tone_clip(440, 0.4, 0.3)
    assert trim_silence(clip) == (4800, 4800 + 6400)  # 0.3 s pad, 0.4 s tone, 10 ms frames
    assert trim_silence(np.zeros(1000, np.int16)) == (0, 1000)
    with pytest.raises(ValueError, match="pcm"):
        trim_silence(np.zeros(10, np.float32))


def test_layout_gaps_and_ground_truth() -> None:
    cfg = StreamConfig(duration_s=120.0, lead_in_s=1.0, min_gap_s=2.0, max_gap_s=4.0, negative_fraction=0.3)
    s = build_stream([_noise(30.0)], KEYWORDS, NEGATIVES, cfg, seed=3)
    assert s.audio.dtype == np.int16 and len(s.audio) == 120 * SR and s.duration_s == 120.0
    assert len(s.events) >= 10 and len(s.negatives) >= 1
    spans = sorted([(e.start_s, e.end_s) for e in s.events] + s.negatives)
    assert spans[0][0] >= 1.0 + 2.0 - 1e-9
    for (_, a1), (b0, _) in zip(spans, spans[1:], strict=False):
        assert 2.0 - 1e-9 <= b0 - a1 <= 4.0 + 1e-9  # gap between consecutive clips
    assert spans[-1][1] <= 120.0
    lengths = {"yes": {0.4}, "no": {0.3, 0.5}}
    for e in s.events:
        assert e.label in lengths
        assert any(abs((e.end_s - e.start_s) - d) < 1e-9 for d in lengths[e.label])  # trimmed word only
    for a, b in s.negatives:
        assert abs((b - a) - 0.6) < 1e-9


def test_clips_are_mixed_at_the_requested_snr() -> None:
    noise = _noise(60.0, std=400.0)
    cfg = StreamConfig(duration_s=60.0, snr_db_min=10.0, snr_db_max=10.0, negative_fraction=0.0)
    s = build_stream([noise], KEYWORDS, (), cfg, seed=5)
    # The background is drawn before any placement: with the same seed and a gap longer than the
    # stream (no clip fits) the stream is exactly that background.
    bg = build_stream([noise], KEYWORDS, (), dataclasses.replace(cfg, min_gap_s=1e3, max_gap_s=1e3), seed=5)
    assert not bg.events and len(s.events) > 5
    for e in s.events:
        a, b = int(round(e.start_s * SR)), int(round(e.end_s * SR))
        noise_part = bg.audio[a:b].astype(np.float64)
        clip_part = s.audio[a:b].astype(np.float64) - noise_part
        snr = 10 * math.log10(np.mean(clip_part**2) / np.mean(noise_part**2))
        assert snr == pytest.approx(10.0, abs=0.05)
    outside = np.ones(len(s.audio), bool)
    for e in s.events:
        outside[int(round(e.start_s * SR)) : int(round(e.end_s * SR))] = False
    np.testing.assert_array_equal(s.audio[outside], bg.audio[outside])


def test_silent_background_keeps_clip_levels() -> None:
    cfg = StreamConfig(duration_s=20.0, negative_fraction=0.0, trim_db=None)
    s = build_stream([], {"yes": [_tone_clip(440, 0.4, 0.0)]}, (), cfg, seed=0)
    e = s.events[0]
    a, b = int(round(e.start_s * SR)), int(round(e.end_s * SR))
    np.testing.assert_array_equal(s.audio[a:b], _tone_clip(440, 0.4, 0.0))
    assert np.count_nonzero(s.audio[: a]) == 0


def test_same_seed_same_stream_other_seed_other_stream() -> None:
    cfg = StreamConfig(duration_s=40.0)
    a = build_stream([_noise(10.0)], KEYWORDS, NEGATIVES, cfg, seed=7)
    b = build_stream([_noise(10.0)], KEYWORDS, NEGATIVES, cfg, seed=7)
    c = build_stream([_noise(10.0)], KEYWORDS, NEGATIVES, cfg, seed=8)
    np.testing.assert_array_equal(a.audio, b.audio)
    assert a.events == b.events and a.negatives == b.negatives
    assert a.events != c.events


def test_bad_inputs_raise_value_errors() -> None:
    with pytest.raises(ValueError, match=r"background\[0\]"):
        build_stream([np.zeros(100, np.float32)], KEYWORDS)
    with pytest.raises(ValueError, match=r"keywords\['yes'\]\[0\]"):
        build_stream([], {"yes": [np.zeros((2, 100), np.int16)]})
    with pytest.raises(ValueError, match="at least one clip"):
        build_stream([], {"yes": []})
    with pytest.raises(ValueError, match="min_gap_s"):
        StreamConfig(min_gap_s=3.0, max_gap_s=2.0)
    with pytest.raises(ValueError, match="negative_fraction"):
        StreamConfig(negative_fraction=1.5)


def test_write_and_read_round_trip(tmp_path) -> None:
    s = build_stream([_noise(10.0)], KEYWORDS, NEGATIVES, StreamConfig(duration_s=30.0), seed=2)
    wav, js = write_stream(tmp_path / "streams" / "s0.wav", s)
    assert sorted(p.name for p in wav.parent.iterdir()) == ["s0.json", "s0.wav"]
    meta = json.loads(js.read_text())
    assert meta["num_samples"] == len(s.audio) and meta["seed"] == 2
    assert meta["events"][0] == {"start_s": s.events[0].start_s, "end_s": s.events[0].end_s,
                                 "label": s.events[0].label}
    back = read_stream(wav)
    np.testing.assert_array_equal(back.audio, s.audio)
    assert back.events == s.events and back.negatives == s.negatives and back.config == s.config
    with pytest.raises(ValueError, match=r"\.wav"):
        write_stream(tmp_path / "s1.flac", s)
    (tmp_path / "lonely.wav").write_bytes(wav.read_bytes())
    with pytest.raises(ValueError, match="lonely.json"):
        read_stream(tmp_path / "lonely.wav")


@pytest.mark.skipif(not (DATA / "speech_commands_dev").is_dir(), reason="../shared/data is absent")
def test_real_recordings_make_a_stream() -> None:
    from keyword_spotting.audio_io import load_clip, read_wav

    sc = DATA / "speech_commands_dev"
    yes = [load_clip(p) for p in sorted((sc / "yes").glob("*.wav"))[:5]]
    neg = [read_wav(p) for p in sorted((DATA / "negatives" / "speech").glob("*.wav"))[:3]]
    noise = [read_wav(p) for p in sorted((sc / "_background_noise_").glob("*.wav"))[:2]]
    s = build_stream(noise, {"yes": yes}, neg, StreamConfig(duration_s=60.0), seed=0)
    assert s.events and all(isinstance(e, Event) and e.label == "yes" for e in s.events)
    assert all(0 < e.end_s - e.start_s <= 1.0 for e in s.events)
