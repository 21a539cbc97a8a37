"""`KwsModel`: one whole wake-word model as the streaming pipeline uses it (int8 step, head, feature
spec, detector parameters, class names), loaded from a `.fgb` bundle or a custom-op `.tflite` and saved
as a `.fgb`. The bundle format itself is `fastgrnn_tf.export.model_bundle` (the one reader and writer).

    model = load_model("model.fgb")          # or a .tflite with classes= and detector=
    save_model("model.fgb", model)
"""

from __future__ import annotations

import dataclasses
import os
import unicodedata
from collections.abc import Mapping, Sequence

from fastgrnn_tf.export.model_bundle import ModelBundle, read_model_bundle, write_model_bundle
from fastgrnn_tf.int8.head_oracle import HeadLayer
from fastgrnn_tf.int8.oracle import Int8Params
from keyword_spotting.detector import DetectorParams
from keyword_spotting.features import FeatureSpec


@dataclasses.dataclass
class KwsModel:
    """Everything the streaming pipeline needs: step, head, feature spec, detector, class names."""

    step: Int8Params
    head: list[HeadLayer]
    logit_scale: float
    logit_zero_point: int
    features: FeatureSpec
    detector: DetectorParams
    classes: tuple[str, ...]

    def __post_init__(self) -> None:
        self.classes = tuple(self.classes)
        self.validate()

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def validate(self) -> None:
        """ValueError naming the first inconsistency between the parts."""
        self.step.validate()
        if not self.head:
            raise ValueError("head must have at least one layer")
        for layer in self.head:
            layer.validate()
        if self.features.num_features != self.step.input_dim:
            raise ValueError(f"features give {self.features.num_features} values per frame but the step's "
                             f"input_dim is {self.step.input_dim}")
        if self.head[0].weights.shape[1] != self.step.units:
            raise ValueError(f"head input size {self.head[0].weights.shape[1]} != units {self.step.units}")
        for i in range(1, len(self.head)):
            if self.head[i].weights.shape[1] != self.head[i - 1].weights.shape[0]:
                raise ValueError(f"head layer {i} input size does not match layer {i - 1} output size")
        if self.head[-1].weights.shape[0] != self.num_classes:
            raise ValueError(f"head has {self.head[-1].weights.shape[0]} outputs but "
                             f"{self.num_classes} classes")
        if any(not c or any(unicodedata.category(ch) == "Cc" for ch in c) for c in self.classes):
            # Cc: U+0000..U+001F, U+007F..U+009F, as kws_host (tflm_app/host/model.cc) rejects them
            raise ValueError(f"class names must be non-empty and without newlines or other control characters: "
                             f"{self.classes}")
        if max(self.detector.keywords) >= self.num_classes:
            raise ValueError(f"detector keywords {self.detector.keywords} out of range for "
                             f"{self.num_classes} classes")
        # The step's input scale / zero point may differ from the feature spec's: a model may read the
        # same int8 codes through its own affine map (global normalization, feature_spec.md).
        if not float(self.logit_scale) > 0:
            raise ValueError(f"logit_scale must be > 0, got {self.logit_scale}")

    def to_bundle(self, extra: Mapping[str, object] | None = None) -> ModelBundle:
        """The `.fgb` entries of this model (`bundle_spec.md`), plus optional `vec.*` test entries."""
        det = self.detector.to_dict()
        return ModelBundle(self.step, list(self.head), self.logit_scale, self.logit_zero_point,
                           self.features.to_dict(), det, self.classes, dict(extra or {}))

    @classmethod
    def from_bundle(cls, b: ModelBundle, label: str = "bundle") -> KwsModel:
        """The model of a whole-model bundle (ValueError naming `label` when a part is missing or bad)."""
        try:
            if "keywords" not in b.detector:
                raise ValueError("missing entry 'detector.keywords'")
            if b.classes is None:
                raise ValueError("missing entry 'classes'")
            features = {f.name: b.features[f.name] for f in dataclasses.fields(FeatureSpec) if f.name in b.features}
            detector = {f.name: b.detector[f.name] for f in dataclasses.fields(DetectorParams) if f.name in b.detector}
            return cls(step=b.step, head=b.head, logit_scale=b.logit_scale, logit_zero_point=b.logit_zero_point,
                       features=FeatureSpec(**features), detector=DetectorParams(**detector), classes=b.classes)
        except ValueError as e:
            raise ValueError(f"{label}: {e}") from e


def save_model(path: str | os.PathLike, model: KwsModel, extra: Mapping[str, object] | None = None) -> None:
    """Write a whole-model `.fgb` bundle (plus optional `vec.*` test entries)."""
    write_model_bundle(path, model.to_bundle(extra))


def load_model(path: str | os.PathLike, *, features: FeatureSpec | None = None,
               detector: DetectorParams | None = None, classes: Sequence[str] | None = None) -> KwsModel:
    """A model from a `.fgb` bundle, or from a custom-op `.tflite` (via `fastgrnn_tf.export.tflite_reader`).

    `features`, `detector` and `classes` override the bundle's (e.g. another threshold). A `.tflite`
    carries no class names or detector parameters, so `classes` and `detector` are required for it;
    its feature spec defaults to `FeatureSpec()`.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"model file not found: {path}")
    if path.endswith(".tflite"):
        from fastgrnn_tf.export import tflite_reader  # imports TensorFlow's schema: only when needed

        if classes is None or detector is None:
            raise ValueError(f"{path}: a .tflite carries no class names or detector parameters; "
                             "pass classes= and detector=")
        m = tflite_reader.read_exported(path)
        try:
            return KwsModel(step=m.fastgrnn, head=m.head, logit_scale=m.logit_scale,
                            logit_zero_point=m.logit_zero_point, features=features or FeatureSpec(),
                            detector=detector, classes=tuple(classes))
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from e
    model = KwsModel.from_bundle(read_model_bundle(path), path)
    if features is None and detector is None and classes is None:
        return model
    try:
        return dataclasses.replace(model, features=features or model.features,
                                   detector=detector or model.detector,
                                   classes=tuple(classes) if classes is not None else model.classes)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from e
