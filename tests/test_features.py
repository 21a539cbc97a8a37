"""Tests of the Python feature spec (keyword_spotting/features.py, feature_spec.md)."""

from __future__ import annotations

import json

import librosa
import numpy as np
import pytest

from keyword_spotting.features import (
    FeatureSpec,
    channel_normalize,
    dequantize,
    int8_features,
    log_mel,
    pcm_to_float,
    quantize,
)


def _speechlike(n: int, seed: int = 0) -> np.ndarray:
    """int16 test audio: two gliding tones, noise, a silent gap."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 16000.0
    y = 0.3 * np.sin(2 * np.pi * (300 + 400 * t) * t) + 0.1 * np.sin(2 * np.pi * 2500 * t)
    y += 0.03 * rng.standard_normal(n)
    y[n // 3 : n // 3 + 1600] = 0.0
    return np.clip(np.round(y * 32767), -32768, 32767).astype(np.int16)


@pytest.mark.parametrize(
    ("num_samples", "frames"), [(0, 0), (399, 0), (400, 1), (559, 1), (560, 2), (16000, 98), (16160, 99)]
)
def test_num_frames_and_shapes(num_samples: int, frames: int) -> None:
    spec = FeatureSpec()
    assert spec.num_frames(num_samples) == frames
    feats = log_mel(np.zeros(num_samples, np.int16), spec)
    assert feats.shape == (frames, 32)
    assert feats.dtype == np.float32
    assert int8_features(np.zeros(num_samples, np.int16)).shape == (frames, 32)


def test_silence_is_the_log_floor() -> None:
    spec = FeatureSpec()
    feats = log_mel(np.zeros(16000, np.int16), spec)
    np.testing.assert_allclose(feats, np.log(np.float32(1e-6)), rtol=1e-6)
    # (ln 1e-6 + 1.2) / 0.1 = -126.155 -> -126
    assert np.all(int8_features(np.zeros(16000, np.int16), spec) == -126)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"sample_rate": 0}, "sample_rate"),
        ({"hop_samples": -1}, "hop_samples"),
        ({"window_samples": 600}, "window_samples"),
        ({"window_samples": 0}, "window_samples"),
        ({"n_fft": 500, "window_samples": 400}, "power of two"),
        ({"n_mfcc": 33}, "n_mfcc"),
        ({"n_mfcc": -1}, "n_mfcc"),
        ({"fmin": 9000.0}, "fmin"),
        ({"fmax": 8001.0}, "fmax"),
        ({"fmin": -1.0}, "fmin"),
        ({"quant_scale": 0.0}, "quant_scale"),
        ({"log_floor": 0.0}, "log_floor"),
        ({"channel_norm": -0.1}, "channel_norm"),
        ({"channel_norm": 1.5}, "channel_norm"),
        ({"channel_norm_smoothing": 0.0}, "channel_norm_smoothing"),
        ({"channel_norm_smoothing": 1.01}, "channel_norm_smoothing"),
    ],
)
def test_invalid_specs_name_the_field(fields: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FeatureSpec(**fields)


def test_dict_and_json_round_trip() -> None:
    spec = FeatureSpec(n_mels=40, n_mfcc=13, fmin=0.0, quant_scale=0.25)
    assert FeatureSpec.from_dict(spec.to_dict()) == spec
    assert FeatureSpec.from_dict(json.loads(spec.to_json())) == spec
    assert spec.to_dict()["n_mels"] == 40
    assert spec.num_features == 13
    assert FeatureSpec().num_features == 32
    with pytest.raises(ValueError, match="unknown feature spec fields: \\['n_bins'\\]"):
        FeatureSpec.from_dict({**spec.to_dict(), "n_bins": 3})
    # Contract v1 (channel_norm 0) keeps its v1 dict; a v2 spec carries both fields.
    assert "channel_norm" not in FeatureSpec().to_dict()
    v2 = FeatureSpec(channel_norm=0.5, channel_norm_smoothing=0.05)
    assert v2.to_dict()["channel_norm_smoothing"] == 0.05
    assert FeatureSpec.from_dict(v2.to_dict()) == v2
    with pytest.raises(ValueError, match="n_mfcc"):
        FeatureSpec.from_dict({"n_mfcc": 99})


def test_quantize_rounds_half_away_from_zero_and_clamps() -> None:
    spec = FeatureSpec(quant_scale=0.5, quant_offset=0.0)
    values = np.array([1.25, -1.25, 0.75, -0.25, 0.25, 0.7, -0.7, 0.0, 100.0, -100.0], np.float32)
    # x = v / 0.5:  2.5   -2.5   1.5  -0.5   0.5  1.4  -1.4  0    200   -200
    expected = np.array([3, -3, 2, -1, 1, 1, -1, 0, 127, -128], np.int8)
    np.testing.assert_array_equal(quantize(values, spec), expected)
    assert quantize(values, spec).dtype == np.int8


def test_default_zero_point_and_dequantize() -> None:
    spec = FeatureSpec()
    assert spec.zero_point == 12
    assert quantize(np.zeros(1, np.float32), spec)[0] == 12
    x = np.linspace(-13.5, 11.0, 1001, dtype=np.float32)
    # real = (q - zero_point) * scale recovers x to within half a step inside the int8 range.
    assert np.max(np.abs(dequantize(quantize(x, spec), spec) - x)) <= 0.05 + 1e-5


def test_mfcc_is_orthonormal_dct_of_log_mel() -> None:
    audio = _speechlike(8000)
    mel = log_mel(audio, FeatureSpec())
    full = log_mel(audio, FeatureSpec(n_mfcc=32))
    mfcc = log_mel(audio, FeatureSpec(n_mfcc=13))
    assert mfcc.shape == (mel.shape[0], 13)
    np.testing.assert_allclose(mfcc, full[:, :13], rtol=1e-6, atol=1e-5)
    # Orthonormal: the frame norm is preserved, and c0 is the mean times sqrt(N).
    np.testing.assert_allclose(np.linalg.norm(full, axis=1), np.linalg.norm(mel, axis=1), rtol=1e-5)
    np.testing.assert_allclose(full[:, 0], mel.sum(axis=1) / np.sqrt(32), rtol=1e-5)
    assert int8_features(audio, FeatureSpec(n_mfcc=13)).shape == (mel.shape[0], 13)


def test_int16_and_float_input_agree() -> None:
    audio = _speechlike(4000)
    as_float = audio.astype(np.float32) / 32768.0
    np.testing.assert_array_equal(log_mel(audio), log_mel(as_float))
    np.testing.assert_array_equal(log_mel(audio), log_mel(as_float.astype(np.float64)))
    np.testing.assert_array_equal(pcm_to_float(np.array([-32768, 0, 16384], np.int16)), [-1.0, 0.0, 0.5])
    with pytest.raises(ValueError, match="int16 PCM or float"):
        log_mel(audio.astype(np.int32))
    with pytest.raises(ValueError, match="mono"):
        log_mel(np.zeros((2, 1000), np.int16))


def test_features_respond_to_the_signal() -> None:
    """A 1 kHz tone lights up the mel band around 1 kHz, not the others."""
    t = np.arange(4000) / 16000.0
    tone = np.round(0.5 * 32767 * np.sin(2 * np.pi * 1000 * t)).astype(np.int16)
    feats = log_mel(tone).mean(axis=0)
    centers = librosa.mel_frequencies(34, fmin=20, fmax=8000)[1:-1]
    assert int(np.argmax(feats)) == int(np.argmin(np.abs(centers - 1000)))


def test_streaming_safe_features_at_aligned_frames() -> None:
    """A clip inside a longer stream (at a hop-aligned offset) gets exactly its own features."""
    spec = FeatureSpec()
    clip = _speechlike(16000, seed=1)
    rng = np.random.default_rng(2)
    before = (rng.standard_normal(160 * 37) * 3000).astype(np.int16)
    after = (rng.standard_normal(5000) * 3000).astype(np.int16)
    stream = np.concatenate([before, clip, after])
    k = len(before) // spec.hop_samples
    n = spec.num_frames(len(clip))
    clip_q = int8_features(clip, spec)
    stream_q = int8_features(stream, spec)[k : k + n]
    np.testing.assert_array_equal(stream_q, clip_q)
    np.testing.assert_allclose(log_mel(stream, spec)[k : k + n], log_mel(clip, spec), atol=1e-5)
    # Prefixes of a stream: frames never change once emitted.
    full = int8_features(stream, spec)
    for cut in (400, 4321, 10000):
        prefix = int8_features(stream[:cut], spec)
        assert len(prefix) == spec.num_frames(cut)
        np.testing.assert_array_equal(prefix, full[: len(prefix)])


def test_channel_norm_follows_its_recursion() -> None:
    """feature_spec.md's recursion, written out in float64 on a hand-made sequence."""
    x = np.array([[1.0, -2.0], [3.0, -2.0], [3.0, 6.0], [-1.0, 0.0]], np.float32)
    spec = FeatureSpec(n_mels=2, channel_norm=0.5, channel_norm_smoothing=0.25)
    m = x[0].astype(np.float64)
    want = [x[0] - 0.5 * m]
    for t in range(1, len(x)):
        m = m + 0.25 * (x[t] - m)
        want.append(x[t] - 0.5 * m)
    np.testing.assert_allclose(channel_normalize(x, spec), np.array(want), rtol=1e-6)
    assert channel_normalize(x[:0], spec).shape == (0, 2)


