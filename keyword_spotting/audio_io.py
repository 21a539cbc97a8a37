"""Read any audio file as 16 kHz mono int16 PCM, fix clips to 1 s, write WAVs atomically.

`read_audio` is the project's one reader. It tells the format from the file's first bytes:
- WAV (RIFF/WAVE) is checked chunk by chunk by `check_wav` before decoding, so an empty,
  truncated or non-WAV file raises a `ValueError` naming the file and the problem instead of
  being silently mis-read (libsndfile happily returns the frames it finds in a truncated file).
  A file named `*.wav` without a RIFF/WAVE header is rejected as "not a WAV file".
- FLAC, OGG (Vorbis/Opus) and, where the installed libsndfile has it (>= 1.1), MP3 are
  decoded by libsndfile through soundfile; `audio_info` reads their header, and a file that
  decodes to fewer frames than its header declares is rejected as truncated.
`read_wav` is kept as a name for `read_audio` (callers written before FLAC keep working).

Conversions (all done in float64, then rounded once to int16):
- 8-bit unsigned, 16/24/32-bit signed and 32/64-bit float PCM are scaled to [-1, 1)
  by libsndfile; float samples outside [-1, 1] are clipped.
- Stereo / multi-channel -> mono by averaging the channels.
- Any other sample rate -> `sample_rate` (default 16 kHz) with `librosa.resample` (soxr_hq).

Clip length (`fix_length`): clips shorter than the target are zero-padded at the end (as
TensorFlow's Speech Commands `input_data.py` does); longer clips are trimmed to the window of
the target length with the most energy (hop 10 ms), so a keyword in a long recording is kept.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf

from fastgrnn_tf.atomic_io import atomic_path, atomic_write_bytes  # noqa: F401 (atomic_write_bytes: re-exported)

SAMPLE_RATE = 16000
CLIP_SAMPLES = 16000  # 1 s at 16 kHz

_WAVE_FORMATS = {1: "PCM", 3: "IEEE float", 6: "A-law", 7: "mu-law", 0xFFFE: "extensible"}


def check_wav(path: str | os.PathLike) -> dict:
    """Validate the RIFF/WAVE structure of `path`; return {channels, sample_rate, bits, format, frames}.

    Raises ValueError naming the file for: missing/empty file, not RIFF/WAVE, missing fmt or
    data chunk, a data chunk that extends past the end of the file (truncated), no samples.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    size = path.stat().st_size
    if size == 0:
        raise ValueError(f"{path}: empty file (0 bytes)")
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise ValueError(f"{path}: not a WAV file (no RIFF/WAVE header)")
        fmt = None
        pos = 12
        while True:
            f.seek(pos)
            chunk = f.read(8)
            if len(chunk) < 8:
                break
            cid, csize = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            body_start = pos + 8
            if cid == b"fmt ":
                if csize < 16 or body_start + csize > size:
                    raise ValueError(f"{path}: truncated or malformed fmt chunk")
                tag, channels, rate, _, block_align, bits = struct.unpack("<HHIIHH", f.read(16))
                if channels == 0 or rate == 0 or block_align == 0:
                    raise ValueError(f"{path}: invalid fmt chunk (channels={channels}, rate={rate})")
                fmt = {"channels": channels, "sample_rate": rate, "bits": bits,
                       "format": _WAVE_FORMATS.get(tag, f"0x{tag:04x}"), "block_align": block_align}
            elif cid == b"data":
                if fmt is None:
                    raise ValueError(f"{path}: data chunk before fmt chunk")
                if body_start + csize > size:
                    raise ValueError(
                        f"{path}: truncated: data chunk declares {csize} bytes but only "
                        f"{size - body_start} remain in the file"
                    )
                frames = csize // fmt["block_align"]
                if frames == 0:
                    raise ValueError(f"{path}: WAV has no audio samples")
                info = dict(fmt)
                info.pop("block_align")
                info["frames"] = frames
                return info
            pos = body_start + csize + (csize & 1)
    if fmt is None:
        raise ValueError(f"{path}: WAV has no fmt chunk")
    raise ValueError(f"{path}: WAV has no data chunk (truncated?)")


def float_to_int16(y: np.ndarray) -> np.ndarray:
    """Float audio in [-1, 1) -> int16 PCM (round to nearest, clip)."""
    return np.clip(np.round(np.asarray(y, np.float64) * 32768.0), -32768, 32767).astype(np.int16)


AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3")
_MAGIC = ((b"fLaC", "FLAC"), (b"OggS", "OGG"), (b"ID3", "MP3"))


def _sniff(path: Path) -> str:
    """'WAV', 'FLAC', 'OGG', 'MP3' or 'unknown' from the first bytes of an existing, non-empty file."""
    with open(path, "rb") as f:
        head = f.read(12)
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "WAV"
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:  # MPEG audio frame sync
        return "MP3"
    return "unknown"


def _check_file(path: Path) -> None:
    if not path.is_file():
        raise ValueError(f"{path}: {'a directory, not an audio file' if path.is_dir() else 'no such file'}")
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: empty file (0 bytes)")


