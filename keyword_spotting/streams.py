"""Long test streams for streaming evaluation: background noise with keyword and negative-speech
clips inserted at known times, and the ground truth of where the keywords are.

    stream = build_stream(background=[noise], keywords={"marvin": clips}, negatives=speech,
                          config=StreamConfig(duration_s=600), seed=0)
    stream.audio            # int16 [n] at 16 kHz
    stream.events           # [Event(start_s, end_s, label), ...]  keywords only, in time order
    write_stream("build/eval/stream0.wav", stream)   # + stream0.json, both atomic
    stream = read_stream("build/eval/stream0.wav")

Placement: after `lead_in_s` of background, clips follow one another separated by a gap drawn
uniformly from [min_gap_s, max_gap_s]; each clip is a keyword, or negative speech with
probability `negative_fraction`. Clips are trimmed to their voiced part (frames within `trim_db`
of the loudest 10 ms frame), so an event's [start_s, end_s] is the word itself, then scaled so
that the clip-to-background power ratio over its span is an SNR drawn uniformly from
[snr_db_min, snr_db_max] (unchanged when the background there is silent) and added. Everything
random comes from `numpy.random.default_rng(seed)`: the same inputs and seed give the same stream.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from fastgrnn_tf.atomic_io import atomic_write_bytes
from keyword_spotting.audio_io import SAMPLE_RATE, read_audio, write_wav

_FRAME = 160  # 10 ms at 16 kHz: trimming resolution


@dataclasses.dataclass(frozen=True)
class Event:
    """One keyword occurrence in a stream (seconds from the stream start)."""

    start_s: float
    end_s: float
    label: str


@dataclasses.dataclass(frozen=True)
class StreamConfig:
    """How a stream is laid out; see the module docstring."""

    duration_s: float = 600.0
    sample_rate: int = SAMPLE_RATE
    lead_in_s: float = 1.0
    min_gap_s: float = 2.0
    max_gap_s: float = 6.0
    snr_db_min: float = 5.0
    snr_db_max: float = 20.0
    negative_fraction: float = 0.3
    trim_db: float | None = 40.0

    def __post_init__(self) -> None:
        if not self.duration_s > 0:
            raise ValueError(f"duration_s must be positive, got {self.duration_s}")
        if self.sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {self.sample_rate}")
        if not 0 <= self.lead_in_s < self.duration_s:
            raise ValueError(f"lead_in_s must be in [0, duration_s), got {self.lead_in_s}")
        if not 0 <= self.min_gap_s <= self.max_gap_s:
            raise ValueError(f"need 0 <= min_gap_s <= max_gap_s, got {self.min_gap_s}, {self.max_gap_s}")
        if not self.snr_db_min <= self.snr_db_max:
            raise ValueError(f"need snr_db_min <= snr_db_max, got {self.snr_db_min}, {self.snr_db_max}")
        if not 0 <= self.negative_fraction <= 1:
            raise ValueError(f"negative_fraction must be in [0, 1], got {self.negative_fraction}")
        if self.trim_db is not None and not self.trim_db > 0:
            raise ValueError(f"trim_db must be positive or None, got {self.trim_db}")


@dataclasses.dataclass
class Stream:
    """int16 audio, its keyword events, the negative-speech spans and how it was made."""

    audio: np.ndarray
    events: list[Event]
    sample_rate: int = SAMPLE_RATE
    negatives: list[tuple[float, float]] = dataclasses.field(default_factory=list)
    seed: int | None = None
    config: StreamConfig | None = None

    @property
    def duration_s(self) -> float:
        return len(self.audio) / self.sample_rate


def _check_pcm(x: np.ndarray, what: str) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype != np.int16 or x.ndim != 1 or x.size == 0:
        raise ValueError(f"{what} must be non-empty 1-D int16 audio, got {x.dtype} shape {x.shape}")
    return x


def trim_silence(pcm: np.ndarray, trim_db: float = 40.0, frame: int = _FRAME) -> tuple[int, int]:
    """[start, end) sample range of the frames within `trim_db` of the loudest frame's RMS."""
    pcm = _check_pcm(pcm, "pcm")
    x = pcm.astype(np.float64)
    n_frames = math.ceil(len(x) / frame)
    padded = np.zeros(n_frames * frame)
    padded[: len(x)] = x
    rms = np.sqrt(np.mean(padded.reshape(n_frames, frame) ** 2, axis=1))
    peak = rms.max()
    if peak == 0:
        return 0, len(pcm)
    loud = np.flatnonzero(rms >= peak * 10 ** (-trim_db / 20))
    return int(loud[0] * frame), int(min(len(pcm), (loud[-1] + 1) * frame))


