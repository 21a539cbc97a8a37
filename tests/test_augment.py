"""augment: deterministic by seed, requested SNR achieved (measured), shift and gain exact."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from keyword_spotting.audio_io import float_to_int16, load_clip, read_wav
from keyword_spotting.augment import (
    AugmentConfig,
    Augmenter,
    apply_gain,
    load_noise_clips,
    mix_at_snr,
    noise_segment,
    render_silence,
    time_shift,
)

SC_DEV = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "speech_commands_dev"


def _speechlike(seed: int = 0) -> np.ndarray:
    """A 1 s tone burst with silence around it, like a keyword clip."""
    t = np.arange(16000) / 16000
    env = np.exp(-(((t - 0.5) / 0.12) ** 2))
    rng = np.random.default_rng(seed)
    y = 0.3 * env * np.sin(2 * np.pi * 220 * t) * (1 + 0.3 * rng.standard_normal(16000))
    return y.astype(np.float32)


def _noise(seed: int = 1, n: int = 48000) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)


def _measured_snr(out: np.ndarray, clean: np.ndarray) -> float:
    """SNR of `out` w.r.t. the clean clip, allowing for an overall scale (clip protection, gain)."""
    out = out.astype(np.float64)
    clean = clean.astype(np.float64)
    alpha = out @ clean / (clean @ clean)
    resid = out - alpha * clean
    return 10 * np.log10(np.sum((alpha * clean) ** 2) / np.sum(resid**2))


@pytest.mark.parametrize("snr", [-5.0, 0.0, 5.0, 10.0, 20.0, 30.0])
def test_mix_at_snr_exact_after_int16(snr: float) -> None:
    s = _speechlike()
    seg = noise_segment(_noise(), 16000, np.random.default_rng(0))
    mix = float_to_int16(mix_at_snr(s, seg, snr)).astype(np.float64) / 32768
    noise_part = mix - s
    achieved = 10 * np.log10(np.mean(s.astype(np.float64) ** 2) / np.mean(noise_part**2))
    assert abs(achieved - snr) < 0.5, f"asked {snr} dB, got {achieved:.2f} dB"


def test_mix_at_snr_keeps_snr_when_scaling_down_to_avoid_clipping() -> None:
    s = _speechlike() * 3.0  # peak ~0.9+
    seg = noise_segment(_noise(), 16000, np.random.default_rng(0))
    mix = mix_at_snr(s, seg, -5.0)
    assert np.abs(mix).max() <= 1.0
    assert abs(_measured_snr(mix, s) - (-5.0)) < 0.5


@pytest.mark.parametrize("snr", [0.0, 7.5, 15.0])
def test_augmenter_achieves_requested_snr(snr: float) -> None:
    cfg = AugmentConfig(max_shift_ms=0, noise_prob=1.0, snr_db=(snr, snr), gain_db=(0, 0))
    aug = Augmenter([_noise(2), _noise(3)], cfg)
    s = _speechlike()
    for seed in range(3):
        out = aug(s, seed)
        assert abs(_measured_snr(out, s) - snr) < 0.5


def test_augmenter_snr_on_real_speech_and_noise() -> None:
    if not SC_DEV.is_dir():
        pytest.skip(f"real recordings not available: {SC_DEV} is absent")
    speech = load_clip(SC_DEV / "yes" / sorted(p.name for p in (SC_DEV / "yes").glob("*.wav"))[0])
    bg = SC_DEV / "_background_noise_"
    noise = load_noise_clips([bg / "running_tap.wav", bg / "doing_the_dishes.wav"])
    clean = speech.astype(np.float32) / 32768
    for snr in (0.0, 10.0, 20.0):
        cfg = AugmentConfig(max_shift_ms=0, noise_prob=1.0, snr_db=(snr, snr), gain_db=(0, 0))
        aug = Augmenter(noise, cfg)
        out = float_to_int16(aug(speech, 7)).astype(np.float32) / 32768
        assert abs(_measured_snr(out, clean) - snr) < 0.5


def test_same_seed_same_output_different_seed_different() -> None:
    aug = Augmenter([_noise(4)], AugmentConfig())
    s = _speechlike()
    a, b = aug(s, 123), aug(s, 123)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, aug(s, 124))
    g1, g2 = np.random.default_rng(9), np.random.default_rng(9)
    assert np.array_equal(aug(s, g1), aug(s, g2))
    outs = {aug(s, k).tobytes() for k in range(10)}
    assert len(outs) == 10


def test_augmenter_output_range_and_gain_range() -> None:
    cfg = AugmentConfig(max_shift_ms=0, noise_prob=0.0, gain_db=(6.0, 6.0))
    s = _speechlike() * 0.5  # peak < 0.5: +6 dB does not clip
    out = Augmenter([], cfg)(s, 0)
    assert np.allclose(out, s * 10 ** (6 / 20), atol=1e-6)
    loud = Augmenter([], AugmentConfig(gain_db=(30.0, 30.0)))(s, 0)
    assert np.abs(loud).max() <= 1.0


def test_time_shift_and_gain() -> None:
    a = np.arange(1, 11, dtype=np.float32)
    assert np.array_equal(time_shift(a, 3), [0, 0, 0, 1, 2, 3, 4, 5, 6, 7])
    assert np.array_equal(time_shift(a, -2), [3, 4, 5, 6, 7, 8, 9, 10, 0, 0])
    assert not time_shift(a, 20).any()
    pcm = np.array([16384, -16384], np.int16)
    assert np.allclose(apply_gain(pcm, -6.0206), [0.25, -0.25], atol=1e-4)
    cfg = AugmentConfig(max_shift_ms=50, noise_prob=0.0, gain_db=(0, 0))
    aug = Augmenter([], cfg)
    impulse = np.zeros(16000, np.float32)
    impulse[8000] = 0.5
    shifts = {int(np.argmax(aug(impulse, k))) - 8000 for k in range(50)}
    assert max(abs(x) for x in shifts) <= 800 and len(shifts) > 10


def test_silent_input_becomes_noise() -> None:
    aug = Augmenter([_noise(5)], AugmentConfig(noise_prob=0.0))
    out = aug(np.zeros(16000, np.int16), 3)
    assert np.abs(out).max() > 0
    rs = render_silence([_noise(5)], 16000, np.random.default_rng(0))
    assert rs.shape == (16000,) and rs.dtype == np.float32
    assert not render_silence([], 100, np.random.default_rng(0)).any()


def test_noise_segment_tiles_short_noise() -> None:
    seg = noise_segment(np.ones(100, np.float32), 1000, np.random.default_rng(0))
    assert seg.shape == (1000,) and np.all(seg == 1)


def test_bad_config_and_inputs() -> None:
    with pytest.raises(ValueError, match="noise_prob"):
        AugmentConfig(noise_prob=1.5)
    with pytest.raises(ValueError, match="snr_db"):
        AugmentConfig(snr_db=(10, 0))
    with pytest.raises(ValueError, match="max_shift_ms"):
        AugmentConfig(max_shift_ms=-1)
    with pytest.raises(ValueError, match="shape"):
        mix_at_snr(np.ones(10), np.ones(11), 0.0)
    with pytest.raises(ValueError, match="non-silent"):
        mix_at_snr(np.zeros(10), np.ones(10), 0.0)


def test_load_noise_clips_drops_silent(tmp_path: Path) -> None:
    from keyword_spotting.audio_io import write_wav

    write_wav(tmp_path / "quiet.wav", np.zeros(1000, np.int16))
    write_wav(tmp_path / "hiss.wav", float_to_int16(_noise(6, 1000)))
    clips = load_noise_clips([tmp_path / "quiet.wav", tmp_path / "hiss.wav"])
    assert len(clips) == 1 and np.allclose(clips[0], read_wav(tmp_path / "hiss.wav") / 32768)
