"""Noticing a training stage that learned nothing (stuck at chance), so it is retried or reported, never exported.

A stage has collapsed when its last epoch's accuracy is within `margin` of the chance level: the larger of
1/K (K classes) and the most frequent label's share (a model that always answers the majority class). The
chance level comes from a finite dataset's labels (validation when given, else training); a dataset of
unknown size is not read (it may be a one-shot generator), and 1/K stands in.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import tensorflow as tf

LABEL_BATCHES = 50  # batches read to estimate the label distribution


class TrainingCollapsed(RuntimeError):
    """A stage stayed at chance after every allowed attempt; the message says which stage and what to change."""


@dataclasses.dataclass(frozen=True)
class Verdict:
    accuracy: float
    chance: float
    margin: float

    @property
    def collapsed(self) -> bool:
        return self.accuracy < self.chance + self.margin

    def describe(self) -> str:
        return f"accuracy {self.accuracy:.3f}, chance {self.chance:.3f}"


def _labels(batch: Any) -> tuple[np.ndarray, np.ndarray | None] | None:
    """(integer labels, sample weights or None) of a (x, y[, w]) batch, flattened; None when not readable."""
    if not isinstance(batch, (tuple, list)) or len(batch) < 2:
        return None
    y = np.asarray(batch[1])
    w = np.asarray(batch[2], np.float64).reshape(-1) if len(batch) > 2 else None
    if y.ndim == 2 and y.shape[1] > 1 and np.issubdtype(y.dtype, np.floating):  # one-hot
        y = y.argmax(-1)
    if y.ndim >= 1 and np.issubdtype(y.dtype, np.integer):
        y = y.reshape(-1)
        return y, (w if w is not None and w.shape == y.shape else None)
    return None


def chance_level(datasets: list[Any], num_classes: int) -> float:
    """max(1/K, majority label share) from the first finite tf.data dataset in `datasets` (or 1/K); with sample
    weights (x, y, w), the shares are weighted (frame targets with weight 0 do not count)."""
    floor = 1.0 / max(num_classes, 1)
    for ds in datasets:
        if not isinstance(ds, tf.data.Dataset) or int(ds.cardinality()) <= 0:
            continue
        counts = np.zeros(num_classes, np.float64)
        for batch in ds.take(LABEL_BATCHES).as_numpy_iterator():
            got = _labels(batch)
            if got is None:
                return floor
            y, w = got
            counts += np.bincount(np.clip(y, 0, num_classes - 1), weights=w, minlength=num_classes)
        if counts.sum() > 0:
            return max(floor, float(counts.max() / counts.sum()))
    return floor


def verdict(history: dict[str, list[float]], chance: float, metric: str = "accuracy") -> Verdict | None:
    """The stage's last `val_<metric>` (the end-of-epoch model on validation data; else the training `metric`)
    against chance, or None when the history has neither (not checked). margin = min(0.05, half the distance
    from chance to 1), so a near-saturated majority still leaves room."""
    values = history.get(f"val_{metric}") or history.get(metric) or []
    if not values:
        return None
    return Verdict(float(values[-1]), chance, min(0.05, (1.0 - chance) / 2))


def num_outputs(model: Any) -> int:
    """K, the size of the model's last output axis."""
    shape = model.outputs[0].shape
    return int(shape[-1]) if shape[-1] is not None else 1
