"""TF-MOT magnitude pruning of FastGRNN: per-matrix targets, fixed-support retraining, strip."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow_model_optimization as tfmot
import tf_keras as keras

from fastgrnn_tf import FastGRNNCell, FastRNNCell, pruning, qat

BATCH = 32


def _model(w_rank: int | None = None, u_rank: int | None = None, cell: type = FastGRNNCell) -> keras.Model:
    model = keras.Sequential([keras.Input((8, 8)), keras.layers.RNN(cell(32, w_rank=w_rank, u_rank=u_rank)),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(keras.optimizers.Adam(0.02), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _compile(model: keras.Model, lr: float) -> keras.Model:
    model.compile(keras.optimizers.Adam(lr), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _masks(model: keras.Model) -> dict[str, np.ndarray]:
    matrices = ("W", "W1", "W2", "U", "U1", "U2")
    return {k: v != 0 for k, v in qat.fastgrnn_float_params(model).items() if k in matrices}


@pytest.mark.parametrize("ranks, keep_w, keep_u", [((None, None), 0.3, 0.2), ((6, 8), 0.5, 0.3)])
def test_three_stage_pruning_hits_targets(digits, seeded, ranks, keep_w, keep_u) -> None:
    x_train, y_train, x_test, y_test = digits
    steps = int(np.ceil(len(x_train) / BATCH))
    model = _model(*ranks)
    model.fit(x_train, y_train, epochs=12, batch_size=BATCH, verbose=0)  # stage 1
    dense_acc = model.evaluate(x_test, y_test, verbose=0)[1]
    dense_weights = [w.numpy() for w in model.weights]

    pruned = pruning.prune_fastgrnn(model, keep_w=keep_w, keep_u=keep_u, end_step=3 * steps - 1)
    _compile(pruned, 5e-3)
    pruned.fit(x_train, y_train, epochs=3, batch_size=BATCH, verbose=0, callbacks=pruning.pruning_callbacks())
    support = _masks(pruned)  # stage 2 done
    before_retrain = qat.fastgrnn_float_params(pruned)

    pruned.fit(x_train, y_train, epochs=3, batch_size=BATCH, verbose=0, callbacks=pruning.pruning_callbacks())
    after_retrain = qat.fastgrnn_float_params(pruned)
    for name, mask in _masks(pruned).items():  # stage 3: support fixed, values still trained
        np.testing.assert_array_equal(mask, support[name], err_msg=name)
        assert not np.allclose(after_retrain[name], before_retrain[name]), name

    stripped = pruning.strip(pruned)
    assert [type(layer).__name__ for layer in stripped.layers] == ["RNN", "Dense"]
    keep = pruning.measured_keep(stripped)
    assert set(keep) == set(support)
    for name, fraction in keep.items():
        target = keep_w if name.startswith("W") else keep_u
        assert abs(fraction - target) <= 0.01, (name, fraction, target)
    # The stripped float model still works, and equals the pruned model's inference.
    _compile(stripped, 1e-3)
    acc = stripped.evaluate(x_test, y_test, verbose=0)[1]
    assert acc >= dense_acc - 0.08 and acc >= 0.8, (acc, dense_acc)
    np.testing.assert_allclose(stripped.predict(x_test, verbose=0), pruned.predict(x_test, verbose=0),
                               atol=1e-6)
    # prune_fastgrnn copied the weights: the stage-1 model is untouched.
    for before, w in zip(dense_weights, model.weights, strict=True):
        np.testing.assert_array_equal(before, w.numpy())


def test_tfmot_prune_low_magnitude_accepts_fastgrnn_model(digits, seeded) -> None:
    """The plain TF-MOT API works too: the cell is a PrunableLayer (W and U factors)."""
    x_train, y_train, _, _ = digits
    model = _model(4, 4)
    cell = model.layers[0].cell
    assert isinstance(cell, tfmot.sparsity.keras.PrunableLayer)
    assert [w.name.split("/")[-1] for w in cell.get_prunable_weights()] == ["W1:0", "W2:0", "U1:0", "U2:0"]
    schedule = tfmot.sparsity.keras.ConstantSparsity(0.75, begin_step=0, frequency=1)
    pruned = _compile(tfmot.sparsity.keras.prune_low_magnitude(model, pruning_schedule=schedule), 1e-3)
    pruned.fit(x_train[:320], y_train[:320], epochs=1, batch_size=BATCH, verbose=0,
               callbacks=[tfmot.sparsity.keras.UpdatePruningStep()])
    stripped = tfmot.sparsity.keras.strip_pruning(pruned)
    for name, fraction in pruning.measured_keep(stripped).items():
        assert abs(fraction - 0.25) <= 0.01, (name, fraction)


def test_explicit_per_matrix_schedules_and_fastrnn(digits, seeded) -> None:
    x_train, y_train, _, _ = digits
    model = _model(None, 8, cell=FastRNNCell)
    schedules = {"W": tfmot.sparsity.keras.ConstantSparsity(0.6, begin_step=0, end_step=4, frequency=1),
                 "U": tfmot.sparsity.keras.PolynomialDecay(0.0, 0.9, begin_step=0, end_step=8, frequency=2)}
    pruned = _compile(pruning.prune_fastgrnn(model, schedules=schedules), 1e-3)
    pruned.fit(x_train[:320], y_train[:320], epochs=1, batch_size=BATCH, verbose=0,
               callbacks=pruning.pruning_callbacks())
    keep = pruning.measured_keep(pruning.strip(pruned))
    assert abs(keep["W"] - 0.4) <= 0.01 and abs(keep["U1"] - 0.1) <= 0.01 and abs(keep["U2"] - 0.1) <= 0.01


def test_pruned_model_save_load(digits, seeded, tmp_path) -> None:
    x_train, y_train, x_test, _ = digits
    pruned = _compile(pruning.prune_fastgrnn(_model(4, 4), keep_w=0.5, keep_u=0.25, end_step=5), 1e-3)
    pruned.fit(x_train[:320], y_train[:320], epochs=1, batch_size=BATCH, verbose=0,
               callbacks=pruning.pruning_callbacks())
    path = tmp_path / "pruned.keras"
    pruned.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x_test, verbose=0), pruned.predict(x_test, verbose=0))
    layer = loaded.layers[0]
    assert isinstance(layer, pruning.FastGRNNPruneLowMagnitude)
    assert layer.u_pruning_schedule.get_config()["config"]["final_sparsity"] == pytest.approx(0.75)
    assert layer.pruning_schedule.get_config()["config"]["final_sparsity"] == pytest.approx(0.5)
    assert int(layer.pruning_step.numpy()) == int(pruned.layers[0].pruning_step.numpy()) > 0


def test_make_schedule_reaches_final_sparsity_at_end_step() -> None:
    sched = pruning.make_schedule(0.3, end_step=137, frequency=10)
    cfg = sched.get_config()["config"]
    assert cfg["end_step"] == 130 and cfg["frequency"] == 10
    should, sparsity = sched(np.int64(130))
    assert bool(should) and float(sparsity) == pytest.approx(0.7)
    should_after, _ = sched(np.int64(140))
    assert not bool(should_after)  # support fixed after end_step
    const = pruning.make_schedule(0.4, end_step=50, kind="constant").get_config()["config"]
    assert const["target_sparsity"] == pytest.approx(0.6)


@pytest.mark.parametrize("kwargs, argument", [
    ({"keep_w": 0.0}, "keep_w"), ({"keep_u": 1.5}, "keep_u"), ({"keep_w": True}, "keep_w"),
    ({"kind": "cubic"}, "kind"), ({"end_step": 0}, "end_step"), ({"schedules": {"V": None}}, "schedules")])
def test_bad_arguments(kwargs: dict, argument: str) -> None:
    with pytest.raises(ValueError, match=argument):
        pruning.prune_fastgrnn(_model(), **kwargs)


def test_model_without_fastgrnn_or_already_pruned() -> None:
    plain = keras.Sequential([keras.Input((8, 8)), keras.layers.GRU(4), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="FastGRNN"):
        pruning.prune_fastgrnn(plain)
    pruned = pruning.prune_fastgrnn(_model(), end_step=10)
    with pytest.raises(ValueError, match="already"):
        pruning.prune_fastgrnn(pruned, end_step=10)
    with pytest.raises(ValueError, match="layer"):
        pruning.FastGRNNPruneLowMagnitude(keras.layers.Dense(3))
