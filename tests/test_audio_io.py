"""audio_io: WAV (every flavour), FLAC, OGG, MP3 read as 16 kHz mono int16; bad files named; atomic writes."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from keyword_spotting.audio_io import audio_info, check_wav, fix_length, load_clip, read_audio, read_wav, write_wav

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _sine(n: int, sr: int, freq: float = 440.0, amp: float = 0.5) -> np.ndarray:
    return amp * np.sin(2 * np.pi * freq * np.arange(n) / sr)


def _expected_int16(y: np.ndarray) -> np.ndarray:
    return np.clip(np.round(y * 32768), -32768, 32767).astype(np.int16)


def _raw_wav(path: Path, data: bytes, channels: int, rate: int, bits: int, fmt_tag: int = 1) -> None:
    """A minimal RIFF/WAVE file written by hand, independent of libsndfile's write conversions."""
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", fmt_tag, channels, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


def test_pcm16_exact(tmp_path: Path) -> None:
    pcm = (np.random.default_rng(1).standard_normal(16000) * 5000).astype(np.int16)
    _raw_wav(tmp_path / "a.wav", pcm.astype("<i2").tobytes(), 1, 16000, 16)
    assert np.array_equal(read_wav(tmp_path / "a.wav"), pcm)


def test_unsigned_8bit(tmp_path: Path) -> None:
    raw = np.array([0, 1, 64, 127, 128, 129, 200, 255] * 50, np.uint8)
    _raw_wav(tmp_path / "u8.wav", raw.tobytes(), 1, 16000, 8)
    got = read_wav(tmp_path / "u8.wav")
    assert np.array_equal(got, (raw.astype(np.int16) - 128) * 256)


def test_24bit(tmp_path: Path) -> None:
    vals = np.array([0, 1, 127, 128, 129, -129, 8388607, -8388608, 256000 + 200, -256 * 77] * 40, np.int32)
    data = b"".join(int(v).to_bytes(3, "little", signed=True) for v in vals)
    _raw_wav(tmp_path / "p24.wav", data, 1, 16000, 24)
    got = read_wav(tmp_path / "p24.wav").astype(np.int64)
    want = np.clip(np.round(vals / 256.0), -32768, 32767)
    assert np.array_equal(got, want)


@pytest.mark.parametrize("dtype,bits", [("<f4", 32), ("<f8", 64)])
def test_float_pcm(tmp_path: Path, dtype: str, bits: int) -> None:
    y = _sine(16000, 16000)
    _raw_wav(tmp_path / "f.wav", y.astype(dtype).tobytes(), 1, 16000, bits, fmt_tag=3)
    got = read_wav(tmp_path / "f.wav").astype(np.int32)
    assert np.abs(got - _expected_int16(y.astype(dtype).astype(np.float64))).max() <= 1


def test_libsndfile_written_subtypes_agree(tmp_path: Path) -> None:
    y = _sine(16000, 16000)
    ref = _expected_int16(y).astype(np.int32)
    for subtype, tol in (("PCM_16", 1), ("PCM_24", 1), ("PCM_32", 1), ("FLOAT", 1), ("PCM_U8", 256)):
        path = tmp_path / f"{subtype}.wav"
        sf.write(path, y, 16000, subtype=subtype)
        err = np.abs(read_wav(path).astype(np.int32) - ref).max()
        assert err <= tol, f"{subtype}: max error {err} LSB"


def test_float_wav_out_of_range_is_clipped(tmp_path: Path) -> None:
    path = tmp_path / "loud.wav"
    sf.write(path, np.array([0.0, 2.0, -3.0, 0.5] * 100), 16000, subtype="FLOAT")
    got = read_wav(path)
    assert got.max() == 32767 and got.min() == -32768
    assert got[3] == 16384


def test_stereo_is_averaged(tmp_path: Path) -> None:
    left, right = _sine(8000, 16000, 300, 0.4), _sine(8000, 16000, 700, 0.2)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), 16000, subtype="PCM_16")
    got = read_wav(path).astype(np.int32)
    want = (_expected_int16(left).astype(np.int32) + _expected_int16(right)) / 2
    assert np.abs(got - want).max() <= 1.5  # each channel may be rounded by 1 LSB when written
    stereo = np.stack([np.full(100, 1000, np.int16), np.full(100, -3000, np.int16)], axis=1)
    _raw_wav(tmp_path / "s2.wav", stereo.astype("<i2").tobytes(), 2, 16000, 16)
    assert np.all(read_wav(tmp_path / "s2.wav") == -1000)


