"""Streaming inference, bit-exact with the C++ host runner (`tflm_app/host`): int16 audio -> int8
features -> int8 FastGRNN step per frame (`fastgrnn_tf.int8.oracle`, state kept) -> int8 head
(`fastgrnn_tf.int8.head_oracle`) -> uint8 scores -> `detector.StreamingDetector`.

Features come from the device's C++ frontend (`device_frontend`, the library `make cpp-host` builds)
when it is available ("auto"), so the detections equal `kws_host`'s and the firmware's on streams of
any length; `frontend="reference"` uses `features.int8_features` (the spec's numpy/librosa reference,
equal to the C++ one on >= 99.9% of values).

    result = run_stream(model, pcm_int16)            # scores [frames, classes], timed detections
    scores = frame_scores(model, feats_int8)         # model-facing part only (streaming evaluation)
    live = StreamingPipeline(model); live.push(chunk) -> list[TimedDetection]   # microphone-style
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from fastgrnn_tf.int8 import head_oracle
from fastgrnn_tf.int8 import oracle as int8_oracle
from keyword_spotting import device_frontend
from keyword_spotting.detector import Detection, StreamingDetector
from keyword_spotting.features import FeatureSpec, int8_features
from keyword_spotting.kws_model import KwsModel

FRONTENDS = ("auto", "device", "reference")
_CHUNK_FRAMES = 6000  # reference features of long streams in chunks (same values, bounded memory)


def resolve_frontend(frontend: str) -> str:
    """"device" or "reference" for a requested frontend ("auto": device when its library is built)."""
    if frontend not in FRONTENDS:
        raise ValueError(f"frontend must be one of {FRONTENDS}, got {frontend!r}")
    if frontend == "auto":
        return "device" if device_frontend.available() else "reference"
    if frontend == "device" and not device_frontend.available():
        raise FileNotFoundError(f"{device_frontend.library_path()}: the C++ frontend library is not built "
                                f"(run `make cpp-host`, or set {device_frontend.LIB_ENV})")
    return frontend


def stream_features(audio: np.ndarray, spec: FeatureSpec, frontend: str = "auto") -> np.ndarray:
    """int8 features [frames, D] of a whole int16 stream with the chosen frontend."""
    if resolve_frontend(frontend) == "device":
        return device_frontend.device_int8_features(audio, spec)
    n = spec.num_frames(len(audio))
    parts = []
    for f0 in range(0, n, _CHUNK_FRAMES):
        f1 = min(n, f0 + _CHUNK_FRAMES)
        a, b = f0 * spec.hop_samples, (f1 - 1) * spec.hop_samples + spec.window_samples
        parts.append(int8_features(audio[a:b], spec))
    return np.concatenate(parts) if parts else np.zeros((0, spec.num_features), np.int8)


def frame_scores(model: KwsModel, feats: np.ndarray, h0: np.ndarray | None = None,
                 return_state: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """int8 features [frames, D] -> uint8 scores [frames, classes]: one step per frame, state kept.

    With `return_state`, also returns the last hidden state (to continue a stream).
    """
    feats = np.asarray(feats)
    if feats.dtype != np.int8 or feats.ndim != 2 or feats.shape[1] != model.step.input_dim:
        raise ValueError(f"feats must be int8 [frames, {model.step.input_dim}], got {feats.dtype} "
                         f"{list(feats.shape)}")
    h = np.zeros(model.step.units, np.int8) if h0 is None else np.asarray(h0, np.int8)
    if feats.shape[0] == 0:
        scores = np.zeros((0, model.num_classes), np.uint8)
    else:
        hidden, h = int8_oracle.run(model.step, feats, h, return_sequences=True)
        logits = head_oracle.run_head(model.head, hidden)
        scores = np.stack([head_oracle.scores(row, model.logit_scale, model.logit_zero_point)
                           for row in logits])
    return (scores, h) if return_state else scores


@dataclasses.dataclass(frozen=True)
class TimedDetection:
    """A detection with its class name and time (end of the newest frame, seconds)."""

    frame: int
    class_index: int
    label: str
    score: int
    time_s: float


def _timed(model: KwsModel, d: Detection) -> TimedDetection:
    f = model.features
    return TimedDetection(d.frame, d.class_index, model.classes[d.class_index], d.score,
                          d.time_s(f.hop_samples, f.window_samples, f.sample_rate))


@dataclasses.dataclass
class StreamResult:
    """Everything `run_stream` computed."""

    features: np.ndarray            # int8 [frames, D]
    scores: np.ndarray              # uint8 [frames, classes]
    detections: list[TimedDetection]
    frontend: str = "given"         # "device", "reference", or "given" (features passed in)


def detect_scores(model: KwsModel, scores: np.ndarray) -> list[TimedDetection]:
    """Run the model's detector over uint8 scores [frames, classes]."""
    det = StreamingDetector(model.detector)
    out = []
    for row in scores:
        d = det.push(row)
        if d is not None:
            out.append(_timed(model, d))
    return out


