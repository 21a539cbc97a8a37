"""tfdata: int8 feature arrays (cached, augmented deterministically) and the dequantizing tf.data pipeline."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from keyword_spotting import tfdata
from keyword_spotting.audio_io import load_clip, write_wav
from keyword_spotting.augment import AugmentConfig, Augmenter
from keyword_spotting.datasets import Item, SplitDataset
from keyword_spotting.features import FeatureSpec, dequantize, int8_features

SC_DEV = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "speech_commands_dev"


def _clips(root: Path, n: int = 6) -> list[Item]:
    items = []
    rng = np.random.default_rng(0)
    for i in range(n):
        t = np.arange(12000 + 500 * i) / 16000
        y = 0.2 * np.sin(2 * np.pi * (200 + 50 * i) * t) + 0.01 * rng.standard_normal(len(t))
        path = root / f"clip{i}.wav"
        write_wav(path, y.astype(np.float32))
        items.append(Item(str(path), i % 3, f"spk{i}"))
    return items


def _noise() -> list[np.ndarray]:
    return [(0.05 * np.random.default_rng(1).standard_normal(40000)).astype(np.float32)]


def test_clean_features_match_features_module(tmp_path: Path) -> None:
    items = _clips(tmp_path)
    x, y = tfdata.make_feature_arrays(items)
    assert x.dtype == np.int8 and x.shape == (6, 98, 32)
    assert y.tolist() == [it.label for it in items]
    for i, it in enumerate(items):
        assert np.array_equal(x[i], int8_features(load_clip(it.path)))
    spec = FeatureSpec(n_mfcc=10)
    x10, _ = tfdata.make_feature_arrays(items[:2], spec)
    assert x10.shape == (2, 98, 10) and np.array_equal(x10[1], int8_features(load_clip(items[1].path), spec))


def test_feature_cache_hit_miss_and_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    items = _clips(tmp_path / "wav", 4)
    cache = tmp_path / "cache"
    x1, _ = tfdata.make_feature_arrays(items, cache_dir=cache)
    files = sorted(cache.rglob("*"))
    assert [p for p in files if p.suffix == ".npy"] and not [p for p in files if p.name.endswith(".tmp")]
    # A second run reads only the cache.
    with monkeypatch.context() as m:
        m.setattr(tfdata, "int8_features", lambda *a, **k: pytest.fail("recomputed features"))
        m.setattr(tfdata, "load_clip", lambda *a, **k: pytest.fail("re-read audio"))
        x2, _ = tfdata.make_feature_arrays(items, cache_dir=cache)
    assert np.array_equal(x1, x2)
    # Another spec is another cache entry.
    x3, _ = tfdata.make_feature_arrays(items, FeatureSpec(n_mels=20), cache_dir=cache)
    assert x3.shape[-1] == 20
    # Changing a file (size/mtime) invalidates its entry.
    write_wav(items[0].path, np.zeros(16000, np.int16))
    st = os.stat(items[0].path)
    os.utime(items[0].path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    x4, _ = tfdata.make_feature_arrays(items, cache_dir=cache)
    assert np.array_equal(x4[0], int8_features(np.zeros(16000, np.int16)))
    assert np.array_equal(x4[1:], x1[1:])


def test_augmented_copies_deterministic_and_order_independent(tmp_path: Path) -> None:
    items = _clips(tmp_path)
    aug = Augmenter(_noise(), AugmentConfig())
    x, y = tfdata.make_feature_arrays(items, augment=aug, copies=2, seed=3)
    assert x.shape == (18, 98, 32) and y.tolist() == [it.label for it in items] * 3
    clean, _ = tfdata.make_feature_arrays(items)
    assert np.array_equal(x[:6], clean)
    assert not np.array_equal(x[6:12], clean) and not np.array_equal(x[6:12], x[12:18])
    again, _ = tfdata.make_feature_arrays(items, augment=aug, copies=2, seed=3)
    assert np.array_equal(x, again)
    other, _ = tfdata.make_feature_arrays(items, augment=aug, copies=2, seed=4)
    assert not np.array_equal(x[6:], other[6:])
    rev, _ = tfdata.make_feature_arrays(items[::-1], augment=aug, copies=2, seed=3)
    assert np.array_equal(rev[6:12][::-1], x[6:12])
    only_aug, _ = tfdata.make_feature_arrays(items, augment=aug, copies=1, include_clean=False, seed=3)
    assert np.array_equal(only_aug, x[6:12])
    with pytest.raises(ValueError, match="include_clean"):
        tfdata.make_feature_arrays(items, include_clean=False)


def test_silence_items_render_from_noise(tmp_path: Path) -> None:
    items = [Item("", 0, "_silence_train_0"), Item("", 0, "_silence_train_1")]
    x, _ = tfdata.make_feature_arrays(items, noise_clips=_noise())
    x2, _ = tfdata.make_feature_arrays(items, noise_clips=_noise())
    assert np.array_equal(x, x2) and not np.array_equal(x[0], x[1])
    floor = int8_features(np.zeros(16000, np.int16))
    assert not np.array_equal(x[0], floor)


def test_workers_give_identical_arrays(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tfdata, "POOL_MIN_ROWS", 0)  # use the pool even for this small job
    items = _clips(tmp_path, 8)
    aug = Augmenter(_noise(), AugmentConfig())
    a, ya = tfdata.make_feature_arrays(items, augment=aug, copies=1, seed=1)
    b, yb = tfdata.make_feature_arrays(items, augment=aug, copies=1, seed=1, workers=2,
                                       cache_dir=tmp_path / "c")
    assert np.array_equal(a, b) and np.array_equal(ya, yb)


def test_make_split_arrays(tmp_path: Path) -> None:
    items = _clips(tmp_path / "w", 6)
    write_wav(tmp_path / "noise.wav", (_noise()[0] * 0.5).astype(np.float32))
    ds = SplitDataset(items[:4] + [Item("", 0, "_silence_train_0")], items[4:5], items[5:], ["a", "b", "c"],
                      [str(tmp_path / "noise.wav")])
    arrays = tfdata.make_split_arrays(ds, copies=2, cache_dir=tmp_path / "cache")
    assert arrays["train"][0].shape == (15, 98, 32)
    assert arrays["val"][0].shape == (1, 98, 32) and arrays["test"][0].shape == (1, 98, 32)
    plain = tfdata.make_split_arrays(ds, augment_config=None)
    assert plain["train"][0].shape == (5, 98, 32)


def test_dequantize_table_is_features_dequantize() -> None:
    spec = FeatureSpec()
    q = np.arange(-128, 128).astype(np.int8)
    assert np.array_equal(tfdata.dequantize_table(spec), dequantize(q, spec))


def test_make_dataset_dequantizes_exactly_and_shuffles_by_seed() -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(-128, 128, size=(50, 98, 32)).astype(np.int8)
    y = np.arange(50) % 4
    spec = FeatureSpec()
    ds = tfdata.make_dataset(x, y, spec, batch_size=16)
    batches = list(ds.as_numpy_iterator())
    assert [b[0].shape[0] for b in batches] == [16, 16, 16, 2]
    xf = np.concatenate([b[0] for b in batches])
    assert xf.dtype == np.float32 and np.array_equal(xf, dequantize(x, spec))
    assert np.array_equal(np.concatenate([b[1] for b in batches]), y)

    def order(seed: int) -> list[int]:
        d = tfdata.make_dataset(x, np.arange(50), spec, batch_size=50, shuffle=True, seed=seed)
        return next(iter(d.as_numpy_iterator()))[1].tolist()

    assert order(1) == order(1) and order(1) != order(2) and sorted(order(1)) == list(range(50))
    w = np.linspace(0.5, 1.5, 50).astype(np.float32)
    d = tfdata.make_dataset(x, np.arange(50), spec, batch_size=8, shuffle=True, seed=0, sample_weight=w)
    xb, yb, wb = next(iter(d.as_numpy_iterator()))
    assert xb.shape == (8, 98, 32) and np.array_equal(xb, dequantize(x[yb], spec))
    assert np.array_equal(wb, w[yb])
    with pytest.raises(ValueError, match="int8"):
        tfdata.make_dataset(x.astype(np.float32), y)
    with pytest.raises(ValueError, match="y must"):
        tfdata.make_dataset(x, y[:3])


def test_speech_commands_dev_arrays_speed(tmp_path: Path) -> None:
    if not SC_DEV.is_dir():
        pytest.skip(f"real recordings not available: {SC_DEV} is absent")
    from keyword_spotting.datasets import load_speech_commands

    ds = load_speech_commands(SC_DEV)
    small = SplitDataset(ds.train[:300], ds.val[:50], ds.test[:50], ds.class_names, ds.noise[:20])
    t0 = time.time()
    arrays = tfdata.make_split_arrays(small, copies=2, cache_dir=tmp_path / "cache")
    first = time.time() - t0
    t0 = time.time()
    again = tfdata.make_split_arrays(small, copies=2, cache_dir=tmp_path / "cache")
    assert all(np.array_equal(arrays[s][0], again[s][0]) for s in arrays)
    assert arrays["train"][0].shape == (900, 98, 32)
    assert first < 60 and time.time() - t0 < 60
