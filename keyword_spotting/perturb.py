"""Voice and channel perturbations: speed, pitch, vocal-tract length (VTLP), EQ and clipping.

A few synthetic voices become many when each clip is heard a little faster or slower (`speed`: tempo and
pitch together, Kaldi's speed perturbation), higher or lower at the same tempo (`pitch_shift`), and through
a longer or shorter vocal tract (`vtlp`: formants move, the pitch harmonics' spacing stays; Jaitly & Hinton
2013). A real microphone and room colour the spectrum (`random_eq`: peaking filters) and loud talkers clip
(`clip`). Each function takes and returns float32 audio of the same length (the content stays centred),
so the time-shift, room, noise and gain augmentations around them keep their meaning.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter, resample_poly

from keyword_spotting.audio_io import SAMPLE_RATE

_N_FFT = 512
_HOP = 128
_PEAK = 32767.0 / 32768.0


def _check(audio: np.ndarray) -> np.ndarray:
    a = np.asarray(audio)
    if a.ndim != 1 or not np.issubdtype(a.dtype, np.floating):
        raise ValueError(f"audio must be 1-D float, got {a.dtype} {a.shape}")
    return a.astype(np.float32)


def _fit_centred(y: np.ndarray, n: int) -> np.ndarray:
    """Crop or zero-pad `y` to `n` samples, keeping its centre at the centre."""
    if len(y) >= n:
        start = (len(y) - n) // 2
        return y[start:start + n]
    out = np.zeros(n, np.float32)
    start = (n - len(y)) // 2
    out[start:start + len(y)] = y
    return out


def speed(audio: np.ndarray, factor: float) -> np.ndarray:
    """Play `factor` times faster (tempo and pitch: resampling), same length, centred."""
    a = _check(audio)
    if not 0.5 <= factor <= 2.0:
        raise ValueError(f"speed factor must be in [0.5, 2], got {factor}")
    up = 1000
    down = int(round(up * factor))
    if down == up or a.size == 0:
        return a.copy()
    return _fit_centred(resample_poly(a, up, down).astype(np.float32), len(a))


def _stft(a: np.ndarray) -> np.ndarray:
    import librosa

    return librosa.stft(a, n_fft=_N_FFT, hop_length=_HOP, window="hann", center=True)


def _istft(spec: np.ndarray, n: int) -> np.ndarray:
    import librosa

    return librosa.istft(spec, hop_length=_HOP, window="hann", center=True, length=n).astype(np.float32)


def pitch_shift(audio: np.ndarray, semitones: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Raise the pitch by `semitones` at the same tempo (librosa: phase-vocoder stretch + resample)."""
    import librosa

    a = _check(audio)
    if not -12.0 <= semitones <= 12.0:
        raise ValueError(f"pitch shift must be within +-12 semitones, got {semitones}")
    if semitones == 0 or a.size < _N_FFT:
        return a.copy()
    return librosa.effects.pitch_shift(a, sr=sample_rate, n_steps=semitones, n_fft=_N_FFT,
                                       hop_length=_HOP).astype(np.float32)


def vtlp_warp(freqs: np.ndarray, alpha: float, sample_rate: int = SAMPLE_RATE,
              boundary_hz: float = 4800.0) -> np.ndarray:
    """VTLP's piecewise-linear frequency warp: f -> alpha f up to a knee, then linear to Nyquist (fixed)."""
    nyq = sample_rate / 2.0
    knee = boundary_hz * min(alpha, 1.0) / alpha
    f = np.asarray(freqs, np.float64)
    upper = nyq - (nyq - boundary_hz * min(alpha, 1.0)) / (nyq - knee) * (nyq - f)
    return np.where(f <= knee, alpha * f, upper)


