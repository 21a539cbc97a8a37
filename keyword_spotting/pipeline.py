"""`python -m keyword_spotting.pipeline --model m.fgb --wav clip.wav`: what the C++ host runner
(`tflm_app/host/kws_host`) prints, computed in Python (`keyword_spotting.streaming`), byte for byte.

The WAV must be what kws_host reads (mono 16-bit PCM at the model's sample rate); anything else is
refused with kws_host's reasons, so the two never disagree on the input.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import numpy as np

from keyword_spotting.audio_io import check_wav, read_audio
from keyword_spotting.kws_model import load_model
from keyword_spotting.streaming import FRONTENDS, StreamResult, TimedDetection, run_stream


def format_detection(d: TimedDetection) -> str:
    """The line `kws_host` prints for a detection."""
    return (f"detection t={d.time_s:.3f}s frame={d.frame} class={d.class_index} label={d.label} "
            f"score={d.score}")


def format_summary(result: StreamResult, num_samples: int, sample_rate: int) -> str:
    """The summary line `kws_host` prints last."""
    return (f"summary frames={len(result.scores)} detections={len(result.detections)} "
            f"audio={num_samples / sample_rate:.3f}s")


def read_device_wav(path: str | os.PathLike, sample_rate: int) -> np.ndarray:
    """A mono 16-bit PCM WAV at `sample_rate` as int16 (anything else: ValueError naming the file)."""
    info = check_wav(path)
    if info["channels"] != 1:
        raise ValueError(f"{os.fspath(path)}: {info['channels']} channels, need mono")
    if info["sample_rate"] != sample_rate:
        raise ValueError(f"{os.fspath(path)}: sample rate {info['sample_rate']} Hz, need {sample_rate} Hz")
    if info["format"] != "PCM" or info["bits"] != 16:
        raise ValueError(f"{os.fspath(path)}: sample format {info['format']} {info['bits']}-bit, need 16-bit PCM")
    return read_audio(path, sample_rate)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m keyword_spotting.pipeline --model m.fgb --wav clip.wav`: kws_host's output, from Python."""
    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--model", required=True, help="whole-model .fgb bundle")
    ap.add_argument("--wav", required=True, help="16 kHz mono 16-bit PCM WAV")
    ap.add_argument("--scores", help="write the per-frame uint8 scores here (one line per frame)")
    ap.add_argument("--frontend", choices=FRONTENDS, default="auto",
                    help="feature frontend: the device's C++ one (its library, `make cpp-host`), the Python "
                         "reference, or auto (device when built; default)")
    args = ap.parse_args(argv)
    try:
        model = load_model(args.model)
        audio = read_device_wav(args.wav, model.features.sample_rate)
    except ValueError as e:
        print(f"pipeline: {e}", file=sys.stderr)
        return 2
    try:
        result = run_stream(model, audio, frontend=args.frontend)
    except FileNotFoundError as e:
        print(f"pipeline: {e}", file=sys.stderr)
        return 2
    if args.scores:
        np.savetxt(args.scores, result.scores, fmt="%d")
    for d in result.detections:
        print(format_detection(d))
    print(format_summary(result, len(audio), model.features.sample_rate))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
