"""kws-train's pieces that need no training: config, normalization, streaming context, batches."""

from __future__ import annotations

import numpy as np
import pytest

from keyword_spotting.features import FeatureSpec, dequantize, model_view
from keyword_spotting.train import input_normalization, training_dataset, with_context
from keyword_spotting.train_cli import main
from keyword_spotting.train_config import load_config


def test_config_overrides_and_errors(tmp_path) -> None:
    cfg = load_config(None, ["model.units=48", "data.snr_db=[1, 2]", "train.keep_w=0.5"])
    assert cfg.model.units == 48 and cfg.data.snr_db == (1, 2) and cfg.train.keep_w == 0.5
    with pytest.raises(ValueError, match="model.bogus"):
        load_config(None, ["model.bogus=1"])
    with pytest.raises(ValueError, match="section.key=value"):
        load_config(None, ["units=3"])
    with pytest.raises(ValueError, match="data.root is required"):
        load_config(None, ["data.kind=custom"])
    with pytest.raises(ValueError, match="not found"):
        load_config(tmp_path / "missing.yaml")
    (tmp_path / "c.yaml").write_text("model: {units: 20}\nfeatures: {n_mels: 40}\n")
    cfg = load_config(tmp_path / "c.yaml")
    assert cfg.model.units == 20 and cfg.features.num_features == 40


def test_saved_config_loads_back(tmp_path) -> None:
    from keyword_spotting.train_config import save_config

    cfg = load_config(None, ["model.units=48"])
    save_config(cfg, tmp_path / "config.json")  # features.log_floor 1e-06: a string to YAML 1.1
    again = load_config(tmp_path / "config.json")
    assert again.to_dict() == cfg.to_dict()


def test_bad_config_exits_2(tmp_path, capsys) -> None:
    assert main(["--set", "model.kind=lstm"]) == 2
    assert "model.kind" in capsys.readouterr().err


def test_input_normalization_centres_and_scales() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(-90, 20, (50, 98, 32)).clip(-128, 127).astype(np.int8)
    scale, zp = input_normalization(x)
    v = dequantize(x, model_view(FeatureSpec(), scale, zp))
    assert abs(float(v.mean())) < 0.05 and abs(float(v.std()) - 1.0) < 0.01
    assert zp == int(np.round(x.astype(np.float64).mean()))
    with pytest.raises(ValueError, match="constant"):
        input_normalization(np.zeros((3, 5, 2), np.int8))


def test_context_comes_from_other_clips() -> None:
    x = np.arange(6, dtype=np.int8).repeat(10 * 2).reshape(6, 10, 2)  # clip i is all i
    c = with_context(x, 4, seed=1)
    assert c.shape == (6, 14, 2)
    np.testing.assert_array_equal(c[:, 4:], x)
    prefix_owner = c[:, 0, 0]
    assert np.all(prefix_owner != np.arange(6))  # never the clip itself
    assert np.all(c[:, :4] == prefix_owner[:, None, None])
    assert with_context(x, 0, 0) is x


def test_training_dataset_has_bare_and_context_batches() -> None:
    x = np.random.default_rng(0).integers(-128, 127, (40, 10, 3)).astype(np.int8)
    y = np.arange(40) % 2
    ds = training_dataset(x, y, FeatureSpec(), batch_size=8, context_frames=5, seed=0)
    lengths = [int(b[0].shape[1]) for b in ds]
    assert sorted(lengths) == [10] * 5 + [15] * 5
    assert [int(b[0].shape[1]) for b in training_dataset(x, y, FeatureSpec(), 8, 0, 0)] == [10] * 5
