"""Simulated rooms: a bank of room impulse responses (pyroomacoustics image method) and reverberation.

Clean synthetic speech sounds like nothing a microphone hears; convolving it with the impulse response of
a random room (shoebox 3-10 m x 3-8 m x 2.5-4 m, RT60 0.15-0.9 s, source 0.5-4 m from the microphone) is
how microWakeWord and openWakeWord bridge that gap. Each bank is fixed by its seed and size, cached as
`.npz` (atomic write), so training stays deterministic and fast. `reverberate` keeps the word where it was
(the output is aligned on the direct path) and keeps its RMS level, so SNR and gain augmentations that
follow mean what they say.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
from pathlib import Path

import numpy as np
from scipy.signal import fftconvolve

from fastgrnn_tf.atomic_io import atomic_write_bytes

SAMPLE_RATE = 16000


@dataclasses.dataclass(frozen=True)
class RoomConfig:
    """Ranges of the random rooms (uniform draws)."""

    length_m: tuple[float, float] = (3.0, 10.0)
    width_m: tuple[float, float] = (3.0, 8.0)
    height_m: tuple[float, float] = (2.5, 4.0)
    rt60_s: tuple[float, float] = (0.15, 0.9)
    distance_m: tuple[float, float] = (0.5, 4.0)
    max_rir_s: float = 0.6  # impulse responses are cut here (the tail beyond is below audibility in speech)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, tuple) and not 0 < v[0] <= v[1]:
                raise ValueError(f"RoomConfig.{f.name} must be (low, high) with 0 < low <= high, got {v}")
        if self.max_rir_s <= 0:
            raise ValueError(f"RoomConfig.max_rir_s must be positive, got {self.max_rir_s}")


def simulate_rir(rng: np.random.Generator, config: RoomConfig = RoomConfig(),
                 sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """One room's impulse response (float32, peak 1 at the direct path's sample)."""
    import pyroomacoustics as pra

    dims = np.array([rng.uniform(*config.length_m), rng.uniform(*config.width_m), rng.uniform(*config.height_m)])
    rt60 = float(rng.uniform(*config.rt60_s))
    try:
        absorption, max_order = pra.inverse_sabine(rt60, dims)
    except ValueError:  # a reverberation time this room cannot have: take its most reverberant walls
        absorption, max_order = 0.05, 20
    room = pra.ShoeBox(dims, fs=sample_rate, materials=pra.Material(absorption), max_order=min(max_order, 20))
    mic = dims * rng.uniform(0.2, 0.8, 3)
    for _ in range(20):  # a source at the drawn distance, inside the room (0.3 m from the walls)
        direction = rng.normal(size=3)
        src = mic + direction / np.linalg.norm(direction) * rng.uniform(*config.distance_m)
        if np.all(src > 0.3) and np.all(src < dims - 0.3):
            break
    else:
        src = np.clip(src, 0.3, dims - 0.3)
    room.add_source(src)
    room.add_microphone(mic)
    room.compute_rir()
    rir = np.asarray(room.rir[0][0], np.float64)[: int(config.max_rir_s * sample_rate)]
    return (rir / np.max(np.abs(rir))).astype(np.float32)


def reverberate(audio: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """`audio` (float) heard through `rir`: same length, aligned on the direct path, same RMS level."""
    a = np.asarray(audio, np.float32)
    if a.size == 0 or not np.any(a):
        return a.copy()
    delay = int(np.argmax(np.abs(rir)))
    wet = fftconvolve(a, rir)[delay:delay + len(a)].astype(np.float32)
    rms_in, rms_out = (float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) for x in (a, wet))
    return wet * np.float32(rms_in / rms_out) if rms_out > 0 else wet


def _key(count: int, seed: int, config: RoomConfig, sample_rate: int) -> str:
    text = json.dumps({"count": count, "seed": seed, "rooms": dataclasses.asdict(config), "sr": sample_rate,
                       "version": 1}, sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def rir_bank(count: int, seed: int = 0, config: RoomConfig = RoomConfig(), sample_rate: int = SAMPLE_RATE,
             cache_dir: str | os.PathLike | None = None) -> list[np.ndarray]:
    """`count` impulse responses, the same for the same arguments; read from / written to `cache_dir`."""
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    path = Path(cache_dir) / f"rirs-{_key(count, seed, config, sample_rate)}.npz" if cache_dir else None
    if path is not None and path.exists():
        with np.load(path) as z:
            return [z[f"r{i}"] for i in range(count)]
    rng = np.random.default_rng(seed)
    rirs = [simulate_rir(np.random.default_rng(rng.integers(2**63)), config, sample_rate) for _ in range(count)]
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        np.savez(buf, **{f"r{i}": r for i, r in enumerate(rirs)})
        atomic_write_bytes(path, buf.getvalue())
    return rirs