def test_8khz_is_resampled_to_16khz(tmp_path: Path) -> None:
    path = tmp_path / "8k.wav"
    sf.write(path, _sine(8000, 8000, 440.0), 8000, subtype="PCM_16")
    got = read_wav(path).astype(np.float64)
    assert len(got) == 16000
    spectrum = np.abs(np.fft.rfft(got * np.hanning(len(got))))
    peak_hz = np.argmax(spectrum) * 16000 / len(got)
    assert abs(peak_hz - 440.0) <= 2.0
    # Amplitude is preserved (no 2x scaling errors).
    assert 0.45 < np.abs(got[1000:-1000]).max() / 32768 < 0.55


def test_empty_file_rejected(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty.wav.*empty"):
        read_wav(path)


def test_non_wav_rejected(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("this is not audio at all, just some text")
    with pytest.raises(ValueError, match=r"notes.wav.*not a WAV"):
        read_wav(path)
    flac = tmp_path / "x.flac"
    sf.write(flac, _sine(1600, 16000), 16000, format="FLAC")
    with pytest.raises(ValueError, match="not a WAV"):
        check_wav(flac)
    assert read_wav is read_audio  # the old name reads every format


def test_truncated_file_rejected(tmp_path: Path) -> None:
    path = tmp_path / "cut.wav"
    sf.write(path, _sine(16000, 16000), 16000, subtype="PCM_16")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cut.wav.*truncated"):
        read_wav(path)
    path.write_bytes(data[:30])  # inside the fmt chunk
    with pytest.raises(ValueError, match="cut.wav"):
        read_wav(path)


def test_header_only_and_missing_files_rejected(tmp_path: Path) -> None:
    path = tmp_path / "hdr.wav"
    sf.write(path, np.zeros(0), 16000, subtype="PCM_16")
    with pytest.raises(ValueError, match=r"hdr.wav.*no audio samples"):
        read_wav(path)
    with pytest.raises(ValueError, match="no such file"):
        read_wav(tmp_path / "missing.wav")


def test_check_wav_reports_format(tmp_path: Path) -> None:
    path = tmp_path / "a.wav"
    sf.write(path, np.zeros((123, 2)), 22050, subtype="PCM_24")
    info = check_wav(path)
    assert info == {"channels": 2, "sample_rate": 22050, "bits": 24, "format": "PCM", "frames": 123}


def test_fix_length_pads_end_and_trims_to_loudest_window() -> None:
    short = np.arange(1, 101, dtype=np.int16)
    out = fix_length(short, 160)
    assert np.array_equal(out[:100], short) and not out[100:].any() and out.dtype == np.int16
    long = np.zeros(48000, np.int16)
    long[30000:31000] = 10000  # a burst 1.9 s in
    out = fix_length(long, 16000)
    assert len(out) == 16000 and np.count_nonzero(out) == 1000
    with pytest.raises(ValueError, match="num_samples"):
        fix_length(short, 0)


def test_write_wav_roundtrip_and_atomic(tmp_path: Path) -> None:
    pcm = (np.random.default_rng(0).standard_normal(16000) * 3000).astype(np.int16)
    path = write_wav(tmp_path / "sub" / "x.wav", pcm)
    assert np.array_equal(read_wav(path), pcm)
    assert sorted(p.name for p in path.parent.iterdir()) == ["x.wav"]  # no temp files left
    # A failing write leaves neither a file nor a temp file.
    with pytest.raises(ValueError, match="bad.wav"):
        write_wav(tmp_path / "bad.wav", pcm.astype(np.int32))
    assert not (tmp_path / "bad.wav").exists()
    # Float input is converted.
    write_wav(tmp_path / "f.wav", np.full(100, 0.5, np.float32))
    assert np.all(read_wav(tmp_path / "f.wav") == 16384)


def test_real_fsdd_8khz_clip() -> None:
    folder = SHARED / "fsdd" / "recordings"
    if not folder.is_dir():
        pytest.skip(f"real recordings not available: {folder} is absent")
    path = folder / "0_george_0.wav"
    info = check_wav(path)
    pcm = read_wav(path)
    assert info["sample_rate"] == 8000 and len(pcm) == 2 * info["frames"]
    clip = load_clip(path)
    assert clip.shape == (16000,) and np.abs(clip).max() > 1000


def _write_or_skip(path: Path, y: np.ndarray, sr: int, fmt: str, subtype: str) -> None:
    if fmt not in sf.available_formats() or subtype not in sf.available_subtypes(fmt):
        pytest.skip(f"libsndfile {sf.__libsndfile_version__} cannot write {fmt}/{subtype}")
    sf.write(path, y, sr, format=fmt, subtype=subtype)


def test_flac_is_lossless(tmp_path: Path) -> None:
    pcm = (np.random.default_rng(2).standard_normal(24000) * 4000).astype(np.int16)
    sf.write(tmp_path / "a.flac", pcm, 16000, format="FLAC", subtype="PCM_16")
    assert np.array_equal(read_audio(tmp_path / "a.flac"), pcm)
    assert audio_info(tmp_path / "a.flac") == {"format": "FLAC", "channels": 1, "sample_rate": 16000,
                                               "frames": 24000, "seconds": 1.5}
    # A FLAC named .wav is read by its content, not its name.
    (tmp_path / "b.wav").write_bytes((tmp_path / "a.flac").read_bytes())
    assert np.array_equal(read_audio(tmp_path / "b.wav"), pcm)


def test_flac_stereo_44k_is_mono_16k(tmp_path: Path) -> None:
    y = np.stack([_sine(44100, 44100, 500, 0.4), _sine(44100, 44100, 500, 0.2)], axis=1)
    sf.write(tmp_path / "s.flac", y, 44100, format="FLAC", subtype="PCM_24")
    got = read_audio(tmp_path / "s.flac").astype(np.float64) / 32768
    assert len(got) == 16000
    peak_hz = np.argmax(np.abs(np.fft.rfft(got * np.hanning(len(got))))) * 16000 / len(got)
    assert abs(peak_hz - 500) <= 2 and 0.28 < np.abs(got[1000:-1000]).max() < 0.32


@pytest.mark.parametrize("fmt,subtype,ext,tol", [("OGG", "VORBIS", "ogg", 0.05),
                                                 ("MP3", "MPEG_LAYER_III", "mp3", 0.05)])
def test_lossy_formats_decode_close(tmp_path: Path, fmt: str, subtype: str, ext: str, tol: float) -> None:
    y = _sine(32000, 16000, 440, 0.5)
    path = tmp_path / f"a.{ext}"
    _write_or_skip(path, y, 16000, fmt, subtype)
    got = read_audio(path).astype(np.float64) / 32768
    assert len(got) == 32000
    assert np.abs(got[2000:-2000] - y[2000:-2000]).max() < tol
    assert audio_info(path)["format"] == fmt


@pytest.mark.parametrize("fmt,subtype,ext", [("FLAC", "PCM_16", "flac"), ("OGG", "VORBIS", "ogg"),
                                             ("MP3", "MPEG_LAYER_III", "mp3")])
def test_truncated_compressed_file_rejected(tmp_path: Path, fmt: str, subtype: str, ext: str) -> None:
    path = tmp_path / f"cut.{ext}"
    _write_or_skip(path, _sine(32000, 16000), 16000, fmt, subtype)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=rf"cut.{ext}.*(truncated|corrupt)"):
        read_audio(path)


def test_bad_compressed_files_rejected(tmp_path: Path) -> None:
    (tmp_path / "e.flac").write_bytes(b"")
    with pytest.raises(ValueError, match=r"e.flac.*empty"):
        read_audio(tmp_path / "e.flac")
    (tmp_path / "t.ogg").write_text("not audio, just text")
    with pytest.raises(ValueError, match=r"t.ogg.*not a readable audio file"):
        read_audio(tmp_path / "t.ogg")
    with pytest.raises(ValueError, match="no such file"):
        read_audio(tmp_path / "missing.flac")
    with pytest.raises(ValueError, match="sample_rate"):
        read_audio(tmp_path / "t.ogg", sample_rate=0)


def test_load_clip_reads_flac(tmp_path: Path) -> None:
    pcm = np.zeros(40000, np.int16)
    pcm[20000:22000] = 9000
    sf.write(tmp_path / "w.flac", pcm, 16000, format="FLAC", subtype="PCM_16")
    clip = load_clip(tmp_path / "w.flac")
    assert clip.shape == (16000,) and np.count_nonzero(clip) == 2000


def test_real_shared_flac_wake_word() -> None:
    folder = SHARED / "wakewords" / "alexa"
    if not folder.is_dir():
        pytest.skip(f"real recordings not available: {folder} is absent")
    path = sorted(folder.glob("*.flac"))[0]
    info = audio_info(path)
    pcm = read_audio(path)
    assert info["format"] == "FLAC" and len(pcm) == info["frames"] * 16000 // info["sample_rate"]
    assert np.abs(pcm).max() > 1000
