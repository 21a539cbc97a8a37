"""The device's frontend (`tflm_app/frontend`, C++) from Python, through its C ABI (ctypes).

    if device_frontend.available():
        q = device_int8_features(pcm_int16, spec)     # exactly the features kws_host / the firmware compute
        fe = DeviceFrontend(spec); fe.push(chunk) -> int8 [frames, D]   # streaming, any chunk size

`keyword_spotting.features` is the reference implementation of `feature_spec.md` (librosa/numpy); the
C++ frontend implements the same spec in float32 and agrees on >= 99.9% of values (the rest off by 1,
`tests/test_frontend_parity.py`). A value off by 1 moves the recurrent state for a while, so the Python
streaming pipeline uses this module when the library is built (`make cpp-host`: build/host/frontend/
libkws_frontend.so, or the path in $KWS_FRONTEND_LIB) and then its detections equal the device's.
"""

from __future__ import annotations

import ctypes
import functools
import os
from pathlib import Path

import numpy as np

from keyword_spotting.features import FeatureSpec

LIB_ENV = "KWS_FRONTEND_LIB"
_DEFAULT_LIB = Path(__file__).resolve().parents[1] / "build" / "host" / "frontend" / "libkws_frontend.so"
_FIELDS = ("sample_rate", "window_samples", "hop_samples", "n_fft", "n_mels", "fmin", "fmax", "log_floor", "n_mfcc",
           "quant_scale", "quant_offset", "channel_norm", "channel_norm_smoothing")


def library_path() -> Path:
    return Path(os.environ.get(LIB_ENV) or _DEFAULT_LIB)


@functools.lru_cache(maxsize=4)
def _load(path: str) -> ctypes.CDLL:
    lib = ctypes.CDLL(path)
    lib.kws_frontend_create.restype = ctypes.c_void_p
    lib.kws_frontend_create.argtypes = [ctypes.POINTER(ctypes.c_double), ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.kws_frontend_destroy.argtypes = [ctypes.c_void_p]
    lib.kws_frontend_reset.argtypes = [ctypes.c_void_p]
    lib.kws_frontend_num_features.restype = ctypes.c_int
    lib.kws_frontend_num_features.argtypes = [ctypes.c_void_p]
    lib.kws_frontend_frames_after.restype = ctypes.c_int64
    lib.kws_frontend_frames_after.argtypes = [ctypes.c_void_p, ctypes.c_int64]
    lib.kws_frontend_push.restype = ctypes.c_int64
    lib.kws_frontend_push.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p,
                                      ctypes.c_int64]
    return lib


def available() -> bool:
    """The shared library exists and loads."""
    path = library_path()
    if not path.is_file():
        return False
    try:
        _load(str(path))
    except OSError:
        return False
    return True


class DeviceFrontend:
    """The C++ streaming frontend: push int16 chunks, get the int8 frames they complete."""

    def __init__(self, spec: FeatureSpec = FeatureSpec()) -> None:
        path = library_path()
        if not path.is_file():
            raise FileNotFoundError(f"{path}: the C++ frontend library is not built (run `make cpp-host`, or set "
                                    f"{LIB_ENV})")
        self._lib = _load(str(path))
        fields = (ctypes.c_double * len(_FIELDS))(*(float(getattr(spec, f)) for f in _FIELDS))
        err = ctypes.create_string_buffer(256)
        self._handle = self._lib.kws_frontend_create(fields, len(_FIELDS), err, len(err))
        if not self._handle:
            raise ValueError(f"C++ frontend rejected the feature spec: {err.value.decode()}")
        self.num_features = int(self._lib.kws_frontend_num_features(self._handle))

    def __del__(self) -> None:
        handle = getattr(self, "_handle", None)
        if handle:
            self._lib.kws_frontend_destroy(handle)
            self._handle = None

    def reset(self) -> None:
        self._lib.kws_frontend_reset(self._handle)

    def push(self, pcm: np.ndarray) -> np.ndarray:
        """int16 samples -> int8 [frames completed, num_features]."""
        pcm = np.ascontiguousarray(pcm)
        if pcm.dtype != np.int16 or pcm.ndim != 1:
            raise ValueError(f"audio must be 1-D int16 PCM, got {pcm.dtype} {list(pcm.shape)}")
        frames = int(self._lib.kws_frontend_frames_after(self._handle, len(pcm)))
        out = np.zeros((frames, self.num_features), np.int8)
        got = self._lib.kws_frontend_push(self._handle, pcm.ctypes.data, len(pcm), out.ctypes.data, frames)
        if got != frames:
            raise RuntimeError(f"C++ frontend wrote {got} frames, expected {frames}")
        return out


def device_int8_features(audio: np.ndarray, spec: FeatureSpec = FeatureSpec()) -> np.ndarray:
    """int8 features [frames, D] of a whole int16 stream, computed by the C++ frontend."""
    return DeviceFrontend(spec).push(audio)