def run_stream(model: KwsModel, audio: np.ndarray, feats: np.ndarray | None = None,
               frontend: str = "auto") -> StreamResult:
    """The whole pipeline over one int16 stream (features computed with `frontend` unless `feats` is given)."""
    audio = np.asarray(audio)
    if audio.dtype != np.int16 or audio.ndim != 1:
        raise ValueError(f"audio must be 1-D int16 PCM, got {audio.dtype} {list(audio.shape)}")
    used = "given"
    if feats is None:
        used = resolve_frontend(frontend)
        feats = stream_features(audio, model.features, used)
    scores = frame_scores(model, feats)
    return StreamResult(features=feats, scores=scores, detections=detect_scores(model, scores), frontend=used)


class StreamingPipeline:
    """Microphone-style pipeline: push int16 chunks of any size, get detections as they happen.

    Frames are computed as soon as their last sample arrives, exactly the frames of the offline
    path (`feature_spec.md`, "Framing"), so the detections equal `run_stream` on the whole stream
    (with the same frontend).
    """

    def __init__(self, model: KwsModel, frontend: str = "auto") -> None:
        self.model = model
        self.frontend = resolve_frontend(frontend)
        self._device = device_frontend.DeviceFrontend(model.features) if self.frontend == "device" else None
        self.reset()

    def reset(self) -> None:
        if self._device is not None:
            self._device.reset()
        self._buf = np.zeros(0, np.int16)
        self._skip = 0  # samples still to drop when hop > window
        self._h = np.zeros(self.model.step.units, np.int8)
        self._det = StreamingDetector(self.model.detector)

    @property
    def frames_seen(self) -> int:
        return self._det.frames_seen

    def push(self, chunk: Sequence[int] | np.ndarray) -> list[TimedDetection]:
        """Add samples; return the detections of every frame they complete."""
        chunk = np.asarray(chunk)
        if chunk.dtype != np.int16 or chunk.ndim != 1:
            raise ValueError(f"chunk must be 1-D int16 PCM, got {chunk.dtype} {list(chunk.shape)}")
        if self._device is not None:
            feats = self._device.push(chunk)
        else:
            feats = self._reference_frames(chunk)
        if len(feats) == 0:
            return []
        scores, self._h = frame_scores(self.model, feats, self._h, return_state=True)
        out = []
        for row in scores:
            d = self._det.push(row)
            if d is not None:
                out.append(_timed(self.model, d))
        return out


    def _reference_frames(self, chunk: np.ndarray) -> np.ndarray:
        spec = self.model.features
        drop = min(self._skip, len(chunk))
        self._skip -= drop
        self._buf = np.concatenate([self._buf, chunk[drop:]])
        n = spec.num_frames(len(self._buf))
        if n == 0:
            return np.zeros((0, spec.num_features), np.int8)
        feats = int8_features(self._buf[: (n - 1) * spec.hop_samples + spec.window_samples], spec)
        self._skip = max(0, n * spec.hop_samples - len(self._buf))
        self._buf = self._buf[n * spec.hop_samples:]
        return feats
