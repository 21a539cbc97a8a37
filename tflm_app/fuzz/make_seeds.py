"""Seed corpora of the C/C++ fuzz targets, made from real models and recordings, into build/fuzz/seeds/.

    .venv/bin/python tflm_app/fuzz/make_seeds.py --out build/fuzz/seeds --seeds-tool build/host/fuzz/fuzz_seeds

fgb_bundle/: whole-model `.fgb` bundles written by the project's exporter (`keyword_spotting.kws_model.save_model`)
for several shapes (full / low rank, sparse, 1-2 head layers, MFCC features), plus any trained run's
`model.fgb` under build/ (e.g. build/demo). wav/: 16 kHz mono PCM16 WAVs: synthetic ones (with LIST
chunks, WAVE_FORMAT_EXTENSIBLE, odd lengths) and short cuts of real clips from ../shared/data when
present. fastgrnn_op/ and bitmap_sparse/: the bundles' FastGRNN steps as the exporter lays out the
op, and their weight bitmaps (written by the C++ tool `fuzz_seeds`, which owns that byte format).
"""

from __future__ import annotations

import argparse
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from fastgrnn_tf.int8.head_oracle import random_head  # noqa: E402
from fastgrnn_tf.int8.quantize import random_int8_params  # noqa: E402
from keyword_spotting.audio_io import atomic_write_bytes, read_audio, write_wav  # noqa: E402
from keyword_spotting.detector import DetectorParams  # noqa: E402
from keyword_spotting.features import FeatureSpec  # noqa: E402
from keyword_spotting.kws_model import KwsModel, save_model  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
# (name, input features spec, units, w_rank, u_rank, keep, hidden head layers, classes, detector threshold);
# g12_shape's threshold makes it fire now and then on speech (make soak counts its detections per hour).
MODELS = [
    ("full_rank", FeatureSpec(), 16, 0, 0, 1.0, (), 3, 120),
    ("low_rank_sparse", FeatureSpec(), 48, 12, 16, 0.3, (24,), 4, 120),
    ("g12_shape", FeatureSpec(), 100, 16, 25, 0.3, (), 12, 58),
    ("mfcc", FeatureSpec(n_mels=40, n_mfcc=13), 20, 8, 0, 0.5, (), 3, 120),
]


def write_models(out: Path) -> list[Path]:
    """Random int8 models of several shapes, through the exporter's bundle writer."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, (name, spec, units, rw, ru, keep, hidden, classes, threshold) in enumerate(MODELS):
        dim = spec.n_mfcc or spec.n_mels
        step, _ = random_int8_params(dim, units, rw, ru, keep=keep, seed=100 + i, input_zero_point=spec.zero_point)
        layers, scale, zp = random_head(units, classes, hidden=hidden, seed=200 + i)
        det = DetectorParams(keywords=tuple(range(1, classes)), window_frames=4, threshold=threshold,
                             refractory_frames=10)
        model = KwsModel(step, layers, scale, zp, spec, det, tuple(f"c{k}" for k in range(classes)))
        path = out / f"{name}.fgb"
        save_model(path, model)
        paths.append(path)
    for trained in sorted((ROOT / "build").glob("*/model.fgb")):  # e.g. build/demo (make demo)
        if trained.stat().st_size <= 64 * 1024:
            copy = out / f"trained_{trained.parent.name}.fgb"
            copy.write_bytes(trained.read_bytes())
            paths.append(copy)
    return paths


def _hand_made_wav(samples: np.ndarray, extensible: bool) -> bytes:
    """A 16 kHz mono PCM16 WAV laid out by hand, in layouts `write_wav` does not write: a LIST chunk before
    `data`, optionally the WAVE_FORMAT_EXTENSIBLE header; with no samples, a bare fmt + empty data chunk."""
    data = samples.astype("<i2").tobytes()
    if extensible:
        pcm_guid = struct.pack("<IHH8s", 1, 0, 0x10, b"\x80\x00\x00\xaa\x00\x38\x9b\x71")
        fmt = struct.pack("<HHIIHHHHI", 0xFFFE, 1, 16000, 32000, 2, 16, 22, 16, 4) + pcm_guid
    else:
        fmt = struct.pack("<HHIIHH", 1, 1, 16000, 32000, 2, 16)
    info = b"INFOISFT" + struct.pack("<I", 6) + b"seeds\x00"
    listing = b"LIST" + struct.pack("<I", len(info)) + info if len(data) else b""
    chunks = (b"fmt " + struct.pack("<I", len(fmt)) + fmt + listing
              + b"data" + struct.pack("<I", len(data)) + data + (b"\x00" if len(data) % 2 else b""))
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def write_wavs(out: Path, max_real: int = 6) -> int:
    """Synthetic WAVs of every layout kws_host accepts, and short cuts of real recordings (read and written
    with `keyword_spotting.audio_io`; the odd layouts by hand)."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    t = np.arange(4000) / 16000
    chirp = (8000 * np.sin(2 * np.pi * (300 + 3000 * t) * t)).astype(np.int16)
    noise = rng.normal(0, 2000, 1203).clip(-32768, 32767).astype(np.int16)
    plain = {"chirp.wav": chirp, "noise_odd_length.wav": noise, "one_frame.wav": chirp[:400]}
    real = sorted(DATA.glob("speech_commands_dev/*/*.wav"))[:: 97][:max_real] if DATA.is_dir() else []
    for path in real:
        frames = read_audio(path)  # 16 kHz mono int16 whatever the file's format
        start = int(np.argmax(np.abs(frames))) // 2
        plain[f"real_{path.parent.name}_{path.stem}.wav"] = frames[start:start + 4800]
    for name, pcm in plain.items():
        write_wav(out / name, pcm)
    odd = {"empty.wav": _hand_made_wav(np.zeros(0, np.int16), extensible=False),
           "list_chunk.wav": _hand_made_wav(chirp[:1600], extensible=False),
           "extensible.wav": _hand_made_wav(noise[:801], extensible=True)}
    for name, data in odd.items():
        atomic_write_bytes(out / name, data)
    return len(plain) + len(odd)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "fuzz" / "seeds")
    ap.add_argument("--seeds-tool", type=Path, default=ROOT / "build" / "host" / "fuzz" / "fuzz_seeds",
                    help="the C++ fuzz_seeds tool (op and bitmap seeds from the bundles)")
    args = ap.parse_args()
    models = write_models(args.out / "fgb_bundle")
    wavs = write_wavs(args.out / "wav")
    subprocess.run([str(args.seeds_tool), str(args.out), *map(str, models)], check=True)
    print(f"make_seeds: {len(models)} bundles, {wavs} WAVs in {args.out}")


if __name__ == "__main__":
    main()
