"""C++ host runner (`tflm_app/host/kws_host`) vs the Python pipeline (`keyword_spotting/streaming.py`).

The model is random (quantized random FastGRNN + random int8 head): parity does not need a trained
model. The detector threshold is set from the model's own scores so that detections really occur.
"""

from __future__ import annotations

import os
import pathlib
import re
import subprocess

import numpy as np
import pytest
import soundfile as sf
from conftest import build_host_target, seed_for_test

from fastgrnn_tf.int8 import head_oracle
from fastgrnn_tf.int8.head_oracle import random_head
from fastgrnn_tf.int8.quantize import random_int8_params
from keyword_spotting.detector import DetectorParams
from keyword_spotting.features import FeatureSpec, int8_features
from keyword_spotting.kws_model import KwsModel, load_model, save_model
from keyword_spotting.streaming import StreamingPipeline, TimedDetection, frame_scores, run_stream

ROOT = pathlib.Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SC = DATA / "speech_commands_dev"
CLASSES = ("silence", "unknown", "yes", "no")
DETECTION_RE = re.compile(r"detection t=([0-9.]+)s frame=(\d+) class=(\d+) label=(\S+) score=(\d+)")


@pytest.fixture(scope="module")
def kws_host() -> pathlib.Path:
    return build_host_target("kws_host")


@pytest.fixture(scope="module")
def head_replay() -> pathlib.Path:
    return build_host_target("head_replay")


def _read(path: pathlib.Path) -> np.ndarray:
    audio, sr = sf.read(path, dtype="int16")
    assert sr == 16000 and audio.ndim == 1, path
    return audio


def _synthetic_audio(seconds: float, seed: int) -> np.ndarray:
    """Chirps and bursts over noise: speech-like spectral motion without any data files."""
    rng = np.random.default_rng(seed)
    n = int(seconds * 16000)
    t = np.arange(n) / 16000
    sig = 300 * rng.standard_normal(n)
    for start in np.arange(0.3, seconds - 0.6, 0.9):
        m = (t >= start) & (t < start + 0.5)
        f0 = rng.uniform(150, 400)
        sig[m] += 6000 * np.sin(2 * np.pi * (f0 + 800 * (t[m] - start)) * t[m]) * np.hanning(m.sum())
    return np.clip(sig, -32768, 32767).astype(np.int16)


def _long_stream() -> np.ndarray:
    """~9 s: real keyword clips, other words and background noise with gaps, or synthetic audio."""
    if not SC.is_dir():
        return _synthetic_audio(9.0, 5)
    rng = np.random.default_rng(7)
    noise = _read(SC / "_background_noise_" / "clip_1024.wav").astype(np.float64)
    parts = []
    for word in ("yes", "no", "up", "yes", "stop", "no", "left", "yes"):
        clip = _read(sorted((SC / word).glob("*.wav"))[int(rng.integers(0, 20))]).astype(np.float64)
        parts.append(clip)
        parts.append(0.3 * np.resize(noise, int(rng.integers(1000, 6000))))
    stream = np.concatenate(parts) + rng.normal(0, 30, sum(len(p) for p in parts))
    return np.clip(stream, -32768, 32767).astype(np.int16)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """A random two-layer-head model whose detector threshold makes it fire a few times."""
    step, _ = random_int8_params(32, 48, 12, 16, keep=0.5, seed=11, input_zero_point=FeatureSpec().zero_point)
    layers, logit_scale, logit_zp = random_head(48, len(CLASSES), hidden=(24,), seed=4)
    det = DetectorParams(keywords=(2, 3), window_frames=8, threshold=0, refractory_frames=25)
    model = KwsModel(step, layers, logit_scale, logit_zp, FeatureSpec(), det, CLASSES)
    scores = run_stream(model, _long_stream()).scores
    kernel = np.ones(det.window_frames) / det.window_frames
    smooth = max(np.convolve(scores[:, k], kernel, "valid").max() for k in det.keywords)
    mean = max(scores[:, k].mean() for k in det.keywords)
    model.detector = DetectorParams(keywords=(2, 3), window_frames=8, threshold=int((smooth + mean) / 2),
                                    refractory_frames=25)
    path = tmp_path_factory.mktemp("model") / "random.fgb"
    save_model(path, model)
    return path


