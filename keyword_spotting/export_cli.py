"""`kws-export`: trained Keras model -> deployable artifacts.

    kws-export MODEL.keras --out DIR [--calib FEATURES.npy | --calib-audio DIR] [--time-steps N]
               [--calibrate] [--classes yes,no,...] [--feature-spec SPEC.json] [--detector DET.json]

Writes DIR/model.tflite (FastGRNN custom op), DIR/model_builtin.tflite (the same int8 model with
builtin ops only, exact: one window of T frames, the model's input length or the calibration
features' T or 98; DIR/model_builtin_stream.tflite: T = 1 with the state as input and output),
DIR/model_data.{h,cc} (the custom-op model as a C array), DIR/model.fgb
(bundle for the host runner / QEMU) and DIR/size_report.json.

Calibration features (int8 [N, T, D]) come from `--calib` (.npy) or are computed from up to
`--max-calib` audio files under `--calib-audio` with `keyword_spotting.features` (each clip padded or
cut to T frames). `--calibrate` lets a float (non-QAT) model be exported with measured ranges.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from keyword_spotting.audio_io import read_audio
from keyword_spotting.features import FeatureSpec, int8_features, quantize


def audio_features(directory: str, time_steps: int, max_files: int, spec: FeatureSpec) -> np.ndarray:
    """int8 features [N, time_steps, D] of up to `max_files` .wav files under `directory` (`audio_io.read_audio`)."""
    files = sorted(Path(directory).rglob("*.wav"))[:max_files]
    if not files:
        raise ValueError(f"--calib-audio: no .wav files under {directory!r}")
    silence = quantize(np.full((1, spec.num_features), np.log(spec.log_floor), np.float32), spec)
    out = []
    for f in files:
        feats = int8_features(read_audio(f, spec.sample_rate), spec)
        pad = np.repeat(silence, time_steps, axis=0)  # silence frames after a short clip
        pad[: min(time_steps, len(feats))] = feats[:time_steps]
        out.append(pad)
    return np.stack(out)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kws-export", description=__doc__.split("\n\n")[0])
    p.add_argument("model", help="trained tf_keras model (.keras / .h5 / SavedModel dir)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--calib", help="int8 calibration features .npy [N, T, D]")
    p.add_argument("--calib-audio", help="directory of .wav files to compute calibration features from")
    p.add_argument("--max-calib", type=int, default=200, help="max calibration clips (default 200)")
    p.add_argument("--time-steps", type=int, default=None,
                   help="T of the custom-op model input (1 = streaming; default: the model's input length)")
    p.add_argument("--calibrate", action="store_true",
                   help="allow a float (non-QAT) model: measure FastGRNN ranges on the calibration features")
    p.add_argument("--classes", help="comma-separated class names (stored in model.fgb)")
    p.add_argument("--feature-spec", help="FeatureSpec JSON file (default: FeatureSpec())")
    p.add_argument("--detector", help="detector parameters JSON file ({param: int, keywords: [..]})")
    p.add_argument("--no-builtin", action="store_true", help="skip model_builtin.tflite")
    return p


def main(argv: list[str] | None = None) -> int:
    from fastgrnn_tf.quiet_tf import quiet_tensorflow

    quiet_tensorflow()
    args = build_parser().parse_args(argv)
    try:
        run(args)
    except ValueError as e:
        print(f"kws-export: error: {e}", file=sys.stderr)
        return 2
    return 0


def run(args: argparse.Namespace) -> dict:
    from fastgrnn_tf.export.artifacts import write_artifacts
    from fastgrnn_tf.export.custom_op import export_custom_tflite
    from fastgrnn_tf.saving import load_model

    spec = FeatureSpec()
    if args.feature_spec:
        spec = FeatureSpec.from_dict(json.loads(Path(args.feature_spec).read_text()))
    detector = json.loads(Path(args.detector).read_text()) if args.detector else None
    classes = [c.strip() for c in args.classes.split(",")] if args.classes else None
    model = load_model(args.model)
    t_model = model.input_shape[1] if isinstance(model.input_shape, tuple) else None
    calib = None
    if args.calib:
        calib = np.load(args.calib)
        if calib.dtype != np.int8 or calib.ndim != 3:
            raise ValueError(f"--calib {args.calib!r} must hold int8 [N, T, D], got {calib.dtype} "
                             f"{calib.shape}")
    elif args.calib_audio:
        calib = audio_features(args.calib_audio, int(t_model or 98), args.max_calib, spec)
    res = export_custom_tflite(model, calib, time_steps=args.time_steps, input_scale=spec.quant_scale,
                               input_zero_point=spec.zero_point, calibrate=args.calibrate)
    window = int(t_model or (calib.shape[1] if calib is not None else 98))
    report = write_artifacts(args.out, res.tflite, window_frames=window, features=spec.to_dict(), detector=detector,
                             classes=classes, builtin=not args.no_builtin)
    print(json.dumps({k: v for k, v in report.items() if isinstance(v, (int, float))}, indent=1))
    return report


if __name__ == "__main__":
    sys.exit(main())
