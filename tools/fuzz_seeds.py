"""Valid seed files for the Python fuzz test and the bad-input table: models the exporter writes, audio
soundfile writes, and short cuts of real recordings from ../shared/data when present.

    tflite = tflite_seeds()      # {name: bytes} custom-op `.tflite` models (dense, bitmap-sparse, 2-layer head)
    fgb = fgb_seeds()            # {name: bytes} whole-model `.fgb` bundles
    audio = audio_seeds()        # {name.ext: bytes} WAV (PCM 8/16/24-bit, float, stereo, 8 kHz), FLAC, OGG

Everything is made in memory with fixed seeds, so two calls give the same bytes.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def _head_tflite(units: int, classes: int, hidden: int, seed: int) -> bytes:
    """An int8 head `.tflite` (1 or 2 FULLY_CONNECTED layers) converted by TFLite from random weights."""
    from fastgrnn_tf.export.custom_op import convert_head  # TensorFlow: only when a .tflite is wanted

    rng = np.random.default_rng(seed)
    dims = [units, hidden, classes] if hidden else [units, classes]
    spec = [(rng.normal(0, 0.3, (a, b)).astype(np.float32), rng.normal(0, 0.1, b).astype(np.float32), i < len(dims) - 2)
            for i, (a, b) in enumerate(zip(dims[:-1], dims[1:], strict=True))]
    return convert_head(spec, rng.uniform(-1, 1, (32, units)))


def tflite_seeds() -> dict[str, bytes]:
    """Custom-op `.tflite` models written by the exporter's splice: low-rank dense, full-rank bitmap-sparse
    with a 2-layer head, and a trained run's `model.tflite` from build/ when one is there."""
    from fastgrnn_tf.export.tflite_writer import splice_fastgrnn
    from fastgrnn_tf.int8.quantize import random_int8_params

    low_rank, _ = random_int8_params(8, 12, 4, 6, keep=1.0, seed=1)
    sparse, _ = random_int8_params(10, 16, 0, 0, keep=0.3, seed=2)
    seeds = {"low_rank_dense": splice_fastgrnn(_head_tflite(12, 3, 0, 3), low_rank, 4, sparse=False),
             "full_rank_sparse_2fc": splice_fastgrnn(_head_tflite(16, 4, 8, 4), sparse, 5, sparse=True)}
    for path in sorted(ROOT.glob("build/bench/wakeword/*/run-*/model.tflite"))[:1]:
        if path.stat().st_size <= 64 * 1024:
            seeds[f"trained_{path.parts[-3]}"] = path.read_bytes()
    return seeds


def fgb_seeds() -> dict[str, bytes]:
    """Whole-model `.fgb` bundles (the bytes `kws_model.save_model` writes): low rank with a 2-layer head,
    full rank bitmap-pruned, MFCC features; plus a trained run's `model.fgb` from build/ when there."""
    from fastgrnn_tf.export.bundle import encode_bundle
    from fastgrnn_tf.int8.head_oracle import random_head
    from fastgrnn_tf.int8.quantize import random_int8_params
    from keyword_spotting.detector import DetectorParams
    from keyword_spotting.features import FeatureSpec
    from keyword_spotting.kws_model import KwsModel

    seeds = {}
    shapes = (("low_rank_2fc", FeatureSpec(), 12, 4, 6, 1.0, (8,)),
              ("full_rank_pruned", FeatureSpec(), 10, 0, 0, 0.4, ()),
              ("mfcc", FeatureSpec(n_mels=40, n_mfcc=13), 8, 4, 0, 1.0, ()))
    for i, (name, spec, units, rw, ru, keep, hidden) in enumerate(shapes):
        step, _ = random_int8_params(spec.num_features, units, rw, ru, keep=keep, seed=10 + i,
                                     input_zero_point=spec.zero_point)
        layers, scale, zp = random_head(units, 3, hidden=hidden, seed=20 + i)
        model = KwsModel(step, layers, scale, zp, spec, DetectorParams(keywords=(1, 2), window_frames=4),
                         ("_silence_", "yes", "no"))
        seeds[name] = encode_bundle(model.to_bundle().to_arrays())
    for path in sorted(ROOT.glob("build/bench/wakeword/*/run-*/model.fgb"))[:1]:
        if path.stat().st_size <= 64 * 1024:
            seeds[f"trained_{path.parts[-3]}"] = path.read_bytes()
    return seeds


def _encode(pcm: np.ndarray, rate: int, fmt: str, subtype: str) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, pcm, rate, format=fmt, subtype=subtype)
    return buf.getvalue()


def audio_seeds(max_real: int = 2) -> dict[str, bytes]:
    """Small audio files of the layouts `read_audio` accepts, and 0.3 s cuts of real WAV / FLAC recordings."""
    t = np.arange(3200) / 16000
    tone = 0.4 * np.sin(2 * np.pi * (300 + 2000 * t) * t)
    seeds = {"pcm16.wav": _encode(tone, 16000, "WAV", "PCM_16"),
             "pcm8_8k_stereo.wav": _encode(np.stack([tone[::2], -tone[::2]], 1), 8000, "WAV", "PCM_U8"),
             "pcm24.wav": _encode(tone, 16000, "WAV", "PCM_24"),
             "float32.wav": _encode(tone, 16000, "WAV", "FLOAT"),
             "pcm16.flac": _encode(tone, 16000, "FLAC", "PCM_16"),
             "pcm24_stereo.flac": _encode(np.stack([tone, tone], 1), 22050, "FLAC", "PCM_24"),
             "vorbis.ogg": _encode(tone, 16000, "OGG", "VORBIS")}
    real = [sorted(DATA.glob(pattern))[:max_real] for pattern in ("speech_commands_dev/yes/*.wav",
                                                                  "wakewords/*/*.flac")] if DATA.is_dir() else []
    for path in (p for group in real for p in group):
        y, rate = sf.read(str(path), dtype="float64", frames=int(0.3 * sf.info(str(path)).samplerate))
        fmt = path.suffix[1:].upper()
        seeds[f"real_{path.parent.name}_{path.stem}.{fmt.lower()}"] = _encode(y, rate, fmt, "PCM_16")
    return seeds