def _run_host(exe: pathlib.Path, model: pathlib.Path, tmp: pathlib.Path, *args: str,
              wav: pathlib.Path | None = None) -> tuple[list[TimedDetection], np.ndarray, np.ndarray, str]:
    scores_path, feats_path = tmp / "scores.txt", tmp / "feats.txt"
    cmd = [str(exe), "--model", str(model), "--scores", str(scores_path), *args]
    if wav is not None:
        cmd += ["--wav", str(wav), "--features", str(feats_path)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines and lines[-1].startswith("summary frames="), res.stdout
    dets = []
    for line in lines[:-1]:
        m = DETECTION_RE.fullmatch(line)
        assert m, f"unexpected output line {line!r}"
        dets.append(TimedDetection(int(m[2]), int(m[3]), m[4], int(m[5]), float(m[1])))
    scores = np.loadtxt(scores_path, dtype=np.int64, ndmin=2)
    feats = np.loadtxt(feats_path, dtype=np.int64, ndmin=2) if wav is not None else np.zeros((0, 0))
    return dets, scores, feats, lines[-1]


def _assert_scores_match(cpp: np.ndarray, py: np.ndarray, what: str = "scores") -> None:
    """Equal, except that detector_spec.md lets expf vs numpy's exp move a boundary score by 1."""
    assert cpp.shape == py.shape, f"{what}: shape {cpp.shape} != {py.shape}"
    diff = np.abs(cpp.astype(np.int64) - py.astype(np.int64))
    assert diff.max(initial=0) <= 1 and np.mean(diff != 0) <= 0.001, \
        f"{what}: {int(np.sum(diff != 0))} of {diff.size} differ, max {diff.max()}"


def _rounded(dets: list[TimedDetection]) -> list[TimedDetection]:
    """Python detections with the time printed as the C++ runner prints it (3 decimals)."""
    return [TimedDetection(d.frame, d.class_index, d.label, d.score, float(f"{d.time_s:.3f}")) for d in dets]


def _check_stream(exe: pathlib.Path, model_path: pathlib.Path, audio: np.ndarray, tmp: pathlib.Path,
                  chunk: int = 512) -> int:
    """C++ vs Python on one stream; returns the number of detections."""
    wav = tmp / "in.wav"
    sf.write(wav, audio, 16000, subtype="PCM_16")
    model = load_model(model_path)
    dets, scores, feats, summary = _run_host(exe, model_path, tmp, "--chunk", str(chunk), wav=wav)
    py = run_stream(model, audio)
    assert feats.shape == py.features.shape
    # The frontend contract allows rare +-1 feature differences; the model part must then still be exact.
    assert np.mean(feats != py.features) <= 0.001
    on_cpp_feats = frame_scores(model, feats.astype(np.int8))
    _assert_scores_match(scores, on_cpp_feats, "model part on C++ features")
    _assert_scores_match(scores, py.scores, "end-to-end scores")
    assert dets == _rounded(py.detections)
    seconds = len(audio) / 16000
    assert summary == f"summary frames={len(py.scores)} detections={len(dets)} audio={seconds:.3f}s"
    return len(dets)


# ----------------------------------------------------------------------------------------------
def test_head_matches_head_oracle(head_replay: pathlib.Path, model_file: pathlib.Path,
                                  tmp_path: pathlib.Path) -> None:
    model = load_model(model_file)
    rng = np.random.default_rng(0)
    hidden = rng.integers(-128, 128, size=(300, model.step.units)).astype(np.int8)
    hidden[0], hidden[1], hidden[2] = -128, 127, 0
    path = tmp_path / "hidden.txt"
    np.savetxt(path, hidden, fmt="%d")
    res = subprocess.run([str(head_replay), str(model_file), str(path)], capture_output=True, text=True,
                         check=True)
    rows = [line.split(";") for line in res.stdout.splitlines()]
    logits = np.array([r[0].split() for r in rows], np.int64)
    scores = np.array([r[1].split() for r in rows], np.int64)
    py_logits = head_oracle.run_head(model.head, hidden)
    assert np.array_equal(logits, py_logits)
    assert len(np.unique(logits[:, 2])) > 10, "logits barely vary: the comparison would be weak"
    py_scores = np.stack([head_oracle.scores(r, model.logit_scale, model.logit_zero_point)
                          for r in py_logits])
    _assert_scores_match(scores, py_scores)


def test_long_stream_matches_python(kws_host: pathlib.Path, model_file: pathlib.Path,
                                    tmp_path: pathlib.Path) -> None:
    audio = _long_stream()
    assert len(audio) > 5 * 16000
    assert _check_stream(kws_host, model_file, audio, tmp_path) >= 2


def test_channel_norm_bundle_matches_python(kws_host: pathlib.Path, model_file: pathlib.Path,
                                           tmp_path: pathlib.Path) -> None:
    """Feature contract v2: a bundle whose features normalize each channel; kws_host reads the two fields
    and its frontend, the Python reference and the C ABI frontend agree on a long stream."""
    import dataclasses

    from keyword_spotting.device_frontend import device_int8_features

    build_host_target("kws_frontend")
    spec = FeatureSpec(channel_norm=1.0, channel_norm_smoothing=0.05, quant_offset=0.0)
    path = tmp_path / "norm.fgb"
    save_model(path, dataclasses.replace(load_model(model_file), features=spec))
    assert load_model(path).features == spec
    audio = _long_stream()
    _check_stream(kws_host, path, audio, tmp_path)
    device = device_int8_features(audio, spec)
    assert np.mean(device != int8_features(audio, spec)) <= 0.001
    assert np.mean(device != device_int8_features(audio)) > 0.5  # the normalization really is on


@pytest.mark.parametrize("chunk", [1, 160, 333, 4096])
def test_chunk_size_does_not_matter(kws_host: pathlib.Path, model_file: pathlib.Path, tmp_path: pathlib.Path,
                                    chunk: int) -> None:
    audio = _long_stream()[: 3 * 16000]
    wav = tmp_path / "in.wav"
    sf.write(wav, audio, 16000, subtype="PCM_16")
    ref = _run_host(kws_host, model_file, tmp_path, "--chunk", "512", wav=wav)
    got = _run_host(kws_host, model_file, tmp_path, "--chunk", str(chunk), wav=wav)
    assert got[0] == ref[0] and np.array_equal(got[1], ref[1]) and got[3] == ref[3]


@pytest.mark.skipif(not SC.is_dir(), reason=f"real recordings not available at {SC}")
def test_real_clips_match_python(kws_host: pathlib.Path, model_file: pathlib.Path,
                                 tmp_path: pathlib.Path) -> None:
    clips = [sorted((SC / w).glob("*.wav"))[i] for w in ("yes", "no", "stop", "yes") for i in (3,)]
    clips.append(SC / "_background_noise_" / "clip_1037.wav")
    for clip in clips:
        audio = _read(clip)
        _check_stream(kws_host, model_file, audio, tmp_path)


def test_features_in_mode_matches(kws_host: pathlib.Path, model_file: pathlib.Path,
                                   tmp_path: pathlib.Path) -> None:
    model = load_model(model_file)
    rng = np.random.default_rng(3)
    feats = rng.integers(-128, 128, size=(400, model.step.input_dim)).astype(np.int8)
    path = tmp_path / "feats_in.txt"
    np.savetxt(path, feats, fmt="%d")
    dets, scores, _, _ = _run_host(kws_host, model_file, tmp_path, "--features-in", str(path))
    py = run_stream(model, np.zeros(0, np.int16), feats=feats)
    _assert_scores_match(scores, py.scores)
    assert dets == _rounded(py.detections)


def test_python_streaming_pipeline_equals_offline(model_file: pathlib.Path) -> None:
    model = load_model(model_file)
    audio = _long_stream()[: 4 * 16000]
    offline = run_stream(model, audio)
    live = StreamingPipeline(model)
    rng = np.random.default_rng(1)
    got, pos = [], 0
    while pos < len(audio):
        n = int(rng.integers(1, 2000))
        got += live.push(audio[pos: pos + n])
        pos += n
    assert live.frames_seen == len(offline.scores)
    assert got == offline.detections and len(got) > 0


def test_model_round_trip(model_file: pathlib.Path, tmp_path: pathlib.Path) -> None:
    model = load_model(model_file)
    path = tmp_path / "again.fgb"
    save_model(path, model)
    assert path.read_bytes() == model_file.read_bytes()
    assert model.classes == CLASSES and model.features == FeatureSpec()


# ----------------------------------------------------------------------------------------------
def _bad_wavs(tmp: pathlib.Path) -> dict[str, tuple[pathlib.Path, str]]:
    """name -> (file, text the error must contain)."""
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(8000) * 1000).astype(np.int16)
    out = {}
    p = tmp / "stereo.wav"
    sf.write(p, np.stack([x, x], axis=1), 16000, subtype="PCM_16")
    out["stereo"] = (p, "2 channels")
    p = tmp / "rate8k.wav"
    sf.write(p, x, 8000, subtype="PCM_16")
    out["8khz"] = (p, "8000 Hz")
    p = tmp / "u8.wav"
    sf.write(p, x, 16000, subtype="PCM_U8")
    out["8bit"] = (p, "8 bits per sample")
    p = tmp / "float.wav"
    sf.write(p, x / 32768.0, 16000, subtype="FLOAT")
    out["float"] = (p, "not integer PCM")
    good = tmp / "good.wav"
    sf.write(good, x, 16000, subtype="PCM_16")
    p = tmp / "truncated.wav"
    p.write_bytes(good.read_bytes()[:-101])
    out["truncated"] = (p, "truncated")
    p = tmp / "empty.wav"
    p.write_bytes(b"")
    out["empty"] = (p, "empty")
    p = tmp / "nosamples.wav"
    sf.write(p, x[:0], 16000, subtype="PCM_16")
    out["no samples"] = (p, "no samples")
    p = tmp / "text.wav"
    p.write_text("hello, I am not a wav file\n")
    out["not riff"] = (p, "not a RIFF/WAVE")
    return out


