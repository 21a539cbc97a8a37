"""SpecAugment masks (`keyword_spotting.spec_augment`): exactly bands and stretches zeroed, deterministic by
seed, off by default, bad settings named, and only the training sequences masked."""

from __future__ import annotations

import numpy as np
import pytest

from keyword_spotting.features import FeatureSpec, quantize
from keyword_spotting.spec_augment import SpecMask
from keyword_spotting.stream_training import StreamTargets, sequence_dataset


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """(start, length) of each run of True."""
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return list(zip(starts.tolist(), (ends - starts).tolist(), strict=True))


def test_masks_are_whole_bands_and_stretches_and_nothing_else() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(1.0, 2.0, (4 * 50, 32)).astype(np.float32)  # no value is 0 before masking
    mask = SpecMask(freq_masks=2, freq_width=5, time_masks=2, time_width=8)
    for seed in range(50):
        out = mask.apply(x, 50, np.random.default_rng(seed))
        zero = out == 0
        # Every value is either kept exactly or zeroed.
        np.testing.assert_array_equal(out[~zero], x[~zero])
        bands = zero.all(axis=0)                     # channels zeroed on every frame
        frames = zero.all(axis=1)                    # frames zeroed on every channel
        # A zero is explained by a masked band or a masked frame.
        assert not (zero & ~bands[None, :] & ~frames[:, None]).any()
        assert sum(length for _, length in _runs(bands)) <= 2 * 5
        for k in range(4):                           # per clip, at most 2 stretches of up to 8 frames
            clip = frames[k * 50:(k + 1) * 50]
            assert sum(length for _, length in _runs(clip)) <= 2 * 8
    assert x.min() > 0  # the input is never modified


def test_masked_amount_matches_the_draws_on_average() -> None:
    x = np.ones((98 * 4, 32), np.float32)
    tm = SpecMask(time_masks=1, time_width=10)
    fm = SpecMask(freq_masks=1, freq_width=6)
    rng = np.random.default_rng(1)
    time_frac = np.mean([(tm.apply(x, 98, rng) == 0).all(axis=1).mean() for _ in range(400)])
    freq_frac = np.mean([(fm.apply(x, 98, rng) == 0).all(axis=0).mean() for _ in range(400)])
    # Widths are uniform on 0..w: mean w / 2 frames per clip, w / 2 channels per sequence.
    assert abs(time_frac - 5 / 98) < 0.01
    assert abs(freq_frac - 3 / 32) < 0.01


def test_deterministic_by_seed_and_off_by_default() -> None:
    x = np.random.default_rng(2).normal(size=(196, 32)).astype(np.float32)
    mask = SpecMask(freq_masks=2, freq_width=4, time_masks=1, time_width=10)
    a = mask.apply(x, 98, np.random.default_rng(7))
    b = mask.apply(x, 98, np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, mask.apply(x, 98, np.random.default_rng(8)))
    assert not SpecMask().active and not SpecMask(freq_masks=3).active and not SpecMask(time_width=9).active
    np.testing.assert_array_equal(SpecMask().apply(x, 98, np.random.default_rng(0)), x)


def test_bad_settings_are_named() -> None:
    with pytest.raises(ValueError, match="freq_masks"):
        SpecMask(freq_masks=-1)
    with pytest.raises(ValueError, match="time_width"):
        SpecMask(time_width=2.5)  # type: ignore[arg-type]
    x = np.ones((20, 8), np.float32)
    with pytest.raises(ValueError, match="freq_width 9 exceeds the 8"):
        SpecMask(freq_masks=1, freq_width=9).apply(x, 10, np.random.default_rng(0))
    with pytest.raises(ValueError, match="time_width 11 exceeds the clip's 10"):
        SpecMask(time_masks=1, time_width=11).apply(x, 10, np.random.default_rng(0))
    clips = np.zeros((4, 10, 8), np.int8)
    with pytest.raises(ValueError, match="time_width 11 exceeds the clip's 10"):  # before any batch is drawn
        sequence_dataset(clips, np.zeros(4, int), {2}, FeatureSpec(), 2, StreamTargets(clips=2, target_frames=2),
                         mask=SpecMask(time_masks=1, time_width=11))
    from keyword_spotting.train_config import load_config

    with pytest.raises(ValueError, match="train.spec_"):
        load_config(None, ["train.stream_clips=4", "train.spec_time_masks=-2"])
    with pytest.raises(ValueError, match="set train.stream_clips"):
        load_config(None, ["train.spec_time_masks=1", "train.spec_time_width=5"])
    cfg = load_config(None, ["train.stream_clips=4", "train.spec_freq_masks=2", "train.spec_freq_width=4"])
    assert cfg.train.spec_mask() == SpecMask(2, 4, 0, 0)


def test_only_training_sequences_are_masked() -> None:
    rng = np.random.default_rng(3)
    x = rng.integers(60, 100, (16, 12, 8)).astype(np.int8)  # codes far from the view's zero point
    y = np.array([0, 2] * 8)
    spec = FeatureSpec()
    targets = StreamTargets(clips=4, target_frames=2, after_frames=1)
    mask = SpecMask(freq_masks=1, freq_width=3, time_masks=1, time_width=4)
    train = sequence_dataset(x, y, {2}, spec, 2, targets, seed=0, mask=mask)
    xb = np.concatenate([b[0] for b in train.as_numpy_iterator()])
    assert (xb == 0).any()
    kept = xb != 0
    assert np.isin(quantize(xb[kept], spec), x).all()
    val = sequence_dataset(x, y, {2}, spec, 2, targets, seed=0, reshuffle=False)
    assert not any((b[0] == 0).any() for b in val.as_numpy_iterator())
    # Masking draws from its own stream: the same sequences as the unmasked pipeline, the kept values equal.
    plain = np.concatenate([b[0] for b in sequence_dataset(x, y, {2}, spec, 2, targets, seed=0)
                            .as_numpy_iterator()])
    np.testing.assert_array_equal(xb[kept], plain[kept])
    assert (plain[~kept] != 0).all()
