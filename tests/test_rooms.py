"""Simulated rooms (RIR bank, reverberation) in the augmentation, and real negative speech cut into clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from keyword_spotting import real_negatives, rooms
from keyword_spotting.audio_io import write_wav
from keyword_spotting.augment import AugmentConfig, Augmenter, mix_at_snr, noise_segment
from keyword_spotting.datasets import Item, SplitDataset


@pytest.fixture(scope="module")
def bank(tmp_path_factory) -> list[np.ndarray]:
    return rooms.rir_bank(6, seed=3, cache_dir=tmp_path_factory.mktemp("rirs"))


def _speechlike(seed: int = 0, n: int = 16000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 16000
    env = np.clip(np.sin(np.pi * t / (n / 16000)), 0, None) ** 2
    return (0.3 * env * (np.sin(2 * np.pi * 180 * t) + 0.3 * rng.standard_normal(n))).astype(np.float32)


def test_bank_is_fixed_by_its_seed_and_cached(bank, tmp_path: Path) -> None:
    again = rooms.rir_bank(6, seed=3, cache_dir=tmp_path)
    assert len(again) == 6 and all(np.array_equal(a, b) for a, b in zip(bank, again, strict=True))
    assert list(tmp_path.glob("rirs-*.npz"))
    other = rooms.rir_bank(2, seed=4)
    assert not np.array_equal(other[0][:500], bank[0][:500])
    for r in bank:
        assert r.dtype == np.float32 and np.max(np.abs(r)) == pytest.approx(1.0)
        assert len(r) <= int(rooms.RoomConfig().max_rir_s * 16000)
        # Reverberant: well over the direct path's energy arrives after it.
        peak = int(np.argmax(np.abs(r)))
        assert np.sum(r[peak + 40:] ** 2) > 0.2 * r[peak] ** 2
    with pytest.raises(ValueError, match="rt60_s"):
        rooms.RoomConfig(rt60_s=(0.9, 0.2))


def test_reverberate_keeps_length_level_and_timing(bank) -> None:
    dry = _speechlike()
    for r in bank:
        wet = rooms.reverberate(dry, r)
        assert wet.shape == dry.shape
        rms = [np.sqrt(np.mean(x.astype(np.float64) ** 2)) for x in (wet, dry)]
        assert rms[0] == pytest.approx(rms[1], rel=1e-3)
        assert not np.allclose(wet, dry, atol=1e-3)
    noisy = np.random.default_rng(9).standard_normal(16000).astype(np.float32) * 0.1  # no periodicity to confuse
    for r in bank:
        wet = rooms.reverberate(noisy, r)
        lag = np.argmax(np.correlate(wet[4000:12000], noisy[4000 - 200:12000 + 200], mode="valid")) - 200
        assert abs(lag) <= 2  # aligned on the direct path: the word stays where it was
    assert not np.any(rooms.reverberate(np.zeros(100, np.float32), bank[0]))


@pytest.mark.parametrize("snr", [-5.0, 0.0, 10.0, 20.0])
def test_room_then_noise_snr_within_half_a_db(bank, snr: float) -> None:
    rng = np.random.default_rng(int(snr) + 10)
    wet = rooms.reverberate(_speechlike(1) * 0.2, bank[int(rng.integers(len(bank)))])
    noise = noise_segment(rng.standard_normal(48000).astype(np.float32) * 0.05, len(wet), rng)
    mixed = mix_at_snr(wet, noise, snr)
    residual = mixed.astype(np.float64) - wet
    measured = 10 * np.log10(np.mean(wet.astype(np.float64) ** 2) / np.mean(residual ** 2))
    assert abs(measured - snr) <= 0.5


def test_augmenter_rooms_deterministic_and_off_by_default(bank) -> None:
    noise = [np.random.default_rng(0).standard_normal(32000).astype(np.float32) * 0.05]
    dry = _speechlike(2)
    plain = Augmenter(noise, AugmentConfig())(dry, 5)
    no_room = Augmenter(noise, AugmentConfig(), rirs=bank)(dry, 5)
    np.testing.assert_array_equal(plain, no_room)  # rir_prob 0: the clips of before
    cfg = AugmentConfig(rir_prob=1.0, noise_prob=0.0, gain_db=(0.0, 0.0), max_shift_ms=0.0)
    a, b = Augmenter(noise, cfg, rirs=bank)(dry, 5), Augmenter(noise, cfg, rirs=bank)(dry, 5)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, dry, atol=1e-3)
    with pytest.raises(ValueError, match="impulse responses"):
        Augmenter(noise, cfg)
    with pytest.raises(ValueError, match="rir_prob"):
        AugmentConfig(rir_prob=1.5)


def test_real_negatives_cut_into_train_clips(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    src = tmp_path / "speech"
    loud = (rng.standard_normal(16000 * 5) * 3000).astype(np.int16)
    loud[16000:32000] = 0  # a silent second is skipped
    write_wav(src / "spk1" / "a.wav", loud)
    write_wav(src / "spk2" / "b.wav", (rng.standard_normal(16000 * 3) * 3000).astype(np.int16))
    noise_dir = tmp_path / "noise"
    write_wav(noise_dir / "n.wav", (rng.standard_normal(16000) * 1000).astype(np.int16))
    sources = real_negatives.gather([str(src)], [str(noise_dir)])
    assert len(sources.negatives) == 2 and len(sources.noise) == 1
    clips = real_negatives.cut_negatives(sources.negatives, tmp_path / "out", max_clips=100)
    assert len(clips) == 4 + 3
    assert len(real_negatives.cut_negatives(sources.negatives, tmp_path / "few", max_clips=3)) == 3
    base = SplitDataset([Item("p.wav", 1, "s")], [Item("v.wav", 1, "v")], [Item("t.wav", 0, "t")],
                        ["negative", "positive"], [])
    ds = real_negatives.add_real_audio(base, sources, tmp_path / "out", max_clips=100)
    assert len(ds.train) == 1 + 7 and ds.val == base.val and ds.test == base.test
    assert all(it.label == 0 and Path(it.path).is_file() for it in ds.train[1:])
    assert ds.noise == [str(noise_dir / "n.wav")]
    with pytest.raises(ValueError, match="empty_dir_x does not exist"):
        real_negatives.gather([str(tmp_path / "empty_dir_x")], [])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty holds no audio"):
        real_negatives.gather([str(tmp_path / "empty")], [])