def test_bad_wavs_rejected(kws_host: pathlib.Path, model_file: pathlib.Path, tmp_path: pathlib.Path) -> None:
    for name, (path, expected) in _bad_wavs(tmp_path).items():
        cmd = [str(kws_host), "--model", str(model_file), "--wav", str(path)]
        res = subprocess.run(cmd, capture_output=True, text=True)
        assert res.returncode == 2, f"{name}: exit {res.returncode}, stdout {res.stdout!r}"
        assert str(path) in res.stderr and expected in res.stderr, f"{name}: {res.stderr!r}"


def test_wav_with_extra_chunks_accepted(kws_host: pathlib.Path, model_file: pathlib.Path,
                                        tmp_path: pathlib.Path) -> None:
    """A LIST chunk (odd size, padded) before `fmt ` and one after `data` change nothing."""
    x = _synthetic_audio(1.0, 2)
    plain = tmp_path / "plain.wav"
    sf.write(plain, x, 16000, subtype="PCM_16")
    raw = plain.read_bytes()
    assert raw[12:16] == b"fmt "
    extra = b"LIST" + (5).to_bytes(4, "little") + b"INFOx\x00"
    body = raw[12:] + b"junk" + (3).to_bytes(4, "little") + b"abc\x00"
    fancy = tmp_path / "fancy.wav"
    fancy.write_bytes(b"RIFF" + (4 + len(extra) + len(body)).to_bytes(4, "little") + b"WAVE" + extra + body)
    a = _run_host(kws_host, model_file, tmp_path, wav=plain)
    b = _run_host(kws_host, model_file, tmp_path, wav=fancy)
    assert a[0] == b[0] and np.array_equal(a[1], b[1]) and len(a[1]) == 98


