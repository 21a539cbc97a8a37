"""Benchmark streams of real audio: real wake-word recordings among real background speech, in real noise.

    cfg = BenchStreamConfig(hours=5.0, snr_db=10.0)
    plan = plan_streams(num_positives=329, negative_seconds=[12.1, 8.3, ...], noise_seconds=[...], cfg, seed=0)
    audio, events = render_chunk(plan.chunks[0], positives, negatives, noise, cfg)   # int16, [Event]

A condition is `chunks` independent streams of `chunk_s` seconds each (enough of them to reach `hours`);
the device pipeline scores each from a reset state. Within a chunk, utterances follow one another with a
pause drawn from [min_pause_s, max_pause_s]: background speech clips (the measuring negatives, cycled in a
shuffled order so every clip is used before any is reused) and, spread evenly over the chunks, the
wake-word recordings (each used exactly once per condition, trimmed to its voiced part as
`streams.trim_silence` does, so an event is the word itself).

Levels: every utterance is scaled so that its active level (RMS over its 10 ms frames within 30 dB of its
loudest frame) is `speech_dbfs` plus a gain drawn from [-gain_jitter_db, +gain_jitter_db]. The noise bed
(pieces of `piece_s` seconds of the measuring noise recordings at random offsets, 10 ms fades at the
joins) is scaled, piece by piece, to an RMS of `speech_dbfs - snr_db`: the speech-to-noise ratio is
`snr_db` (Picovoice's benchmark: 10 dB). `snr_db=None` adds no noise. Everything random comes from
`numpy.random.default_rng` seeded with (seed, chunk index): the same inputs give the same streams, and the
speech of a chunk does not depend on its noise.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from keyword_spotting.streams import Event, trim_silence

SAMPLE_RATE = 16000
_FRAME = 160
_FADE = 160


@dataclasses.dataclass(frozen=True)
class BenchStreamConfig:
    """How the streams of one condition are laid out and mixed (module docstring)."""

    hours: float = 5.0
    chunk_s: float = 300.0
    snr_db: float | None = 10.0
    speech_dbfs: float = -26.0
    gain_jitter_db: float = 3.0
    min_pause_s: float = 0.3
    max_pause_s: float = 1.5
    piece_s: float = 20.0
    trim_db: float = 40.0

    def __post_init__(self) -> None:
        if not self.hours > 0 or not self.chunk_s >= 10:
            raise ValueError(f"need hours > 0 and chunk_s >= 10, got {self.hours}, {self.chunk_s}")
        if not 0 <= self.min_pause_s <= self.max_pause_s:
            raise ValueError(f"need 0 <= min_pause_s <= max_pause_s, got {self.min_pause_s}, {self.max_pause_s}")
        if self.gain_jitter_db < 0 or self.piece_s <= 0 or self.speech_dbfs >= 0:
            raise ValueError("need gain_jitter_db >= 0, piece_s > 0 and speech_dbfs < 0")

    @property
    def num_chunks(self) -> int:
        return math.ceil(self.hours * 3600.0 / self.chunk_s - 1e-9)

    @property
    def chunk_samples(self) -> int:
        return int(round(self.chunk_s * SAMPLE_RATE))


@dataclasses.dataclass(frozen=True)
class ChunkPlan:
    """One chunk: its index (the seed's second part) and the positives it holds."""

    index: int
    positives: tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class StreamPlan:
    chunks: tuple[ChunkPlan, ...]
    seed: int


def plan_streams(num_positives: int, cfg: BenchStreamConfig, seed: int = 0) -> StreamPlan:
    """Deal the positives (each once, shuffled; none for a negatives-only stream) to `cfg.num_chunks` chunks."""
    if num_positives < 0:
        raise ValueError(f"num_positives must be >= 0, got {num_positives}")
    order = np.random.default_rng([seed, 1]).permutation(num_positives)
    n = cfg.num_chunks
    return StreamPlan(tuple(ChunkPlan(i, tuple(int(k) for k in order[i::n])) for i in range(n)), seed)


def active_rms(pcm: np.ndarray, floor_db: float = 30.0) -> float:
    """RMS (int16 scale) over the 10 ms frames within `floor_db` of the loudest one; 0 for silence."""
    x = np.asarray(pcm, np.float64)
    n = len(x) // _FRAME
    if n == 0:
        return float(np.sqrt(np.mean(x * x))) if len(x) else 0.0
    ms = np.mean(x[: n * _FRAME].reshape(n, _FRAME) ** 2, axis=1)
    if ms.max() <= 0:
        return 0.0
    return float(np.sqrt(np.mean(ms[ms >= ms.max() * 10 ** (-floor_db / 10)])))


def _scaled(clip: np.ndarray, dbfs: float) -> np.ndarray:
    rms = active_rms(clip)
    target = 32768.0 * 10 ** (dbfs / 20)
    return clip.astype(np.float64) * (target / rms if rms > 0 else 1.0)


def _noise_bed(noise: Sequence[np.ndarray], n: int, cfg: BenchStreamConfig, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(n, np.float64)
    if cfg.snr_db is None or not noise:
        return out
    target = 32768.0 * 10 ** ((cfg.speech_dbfs - cfg.snr_db) / 20)
    piece = int(cfg.piece_s * SAMPLE_RATE)
    ramp = np.linspace(0.0, 1.0, _FADE)
    pos = 0
    while pos < n:
        rec = noise[int(rng.integers(len(noise)))]
        start = int(rng.integers(max(1, len(rec) - _FRAME)))
        seg = rec[start: start + min(piece, n - pos)].astype(np.float64)
        rms = float(np.sqrt(np.mean(seg * seg))) if len(seg) else 0.0
        if rms > 0:
            seg *= target / rms
        if len(seg) > 2 * _FADE:
            seg[:_FADE] *= ramp
            seg[-_FADE:] *= ramp[::-1]
        out[pos: pos + len(seg)] = seg
        pos += len(seg)
    return out


def render_chunk(chunk: ChunkPlan, positives: Sequence[np.ndarray], negatives: Sequence[np.ndarray],
                 noise: Sequence[np.ndarray], cfg: BenchStreamConfig, label: str, seed: int = 0,
                 negative_order: np.ndarray | None = None, spans: list[tuple[int, int, int]] | None = None
                 ) -> tuple[np.ndarray, list[Event], list[int]]:
    """One chunk: int16 audio of `cfg.chunk_samples`, its wake-word events and the negative clips used.

    `negative_order`: indices of `negatives` to use in turn (default: a shuffle of the chunk's own);
    the benchmark passes one long shuffled cycle so that chunks use different clips first.
    `spans`: if given, (clip index, first sample, samples) of every background clip placed is appended to it
    (where a false accept came from: `wakeword_metrics.false_accept_sources`).
    """
    if not negatives:
        raise ValueError("need at least one negative (background speech) clip")
    rng = np.random.default_rng([seed, 2, chunk.index])
    n = cfg.chunk_samples
    mix = _noise_bed(noise, n, cfg, np.random.default_rng([seed, 4, chunk.index]))  # its own draws
    order = list(negative_order) if negative_order is not None else list(rng.permutation(len(negatives)))
    pending = [positives[k] for k in chunk.positives]
    # Spread the positives over the first 90% of the chunk: each goes in after the utterance that passes
    # its target time (or as soon as a background clip no longer fits).
    targets = [(i + rng.uniform(0.25, 0.75)) * 0.9 * n / max(1, len(pending)) for i in range(len(pending))]
    events: list[Event] = []
    used: list[int] = []
    pos = int(rng.uniform(cfg.min_pause_s, cfg.max_pause_s) * SAMPLE_RATE)
    k, force = 0, False
    while True:
        if pending and (force or pos >= targets[0]):
            clip = pending[0]
            a, b = trim_silence(clip, cfg.trim_db)
            seg, is_positive = clip[a:b], True
        else:
            idx = int(order[k % len(order)])
            seg, is_positive = negatives[idx], False
        seg = _scaled(seg, cfg.speech_dbfs + rng.uniform(-cfg.gain_jitter_db, cfg.gain_jitter_db))
        if pos + len(seg) > n:
            if not is_positive and pending:
                force = True  # a background clip that does not fit: the positives left go in first
                continue
            break
        mix[pos: pos + len(seg)] += seg
        if is_positive:
            events.append(Event(pos / SAMPLE_RATE, (pos + len(seg)) / SAMPLE_RATE, label))
            pending.pop(0)
            targets.pop(0)
        else:
            used.append(idx)
            if spans is not None:
                spans.append((idx, pos, len(seg)))
            k += 1
        pos += len(seg) + int(rng.uniform(cfg.min_pause_s, cfg.max_pause_s) * SAMPLE_RATE)
    if pending:
        raise ValueError(f"chunk {chunk.index}: {len(pending)} positives did not fit in {cfg.chunk_s} s "
                         "(lengthen chunk_s or add hours)")
    audio = np.clip(np.round(mix), -32768, 32767).astype(np.int16)
    return audio, events, used
