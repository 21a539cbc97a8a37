"""Every deployable file of one exported model, written by one function that `kws-train` and
`kws-export` both call, so the two produce the same folder.

    report = write_artifacts(out, stream_tflite, window_frames=98, window_tflite=window_bytes,
                             features=spec.to_dict(), detector={...}, classes=[...])

Files in `out`: `model.tflite` (the custom-op model as given), `model_window.tflite` (when given),
`model_builtin.tflite` (builtin-only twin over `window_frames`), `model_builtin_stream.tflite`
(builtin-only, T=1, state in and out), `model_data.h` / `model_data.cc` (C array of `model.tflite`),
`model.fgb` (the whole model, `bundle_spec.md`), `size_report.json`. All writes are atomic.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from fastgrnn_tf.atomic_io import atomic_write_bytes
from fastgrnn_tf.export.builtin import export_builtin_tflite
from fastgrnn_tf.export.c_array import write_c_array
from fastgrnn_tf.export.layout import (
    BUILTIN_STREAM_TFLITE,
    BUILTIN_TFLITE,
    BUNDLE,
    C_ARRAY_NAME,
    MODEL_TFLITE,
    SIZE_REPORT,
    WINDOW_TFLITE,
)
from fastgrnn_tf.export.model_bundle import ModelBundle, write_model_bundle
from fastgrnn_tf.export.size_report import size_report, write_size_report
from fastgrnn_tf.export.tflite_reader import read_exported


def write_artifacts(out: str | os.PathLike, tflite: bytes, *, window_frames: int | None = None,
                    window_tflite: bytes | None = None, features: Mapping[str, object] | None = None,
                    detector: Mapping[str, object] | None = None, classes: Sequence[str] | None = None,
                    builtin: bool = True) -> dict:
    """Write the files of the module docstring into `out` (created); returns the size report.

    tflite: the custom-op model (`model.tflite`, any T). window_tflite: the same model exported over one
    window (`model_window.tflite`); the builtin twins are built from it when given, else from `tflite`.
    window_frames: T of `model_builtin.tflite` (default: the source's T). builtin=False skips the twins.
    features / detector / classes: stored in `model.fgb` (`fastgrnn_tf.export.model_bundle.ModelBundle`).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    m = read_exported(tflite)
    atomic_write_bytes(out / MODEL_TFLITE, tflite)
    report = size_report(tflite)
    if window_tflite is not None:
        atomic_write_bytes(out / WINDOW_TFLITE, window_tflite)
    if builtin:
        source = m if window_tflite is None else read_exported(window_tflite)
        window = export_builtin_tflite(source, time_steps=window_frames)
        stream = export_builtin_tflite(source, time_steps=1, state_io=True)
        atomic_write_bytes(out / BUILTIN_TFLITE, window)
        atomic_write_bytes(out / BUILTIN_STREAM_TFLITE, stream)
        report["builtin_tflite_bytes"], report["builtin_stream_tflite_bytes"] = len(window), len(stream)
    write_c_array(tflite, out, name=C_ARRAY_NAME, symbol="g_model_data", source=MODEL_TFLITE)
    write_model_bundle(out / BUNDLE, ModelBundle.from_model(m, features, detector, classes))
    write_size_report(out / SIZE_REPORT, report)
    return report