def _background(background: Sequence[np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
    """n samples (float64) of random segments of the background recordings, joined end to end."""
    out = np.zeros(n, np.float64)
    if not background:
        return out
    pos = 0
    while pos < n:
        rec = background[int(rng.integers(len(background)))]
        start = int(rng.integers(len(rec)))
        take = min(len(rec) - start, n - pos)
        out[pos : pos + take] = rec[start : start + take]
        pos += take
    return out


def build_stream(
    background: Sequence[np.ndarray],
    keywords: Mapping[str, Sequence[np.ndarray]],
    negatives: Sequence[np.ndarray] = (),
    config: StreamConfig | None = None,
    seed: int = 0,
) -> Stream:
    """A stream of `config.duration_s` seconds; see the module docstring for the layout.

    `background`: int16 recordings (may be empty: digital silence); `keywords`: label -> int16
    clips (at least one clip in all); `negatives`: int16 clips of non-keyword speech.
    """
    cfg = config or StreamConfig()
    background = [_check_pcm(b, f"background[{i}]") for i, b in enumerate(background)]
    negatives = [_check_pcm(c, f"negatives[{i}]") for i, c in enumerate(negatives)]
    labels = sorted(keywords)
    kw = {lab: [_check_pcm(c, f"keywords[{lab!r}][{i}]") for i, c in enumerate(keywords[lab])]
          for lab in labels}
    labels = [lab for lab in labels if kw[lab]]
    if not labels:
        raise ValueError("keywords must hold at least one clip")

    rng = np.random.default_rng(seed)
    sr = cfg.sample_rate
    n = int(round(cfg.duration_s * sr))
    bg = _background(background, n, rng)
    mix = bg.copy()
    events: list[Event] = []
    neg_spans: list[tuple[float, float]] = []
    pos = int(round(cfg.lead_in_s * sr))
    while True:
        pos += int(round(rng.uniform(cfg.min_gap_s, cfg.max_gap_s) * sr))
        is_negative = bool(negatives) and rng.random() < cfg.negative_fraction
        if is_negative:
            clip, label = negatives[int(rng.integers(len(negatives)))], None
        else:
            label = labels[int(rng.integers(len(labels)))]
            clip = kw[label][int(rng.integers(len(kw[label])))]
        snr = rng.uniform(cfg.snr_db_min, cfg.snr_db_max)
        a, b = trim_silence(clip, cfg.trim_db) if cfg.trim_db is not None else (0, len(clip))
        seg = clip[a:b].astype(np.float64)
        if pos + len(seg) > n:
            break
        p_clip = float(np.mean(seg**2))
        p_bg = float(np.mean(bg[pos : pos + len(seg)] ** 2))
        gain = math.sqrt(p_bg / p_clip * 10 ** (snr / 10)) if p_bg > 0 and p_clip > 0 else 1.0
        mix[pos : pos + len(seg)] += gain * seg
        span = (pos / sr, (pos + len(seg)) / sr)
        if label is None:
            neg_spans.append(span)
        else:
            events.append(Event(span[0], span[1], label))
        pos += len(seg)
    audio = np.clip(np.round(mix), -32768, 32767).astype(np.int16)
    return Stream(audio, events, sr, neg_spans, seed, cfg)


def stream_metadata(stream: Stream) -> dict:
    """The JSON side of a stream: ground truth, negative spans, duration, seed and config."""
    return {
        "sample_rate": stream.sample_rate,
        "duration_s": stream.duration_s,
        "num_samples": len(stream.audio),
        "seed": stream.seed,
        "config": dataclasses.asdict(stream.config) if stream.config else None,
        "events": [dataclasses.asdict(e) for e in stream.events],
        "negatives": [list(s) for s in stream.negatives],
    }


def write_stream(wav_path: str | os.PathLike, stream: Stream) -> tuple[Path, Path]:
    """Write `<name>.wav` (16-bit PCM) and `<name>.json` (`stream_metadata`), each atomically.

    The JSON is written last, so a stream whose JSON exists has its WAV complete.
    """
    wav_path = Path(wav_path)
    if wav_path.suffix.lower() != ".wav":
        raise ValueError(f"wav_path must end in .wav, got {wav_path}")
    audio = _check_pcm(stream.audio, "stream.audio")
    json_path = wav_path.with_suffix(".json")
    write_wav(wav_path, audio, stream.sample_rate)
    atomic_write_bytes(json_path, (json.dumps(stream_metadata(stream), indent=1) + "\n").encode())
    return wav_path, json_path


def read_stream(wav_path: str | os.PathLike) -> Stream:
    """Inverse of `write_stream` (the JSON beside the WAV gives the ground truth)."""
    wav_path = Path(wav_path)
    json_path = wav_path.with_suffix(".json")
    if not json_path.is_file():
        raise ValueError(f"{wav_path}: no ground-truth file {json_path.name} beside it")
    try:
        meta = json.loads(json_path.read_text())
        events = [Event(float(e["start_s"]), float(e["end_s"]), str(e["label"])) for e in meta["events"]]
        sr = int(meta["sample_rate"])
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{json_path}: not a stream ground-truth file: {e}") from e
    audio = read_audio(wav_path, sr)
    if len(audio) != meta.get("num_samples", len(audio)):
        raise ValueError(f"{wav_path}: has {len(audio)} samples, {json_path.name} says {meta['num_samples']}")
    cfg = StreamConfig(**meta["config"]) if meta.get("config") else None
    negatives = [(float(a), float(b)) for a, b in meta.get("negatives", [])]
    return Stream(audio, events, sr, negatives, meta.get("seed"), cfg)
