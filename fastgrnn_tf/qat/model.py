"""TF-MOT annotation of a model for QAT: every RNN(FastGRNNCell) gets `QATFastGRNNCell` and
`FastGRNNQuantizeConfig` (W, W1, W2, U, U1, U2: symmetric int8, narrow range [-127, 127], per tensor,
scale max|W| / 127, `SymmetricWeightQuantizer`); every Dense becomes a `QATDense` with `HeadQuantizeConfig`
(TF-MOT's 8-bit quantizers; forward value = the int8 layer, `fastgrnn_tf.qat.head`); other layers TF-MOT's
default registry supports get its default scheme; TF-MOT's input QuantizeLayer is left out (the cell
quantizes its own input).

    qat_model = make_qat_model(float_or_stripped_model, input_quant=(scale, zero_point))
    with quantize_scope(): keras.models.load_model("qat.h5")
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tf_keras as keras
from tensorflow_model_optimization.python.core.quantization.keras import quantize as tfmot_quantize
from tensorflow_model_optimization.python.core.quantization.keras import quantize_config as qc
from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
    default_8bit_quantize_layout_transform as layout,
)
from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
    default_8bit_quantize_registry as registry,
)
from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
    default_8bit_quantize_scheme as scheme,
)
from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
    default_8bit_transforms as transforms,
)
from tensorflow_model_optimization.python.core.quantization.keras.graph_transformations import (
    model_transformer,
)
from tensorflow_model_optimization.python.core.sparsity.keras import pruning_wrapper

from fastgrnn_tf.cells import find_fast_rnn_layers, weight_name
from fastgrnn_tf.fastgrnn_cell import FastGRNNCell
from fastgrnn_tf.qat.cell import QATFastGRNNCell
from fastgrnn_tf.qat.fake_quant import SymmetricWeightQuantizer
from fastgrnn_tf.qat.head import HeadQuantizeConfig, QATDense, link_head


@keras.saving.register_keras_serializable(package="fastgrnn_tf")
class FastGRNNQuantizeConfig(qc.QuantizeConfig):
    """TF-MOT QuantizeConfig for tf_keras.layers.RNN(QATFastGRNNCell): fake-quantizes W/U (or their
    factors) per tensor; the cell itself quantizes v, u, pre-activations, gate/update and h."""

    @staticmethod
    def _names(layer: keras.layers.RNN) -> list[str]:
        cell = layer.cell
        w_names = ["W"] if cell.w_rank is None else ["W1", "W2"]
        return w_names + (["U"] if cell.u_rank is None else ["U1", "U2"])

    def get_weights_and_quantizers(self, layer: keras.layers.Layer) -> list:
        return [(getattr(layer.cell, n), SymmetricWeightQuantizer()) for n in self._names(layer)]

    def get_activations_and_quantizers(self, layer: keras.layers.Layer) -> list:
        return []

    def set_quantize_weights(self, layer: keras.layers.Layer, quantize_weights: list) -> None:
        names = self._names(layer)
        if len(names) != len(quantize_weights):
            raise ValueError(f"expected {len(names)} quantized weights, got {len(quantize_weights)}")
        # Not setattr: that would untrack the float variables from the cell. The cell reads this dict.
        object.__setattr__(layer.cell, "_quantized_weights", dict(zip(names, quantize_weights, strict=True)))

    def set_quantize_activations(self, layer: keras.layers.Layer, quantize_activations: list) -> None:
        return None

    def get_output_quantizers(self, layer: keras.layers.Layer) -> list:
        return []  # h is already on the Q0.7 grid

    def get_config(self) -> dict:
        return {}


_CUSTOM_OBJECTS = {
    "QATFastGRNNCell": QATFastGRNNCell,
    "FastGRNNQuantizeConfig": FastGRNNQuantizeConfig,
    "SymmetricWeightQuantizer": SymmetricWeightQuantizer,
    "FastGRNNCell": FastGRNNCell,
    "QATDense": QATDense,
    "HeadQuantizeConfig": HeadQuantizeConfig,
}
for _name, _cls in _CUSTOM_OBJECTS.items():
    keras.utils.get_custom_objects().setdefault(_name, _cls)  # TF-MOT's legacy deserializer uses bare names


class _LayoutTransform(layout.Default8BitQuantizeLayoutTransform):
    """TF-MOT's default 8-bit layout transforms without `InputLayerQuantize`: the model input is not
    re-quantized on an observed 8-bit range (the FastGRNN cell quantizes its input with the feature
    spec's scale and zero point, `input_quant`)."""

    def apply(self, model: keras.Model, layer_quantize_map: dict) -> Any:
        names = [
            "SeparableConv1DQuantize", "SeparableConvQuantize", "Conv2DReshapeBatchNormReLUQuantize",
            "Conv2DReshapeBatchNormActivationQuantize", "Conv2DBatchNormReLUQuantize",
            "Conv2DBatchNormActivationQuantize", "Conv2DReshapeBatchNormQuantize", "Conv2DBatchNormQuantize",
            "ConcatTransform6Inputs", "ConcatTransform5Inputs", "ConcatTransform4Inputs",
            "ConcatTransform3Inputs", "ConcatTransform", "DenseBatchNormQuantize",
            "DenseBatchNormReLUQuantize", "DenseBatchNormActivationQuantize", "LayerReLUQuantize",
            "LayerReluActivationQuantize",
        ]  # Default8BitQuantizeLayoutTransform.apply's list (tfmot 0.8.1) minus InputLayerQuantize
        kept = [getattr(transforms, name)() for name in names]
        return model_transformer.ModelTransformer(
            model, kept, set(layer_quantize_map.keys()), layer_quantize_map).transform()


class _Scheme(scheme.Default8BitQuantizeScheme):
    def get_layout_transformer(self) -> _LayoutTransform:
        return _LayoutTransform()


def quantize_scope() -> Any:
    """TF-MOT quantize_scope with this module's classes (use it to load a saved QAT model)."""
    return tfmot_quantize.quantize_scope(_CUSTOM_OBJECTS)


def make_qat_model(
    model: keras.Model,
    input_quant: tuple[float, int] | Any | None = None,
    ema_decay: float = 0.99,
) -> keras.Model:
    """A QAT model built from a float or pruned-and-stripped model (its weights are copied).

    input_quant: None, (scale, zero_point), or a `keyword_spotting.features.FeatureSpec`
      (uses quant_scale and zero_point): fake-quantizes the FastGRNN input as the int8 features.
    Every RNN(FastGRNNCell) gets QATFastGRNNCell + FastGRNNQuantizeConfig; every Dense becomes a QATDense
    with HeadQuantizeConfig (then `link_head`); other layers TF-MOT's default 8-bit registry supports get
    the default scheme; other layers are left as they are.
    TF-MOT's QuantizeLayer after the model input is not added (the cell quantizes its own input).
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"model must be a tf_keras Model, got {type(model).__name__}")
    if any(isinstance(layer, pruning_wrapper.PruneLowMagnitude) for layer in model.layers):
        raise ValueError("model still has pruning wrappers: strip it first (fastgrnn_tf.pruning.strip)")
    if not model.built:
        raise ValueError("model must be built")
    if input_quant is not None and not isinstance(input_quant, (tuple, list)):
        input_quant = (float(input_quant.quant_scale), int(input_quant.zero_point))
    if input_quant is not None and len(input_quant) != 2:
        raise ValueError(f"input_quant must be (scale, zero_point) or a FeatureSpec, got {input_quant!r}")
    find_fast_rnn_layers(model, FastGRNNCell)  # raises when there is none
    default_registry = registry.Default8BitQuantizeRegistry()

    def annotate(layer: keras.layers.Layer) -> keras.layers.Layer:
        if isinstance(layer, keras.layers.RNN) and isinstance(layer.cell, FastGRNNCell):
            cell_config = {k: v for k, v in layer.cell.get_config().items()
                           if k not in ("input_scale", "input_zero_point", "ema_decay")}
            if input_quant is not None:
                cell_config.update(input_scale=float(input_quant[0]), input_zero_point=int(input_quant[1]))
            cell = QATFastGRNNCell.from_config({**cell_config, "ema_decay": ema_decay})
            rnn_config = layer.get_config()
            rnn_config.pop("cell")
            rnn = layer.__class__(cell, **rnn_config)
            return tfmot_quantize.quantize_annotate_layer(rnn, FastGRNNQuantizeConfig())
        if type(layer) is keras.layers.Dense:  # noqa: E721 - subclasses keep TF-MOT's default scheme
            dense = QATDense.from_config(layer.get_config())  # link_head sets state_input
            return tfmot_quantize.quantize_annotate_layer(dense, HeadQuantizeConfig())
        clone = layer.__class__.from_config(layer.get_config())
        if default_registry.supports(layer):
            return tfmot_quantize.quantize_annotate_layer(clone)
        return clone

    with quantize_scope():
        annotated = keras.models.clone_model(model, clone_function=annotate)
        _copy_weights(model, annotated)
        quantized = tfmot_quantize.quantize_apply(annotated, scheme=_Scheme())
    for _, wrapper in _sparsity_masks(quantized):
        for var, _, qvars in wrapper._weight_vars:
            if "mask" in qvars:
                qvars["mask"].assign(tf.cast(tf.not_equal(var, 0.0), var.dtype))
    return link_head(quantized)


def _sparsity_masks(model: keras.Model) -> list[tuple[keras.layers.RNN, Any]]:
    """(RNN, QuantizeWrapper) pairs of the FastGRNN layers quantized with FastGRNNQuantizeConfig."""
    return [(layer.layer, layer) for layer in model.layers
            if isinstance(getattr(layer, "quantize_config", None), FastGRNNQuantizeConfig)]


def _copy_weights(src: keras.Model, dst: keras.Model) -> None:
    """Copies weights layer by layer by weight name (the QAT cell has extra range weights)."""
    for s_layer, d_layer in zip(src.layers, dst.layers, strict=True):
        target = d_layer.layer if hasattr(d_layer, "quantize_config") else d_layer
        by_name = {weight_name(w.name): w for w in target.weights}
        for w in s_layer.weights:
            name = weight_name(w.name)
            if name not in by_name:
                raise ValueError(f"layer {s_layer.name}: no weight {name!r} in the QAT clone")
            by_name[name].assign(w)

