"""Log-mel / MFCC features as int8, exactly as `feature_spec.md` defines them.

The C++ frontend (`tflm_app/frontend`) implements the same spec; `tests/test_frontend_parity.py`
compares the two on real recordings.
"""

from __future__ import annotations

import dataclasses
import functools
import json

import librosa
import numpy as np
import scipy.fft


@dataclasses.dataclass(frozen=True)
class FeatureSpec:
    """Every number the frontend needs; see `feature_spec.md`."""

    sample_rate: int = 16000
    window_samples: int = 400
    hop_samples: int = 160
    n_fft: int = 512
    n_mels: int = 32
    fmin: float = 20.0
    fmax: float = 8000.0
    log_floor: float = 1e-6
    n_mfcc: int = 0
    quant_scale: float = 0.1
    quant_offset: float = -1.2
    channel_norm: float = 0.0
    channel_norm_smoothing: float = 0.025

    def __post_init__(self) -> None:
        if self.sample_rate <= 0 or self.hop_samples <= 0:
            raise ValueError("sample_rate and hop_samples must be positive")
        if not 0 < self.window_samples <= self.n_fft:
            raise ValueError(f"window_samples must be in (0, n_fft={self.n_fft}], got {self.window_samples}")
        if self.n_fft & (self.n_fft - 1):
            raise ValueError(f"n_fft must be a power of two, got {self.n_fft}")
        if not 0 <= self.n_mfcc <= self.n_mels:
            raise ValueError(f"n_mfcc must be in [0, n_mels={self.n_mels}], got {self.n_mfcc}")
        if not 0 <= self.fmin < self.fmax <= self.sample_rate / 2:
            raise ValueError("need 0 <= fmin < fmax <= sample_rate / 2")
        if self.quant_scale <= 0 or self.log_floor <= 0:
            raise ValueError("quant_scale and log_floor must be positive")
        if not 0.0 <= self.channel_norm <= 1.0:
            raise ValueError(f"channel_norm must be in [0, 1] (0 = off), got {self.channel_norm}")
        if not 0.0 < self.channel_norm_smoothing <= 1.0:
            raise ValueError(f"channel_norm_smoothing must be in (0, 1], got {self.channel_norm_smoothing}")

    @property
    def num_features(self) -> int:
        return self.n_mfcc or self.n_mels

    @property
    def zero_point(self) -> int:
        """int8 zero point of the feature tensor (real = (q - zero_point) * quant_scale)."""
        return int(round(-self.quant_offset / self.quant_scale))

    def num_frames(self, num_samples: int) -> int:
        if num_samples < self.window_samples:
            return 0
        return 1 + (num_samples - self.window_samples) // self.hop_samples

    def to_dict(self) -> dict:
        """Every field; a contract-v1 spec (channel_norm 0) omits the v2 fields, so its model cards, bundles and
        cache keys stay what they were before v2."""
        d = dataclasses.asdict(self)
        if not self.channel_norm:
            del d["channel_norm"], d["channel_norm_smoothing"]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> FeatureSpec:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown feature spec fields: {sorted(unknown)}")
        return cls(**d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


@functools.lru_cache(maxsize=8)
def _mel_matrix(spec: FeatureSpec) -> np.ndarray:
    return librosa.filters.mel(
        sr=spec.sample_rate, n_fft=spec.n_fft, n_mels=spec.n_mels, fmin=spec.fmin, fmax=spec.fmax,
        htk=False, norm="slaney", dtype=np.float32,
    )


@functools.lru_cache(maxsize=8)
def _window(spec: FeatureSpec) -> np.ndarray:
    win = librosa.filters.get_window("hann", spec.window_samples, fftbins=True).astype(np.float32)
    return librosa.util.pad_center(win, size=spec.n_fft)


def pcm_to_float(pcm: np.ndarray) -> np.ndarray:
    """int16 PCM -> float32 in [-1, 1); float input is passed through as float32."""
    pcm = np.asarray(pcm)
    if pcm.dtype == np.int16:
        return pcm.astype(np.float32) / 32768.0
    if np.issubdtype(pcm.dtype, np.floating):
        return pcm.astype(np.float32)
    raise ValueError(f"audio must be int16 PCM or float, got {pcm.dtype}")


def log_mel(audio: np.ndarray, spec: FeatureSpec = FeatureSpec()) -> np.ndarray:
    """Float features [frames, num_features] (log-mel, or MFCC when `spec.n_mfcc` > 0)."""
    y = pcm_to_float(audio)
    if y.ndim != 1:
        raise ValueError(f"audio must be mono (1-D), got shape {y.shape}")
    n = spec.num_frames(len(y))
    if n == 0:
        return np.zeros((0, spec.num_features), np.float32)
    pad = (spec.n_fft - spec.window_samples) // 2
    # Frames of window_samples centred in an n_fft frame: take n_fft samples starting `pad` early.
    padded = np.concatenate([np.zeros(pad, np.float32), y, np.zeros(spec.n_fft, np.float32)])
    frames = librosa.util.frame(padded, frame_length=spec.n_fft, hop_length=spec.hop_samples, axis=0)[:n]
    spectrum = np.fft.rfft(frames * _window(spec), axis=1)
    power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
    mel = power @ _mel_matrix(spec).T
    feats = np.log(mel + np.float32(spec.log_floor)).astype(np.float32)
    if spec.channel_norm:
        feats = channel_normalize(feats, spec)
    if spec.n_mfcc:
        feats = scipy.fft.dct(feats, type=2, norm="ortho", axis=1)[:, : spec.n_mfcc].astype(np.float32)
    return feats


def channel_normalize(log_mel_frames: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """Per-channel gain normalization in the log domain (`feature_spec.md`, "Channel normalization"):
    `m = x[0]` on a stream's first frame, then `m += s * (x[t] - m)`; out = `x[t] - alpha * m`, float32."""
    x = np.asarray(log_mel_frames, np.float32)
    out = np.empty_like(x)
    if len(x) == 0:
        return out
    s, alpha = np.float32(spec.channel_norm_smoothing), np.float32(spec.channel_norm)
    m = x[0].copy()
    for t in range(len(x)):
        if t:
            m = m + s * (x[t] - m)
        out[t] = x[t] - alpha * m
    return out


def quantize(feats: np.ndarray, spec: FeatureSpec = FeatureSpec()) -> np.ndarray:
    """Float features -> int8 with round-half-away-from-zero, as the C++ frontend does."""
    x = (np.asarray(feats, np.float32) - np.float32(spec.quant_offset)) / np.float32(spec.quant_scale)
    q = np.sign(x) * np.floor(np.abs(x) + 0.5)
    return np.clip(q, -128, 127).astype(np.int8)


def dequantize(q: np.ndarray, spec: FeatureSpec = FeatureSpec()) -> np.ndarray:
    return (q.astype(np.float32) - spec.zero_point) * np.float32(spec.quant_scale)


def model_view(spec: FeatureSpec, input_scale: float, input_zero_point: int) -> FeatureSpec:
    """A FeatureSpec whose `dequantize` is the model's view of the int8 codes, `(q - zp) * scale`
    (`feature_spec.md`, "The model's view of the codes"); only for dequantizing."""
    return dataclasses.replace(spec, quant_scale=float(input_scale),
                               quant_offset=-int(input_zero_point) * float(input_scale))


def int8_features(audio: np.ndarray, spec: FeatureSpec = FeatureSpec()) -> np.ndarray:
    """The FastGRNN input: int8 [frames, num_features]."""
    return quantize(log_mel(audio, spec), spec)
