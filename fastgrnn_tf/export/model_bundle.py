"""The whole-model `.fgb` (`bundle_spec.md`): the int8 step, the head, the feature spec, the detector
parameters and the class names of one wake-word model, written from an `ExportedModel`. Numpy only.

    arrays = write_model_bundle("model.fgb", m, feature_spec=spec, detector={...}, classes=[...])
    layers, logit_scale, logit_zero_point = head_from_arrays(read_bundle("model.fgb"))
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np

from fastgrnn_tf.export.bundle import fastgrnn_arrays, write_bundle
from fastgrnn_tf.int8.head_oracle import HeadLayer
from fastgrnn_tf.int8.model import ExportedModel


def head_arrays(layers: Sequence[HeadLayer], logit_scale: float, logit_zero_point: int) -> dict[str, object]:
    """The `head.*` entries of `bundle_spec.md`."""
    d: dict[str, object] = {"head.num_layers": len(layers)}
    for i, L in enumerate(layers):
        d.update({f"head.{i}.weights": L.weights, f"head.{i}.bias": L.bias,
                  f"head.{i}.input_zero_point": int(L.input_zero_point),
                  f"head.{i}.output_zero_point": int(L.output_zero_point),
                  f"head.{i}.output_multiplier": int(L.output_multiplier),
                  f"head.{i}.output_shift": int(L.output_shift), f"head.{i}.relu": int(L.relu)})
    d["head.logit_scale"] = np.float32(logit_scale)
    d["head.logit_zero_point"] = np.int32(logit_zero_point)
    return d


def head_from_arrays(arrays: Mapping[str, np.ndarray]) -> tuple[list[HeadLayer], float, int]:
    """Inverse of `head_arrays` (for bundle readers/tests)."""
    n = int(arrays["head.num_layers"])
    layers = []
    for i in range(n):
        g = lambda k, i=i: int(np.asarray(arrays[f"head.{i}.{k}"]).reshape(-1)[0])  # noqa: E731
        layers.append(HeadLayer(np.asarray(arrays[f"head.{i}.weights"]), np.asarray(arrays[f"head.{i}.bias"]),
                                g("input_zero_point"), g("output_zero_point"), g("output_multiplier"),
                                g("output_shift"), bool(g("relu"))))
    return layers, float(arrays["head.logit_scale"]), int(arrays["head.logit_zero_point"])


def model_arrays(m: ExportedModel, feature_spec: Mapping | object | None = None,
                 detector: Mapping[str, object] | None = None, classes: Sequence[str] | None = None,
                 extra: Mapping[str, object] | None = None) -> dict[str, object]:
    """The bundle entries of a whole model.

    feature_spec: a `FeatureSpec` (or its dict) -> `features.<field>`;
    detector: {param: int, "keywords": [..]} -> `detector.*`; classes -> `classes` text;
    extra: more entries (e.g. `vec.*`).
    """
    arrays = fastgrnn_arrays(m.fastgrnn)
    arrays.update(head_arrays(m.head, m.logit_scale, m.logit_zero_point))
    if feature_spec is not None:
        fs = feature_spec.to_dict() if hasattr(feature_spec, "to_dict") else dict(feature_spec)
        for k, v in fs.items():
            arrays[f"features.{k}"] = np.float32(v) if isinstance(v, float) else np.int32(v)
    for k, v in (detector or {}).items():
        arrays[f"detector.{k}"] = np.asarray(v, np.int32)
    if classes is not None:
        if any("\n" in c for c in classes):
            raise ValueError("class names must not contain newlines")
        arrays["classes"] = "\n".join(classes)
    for k, v in (extra or {}).items():
        if k in arrays:
            raise ValueError(f"extra bundle entry {k!r} collides with a model entry")
        arrays[k] = v
    return arrays


def write_model_bundle(path: str | os.PathLike, m: ExportedModel, feature_spec: Mapping | object | None = None,
                       detector: Mapping[str, object] | None = None, classes: Sequence[str] | None = None,
                       extra: Mapping[str, object] | None = None) -> dict[str, object]:
    """Write `path` (.fgb) for the model `m` (see `model_arrays`); returns the arrays written."""
    arrays = model_arrays(m, feature_spec, detector, classes, extra)
    write_bundle(path, arrays)
    return arrays
