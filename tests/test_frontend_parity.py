"""The C++ streaming frontend (tflm_app/frontend, via its `frontend_dump` CLI) against the Python
feature spec (keyword_spotting/features.py): int8 features identical on >= 99.9% of values, never
off by more than 1, on synthetic audio (always) and on real recordings from ../shared/data."""

from __future__ import annotations

import subprocess
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf
from conftest import build_host_target

from keyword_spotting.features import FeatureSpec, _mel_matrix, _window, int8_features

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
MIN_MATCH = 0.999


@pytest.fixture(scope="module")
def dump_exe() -> Path:
    return build_host_target("frontend_dump")


def _write_wav(path: Path, pcm: np.ndarray, sr: int = 16000) -> None:
    sf.write(str(path), pcm, sr, subtype="PCM_16")


def _run(exe: Path, wav: Path, out: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(exe), *args, str(wav), str(out)], capture_output=True, text=True)


def _cpp_features(exe: Path, wav: Path, tmp: Path, spec: FeatureSpec, *args: str) -> np.ndarray:
    out = tmp / (wav.stem + ".bin")
    sets: list[str] = []
    for key, value in spec.to_dict().items():
        if value != getattr(FeatureSpec(), key):
            sets += ["--set", f"{key}={value!r}"]
    r = _run(exe, wav, out, *sets, *args)
    assert r.returncode == 0, f"frontend_dump failed on {wav}: {r.stderr}"
    return np.fromfile(out, np.int8).reshape(-1, spec.num_features)


class _Tally:
    """Accumulates C++ vs Python comparisons."""

    def __init__(self) -> None:
        self.values = 0
        self.equal = 0
        self.max_diff = 0
        self.clips = 0

    def add(self, cpp: np.ndarray, ref: np.ndarray, name: str) -> None:
        assert cpp.shape == ref.shape, f"{name}: C++ {cpp.shape} vs Python {ref.shape}"
        diff = np.abs(cpp.astype(np.int32) - ref.astype(np.int32))
        self.values += diff.size
        self.equal += int((diff == 0).sum())
        self.max_diff = max(self.max_diff, int(diff.max(initial=0)))
        self.clips += 1

    @property
    def rate(self) -> float:
        return self.equal / max(self.values, 1)

    def check(self, label: str) -> None:
        print(f"\n{label}: {self.clips} clips, {self.values} int8 values, match rate {self.rate:.6f} "
              f"({self.values - self.equal} off by one), max |diff| {self.max_diff}")
        assert self.values > 0
        assert self.max_diff <= 1, f"{label}: a value differs by {self.max_diff}"
        assert self.rate >= MIN_MATCH, f"{label}: match rate {self.rate:.6f} < {MIN_MATCH}"


