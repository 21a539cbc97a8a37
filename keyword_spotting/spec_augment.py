"""SpecAugment for training sequences: bands and stretches of frames hidden from the model.

Park et al. 2019 (SpecAugment); microWakeWord trains with the same time and frequency masks. A speaker, a
microphone or a noise the synthetic training set never had changes some mel bands and blurs some moments;
a model that must still answer with a band or a stretch of frames missing cannot lean on any one of them.

On the model's float view of the features (`features.dequantize` with the model's input scale and zero
point, where kws-train's global normalization puts the training set's mean at 0), per training sequence:

    freq_masks times: `f` ~ U{0..freq_width} consecutive mel bands, the same for the whole sequence, set to 0
    per clip of the sequence, time_masks times: `t` ~ U{0..time_width} consecutive frames, set to 0

Masks may overlap; a width of 0 drawn masks nothing. Validation and every export path see unmasked
features; the exported model is unchanged in kind (the masks exist only in the training input).

    mask = SpecMask(freq_masks=2, freq_width=4, time_masks=1, time_width=10)
    x = mask.apply(x_float, clip_frames=98, rng=rng)   # a masked copy of x [K*T, D]
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class SpecMask:
    """Masks per training sequence: `freq_masks` bands of up to `freq_width` mel channels (whole
    sequence) and, in each clip, `time_masks` stretches of up to `time_width` frames. All 0 = off."""

    freq_masks: int = 0
    freq_width: int = 0
    time_masks: int = 0
    time_width: int = 0

    def __post_init__(self) -> None:
        for name in ("freq_masks", "freq_width", "time_masks", "time_width"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 0:
                raise ValueError(f"{name} must be a whole number >= 0, got {v!r}")

    @property
    def active(self) -> bool:
        """Whether any mask can be drawn."""
        return bool(self.freq_masks and self.freq_width) or bool(self.time_masks and self.time_width)

    def check(self, clip_frames: int, dims: int) -> None:
        """ValueError when a mask could be wider than a clip (`clip_frames`) or the features (`dims`)."""
        if clip_frames < 1:
            raise ValueError(f"clip_frames must be >= 1, got {clip_frames}")
        if self.freq_width > dims:
            raise ValueError(f"freq_width {self.freq_width} exceeds the {dims} feature channels")
        if self.time_width > clip_frames:
            raise ValueError(f"time_width {self.time_width} exceeds the clip's {clip_frames} frames")

    def apply(self, x: np.ndarray, clip_frames: int, rng: np.random.Generator) -> np.ndarray:
        """A masked copy of float features `x` [frames, D] made of clips of `clip_frames` frames."""
        x = np.array(x, dtype=np.float32, copy=True)
        if x.ndim != 2:
            raise ValueError(f"x must be [frames, D], got {x.shape}")
        frames, dims = x.shape
        self.check(clip_frames, dims)
        for _ in range(self.freq_masks if self.freq_width else 0):
            f = int(rng.integers(0, self.freq_width + 1))
            f0 = int(rng.integers(0, dims - f + 1))
            x[:, f0:f0 + f] = 0.0
        for start in range(0, frames, clip_frames):
            length = min(clip_frames, frames - start)
            for _ in range(self.time_masks if self.time_width else 0):
                t = int(rng.integers(0, min(self.time_width, length) + 1))
                t0 = start + int(rng.integers(0, length - t + 1))
                x[t0:t0 + t] = 0.0
        return x