def test_bad_model_rejected(kws_host: pathlib.Path, model_file: pathlib.Path, tmp_path: pathlib.Path) -> None:
    from fastgrnn_tf.export import bundle as fgb

    arrays = fgb.read_bundle(model_file)
    del arrays["head.logit_scale"]
    broken = tmp_path / "broken.fgb"
    fgb.write_bundle(broken, arrays)
    wav = tmp_path / "x.wav"
    sf.write(wav, _synthetic_audio(0.5, 1), 16000, subtype="PCM_16")
    cmd = [str(kws_host), "--model", str(broken), "--wav", str(wav)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 2 and "head.logit_scale" in res.stderr and str(broken) in res.stderr
    with pytest.raises(ValueError, match="head.logit_scale"):
        load_model(broken)


def test_exported_tflite_runs_identically(kws_host: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """Keras model -> custom-op .tflite -> (Python pipeline from the .tflite) == (kws_host on its .fgb)."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    import tf_keras as keras

    from fastgrnn_tf import FastGRNNCell
    from fastgrnn_tf.export.custom_op import export_custom_tflite
    from fastgrnn_tf.export.model_bundle import ModelBundle, write_model_bundle
    from fastgrnn_tf.export.tflite_reader import read_exported
    from fastgrnn_tf.int8.quantize import random_int8_inputs

    keras.utils.set_random_seed(seed_for_test(0))
    inp = keras.Input((None, 32))
    x = keras.layers.RNN(FastGRNNCell(24, w_rank=8, u_rank=8))(inp)
    x = keras.layers.Dense(16, activation="relu")(x)
    out = keras.layers.Softmax()(keras.layers.Dense(len(CLASSES))(x))
    calib = random_int8_inputs(32, 50, 8, 1, FeatureSpec().zero_point)
    tflite = tmp_path / "model.tflite"
    tflite.write_bytes(export_custom_tflite(keras.Model(inp, out), calib_features=calib, time_steps=1,
                                            calibrate=True).tflite)
    audio = _long_stream()[: 5 * 16000]
    probe = DetectorParams(keywords=(1, 2, 3), window_frames=5, threshold=0)
    with pytest.raises(ValueError, match="classes"):
        load_model(tflite)
    scores = run_stream(load_model(tflite, detector=probe, classes=CLASSES), audio).scores
    det = DetectorParams(keywords=(1, 2, 3), window_frames=5, refractory_frames=20,
                         threshold=int(np.percentile(scores[:, 1:], 97)))
    write_model_bundle(tmp_path / "model.fgb", ModelBundle.from_model(read_exported(tflite), FeatureSpec().to_dict(),
                                                                      det.to_dict(), CLASSES))
    py = run_stream(load_model(tflite, detector=det, classes=CLASSES), audio)
    wav = tmp_path / "in.wav"
    sf.write(wav, audio, 16000, subtype="PCM_16")
    dets, cpp_scores, feats, _ = _run_host(kws_host, tmp_path / "model.fgb", tmp_path, wav=wav)
    assert np.mean(feats != py.features) <= 0.001
    _assert_scores_match(cpp_scores, py.scores)
    assert dets == _rounded(py.detections) and len(dets) > 0


def test_inconsistent_model_rejected(model_file: pathlib.Path) -> None:
    import dataclasses

    model = load_model(model_file)
    with pytest.raises(ValueError, match="classes"):
        dataclasses.replace(model, classes=CLASSES[:3])
    with pytest.raises(ValueError, match="input_dim"):
        dataclasses.replace(model, features=FeatureSpec(n_mels=40))
    with pytest.raises(ValueError, match="keywords"):
        dataclasses.replace(model, detector=DetectorParams(keywords=(4,)))
    with pytest.raises(ValueError, match="feats must be int8"):
        frame_scores(model, np.zeros((3, 31), np.int8))
    with pytest.raises(ValueError, match="model file not found"):
        load_model(model_file.parent / "missing.fgb")


def test_python_cli_prints_what_kws_host_prints(kws_host: pathlib.Path, model_file: pathlib.Path,
                                                tmp_path: pathlib.Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    from keyword_spotting.pipeline import main

    wav = tmp_path / "long.wav"
    sf.write(wav, _long_stream(), 16000, subtype="PCM_16")
    cpp = subprocess.run([str(kws_host), "--model", str(model_file), "--wav", str(wav)], capture_output=True,
                         text=True, check=True).stdout
    assert main(["--model", str(model_file), "--wav", str(wav)]) == 0
    assert capsys.readouterr().out == cpp and cpp.count("detection t=") >= 2
    bad = tmp_path / "stereo.wav"
    sf.write(bad, np.zeros((100, 2), np.int16), 16000, subtype="PCM_16")
    assert main(["--model", str(model_file), "--wav", str(bad)]) == 2
    assert "2 channels" in capsys.readouterr().err


@pytest.fixture(scope="module")
def device_frontend_lib() -> pathlib.Path:
    """The C++ frontend's shared library (what the Python pipeline uses for the device's features)."""
    from keyword_spotting import device_frontend

    build_host_target("kws_frontend")
    assert device_frontend.available(), f"{device_frontend.library_path()} does not load"
    return device_frontend.library_path()


def _minutes_stream(minutes: float, seed: int) -> np.ndarray:
    """Minutes of keyword and other-word clips over background noise (real recordings), else synthetic."""
    if not SC.is_dir():
        return _synthetic_audio(60 * minutes, seed)
    rng = np.random.default_rng(seed)
    words = [d for d in sorted(SC.iterdir()) if d.is_dir() and not d.name.startswith("_")]
    noise = np.concatenate([_read(p) for p in sorted((SC / "_background_noise_").glob("*.wav"))[:3]]).astype(float)
    parts, total = [], 0
    while total < minutes * 60 * 16000:
        clips = sorted(words[int(rng.integers(0, len(words)))].glob("*.wav"))
        clip = _read(clips[int(rng.integers(0, len(clips)))]).astype(np.float64) * rng.uniform(0.3, 1.5)
        gap = int(rng.integers(2000, 20000))
        start = int(rng.integers(0, len(noise) - gap))
        parts += [clip, rng.uniform(0.05, 0.5) * noise[start:start + gap]]
        total += len(clip) + gap
    return np.clip(np.concatenate(parts), -32768, 32767).astype(np.int16)


def test_minutes_long_stream_detections_identical_with_the_device_frontend(
        kws_host: pathlib.Path, model_file: pathlib.Path, device_frontend_lib: pathlib.Path,
        tmp_path: pathlib.Path) -> None:
    """A 3-minute stream: the Python pipeline on the device's frontend (`frontend="device"`) gives kws_host's
    features, scores and detections exactly, offline and when fed in odd-sized chunks; the reference
    frontend stays within the feature spec's tolerance."""
    audio = _minutes_stream(3.0, 21)
    wav = tmp_path / "long.wav"
    sf.write(wav, audio, 16000, subtype="PCM_16")
    model = load_model(model_file)
    dets, scores, feats, _ = _run_host(kws_host, model_file, tmp_path, "--chunk", "1000", wav=wav)
    py = run_stream(model, audio, frontend="device")
    assert py.frontend == "device"
    np.testing.assert_array_equal(feats, py.features)
    _assert_scores_match(scores, py.scores)
    assert dets == _rounded(py.detections) and len(dets) >= 5
    live = StreamingPipeline(model, frontend="device")
    rng, live_dets, i = np.random.default_rng(0), [], 0
    while i < len(audio):
        n = int(rng.integers(1, 3000))
        live_dets += live.push(audio[i:i + n])
        i += n
    assert live_dets == py.detections
    ref = run_stream(model, audio, frontend="reference")
    off = float(np.mean(ref.features != py.features))
    print(f"3-min stream: {len(dets)} detections identical (device frontend); reference frontend features "
          f"off by 1 on {100 * off:.5f}% of values, its detections {len(ref.detections)}")
    assert off <= 0.001 and np.abs(ref.features.astype(int) - py.features).max(initial=0) <= 1
