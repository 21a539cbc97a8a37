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
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402


def load_keras_model(path: str):
    """Load a float, QAT (.h5, see fastgrnn_tf.qat) or pruned tf_keras model with the project's objects."""
    import tf_keras as keras
    from tensorflow_model_optimization.python.core.sparsity.keras import prune

    import fastgrnn_tf  # noqa: F401  (registers FastGRNNCell / FastRNNCell)
    from fastgrnn_tf.qat import quantize_scope

    if not os.path.exists(path):
        raise ValueError(f"model file {path!r} does not exist")
    error: Exception | None = None
    for scope in (quantize_scope, prune.prune_scope):  # the QAT scope also loads float models
        try:
            with scope():
                return keras.models.load_model(path, compile=False)
        except Exception as e:  # noqa: BLE001 - try the next scope, report the last failure
            error = e
    raise ValueError(f"cannot load the Keras model {path!r}: {error}")


def audio_features(directory: str, time_steps: int, max_files: int, spec) -> np.ndarray:
    """int8 features [N, time_steps, D] of up to `max_files` .wav files under `directory`."""
    import librosa
    import soundfile as sf

    from keyword_spotting.features import int8_features, quantize

    files = sorted(Path(directory).rglob("*.wav"))[:max_files]
    if not files:
        raise ValueError(f"--calib-audio: no .wav files under {directory!r}")
    silence = quantize(np.full((1, spec.num_features), np.log(spec.log_floor), np.float32), spec)
    out = []
    for f in files:
        audio, sr = sf.read(str(f), dtype="float32", always_2d=True)
        audio = audio.mean(axis=1)
        if sr != spec.sample_rate:
            audio = librosa.resample(audio, orig_sr=sr, target_sr=spec.sample_rate)
        feats = int8_features(audio.astype(np.float32), spec)
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
    args = build_parser().parse_args(argv)
    try:
        run(args)
    except ValueError as e:
        print(f"kws-export: error: {e}", file=sys.stderr)
        return 2
    return 0


def run(args: argparse.Namespace) -> dict:
    from fastgrnn_tf import tflite_reader as R
    from fastgrnn_tf.builtin_export import export_builtin_tflite
    from fastgrnn_tf.bundle import atomic_write_bytes
    from fastgrnn_tf.c_array import write_c_array
    from fastgrnn_tf.size_report import size_report, write_size_report
    from fastgrnn_tf.tflite_export import export_custom_tflite
    from fastgrnn_tf.tflite_reader import export_bundle
    from keyword_spotting.features import FeatureSpec

    spec = FeatureSpec()
    if args.feature_spec:
        spec = FeatureSpec.from_dict(json.loads(Path(args.feature_spec).read_text()))
    detector = json.loads(Path(args.detector).read_text()) if args.detector else None
    classes = [c.strip() for c in args.classes.split(",")] if args.classes else None
    model = load_keras_model(args.model)
    t_model = model.input_shape[1] if isinstance(model.input_shape, tuple) else None
    calib = None
    if args.calib:
        calib = np.load(args.calib)
        if calib.dtype != np.int8 or calib.ndim != 3:
            raise ValueError(f"--calib {args.calib!r} must hold int8 [N, T, D], got {calib.dtype} "
                             f"{calib.shape}")
    elif args.calib_audio:
        calib = audio_features(args.calib_audio, int(t_model or 98), args.max_calib, spec)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    res = export_custom_tflite(model, calib, time_steps=args.time_steps, input_scale=spec.quant_scale,
                               input_zero_point=spec.zero_point, calibrate=args.calibrate)
    atomic_write_bytes(out / "model.tflite", res.tflite)
    write_c_array(res.tflite, out, source="model.tflite")
    export_bundle(res.tflite, out / "model.fgb", feature_spec=spec, detector=detector, classes=classes)
    report = size_report(res.tflite)
    if not args.no_builtin:
        window = int(t_model or (calib.shape[1] if calib is not None else 98))
        builtin = export_builtin_tflite(R.read_exported(res.tflite), time_steps=window)
        atomic_write_bytes(out / "model_builtin.tflite", builtin)
        stream = export_builtin_tflite(R.read_exported(res.tflite), time_steps=1, state_io=True)
        atomic_write_bytes(out / "model_builtin_stream.tflite", stream)
        report["builtin_tflite_bytes"], report["builtin_stream_tflite_bytes"] = len(builtin), len(stream)
    write_size_report(out / "size_report.json", report)
    print(json.dumps({k: v for k, v in report.items() if isinstance(v, (int, float))}, indent=1))
    return report


if __name__ == "__main__":
    sys.exit(main())