def test_channel_norm_removes_gain_and_microphone_response() -> None:
    """alpha 1: a clip 12 dB quieter, or through a different (fixed) filter, gives the same features
    once the running means have settled; without it every value moves."""
    import scipy.signal

    clip = _speechlike(48000, seed=3).astype(np.float64)
    quiet = np.round(clip / 4).astype(np.int16)
    b, a = scipy.signal.butter(2, 1000, "highpass", fs=16000)  # a thin phone-like microphone
    thin = np.clip(np.round(scipy.signal.lfilter(b, a, clip) * 2), -32768, 32767).astype(np.int16)
    on = FeatureSpec(channel_norm=1.0, quant_offset=0.0)
    ref = int8_features(clip.astype(np.int16), on)[200:].astype(int)
    for other in (quiet, thin):
        diff_on = np.abs(int8_features(other, on)[200:].astype(int) - ref)
        diff_off = np.abs(int8_features(other)[200:].astype(int) - int8_features(clip.astype(np.int16))[200:])
        assert np.median(diff_on) <= 1, np.median(diff_on)
        assert np.median(diff_off) >= 10 * max(np.median(diff_on), 1)


def test_channel_norm_zero_is_contract_v1() -> None:
    pcm = _speechlike(16000)
    np.testing.assert_array_equal(int8_features(pcm, FeatureSpec(channel_norm=0.0, channel_norm_smoothing=0.5)),
                                  int8_features(pcm))
