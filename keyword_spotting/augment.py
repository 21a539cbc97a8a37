"""Waveform augmentation: voice perturbation, time shift, room, background noise at a random SNR, EQ, gain, clipping.

All functions take float audio in [-1, 1] (int16 is scaled by 1/32768) and return float32.
Randomness comes only from the `np.random.Generator` passed in, so a seed fixes the output.

SNR is measured over the whole clip: `10 log10(mean(signal^2) / mean(noise^2))`.
If the mix would clip, the whole mix (signal and noise together) is scaled down, so the SNR is
exactly the requested one; gain is likewise limited so the output never clips.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from keyword_spotting import perturb
from keyword_spotting.audio_io import SAMPLE_RATE, read_audio
from keyword_spotting.rooms import reverberate

_SILENT_POWER = 1e-12
_PEAK = 32767.0 / 32768.0


def _as_float(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio)
    if audio.ndim != 1:
        raise ValueError(f"audio must be 1-D, got shape {audio.shape}")
    if audio.dtype == np.int16:
        return audio.astype(np.float32) / 32768.0
    if np.issubdtype(audio.dtype, np.floating):
        return audio.astype(np.float32)
    raise ValueError(f"audio must be int16 or float, got {audio.dtype}")


def power(audio: np.ndarray) -> float:
    """Mean square of the clip (float scale)."""
    a = _as_float(audio).astype(np.float64)
    return float(np.mean(a * a)) if a.size else 0.0


def snr_db(signal: np.ndarray, noise: np.ndarray) -> float:
    """SNR in dB of `signal` over `noise` (both whole clips)."""
    return 10.0 * float(np.log10(power(signal) / max(power(noise), _SILENT_POWER)))


def time_shift(audio: np.ndarray, shift: int) -> np.ndarray:
    """Shift by `shift` samples (positive = later), zero-filled, same length."""
    a = _as_float(audio)
    out = np.zeros_like(a)
    n = len(a)
    if abs(shift) >= n:
        return out
    if shift >= 0:
        out[shift:] = a[: n - shift]
    else:
        out[: n + shift] = a[-shift:]
    return out


def apply_gain(audio: np.ndarray, gain_db: float) -> np.ndarray:
    """Multiply by 10^(gain_db/20)."""
    return (_as_float(audio) * np.float32(10.0 ** (gain_db / 20.0))).astype(np.float32)


def noise_segment(noise: np.ndarray, num_samples: int, rng: np.random.Generator) -> np.ndarray:
    """A random `num_samples` stretch of a noise recording (tiled when the recording is shorter)."""
    n = _as_float(noise)
    if n.size == 0:
        raise ValueError("noise clip is empty")
    if len(n) < num_samples:
        n = np.tile(n, -(-num_samples // len(n)))
    start = int(rng.integers(0, len(n) - num_samples + 1))
    return n[start:start + num_samples].copy()


def mix_at_snr(signal: np.ndarray, noise: np.ndarray, snr: float) -> np.ndarray:
    """signal + noise scaled to give `snr` dB; scaled down as a whole if it would clip."""
    s = _as_float(signal)
    n = _as_float(noise)
    if n.shape != s.shape:
        raise ValueError(f"noise shape {n.shape} != signal shape {s.shape}")
    ps, pn = power(s), power(n)
    if ps < _SILENT_POWER or pn < _SILENT_POWER:
        raise ValueError("mix_at_snr needs a non-silent signal and noise")
    scale = np.sqrt(ps / (pn * 10.0 ** (snr / 10.0)))
    mix = s.astype(np.float64) + scale * n.astype(np.float64)
    peak = np.max(np.abs(mix))
    if peak > _PEAK:
        mix *= _PEAK / peak
    return mix.astype(np.float32)


def render_silence(noise_clips: list[np.ndarray], num_samples: int, rng: np.random.Generator,
                   max_volume: float = 1.0) -> np.ndarray:
    """A "silence" clip: a random noise stretch at a random volume in [0, max_volume) (zeros if no noise)."""
    if not noise_clips:
        return np.zeros(num_samples, np.float32)
    clip = noise_clips[int(rng.integers(len(noise_clips)))]
    seg = noise_segment(clip, num_samples, rng) * np.float32(rng.uniform(0.0, max_volume))
    return np.clip(seg, -_PEAK, _PEAK).astype(np.float32)


def load_noise_clips(paths: list[str | os.PathLike], sample_rate: int = SAMPLE_RATE) -> list[np.ndarray]:
    """Read noise recordings as float32 at `sample_rate`; all-zero recordings are dropped."""
    clips = []
    for p in paths:
        a = _as_float(read_audio(p, sample_rate))
        if power(a) > _SILENT_POWER:
            clips.append(a)
    return clips


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    """Augmentation ranges; each draw is uniform in its range."""

    max_shift_ms: float = 100.0  # |time shift| <= max_shift_ms
    noise_prob: float = 0.8  # probability of mixing background noise
    snr_db: tuple[float, float] = (0.0, 20.0)
    gain_db: tuple[float, float] = (-6.0, 6.0)
    silence_volume: float = 1.0  # silent input (silence items): noise at volume U(0, this)
    rir_prob: float = 0.0  # probability of hearing the clip through a simulated room (keyword_spotting.rooms)
    # Voice perturbation (keyword_spotting.perturb), each with probability perturb_prob, before everything else.
    perturb_prob: float = 0.0
    speed: tuple[float, float] = (0.85, 1.15)  # tempo and pitch together
    pitch_semitones: tuple[float, float] = (-3.0, 3.0)  # pitch at the same tempo
    vtlp: tuple[float, float] = (0.88, 1.12)  # vocal-tract length (formants)
    # Channel: random peaking EQ after the noise (probability eq_prob, +-eq_db), clipping last (clip_prob).
    eq_prob: float = 0.0
    eq_db: float = 8.0
    clip_prob: float = 0.0
    clip_drive_db: tuple[float, float] = (3.0, 15.0)

    def __post_init__(self) -> None:
        if self.max_shift_ms < 0:
            raise ValueError(f"max_shift_ms must be >= 0, got {self.max_shift_ms}")
        for name in ("noise_prob", "rir_prob", "perturb_prob", "eq_prob", "clip_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        for name in ("snr_db", "gain_db", "speed", "pitch_semitones", "vtlp", "clip_drive_db"):
            lo, hi = getattr(self, name)
            if lo > hi:
                raise ValueError(f"{name} range must be (low, high) with low <= high, got {(lo, hi)}")
        if not (0.5 <= self.speed[0] and self.speed[1] <= 2.0 and 0.7 <= self.vtlp[0] and self.vtlp[1] <= 1.3
                and -12 <= self.pitch_semitones[0] and self.pitch_semitones[1] <= 12 and self.eq_db >= 0):
            raise ValueError("need speed within [0.5, 2], vtlp within [0.7, 1.3], pitch within +-12 semitones "
                             "and eq_db >= 0")

    @property
    def perturbs(self) -> bool:
        return self.perturb_prob > 0 or self.eq_prob > 0 or self.clip_prob > 0


class Augmenter:
    """Callable `(audio, rng) -> augmented float32 audio`: voice perturbation (speed, pitch, VTLP; each with
    probability perturb_prob), shift, then (with probability rir_prob, given `rirs`) a simulated room, then
    noise at an SNR, then EQ (eq_prob), gain and clipping (clip_prob)."""

    def __init__(self, noise_clips: list[np.ndarray], config: AugmentConfig = AugmentConfig(),
                 sample_rate: int = SAMPLE_RATE, rirs: list[np.ndarray] | None = None) -> None:
        self.noise_clips = [_as_float(c) for c in noise_clips if power(c) > _SILENT_POWER]
        self.config = config
        self.sample_rate = sample_rate
        self.rirs = list(rirs or [])
        if config.rir_prob > 0 and not self.rirs:
            raise ValueError("rir_prob > 0 needs impulse responses (keyword_spotting.rooms.rir_bank)")

    def __call__(self, audio: np.ndarray, rng: np.random.Generator | int) -> np.ndarray:
        if not isinstance(rng, np.random.Generator):
            rng = np.random.default_rng(rng)
        cfg = self.config
        a = _as_float(audio)
        # Draw every random number in a fixed order so one seed gives one output.
        max_shift = int(round(cfg.max_shift_ms * self.sample_rate / 1000.0))
        shift = int(rng.integers(-max_shift, max_shift + 1))
        use_noise = bool(rng.random() < cfg.noise_prob) and bool(self.noise_clips)
        snr = float(rng.uniform(*cfg.snr_db))
        gain = float(rng.uniform(*cfg.gain_db))
        noise_rng = np.random.default_rng(rng.integers(2**63))
        # A configuration without perturbations draws nothing more: it gives the same clips as before they existed.
        prng = np.random.default_rng(rng.integers(2**63)) if cfg.perturbs else None
        if prng is not None and power(a) >= _SILENT_POWER:
            a = self._perturb_voice(a, prng)
        a = time_shift(a, shift)
        # Drawn after the draws above, so a configuration without rooms gives the same clips as before.
        if self.rirs and rng.random() < cfg.rir_prob and power(a) >= _SILENT_POWER:
            a = reverberate(a, self.rirs[int(rng.integers(len(self.rirs)))])
        if power(a) < _SILENT_POWER:
            a = render_silence(self.noise_clips, len(a), noise_rng, cfg.silence_volume)
        elif use_noise:
            clip = self.noise_clips[int(noise_rng.integers(len(self.noise_clips)))]
            seg = noise_segment(clip, len(a), noise_rng)
            if power(seg) > _SILENT_POWER:
                a = mix_at_snr(a, seg, snr)
        if prng is not None and prng.random() < cfg.eq_prob and power(a) >= _SILENT_POWER:
            a = perturb.random_eq(a, prng, cfg.eq_db, sample_rate=self.sample_rate)
        a = apply_gain(a, gain)
        if prng is not None and prng.random() < cfg.clip_prob:
            a = perturb.clip(a, float(prng.uniform(*cfg.clip_drive_db)))
        peak = float(np.max(np.abs(a))) if a.size else 0.0
        if peak > _PEAK:
            a = (a * np.float32(_PEAK / peak)).astype(np.float32)
        return a

    def _perturb_voice(self, a: np.ndarray, prng: np.random.Generator) -> np.ndarray:
        cfg = self.config
        draws = [(prng.random() < cfg.perturb_prob, float(prng.uniform(*r)))
                 for r in (cfg.speed, cfg.pitch_semitones, cfg.vtlp)]
        (do_speed, factor), (do_pitch, semis), (do_vtlp, alpha) = draws
        if do_speed:
            a = perturb.speed(a, factor)
        if do_pitch:
            a = perturb.pitch_shift(a, semis, self.sample_rate)
        if do_vtlp:
            a = perturb.vtlp(a, alpha, self.sample_rate)
        peak = float(np.max(np.abs(a))) if a.size else 0.0
        return (a * np.float32(_PEAK / peak)).astype(np.float32) if peak > _PEAK else a