def vtlp(audio: np.ndarray, alpha: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Warp the spectrum's frequency axis by `alpha` (> 1: a shorter vocal tract, formants and harmonics move up).

    Each output bin takes the magnitude found at its source frequency (the inverse warp, linear
    interpolation); its phase advances at the warped instantaneous frequency of the nearest source bin
    (a phase vocoder), so the sound really moves instead of beating back to where it was."""
    a = _check(audio)
    if not 0.7 <= alpha <= 1.3:
        raise ValueError(f"VTLP alpha must be in [0.7, 1.3], got {alpha}")
    if alpha == 1.0 or a.size < _N_FFT:
        return a.copy()
    spec = _stft(a)
    freqs = np.fft.rfftfreq(_N_FFT, 1.0 / sample_rate)
    warped = vtlp_warp(freqs, alpha, sample_rate)  # monotone: invert by interpolation
    pos = np.interp(freqs, warped, freqs) / freqs[1]
    lo = np.clip(np.floor(pos).astype(int), 0, len(freqs) - 1)
    hi = np.clip(lo + 1, 0, len(freqs) - 1)
    w = (pos - lo)[:, None]
    mag = np.abs(spec)
    new_mag = (1 - w) * mag[lo] + w * mag[hi]
    # Instantaneous frequency (Hz) of each source bin between frames, then warped.
    phase = np.angle(spec)
    expected = 2 * np.pi * np.arange(len(freqs))[:, None] * _HOP / _N_FFT
    dev = np.diff(phase, axis=1) - expected
    dev = (dev + np.pi) % (2 * np.pi) - np.pi
    inst_hz = (expected + dev) * sample_rate / (2 * np.pi * _HOP)
    nearest = np.clip(np.rint(pos).astype(int), 0, len(freqs) - 1)
    advance = 2 * np.pi * vtlp_warp(inst_hz[nearest], alpha, sample_rate) * _HOP / sample_rate
    new_phase = np.concatenate([phase[nearest, :1], phase[nearest, :1] + np.cumsum(advance, axis=1)], axis=1)
    out = _istft(new_mag * np.exp(1j * new_phase), len(a))
    # Keep the level: the warp moves energy between bins, it should not change the loudness.
    p_in, p_out = float(np.mean(a.astype(np.float64) ** 2)), float(np.mean(out.astype(np.float64) ** 2))
    return (out * np.float32(np.sqrt(p_in / p_out))).astype(np.float32) if p_out > 0 else out


def peaking_biquad(freq_hz: float, gain_db: float, q: float,
                   sample_rate: int = SAMPLE_RATE) -> tuple[np.ndarray, np.ndarray]:
    """(b, a) of an RBJ-cookbook peaking EQ: `gain_db` at `freq_hz`, bandwidth set by `q`."""
    if not 0 < freq_hz < sample_rate / 2 or q <= 0:
        raise ValueError(f"need 0 < freq < Nyquist and q > 0, got {freq_hz}, {q}")
    amp = 10.0 ** (gain_db / 40.0)
    w0 = 2 * np.pi * freq_hz / sample_rate
    alpha = np.sin(w0) / (2 * q)
    b = np.array([1 + alpha * amp, -2 * np.cos(w0), 1 - alpha * amp])
    den = np.array([1 + alpha / amp, -2 * np.cos(w0), 1 - alpha / amp])
    return b / den[0], den / den[0]


def random_eq(audio: np.ndarray, rng: np.random.Generator, max_db: float = 6.0, bands: tuple[int, int] = (1, 3),
              sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """`bands` random peaking filters (centre log-uniform 100..6000 Hz, gain U(-max_db, max_db), Q 0.5..2)."""
    a = _check(audio).astype(np.float64)
    for _ in range(int(rng.integers(bands[0], bands[1] + 1))):
        f = float(np.exp(rng.uniform(np.log(100.0), np.log(6000.0))))
        b, den = peaking_biquad(f, float(rng.uniform(-max_db, max_db)), float(rng.uniform(0.5, 2.0)), sample_rate)
        a = lfilter(b, den, a)
    return a.astype(np.float32)


def clip(audio: np.ndarray, drive_db: float) -> np.ndarray:
    """Hard clipping: amplify by `drive_db` above the clip's own peak, cut at full scale, scale back."""
    a = _check(audio)
    peak = float(np.max(np.abs(a))) if a.size else 0.0
    if peak <= 0 or drive_db <= 0:
        return a.copy()
    g = _PEAK / peak * 10.0 ** (drive_db / 20.0)
    return (np.clip(a * g, -_PEAK, _PEAK) / g).astype(np.float32)
