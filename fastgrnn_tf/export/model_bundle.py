"""The whole-model `.fgb` (`bundle_spec.md`), written and read here only: the int8 step, the head, the
feature spec, the detector parameters and the class names of one wake-word model. Numpy only.

    b = ModelBundle.from_model(read_exported("model.tflite"), features=spec.to_dict(),
                               detector={...}, classes=[...])
    write_model_bundle("model.fgb", b)
    b = read_model_bundle("model.fgb")       # b.step, b.head, b.features, b.detector, b.classes, b.extra

`features` and `detector` are plain dicts (the field names of `keyword_spotting.features.FeatureSpec`
and `keyword_spotting.detector.DetectorParams`), so this module needs neither.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from fastgrnn_tf.export.bundle import fastgrnn_arrays, read_bundle, read_fastgrnn, scalar, text, write_bundle
from fastgrnn_tf.int8.head_oracle import HeadLayer
from fastgrnn_tf.int8.model import ExportedModel
from fastgrnn_tf.int8.oracle import Int8Params

FEATURE_INT_FIELDS = ("sample_rate", "window_samples", "hop_samples", "n_fft", "n_mels", "n_mfcc")
"""`features.<field>` entries stored as int32; every other feature field is float32."""
MAX_HEAD_LAYERS = 16
HEAD_INTS = ("input_zero_point", "output_zero_point", "output_multiplier", "output_shift")


def head_arrays(layers: Sequence[HeadLayer], logit_scale: float, logit_zero_point: int) -> dict[str, object]:
    """The `head.*` entries of `bundle_spec.md`."""
    d: dict[str, object] = {"head.num_layers": len(layers)}
    for i, layer in enumerate(layers):
        d[f"head.{i}.weights"] = np.asarray(layer.weights, np.int8)
        d[f"head.{i}.bias"] = np.asarray(layer.bias, np.int32)
        for key in HEAD_INTS:
            d[f"head.{i}.{key}"] = int(getattr(layer, key))
        d[f"head.{i}.relu"] = int(bool(layer.relu))
    d["head.logit_scale"] = np.float32(logit_scale)
    d["head.logit_zero_point"] = np.int32(logit_zero_point)
    return d


def _need(arrays: Mapping[str, np.ndarray], name: str) -> np.ndarray:
    if name not in arrays:
        raise ValueError(f"missing entry {name!r}")
    return np.asarray(arrays[name])


def _scalar(arrays: Mapping[str, np.ndarray], name: str) -> int:
    value = scalar(arrays, name)
    if not isinstance(value, int):
        raise ValueError(f"entry {name!r} must be an integer, got {value}")
    return value


def head_from_arrays(arrays: Mapping[str, np.ndarray]) -> tuple[list[HeadLayer], float, int]:
    """Inverse of `head_arrays` (a missing `bias` is zeros, a missing `relu` is 0)."""
    layers: list[HeadLayer] = []
    num_layers = _scalar(arrays, "head.num_layers")
    if not 1 <= num_layers <= MAX_HEAD_LAYERS:
        raise ValueError(f"head.num_layers must be in [1, {MAX_HEAD_LAYERS}], got {num_layers}")
    for i in range(num_layers):
        w = _need(arrays, f"head.{i}.weights")
        bias = _need(arrays, f"head.{i}.bias") if f"head.{i}.bias" in arrays else np.zeros(w.shape[:1], np.int32)
        ints = {key: _scalar(arrays, f"head.{i}.{key}") for key in HEAD_INTS}
        relu = bool(_scalar(arrays, f"head.{i}.relu")) if f"head.{i}.relu" in arrays else False
        layers.append(HeadLayer(weights=w, bias=bias, relu=relu, **ints))
        try:
            layers[-1].validate()
        except ValueError as e:
            raise ValueError(f"head layer {i}: {e}") from e
        if i and w.shape[1] != layers[-2].weights.shape[0]:
            raise ValueError(f"head layer {i} takes {w.shape[1]} values, layer {i - 1} gives "
                             f"{layers[-2].weights.shape[0]}")
    logit_scale = float(scalar(arrays, "head.logit_scale"))
    if not (np.isfinite(logit_scale) and logit_scale > 0):
        raise ValueError(f"head.logit_scale must be finite and > 0, got {logit_scale}")
    return layers, logit_scale, _scalar(arrays, "head.logit_zero_point")


@dataclasses.dataclass
class ModelBundle:
    """The entries of a whole-model bundle. `features` / `detector` hold the entries present (the
    detector's `keywords` as a tuple); `classes` is None when absent; `extra` holds every other entry."""

    step: Int8Params
    head: list[HeadLayer]
    logit_scale: float
    logit_zero_point: int
    features: dict[str, int | float] = dataclasses.field(default_factory=dict)
    detector: dict[str, Any] = dataclasses.field(default_factory=dict)
    classes: tuple[str, ...] | None = None
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_model(cls, m: ExportedModel, features: Mapping[str, Any] | None = None,
                   detector: Mapping[str, Any] | None = None, classes: Sequence[str] | None = None,
                   extra: Mapping[str, Any] | None = None) -> ModelBundle:
        """A bundle of an exported model (`fastgrnn_tf.export.tflite_reader.read_exported`)."""
        return cls(m.fastgrnn, list(m.head), m.logit_scale, m.logit_zero_point, dict(features or {}),
                   dict(detector or {}), None if classes is None else tuple(classes), dict(extra or {}))

    def to_arrays(self) -> dict[str, object]:
        """Every entry, typed as `bundle_spec.md` says (ValueError on a bad class name or a colliding extra)."""
        arrays = fastgrnn_arrays(self.step)
        arrays.update(head_arrays(self.head, self.logit_scale, self.logit_zero_point))
        for key, value in self.features.items():
            arrays[f"features.{key}"] = np.int32(value) if key in FEATURE_INT_FIELDS else np.float32(value)
        for key, value in self.detector.items():
            arrays[f"detector.{key}"] = np.asarray(value, np.int32)
        if self.classes is not None:
            if any("\n" in c for c in self.classes):
                raise ValueError("class names must not contain newlines")
            arrays["classes"] = "\n".join(self.classes)
        for key, value in self.extra.items():
            if key in arrays:
                raise ValueError(f"extra bundle entry {key!r} collides with a model entry")
            arrays[key] = value
        return arrays

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], label: str = "bundle") -> ModelBundle:
        """Inverse of `to_arrays`; ValueError naming `label` and the missing or bad entry."""
        features: dict[str, int | float] = {}
        detector: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        try:
            step = read_fastgrnn(arrays)
            head, logit_scale, logit_zero_point = head_from_arrays(arrays)
            for name, value in arrays.items():
                group, _, key = name.partition(".")
                if group == "features":
                    v = _scalar(arrays, name) if key in FEATURE_INT_FIELDS else scalar(arrays, name)
                    # float32 -> the shortest decimal that maps back to it (0.1f -> 0.1).
                    features[key] = v if key in FEATURE_INT_FIELDS else float(str(np.float32(v)))
                elif group == "detector":
                    flat = np.asarray(value).reshape(-1)
                    if key == "keywords" and not np.issubdtype(flat.dtype, np.integer):
                        raise ValueError(f"entry {name!r} must hold integers, got {flat.dtype}")
                    detector[key] = tuple(int(k) for k in flat) if key == "keywords" else _scalar(arrays, name)
                elif group not in ("fastgrnn", "input", "head", "classes"):
                    extra[name] = value
            classes = tuple(text(arrays["classes"], "classes").split("\n")) if "classes" in arrays else None
        except ValueError as e:
            raise ValueError(e if str(e).startswith(label) else f"{label}: {e}") from e
        return cls(step, head, logit_scale, logit_zero_point, features, detector, classes, extra)


def write_model_bundle(path: str | os.PathLike, bundle: ModelBundle) -> dict[str, object]:
    """Write `path` (.fgb) atomically; returns the arrays written."""
    arrays = bundle.to_arrays()
    write_bundle(path, arrays)
    return arrays


def read_model_bundle(path: str | os.PathLike) -> ModelBundle:
    """Read a whole-model `.fgb` (ValueError naming the file on any problem)."""
    return ModelBundle.from_arrays(read_bundle(path), os.fspath(path))