def audio_info(path: str | os.PathLike) -> dict:
    """Header of any readable audio file: {format, channels, sample_rate, frames, seconds}.

    WAV goes through `check_wav`; other formats through libsndfile's header reader. Raises
    ValueError naming the file when it is missing, empty, not audio or has no samples.
    """
    path = Path(path)
    _check_file(path)
    kind = _sniff(path)
    if kind == "WAV" or (kind == "unknown" and path.suffix.lower() == ".wav"):
        info = check_wav(path)
        return {"format": "WAV", "channels": info["channels"], "sample_rate": info["sample_rate"],
                "frames": info["frames"], "seconds": info["frames"] / info["sample_rate"]}
    if kind == "MP3" and "MP3" not in sf.available_formats():
        raise ValueError(f"{path}: MP3 needs libsndfile >= 1.1 (this one: {sf.__libsndfile_version__})")
    try:
        info = sf.info(str(path))
    except (RuntimeError, sf.LibsndfileError) as e:
        raise ValueError(f"{path}: not a readable audio file (WAV, FLAC, OGG, MP3; corrupt or truncated?): {e}") from e
    if info.frames <= 0 or info.samplerate <= 0 or info.channels <= 0:
        raise ValueError(f"{path}: {info.format} file has no audio samples")
    return {"format": info.format, "channels": info.channels, "sample_rate": info.samplerate,
            "frames": info.frames, "seconds": info.frames / info.samplerate}


def read_audio(path: str | os.PathLike, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Read a WAV, FLAC, OGG or MP3 file as mono int16 PCM at `sample_rate` (see the module docstring)."""
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    info = audio_info(path)
    kind = info["format"]
    try:
        y, sr = sf.read(str(path), dtype="float64", always_2d=True)
    except (RuntimeError, sf.LibsndfileError) as e:
        raise ValueError(f"{path}: cannot decode {kind} audio (truncated or corrupt?): {e}") from e
    if y.shape[0] == 0:
        raise ValueError(f"{path}: {kind} file has no audio samples")
    if y.shape[0] < info["frames"]:
        raise ValueError(f"{path}: truncated: decoded {y.shape[0]} of {info['frames']} frames")
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{path}: {kind} file contains NaN or infinite samples")
    mono = y.mean(axis=1)
    if sr != sample_rate:
        mono = librosa.resample(mono, orig_sr=sr, target_sr=sample_rate, res_type="soxr_hq")
    return float_to_int16(np.clip(mono, -1.0, 1.0))


read_wav = read_audio  # the name callers used before the reader took FLAC/OGG/MP3


def fix_length(pcm: np.ndarray, num_samples: int = CLIP_SAMPLES, hop: int = 160) -> np.ndarray:
    """Pad with zeros at the end, or trim to the `num_samples` window with the most energy."""
    pcm = np.asarray(pcm)
    if pcm.ndim != 1:
        raise ValueError(f"pcm must be 1-D, got shape {pcm.shape}")
    if num_samples <= 0:
        raise ValueError(f"num_samples must be positive, got {num_samples}")
    n = len(pcm)
    if n == num_samples:
        return pcm.copy()
    if n < num_samples:
        return np.concatenate([pcm, np.zeros(num_samples - n, pcm.dtype)])
    energy = np.concatenate([[0.0], np.cumsum(pcm.astype(np.float64) ** 2)])
    starts = np.arange(0, n - num_samples + 1, hop)
    if starts[-1] != n - num_samples:
        starts = np.append(starts, n - num_samples)
    window_energy = energy[starts + num_samples] - energy[starts]
    start = int(starts[int(np.argmax(window_energy))])
    return pcm[start:start + num_samples].copy()


def load_clip(path: str | os.PathLike, sample_rate: int = SAMPLE_RATE,
              num_samples: int = CLIP_SAMPLES) -> np.ndarray:
    """`read_audio` + `fix_length`: a 1 s 16 kHz mono int16 clip."""
    return fix_length(read_audio(path, sample_rate), num_samples)


def write_wav(path: str | os.PathLike, pcm: np.ndarray, sample_rate: int = SAMPLE_RATE) -> Path:
    """Write mono int16 (or float in [-1, 1], converted) PCM as a 16-bit WAV, atomically.

    The data goes to a temporary file in the same directory which is then renamed over
    `path`, so a reader never sees a half-written WAV.
    """
    path = Path(path)
    pcm = np.asarray(pcm)
    if pcm.ndim != 1 or pcm.size == 0:
        raise ValueError(f"pcm for {path} must be non-empty 1-D audio, got shape {pcm.shape}")
    if np.issubdtype(pcm.dtype, np.floating):
        pcm = float_to_int16(np.clip(pcm, -1.0, 1.0))
    elif pcm.dtype != np.int16:
        raise ValueError(f"pcm for {path} must be int16 or float, got {pcm.dtype}")
    with atomic_path(path) as tmp:
        sf.write(str(tmp), pcm, sample_rate, subtype="PCM_16", format="WAV")
    return path


