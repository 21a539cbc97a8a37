"""Training for streams: clips played in a row, a target and a weight on every frame.

A wake-word model runs on an endless stream with its state carried over and is read at every frame (the
detector averages the last frames' scores), but a clip classifier is only ever told the answer at a clip's
last frame: whatever it says in the middle of real speech is never corrected. Here K clips (1 s each) are
concatenated into one sequence and the model (`build_model(..., sequences=True)`) is trained on every frame:

    clip:     negative             keyword (word somewhere inside)   negative
    target:   negative on every    keyword on the last               negative, except the first
              frame (weight        `target_frames` frames (weight     `after_frames` frames after the
              negative_weight)     frames / target_frames); the rest  keyword (no loss: the detector's
                                   no loss (the word's place is       window still holds the word)
                                   unknown)

So a keyword clip weighs as much as a negative clip times 1 / negative_weight, and every frame of negative
audio (real speech above all) is told "not the word". Sequences are drawn anew each epoch (each clip once),
the first clip of each starts from a zero state, the others from the state the earlier clips left.

    ds = sequence_dataset(x, y, keywords={2}, view=spec, batch_size=32, config=StreamTargets(clips=4))
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Sequence

import numpy as np

from keyword_spotting.features import FeatureSpec, dequantize
from keyword_spotting.spec_augment import SpecMask


@dataclasses.dataclass(frozen=True)
class StreamTargets:
    """How clips become sequences with frame targets; see the module docstring."""

    clips: int = 4
    target_frames: int = 10
    after_frames: int = 30
    negative_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.clips < 1:
            raise ValueError(f"clips per sequence must be >= 1, got {self.clips}")
        if self.target_frames < 1 or self.after_frames < 0:
            raise ValueError(f"target_frames must be >= 1 and after_frames >= 0, got {self.target_frames}, "
                             f"{self.after_frames}")
        if not self.negative_weight > 0:
            raise ValueError(f"negative_weight must be positive, got {self.negative_weight}")


def frame_targets(labels: Sequence[int], frames: int, keywords: set[int] | frozenset[int],
                  config: StreamTargets) -> tuple[np.ndarray, np.ndarray]:
    """(targets int32 [len(labels) * frames], weights float32 [same]) for clips of `labels` played in a row."""
    if frames < config.target_frames:
        raise ValueError(f"clips of {frames} frames are shorter than target_frames={config.target_frames}")
    labels = [int(v) for v in labels]
    targets = np.repeat(np.asarray(labels, np.int32), frames)
    weights = np.zeros(len(labels) * frames, np.float32)
    for j, label in enumerate(labels):
        start, end = j * frames, (j + 1) * frames
        if label in keywords:
            weights[end - config.target_frames:end] = frames / config.target_frames
        else:
            weights[start:end] = config.negative_weight
            if j > 0 and labels[j - 1] in keywords:
                weights[start:start + min(config.after_frames, frames)] = 0.0
    return targets, weights


def sequence_order(n: int, clips: int, rng: np.random.Generator) -> np.ndarray:
    """Clip indices [ceil(n / clips), clips]: a permutation (each clip once), the last row filled at random."""
    if n < 1:
        raise ValueError("no clips to make sequences of")
    perm = rng.permutation(n)
    short = -n % clips
    if short:
        perm = np.concatenate([perm, rng.choice(n, short, replace=n < short)])
    return perm.reshape(-1, clips)


def sequences(x: np.ndarray, y: np.ndarray, keywords: set[int] | frozenset[int], config: StreamTargets,
              rng: np.random.Generator) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """One epoch of (int8 features [K*T, D], targets [K*T], weights [K*T]) from clips x [N, T, D], y [N]."""
    frames = x.shape[1]
    for row in sequence_order(len(x), config.clips, rng):
        t, w = frame_targets(y[row], frames, keywords, config)
        yield x[row].reshape(-1, x.shape[2]), t, w


def num_batches(n: int, config: StreamTargets, batch_size: int) -> int:
    """Batches per epoch of `n` clips."""
    seqs = -(-n // config.clips)
    return -(-seqs // batch_size)


def sequence_dataset(x: np.ndarray, y: np.ndarray, keywords: set[int] | frozenset[int], view: FeatureSpec,
                     batch_size: int, config: StreamTargets, seed: int = 0, reshuffle: bool = True,
                     mask: SpecMask | None = None):
    """tf.data of (float features [B, K*T, D], targets [B, K*T], weights [B, K*T]); features are the model's
    view of the int8 codes (`view`), masked by `mask` (`spec_augment`; training only). New sequences every
    epoch when `reshuffle`, else the same each time."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    import tensorflow as tf

    x, y = np.asarray(x), np.asarray(y)
    if x.dtype != np.int8 or x.ndim != 3 or y.shape != (len(x),):
        raise ValueError(f"x must be int8 [N, T, D] and y [N], got {x.dtype} {x.shape} and {y.shape}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    frame_targets([], x.shape[1], keywords, config)  # clips long enough for the targets, or a ValueError now
    if mask is not None and mask.active:
        mask.check(x.shape[1], x.shape[2])  # masks that fit the clips, or a ValueError now (not inside tf.data)
    length = config.clips * x.shape[1]
    shared = np.random.default_rng(seed)
    masks = np.random.default_rng([seed, 1])  # its own stream: masking leaves the sequences drawn unchanged

    def gen() -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        rng = shared if reshuffle else np.random.default_rng(seed)
        for feats, t, w in sequences(x, y, keywords, config, rng):
            f = dequantize(feats, view)
            yield (mask.apply(f, x.shape[1], masks) if mask is not None and mask.active else f), t, w

    sig = (tf.TensorSpec((length, x.shape[2]), tf.float32), tf.TensorSpec((length,), tf.int32),
           tf.TensorSpec((length,), tf.float32))
    ds = tf.data.Dataset.from_generator(gen, output_signature=sig).batch(batch_size)
    ds = ds.apply(tf.data.experimental.assert_cardinality(num_batches(len(x), config, batch_size)))
    return ds.prefetch(2)