def _synthetic(seconds: float, seed: int) -> np.ndarray:
    """Chirp + tones + noise + silence + full-scale clipping: covers floor, mid and top of the range."""
    rng = np.random.default_rng(seed)
    n = int(seconds * 16000)
    t = np.arange(n) / 16000.0
    y = 0.4 * np.sin(2 * np.pi * (100 + 3000 * t / seconds) * t) + 0.05 * rng.standard_normal(n)
    y[n // 4 : n // 4 + 3000] = 0.0  # exact digital silence
    y[n // 2 : n // 2 + 2000] *= 8.0  # clipped
    y[3 * n // 4 :] *= 0.002  # very quiet
    return np.clip(np.round(y * 32767), -32768, 32767).astype(np.int16)


def test_tables_equal_librosa(dump_exe: Path, tmp_path: Path) -> None:
    wav = tmp_path / "t.wav"
    _write_wav(wav, _synthetic(0.1, 0))
    for spec in (FeatureSpec(), FeatureSpec(n_fft=256, window_samples=201, n_mels=20, fmin=0.0, fmax=7600.0)):
        tables = tmp_path / "tables.f32"
        _cpp_features(dump_exe, wav, tmp_path, spec, "--tables", str(tables))
        t = np.fromfile(tables, np.float32)
        w = spec.window_samples
        pad = (spec.n_fft - w) // 2
        np.testing.assert_array_equal(t[:w], _window(spec)[pad : pad + w])
        np.testing.assert_array_equal(t[w:].reshape(spec.n_mels, -1), _mel_matrix(spec))


@pytest.mark.parametrize(
    "spec",
    [
        FeatureSpec(),
        FeatureSpec(n_mfcc=13),
        FeatureSpec(n_fft=256, window_samples=201, hop_samples=80, n_mels=20, fmin=0.0, fmax=7600.0),
        FeatureSpec(window_samples=480, hop_samples=320, n_mels=40, fmin=60.0, log_floor=1e-4,
                    quant_scale=0.125, quant_offset=-2.0),
        FeatureSpec(channel_norm=1.0, quant_offset=0.0),
        FeatureSpec(n_mfcc=13, channel_norm=0.6, channel_norm_smoothing=0.1),
    ],
    ids=["default", "mfcc13", "nfft256", "other", "channel_norm", "channel_norm_mfcc"],
)
def test_synthetic_parity(dump_exe: Path, tmp_path: Path, spec: FeatureSpec) -> None:
    tally = _Tally()
    for seed in range(3):
        pcm = _synthetic(2.0 + 0.37 * seed, seed)
        wav = tmp_path / f"synth{seed}.wav"
        _write_wav(wav, pcm)
        ref = int8_features(pcm, spec)
        whole = _cpp_features(dump_exe, wav, tmp_path, spec, "--chunk", "0")
        tally.add(whole, ref, wav.name)
        # Streaming in odd chunks emits exactly the same frames as one big chunk.
        for chunk in ("1", "97", "161"):
            streamed = _cpp_features(dump_exe, wav, tmp_path, spec, "--chunk", chunk)
            np.testing.assert_array_equal(streamed, whole)
    tally.check(f"synthetic {spec}")


def test_rejects_other_wav_formats(dump_exe: Path, tmp_path: Path) -> None:
    pcm = _synthetic(0.5, 0)
    cases = {
        "8k.wav": (lambda p: _write_wav(p, pcm, 8000), "16000 Hz"),
        "stereo.wav": (lambda p: sf.write(str(p), np.stack([pcm, pcm], 1), 16000, subtype="PCM_16"), "mono"),
        "float.wav": (lambda p: sf.write(str(p), pcm / 32768.0, 16000, subtype="FLOAT"), "16-bit"),
        "pcm24.wav": (lambda p: sf.write(str(p), pcm, 16000, subtype="PCM_24"), "16-bit"),
        "text.wav": (lambda p: p.write_text("not a wav file"), "RIFF"),
    }
    for name, (make, message) in cases.items():
        path = tmp_path / name
        make(path)
        r = _run(dump_exe, path, tmp_path / "out.bin")
        assert r.returncode != 0, f"{name} was accepted"
        assert message in r.stderr, f"{name}: {r.stderr!r}"
    r = _run(dump_exe, tmp_path / "missing.wav", tmp_path / "out.bin")
    assert r.returncode != 0 and "missing.wav" in r.stderr
    ok = tmp_path / "ok.wav"
    _write_wav(ok, pcm)
    r = _run(dump_exe, ok, tmp_path / "out.bin", "--set", "n_fft=500")
    assert r.returncode != 0 and "n_fft" in r.stderr


def _real_clips() -> list[Path]:
    sc = DATA / "speech_commands_dev"
    clips: list[Path] = []
    for word in ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go", "seven", "marvin"):
        clips += sorted((sc / word).glob("*.wav"))[:3]
    noise = sc / "_background_noise_"
    clips += sorted(noise.glob("clip_*.wav"))[:8]
    clips += [noise / n for n in ("silence_1000ms.wav", "noise_1000ms.wav", "running_tap.wav", "music.wav")]
    clips += sorted((DATA / "negatives" / "speech").glob("*.wav"))[:10]
    clips += sorted((DATA / "fsdd" / "recordings").glob("*.wav"))[:10]
    return [c for c in clips if c.exists()]


def _as_16k_int16(path: Path, tmp: Path) -> Path:
    """The clip itself when it is 16 kHz mono 16-bit, else a temporary converted copy (librosa resampling)."""
    info = sf.info(str(path))
    if info.samplerate == 16000 and info.channels == 1 and info.subtype == "PCM_16":
        return path
    y, _ = librosa.load(str(path), sr=16000, mono=True)
    pcm = np.clip(np.round(y * 32768.0), -32768, 32767).astype(np.int16)
    out = tmp / f"{path.parent.name}_{path.stem}_16k.wav"
    _write_wav(out, pcm)
    return out


@pytest.mark.skipif(not DATA.is_dir(), reason=f"real recordings not present ({DATA} is absent)")
def test_real_recordings_parity(dump_exe: Path, tmp_path: Path) -> None:
    clips = _real_clips()
    assert len(clips) >= 50, f"only {len(clips)} clips found under {DATA}"
    for spec in (FeatureSpec(), FeatureSpec(channel_norm=1.0, quant_offset=0.0)):
        tally = _Tally()
        for clip in clips:
            wav = _as_16k_int16(clip, tmp_path)
            pcm, sr = sf.read(str(wav), dtype="int16")
            assert sr == 16000 and pcm.ndim == 1
            cpp = _cpp_features(dump_exe, wav, tmp_path, spec, "--chunk", "160")
            tally.add(cpp, int8_features(pcm, spec), clip.name)
        tally.check(f"real recordings, channel_norm {spec.channel_norm}")
