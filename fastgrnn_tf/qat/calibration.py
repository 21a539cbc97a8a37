"""Starting ranges of a QAT model before training: the FastGRNN cell's v / u / pre ranges (`calibrate`)
and the head's activation ranges taken from the float model (`init_activation_ranges`).

    init_activation_ranges(qat_model, float_or_stripped_model, x_calib)  # head ranges, not TF-MOT's [-6, 6]
    calibrate(qat_model, x_calib)                                         # the cell's v / u / pre ranges
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tf_keras as keras

from fastgrnn_tf.cells import weight_name
from fastgrnn_tf.qat.model import FastGRNNQuantizeConfig


def calibrate(model: keras.Model, x: Any, batch_size: int = 64, steps: int | None = None) -> None:
    """Runs the QAT model in training mode (no weight update) to populate the EMA ranges of the
    FastGRNN cell and of TF-MOT's activation quantizers. `x`: array, or a dataset / iterable of (x, y) or x
    batches (e.g. a list of arrays of different lengths). One traced graph (not eager steps: a 400-frame batch
    took minutes eagerly), traced again only for a new batch shape."""
    import tensorflow as tf

    step = tf.function(lambda b: model(b, training=True), reduce_retracing=True)
    for batch in input_batches(x, batch_size, steps):
        step(tf.constant(batch))


_ACTIVATION_RANGES = ("pre_activation", "post_activation", "output")


def input_batches(x: Any, batch_size: int, steps: int | None) -> list[np.ndarray]:
    """Up to `steps` input batches (numpy) of an array, or of a dataset / iterable of (x, y) or x."""
    if isinstance(x, np.ndarray) or not hasattr(x, "__iter__"):
        x = np.asarray(x, np.float32)
        out = [x[i:i + batch_size] for i in range(0, len(x), batch_size)]
        return out if steps is None else out[:steps]
    out = []
    for i, batch in enumerate(x):
        if steps is not None and i >= steps:
            break
        if isinstance(batch, (tuple, list)):
            batch = batch[0]
        out.append(np.asarray(batch, np.float32))
    return out


def init_activation_ranges(qat_model: keras.Model, float_model: keras.Model, x: Any, batch_size: int = 256,
                           steps: int | None = None) -> dict[str, tuple[float, float]]:
    """Starts the ranges of TF-MOT's activation quantizers (the head's Dense layers) from the float model.

    TF-MOT initializes every activation range to [-6, 6] and moves it by an EMA of batch min / max with
    decay 0.999 per training step, so for the first ~1000 QAT steps a head whose logits span +-25 has them
    clipped to about +-6 (several classes saturate at the top of the grid; no gradient beyond it). On
    Speech Commands the QAT model before training scored 0.68 with [-6, 6] and 0.875 with these ranges
    (float 0.894). Each "pre_activation" range (input of the activation function), "post_activation"
    range (the layer's output) and "output" range of a wrapped layer becomes [min(0, min a), max(0, max a)]
    of the same activation `a` of the float model's layer of the same name on `x` (an array, or a
    dataset / iterable of (x, y) or x batches; at most `steps` batches). The FastGRNN cell's own ranges
    are not touched (`calibrate` populates them). Returns {variable name: (min, max)} as set.
    """
    targets = []  # (wrapper, float layer, kind, min variable, max variable)
    for wrapper in qat_model.layers:
        if not hasattr(wrapper, "quantize_config") or isinstance(wrapper.quantize_config, FastGRNNQuantizeConfig):
            continue
        variables = {weight_name(v.name): v for v in wrapper.non_trainable_weights}
        for kind in _ACTIVATION_RANGES:
            if f"{kind}_min" in variables and f"{kind}_max" in variables:
                layer = float_model.get_layer(wrapper.layer.name)
                targets.append((wrapper, layer, kind, variables[f"{kind}_min"], variables[f"{kind}_max"]))
    if not targets:
        return {}
    # A clone: layers of a stripped model also belong to the pruned model's graph, so `layer.output` may be
    # another graph's tensor.
    clone = keras.models.clone_model(float_model)
    clone.set_weights(float_model.get_weights())
    targets = [(w, clone.get_layer(layer.name), kind, lo, hi) for w, layer, kind, lo, hi in targets]
    probes, linear = [], {}
    for _, layer, kind, _, _ in targets:
        if kind == "pre_activation":
            config = {**layer.get_config(), "activation": "linear", "name": f"{layer.name}_pre_activation"}
            linear[layer.name] = lin = layer.__class__.from_config(config)
            lin.build(layer.input.shape)
            lin.set_weights(layer.get_weights())
            probes.append(layer.input)
        else:
            probes.append(layer.output)
    probe = keras.Model(clone.inputs, probes)
    lo, hi = [np.inf] * len(targets), [-np.inf] * len(targets)
    for batch in input_batches(x, batch_size, steps):
        values = probe(batch, training=False)
        values = values if isinstance(values, (list, tuple)) else [values]
        for i, ((_, layer, kind, _, _), value) in enumerate(zip(targets, values, strict=True)):
            a = (linear[layer.name](value) if kind == "pre_activation" else value).numpy()
            lo[i], hi[i] = min(lo[i], float(a.min())), max(hi[i], float(a.max()))
    if not np.isfinite(lo[0]):
        raise ValueError("x holds no batch: cannot initialize the activation ranges")
    out = {}
    for i, (_, _, _, min_var, max_var) in enumerate(targets):
        min_var.assign(min(lo[i], 0.0))
        max_var.assign(max(hi[i], 0.0))
        out[min_var.name] = (float(min_var.numpy()), float(max_var.numpy()))
    return out
