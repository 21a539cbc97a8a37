"""perturb: speed, pitch, VTLP, EQ and clipping do what they say on tones; the Augmenter uses them by seed."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import freqz

from keyword_spotting import perturb
from keyword_spotting.augment import AugmentConfig, Augmenter
from keyword_spotting.train_config import DataConfig

SR = 16000


def _tone(freq: float, seconds: float = 1.0, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(SR * seconds)) / SR
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _peak_hz(y: np.ndarray) -> float:
    """Frequency of the strongest component (parabolic interpolation between FFT bins)."""
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y)), 8 * len(y)))
    k = int(np.argmax(spec[1:-1])) + 1
    a, b, c = np.log(spec[k - 1: k + 2] + 1e-12)
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * SR / (8 * len(y))


def _burst(center_s: float = 0.5) -> np.ndarray:
    t = np.arange(SR) / SR
    return (_tone(440.0) * np.exp(-(((t - center_s) / 0.08) ** 2))).astype(np.float32)


def _centroid_s(y: np.ndarray) -> float:
    e = y.astype(np.float64) ** 2
    return float(np.sum(e * np.arange(len(y))) / np.sum(e) / SR)


@pytest.mark.parametrize("factor", [0.85, 0.95, 1.1, 1.15])
def test_speed_scales_frequency_and_keeps_length_and_centre(factor: float) -> None:
    y = perturb.speed(_tone(440.0), factor)
    assert y.shape == (SR,) and y.dtype == np.float32
    assert _peak_hz(y[2000:-2000]) == pytest.approx(440.0 * factor, rel=0.005)
    b = perturb.speed(_burst(0.5), factor)
    assert _centroid_s(b) == pytest.approx(0.5, abs=0.01)  # the word stays where it was
    assert _centroid_s(perturb.speed(_burst(0.7), factor)) == pytest.approx(0.5 + 0.2 / factor, abs=0.01)


@pytest.mark.parametrize("semitones", [-3.0, -1.0, 2.0, 3.0])
def test_pitch_shift_moves_pitch_not_tempo(semitones: float) -> None:
    y = perturb.pitch_shift(_tone(440.0), semitones)
    assert y.shape == (SR,)
    assert _peak_hz(y[2000:-2000]) == pytest.approx(440.0 * 2 ** (semitones / 12), rel=0.01)
    assert _centroid_s(perturb.pitch_shift(_burst(0.6), semitones)) == pytest.approx(0.6, abs=0.01)


def test_vtlp_warp_is_monotone_continuous_and_fixes_the_ends() -> None:
    f = np.linspace(0, SR / 2, 2001)
    for alpha in (0.88, 0.95, 1.05, 1.12):
        w = perturb.vtlp_warp(f, alpha)
        assert w[0] == 0 and w[-1] == pytest.approx(SR / 2)
        assert np.all(np.diff(w) > 0)
        assert np.max(np.abs(np.diff(w))) < 2 * alpha * (f[1] - f[0])  # no jump at the knee
        assert perturb.vtlp_warp(np.array([1000.0]), alpha)[0] == pytest.approx(1000.0 * alpha)


@pytest.mark.parametrize("alpha", [0.88, 0.93, 1.07, 1.12])
def test_vtlp_moves_a_tone_by_alpha_and_keeps_the_level(alpha: float) -> None:
    x = _tone(700.0)
    y = perturb.vtlp(x, alpha)
    assert y.shape == x.shape
    assert _peak_hz(y[2000:-2000]) == pytest.approx(700.0 * alpha, rel=0.01)
    assert np.sqrt(np.mean(y.astype(np.float64) ** 2)) == pytest.approx(np.sqrt(np.mean(x.astype(np.float64) ** 2)),
                                                                        rel=1e-3)


def test_peaking_eq_gain_at_its_centre_and_flat_far_away() -> None:
    for gain in (-8.0, -3.0, 4.0, 8.0):
        b, a = perturb.peaking_biquad(1000.0, gain, 1.0)
        _, h = freqz(b, a, worN=[1000.0, 40.0, 7900.0], fs=SR)
        db = 20 * np.log10(np.abs(h))
        assert db[0] == pytest.approx(gain, abs=1e-6)
        assert abs(db[1]) < 0.2 and abs(db[2]) < 0.5
    y = perturb.random_eq(_tone(440.0), np.random.default_rng(0), max_db=6.0)
    assert y.shape == (SR,) and np.all(np.isfinite(y))
    ratio_db = 20 * np.log10(np.std(y[4000:]) / np.std(_tone(440.0)[4000:]))
    assert abs(ratio_db) <= 3 * 6.0 + 0.1  # at most three bands of +-6 dB


def test_clip_cuts_the_peaks_and_keeps_the_rest() -> None:
    x = _tone(440.0)
    y = perturb.clip(x, 6.0)
    limit = 0.3 * 10 ** (-6 / 20)
    assert np.max(np.abs(y)) == pytest.approx(limit, rel=1e-3)
    small = np.abs(x) < 0.9 * limit
    np.testing.assert_allclose(y[small], x[small], rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(perturb.clip(x, 0.0), x)


def test_bad_ranges_are_refused_with_their_name() -> None:
    with pytest.raises(ValueError, match="speed factor"):
        perturb.speed(_tone(440.0), 3.0)
    with pytest.raises(ValueError, match="VTLP alpha"):
        perturb.vtlp(_tone(440.0), 1.5)
    with pytest.raises(ValueError, match="semitones"):
        perturb.pitch_shift(_tone(440.0), 20.0)
    with pytest.raises(ValueError, match="perturb_prob"):
        AugmentConfig(perturb_prob=1.5)
    with pytest.raises(ValueError, match="speed"):
        AugmentConfig(speed=(1.2, 0.9))
    with pytest.raises(ValueError, match="data.eq_prob"):
        DataConfig(eq_prob=2.0).validate()
    with pytest.raises(ValueError, match="data.clip_prob"):
        DataConfig(clip_prob="often").validate()  # type: ignore[arg-type]


def test_augmenter_perturbs_by_seed_and_leaves_old_configs_alone() -> None:
    noise = [(0.05 * np.random.default_rng(1).standard_normal(3 * SR)).astype(np.float32)]
    clip = _burst(0.5)
    plain = Augmenter(noise, AugmentConfig())
    off = Augmenter(noise, AugmentConfig(perturb_prob=0.0, eq_prob=0.0, clip_prob=0.0))
    on = Augmenter(noise, AugmentConfig(perturb_prob=1.0, eq_prob=1.0, clip_prob=1.0))
    for seed in range(5):
        np.testing.assert_array_equal(plain(clip, seed), off(clip, seed))  # same draws as before perturbations
        a, b = on(clip, seed), on(clip, seed)
        np.testing.assert_array_equal(a, b)
        assert a.shape == clip.shape and np.max(np.abs(a)) <= 32767 / 32768
        assert not np.allclose(a, plain(clip, seed), atol=1e-3)
    assert not np.array_equal(on(clip, 0), on(clip, 1))
    # Perturbed, the tone's pitch moves with the speed / pitch / VTLP draws: not always 440 Hz.
    quiet = Augmenter([], AugmentConfig(perturb_prob=1.0, max_shift_ms=0.0, gain_db=(0.0, 0.0)))
    pitches = [_peak_hz(quiet(_tone(440.0), s)[3000:-3000]) for s in range(6)]
    assert max(pitches) - min(pitches) > 20.0
