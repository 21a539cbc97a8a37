"""FastGRNN / FastRNN cells: equations, gradients, serialization, RNN features, training, errors."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from fastgrnn_tf import ACTIVATIONS, FastGRNNCell, FastRNNCell, param_count
from fastgrnn_tf.activations import get_activation, get_numpy_activation

ACT_NAMES = sorted(ACTIVATIONS)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _matrix(p: dict, name: str) -> np.ndarray:
    return p[name] if name in p else p[name + "1"] @ p[name + "2"]


def numpy_fastgrnn(x: np.ndarray, p: dict, gate: str, update: str) -> np.ndarray:
    """Paper eq. 6 in float64 numpy; x [B, T, D] -> h sequence [B, T, H]."""
    g, u = get_numpy_activation(gate), get_numpy_activation(update)
    w, uu = _matrix(p, "W"), _matrix(p, "U")
    h = np.zeros((x.shape[0], w.shape[1]))
    out = []
    for t in range(x.shape[1]):
        pre = x[:, t] @ w + h @ uu
        z, c = g(pre + p["bias_z"]), u(pre + p["bias_h"])
        h = (_sigmoid(p["zeta"]) * (1 - z) + _sigmoid(p["nu"])) * c + z * h
        out.append(h)
    return np.stack(out, axis=1)


def numpy_fastrnn(x: np.ndarray, p: dict, update: str) -> np.ndarray:
    """Paper eq. 2 in float64 numpy."""
    u = get_numpy_activation(update)
    w, uu = _matrix(p, "W"), _matrix(p, "U")
    h = np.zeros((x.shape[0], w.shape[1]))
    out = []
    for t in range(x.shape[1]):
        h = _sigmoid(p["alpha"]) * u(x[:, t] @ w + h @ uu + p["bias"]) + _sigmoid(p["beta"]) * h
        out.append(h)
    return np.stack(out, axis=1)


def _randomize(layer: keras.layers.RNN, rng: np.random.Generator) -> dict:
    """Sets every cell weight to random values; returns them by weight name (float64)."""
    params = {}
    for var in layer.cell.weights:
        name = var.name.split("/")[-1].split(":")[0]
        value = rng.normal(0.0, 0.3, var.shape).astype(np.float32)
        var.assign(value)
        params[name] = value.astype(np.float64)
    return params


def _rnn_model(cell: keras.layers.Layer, steps: int = 7, dim: int = 5, **rnn_kwargs) -> keras.Model:
    return keras.Sequential([keras.Input((steps, dim)), keras.layers.RNN(cell, **rnn_kwargs)])


RANKS = [(None, None), (3, 2)]


@pytest.mark.parametrize("ranks", RANKS)
@pytest.mark.parametrize("act", ACT_NAMES)
def test_fastgrnn_matches_numpy(ranks: tuple, act: str) -> None:
    rng = np.random.default_rng(0)
    # `act` as the gate with tanh update, and as the update with sigmoid gate.
    for gate, update in ((act, "tanh"), ("sigmoid", act)):
        cell = FastGRNNCell(6, w_rank=ranks[0], u_rank=ranks[1], gate_activation=gate,
                            update_activation=update)
        model = _rnn_model(cell, return_sequences=True)
        params = _randomize(model.layers[0], rng)
        x = rng.normal(0, 1, (3, 7, 5)).astype(np.float32)
        expected = numpy_fastgrnn(x.astype(np.float64), params, gate, update)
        np.testing.assert_allclose(model(x).numpy(), expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("ranks", RANKS)
@pytest.mark.parametrize("act", ACT_NAMES)
def test_fastrnn_matches_numpy(ranks: tuple, act: str) -> None:
    rng = np.random.default_rng(1)
    cell = FastRNNCell(6, w_rank=ranks[0], u_rank=ranks[1], update_activation=act)
    model = _rnn_model(cell, return_sequences=True)
    params = _randomize(model.layers[0], rng)
    x = rng.normal(0, 1, (3, 7, 5)).astype(np.float32)
    expected = numpy_fastrnn(x.astype(np.float64), params, act)
    np.testing.assert_allclose(model(x).numpy(), expected, atol=1e-5, rtol=1e-5)


def test_activation_functions_match_definitions() -> None:
    x = np.linspace(-3, 3, 61).astype(np.float32)
    np.testing.assert_allclose(get_activation("quantSigm")(x).numpy(), np.clip((x + 1) / 2, 0, 1))
    np.testing.assert_allclose(get_activation("quantTanh")(x).numpy(), np.clip(x, -1, 1))
    for name in ACT_NAMES:
        np.testing.assert_allclose(get_activation(name)(x).numpy(), get_numpy_activation(name)(x), atol=1e-6)


def test_weight_names_and_shapes() -> None:
    full = _rnn_model(FastGRNNCell(6)).layers[0].cell
    assert {w.name.split("/")[-1][:-2]: tuple(w.shape) for w in full.weights} == {
        "W": (5, 6), "U": (6, 6), "bias_z": (6,), "bias_h": (6,), "zeta": (), "nu": ()}
    low = _rnn_model(FastGRNNCell(6, w_rank=2, u_rank=3)).layers[0].cell
    assert {w.name.split("/")[-1][:-2]: tuple(w.shape) for w in low.weights} == {
        "W1": (5, 2), "W2": (2, 6), "U1": (6, 3), "U2": (3, 6), "bias_z": (6,), "bias_h": (6,),
        "zeta": (), "nu": ()}
    rnn = _rnn_model(FastRNNCell(6, u_rank=2)).layers[0].cell
    assert sorted(w.name.split("/")[-1][:-2] for w in rnn.weights) == sorted(
        ["W", "U1", "U2", "bias", "alpha", "beta"])
    np.testing.assert_allclose(full.zeta.numpy(), 1.0)
    np.testing.assert_allclose(full.nu.numpy(), -4.0)
    np.testing.assert_allclose(full.bias_z.numpy(), 1.0)
    np.testing.assert_allclose(rnn.alpha.numpy(), -3.0)
    np.testing.assert_allclose(rnn.beta.numpy(), 3.0)
    # Low-rank factors are drawn independently (not one unseeded initializer called twice).
    assert not np.allclose(low.U1.numpy()[:3, :3], low.U2.numpy()[:3, :3])


@pytest.mark.parametrize("cell_fn", [
    lambda: FastGRNNCell(6), lambda: FastGRNNCell(6, w_rank=2, u_rank=3),
    lambda: FastRNNCell(6), lambda: FastRNNCell(6, w_rank=2, u_rank=3)])
def test_param_count_matches_weights(cell_fn) -> None:
    cell = cell_fn()
    _rnn_model(cell)
    total = sum(int(np.prod(w.shape)) for w in cell.weights)
    kind = "FastGRNN" if isinstance(cell, FastGRNNCell) else "FastRNN"
    assert param_count(6, 5, cell.w_rank, cell.u_rank, cell=kind) == total
    # Paper formula, FastGRNN full rank: D*H + H*H + 2H + 2.
    assert param_count(32, 10) == 10 * 32 + 32 * 32 + 64 + 2
    assert param_count(32, 10, w_rank=4, u_rank=8) == 4 * 42 + 8 * 64 + 64 + 2
    assert param_count(32, 10, keep_w=0.5, keep_u=0.25) == 160 + 256 + 64 + 2


@pytest.mark.parametrize("cell_fn", [
    lambda: FastGRNNCell(6), lambda: FastGRNNCell(6, w_rank=2, u_rank=3, update_activation="quantTanh"),
    lambda: FastRNNCell(6), lambda: FastRNNCell(6, w_rank=2, u_rank=3)])
def test_gradients_finite_and_nonzero(cell_fn) -> None:
    model = _rnn_model(cell_fn(), return_sequences=True)
    x = tf.constant(np.random.default_rng(2).normal(0, 1, (4, 7, 5)).astype(np.float32))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(model(x) - 0.3))
    grads = tape.gradient(loss, model.trainable_weights)
    assert len(grads) == len(model.layers[0].cell.weights)
    for var, g in zip(model.trainable_weights, grads, strict=True):
        assert g is not None, var.name
        assert np.all(np.isfinite(g.numpy())), var.name
        assert np.any(g.numpy() != 0), var.name


@pytest.mark.parametrize("fmt", ["keras", "h5", "savedmodel"])
def test_save_load_round_trip(tmp_path: Path, fmt: str) -> None:
    rng = np.random.default_rng(3)
    inp = keras.Input((7, 5))
    h = keras.layers.RNN(FastGRNNCell(6, w_rank=2, u_rank=3, gate_activation="quantSigm"),
                         return_sequences=True)(inp)
    h = keras.layers.RNN(FastRNNCell(4, update_activation="quantTanh", alpha_init=-2.0))(h)
    model = keras.Model(inp, keras.layers.Dense(3)(h))
    for layer in model.layers[1:3]:
        _randomize(layer, rng)
    x = rng.normal(0, 1, (2, 7, 5)).astype(np.float32)
    path = tmp_path / ("model" if fmt == "savedmodel" else f"model.{fmt}")
    model.save(path)
    loaded = keras.models.load_model(path)  # no custom_objects: the cells are registered
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())
    if fmt != "savedmodel":
        cell = loaded.layers[1].cell
        assert isinstance(cell, FastGRNNCell)
        assert (cell.w_rank, cell.u_rank, cell.gate_activation) == (2, 3, "quantSigm")
        assert loaded.layers[2].cell.alpha_init == -2.0


def test_config_round_trip() -> None:
    cell = FastGRNNCell(8, w_rank=3, u_rank=4, gate_activation="quantSigm", update_activation="relu",
                        zeta_init=0.5, nu_init=-3.0, kernel_regularizer="l2", bias_initializer="zeros",
                        recurrent_constraint="non_neg", name="g")
    config = cell.get_config()
    clone = FastGRNNCell.from_config(config)
    assert clone.get_config() == config
    assert config["units"] == 8 and config["w_rank"] == 3 and config["zeta_init"] == 0.5
    rnn = FastRNNCell(8, alpha_init=-1.0, beta_init=2.0)
    assert FastRNNCell.from_config(rnn.get_config()).get_config() == rnn.get_config()
    # Regularizers from the constructor reach the loss.
    model = _rnn_model(clone)
    assert len(model.losses) == 2  # W1 and W2 (kernel_regularizer)


def test_masking_skips_padded_steps() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(0, 1, (2, 4, 5)).astype(np.float32)
    padded = np.concatenate([x, np.zeros((2, 3, 5), np.float32)], axis=1)
    cell = FastGRNNCell(6)
    masked = keras.Sequential([keras.Input((7, 5)), keras.layers.Masking(0.0), keras.layers.RNN(cell)])
    short = keras.Sequential([keras.Input((4, 5)), keras.layers.RNN(cell)])  # same cell, same weights
    np.testing.assert_allclose(masked(padded).numpy(), short(x).numpy(), atol=1e-6)
    unmasked = keras.Sequential([keras.Input((7, 5)), keras.layers.RNN(cell)])
    assert not np.allclose(unmasked(padded).numpy(), short(x).numpy(), atol=1e-4)


def test_stateful_return_state_and_unroll() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(0, 1, (2, 8, 5)).astype(np.float32)
    cell = FastGRNNCell(6, w_rank=2)
    full = keras.Sequential([keras.Input((8, 5), batch_size=2),
                             keras.layers.RNN(cell, return_sequences=True)])
    ref = full(x).numpy()

    stateful = keras.Sequential([keras.Input((4, 5), batch_size=2),
                                 keras.layers.RNN(cell, return_sequences=True, stateful=True)])
    first, second = stateful(x[:, :4]).numpy(), stateful(x[:, 4:]).numpy()
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), ref, atol=1e-6)
    stateful.layers[0].reset_states()
    np.testing.assert_allclose(stateful(x[:, :4]).numpy(), ref[:, :4], atol=1e-6)

    out, state = keras.layers.RNN(cell, return_state=True)(x)
    np.testing.assert_allclose(out.numpy(), ref[:, -1], atol=1e-6)
    np.testing.assert_allclose(state.numpy(), ref[:, -1], atol=1e-6)

    unrolled = keras.layers.RNN(cell, return_sequences=True, unroll=True)(x)
    np.testing.assert_allclose(unrolled.numpy(), ref, atol=1e-6)

    init = rng.normal(0, 0.5, (2, 6)).astype(np.float32)
    resumed = keras.layers.RNN(cell, return_sequences=True)(x[:, 4:], initial_state=[tf.constant(ref[:, 3])])
    np.testing.assert_allclose(resumed.numpy(), ref[:, 4:], atol=1e-6)
    assert not np.allclose(keras.layers.RNN(cell)(x, initial_state=[tf.constant(init)]).numpy(), ref[:, -1])


def test_fastgrnn_learns_digits(digits, seeded) -> None:
    x_train, y_train, x_test, y_test = digits
    start = time.monotonic()
    model = keras.Sequential([keras.Input((8, 8)), keras.layers.RNN(FastGRNNCell(32)),
                              keras.layers.Dense(10, activation="softmax")])
    epochs, steps = 25, int(np.ceil(len(x_train) / 32))
    lr = keras.optimizers.schedules.CosineDecay(0.02, decay_steps=epochs * steps)  # stable last epochs
    model.compile(keras.optimizers.Adam(lr), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=epochs, batch_size=32, verbose=0)
    _, acc = model.evaluate(x_test, y_test, verbose=0)
    assert acc >= 0.95, acc
    assert time.monotonic() - start < 60


@pytest.mark.parametrize("kwargs, argument", [
    ({"w_rank": 0}, "w_rank"), ({"w_rank": -2}, "w_rank"), ({"u_rank": 0}, "u_rank"),
    ({"w_rank": 2.5}, "w_rank"), ({"u_rank": 7}, "u_rank"), ({"w_rank": 7}, "w_rank"),
    ({"gate_activation": "swish"}, "gate_activation"), ({"update_activation": "gelu"}, "update_activation"),
    ({"gate_activation": None}, "gate_activation")])
def test_bad_constructor_arguments(kwargs: dict, argument: str) -> None:
    with pytest.raises(ValueError, match=argument):
        FastGRNNCell(6, **kwargs)


def test_bad_ranks_and_inputs_at_build() -> None:
    with pytest.raises(ValueError, match="w_rank"):
        _rnn_model(FastGRNNCell(6, w_rank=6), dim=5)  # 6 > input_dim 5
    with pytest.raises(ValueError, match="update_activation"):
        FastRNNCell(6, update_activation="softsign")
    with pytest.raises(ValueError, match="units"):
        FastRNNCell(0)
    with pytest.raises(ValueError, match="3-D"):
        keras.layers.RNN(FastGRNNCell(4))(np.zeros((2, 3, 3, 3), np.float32))
    with pytest.raises(ValueError):
        keras.layers.RNN(FastGRNNCell(4))(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="keep_w"):
        param_count(4, 4, keep_w=0.0)


def test_import_sets_legacy_keras_without_user_setup() -> None:
    """`import fastgrnn_tf` alone makes tf.keras the tf_keras the cells are built on."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    code = ("import os, fastgrnn_tf; assert os.environ['TF_USE_LEGACY_KERAS'] == '1'; "
            "import tensorflow as tf, tf_keras; assert tf.keras.layers.RNN is tf_keras.layers.RNN; "
            "assert fastgrnn_tf.qat.QATFastGRNNCell is not None; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]
