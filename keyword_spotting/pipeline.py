"""The Python streaming wake-word pipeline, bit-exact with the C++ host runner (`tflm_app/host`).

int16 audio -> int8 features -> int8 FastGRNN step per frame (`fastgrnn_tf.int8.oracle`, state kept)
-> int8 head (`fastgrnn_tf.int8.head_oracle`) -> uint8 scores -> `detector.StreamingDetector`.

Features come from the device's C++ frontend (`device_frontend`, the library `make cpp-host` builds)
when it is available ("auto"), so the detections equal `kws_host`'s and the firmware's on streams of
any length; `frontend="reference"` uses `features.int8_features` (the spec's numpy/librosa reference,
equal to the C++ one on >= 99.9% of values).

    model = load_model("model.fgb")                  # or a .tflite (via fastgrnn_tf.export.tflite_reader)
    result = run_stream(model, pcm_int16)            # scores [frames, classes], timed detections
    scores = frame_scores(model, feats_int8)         # model-facing part only (streaming evaluation)
    live = StreamingPipeline(model); live.push(chunk) -> list[TimedDetection]   # microphone-style

`KwsModel.to_arrays()` gives every bundle entry of `fastgrnn_tf/export/bundle_spec.md` for a whole model.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Mapping, Sequence

import numpy as np

from fastgrnn_tf.export import bundle as fgb
from fastgrnn_tf.int8 import head_oracle
from fastgrnn_tf.int8 import oracle as int8_oracle
from fastgrnn_tf.int8.head_oracle import HeadLayer
from fastgrnn_tf.int8.oracle import Int8Params
from keyword_spotting import device_frontend
from keyword_spotting.detector import Detection, DetectorParams, StreamingDetector
from keyword_spotting.features import FeatureSpec, int8_features

FRONTENDS = ("auto", "device", "reference")
_CHUNK_FRAMES = 6000  # reference features of long streams in chunks (same values, bounded memory)
_INT_FEATURE_FIELDS = ("sample_rate", "window_samples", "hop_samples", "n_fft", "n_mels", "n_mfcc")
_HEAD_INTS = ("input_zero_point", "output_zero_point", "output_multiplier", "output_shift")


@dataclasses.dataclass
class KwsModel:
    """Everything the streaming pipeline needs: step, head, feature spec, detector, class names."""

    step: Int8Params
    head: list[HeadLayer]
    logit_scale: float
    logit_zero_point: int
    features: FeatureSpec
    detector: DetectorParams
    classes: tuple[str, ...]

    def __post_init__(self) -> None:
        self.classes = tuple(self.classes)
        self.validate()

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def validate(self) -> None:
        """ValueError naming the first inconsistency between the parts."""
        self.step.validate()
        if not self.head:
            raise ValueError("head must have at least one layer")
        for layer in self.head:
            layer.validate()
        if self.features.num_features != self.step.input_dim:
            raise ValueError(f"features give {self.features.num_features} values per frame but the step's "
                             f"input_dim is {self.step.input_dim}")
        if self.head[0].weights.shape[1] != self.step.units:
            raise ValueError(f"head input size {self.head[0].weights.shape[1]} != units {self.step.units}")
        for i in range(1, len(self.head)):
            if self.head[i].weights.shape[1] != self.head[i - 1].weights.shape[0]:
                raise ValueError(f"head layer {i} input size does not match layer {i - 1} output size")
        if self.head[-1].weights.shape[0] != self.num_classes:
            raise ValueError(f"head has {self.head[-1].weights.shape[0]} outputs but "
                             f"{self.num_classes} classes")
        if any(not c or "\n" in c for c in self.classes):
            raise ValueError(f"class names must be non-empty and without newlines: {self.classes}")
        if max(self.detector.keywords) >= self.num_classes:
            raise ValueError(f"detector keywords {self.detector.keywords} out of range for "
                             f"{self.num_classes} classes")
        # The step's input scale / zero point may differ from the feature spec's: a model may read the
        # same int8 codes through its own affine map (global normalization, feature_spec.md).
        if not float(self.logit_scale) > 0:
            raise ValueError(f"logit_scale must be > 0, got {self.logit_scale}")

    def to_arrays(self) -> dict[str, object]:
        """All bundle entries (`bundle_spec.md`) of this model, for `fastgrnn_tf.export.bundle.write_bundle`."""
        d = fgb.fastgrnn_arrays(self.step)
        d["head.num_layers"] = len(self.head)
        for i, layer in enumerate(self.head):
            d[f"head.{i}.weights"] = np.asarray(layer.weights, np.int8)
            d[f"head.{i}.bias"] = np.asarray(layer.bias, np.int32)
            for key in _HEAD_INTS:
                d[f"head.{i}.{key}"] = int(getattr(layer, key))
            d[f"head.{i}.relu"] = int(bool(layer.relu))
        d["head.logit_scale"] = np.float32(self.logit_scale)
        d["head.logit_zero_point"] = np.int32(self.logit_zero_point)
        for key, value in self.features.to_dict().items():
            d[f"features.{key}"] = np.int32(value) if key in _INT_FEATURE_FIELDS else np.float32(value)
        det = self.detector
        for key in ("window_frames", "threshold", "refractory_frames", "min_frames"):
            d[f"detector.{key}"] = int(getattr(det, key))
        d["detector.keywords"] = np.asarray(det.keywords, np.int32)
        d["classes"] = "\n".join(self.classes)
        return d

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], label: str = "bundle") -> KwsModel:
        """Inverse of `to_arrays` (ValueError naming `label` and the missing/bad entry)."""

        def need(name: str) -> np.ndarray:
            if name not in arrays:
                raise ValueError(f"{label}: missing entry {name!r}")
            return np.asarray(arrays[name])

        def scalar(name: str) -> int:
            return int(need(name).reshape(-1)[0])

        try:
            step = fgb.read_fastgrnn(arrays)
            layers = []
            for i in range(scalar("head.num_layers")):
                w = need(f"head.{i}.weights")
                bias = (need(f"head.{i}.bias") if f"head.{i}.bias" in arrays
                        else np.zeros(w.shape[0], np.int32))
                ints = {key: scalar(f"head.{i}.{key}") for key in _HEAD_INTS}
                relu = bool(scalar(f"head.{i}.relu")) if f"head.{i}.relu" in arrays else False
                layers.append(HeadLayer(weights=w, bias=bias, relu=relu, **ints))
            feats = {}
            for f in dataclasses.fields(FeatureSpec):
                if f"features.{f.name}" in arrays:
                    v = need(f"features.{f.name}").reshape(-1)[0]
                    # float32 -> the shortest decimal that maps back to it (0.1f -> 0.1).
                    feats[f.name] = int(v) if f.name in _INT_FEATURE_FIELDS else float(str(np.float32(v)))
            det = {key: scalar(f"detector.{key}") for key in ("window_frames", "threshold",
                                                               "refractory_frames", "min_frames")
                   if f"detector.{key}" in arrays}
            det["keywords"] = tuple(int(k) for k in need("detector.keywords").reshape(-1))
            classes = tuple(fgb.text(need("classes")).split("\n"))
            return cls(step=step, head=layers, logit_scale=float(need("head.logit_scale").reshape(-1)[0]),
                       logit_zero_point=scalar("head.logit_zero_point"), features=FeatureSpec(**feats),
                       detector=DetectorParams(**det), classes=classes)
        except ValueError as e:
            if str(e).startswith(label):
                raise
            raise ValueError(f"{label}: {e}") from e


def save_model(path: str | os.PathLike, model: KwsModel, extra: Mapping[str, object] | None = None) -> None:
    """Write a whole-model `.fgb` bundle (plus optional `vec.*` test entries)."""
    arrays = model.to_arrays()
    for name, value in (extra or {}).items():
        if name in arrays:
            raise ValueError(f"extra entry {name!r} collides with a model entry")
        arrays[name] = value
    fgb.write_bundle(path, arrays)


def load_model(path: str | os.PathLike, *, features: FeatureSpec | None = None,
               detector: DetectorParams | None = None, classes: Sequence[str] | None = None) -> KwsModel:
    """A model from a `.fgb` bundle, or from a custom-op `.tflite` (via `fastgrnn_tf.export.tflite_reader`).

    `features`, `detector` and `classes` override the bundle's (e.g. another threshold). A `.tflite`
    carries no class names or detector parameters, so `classes` and `detector` are required for it;
    its feature spec defaults to `FeatureSpec()`.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"model file not found: {path}")
    if path.endswith(".tflite"):
        from fastgrnn_tf.export import tflite_reader  # imports TensorFlow's schema: only when needed

        if classes is None or detector is None:
            raise ValueError(f"{path}: a .tflite carries no class names or detector parameters; "
                             "pass classes= and detector=")
        m = tflite_reader.read_exported(path)
        try:
            return KwsModel(step=m.fastgrnn, head=m.head, logit_scale=m.logit_scale,
                            logit_zero_point=m.logit_zero_point, features=features or FeatureSpec(),
                            detector=detector, classes=tuple(classes))
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from e
    model = KwsModel.from_arrays(fgb.read_bundle(path), path)
    if features is None and detector is None and classes is None:
        return model
    try:
        return dataclasses.replace(model, features=features or model.features,
                                   detector=detector or model.detector,
                                   classes=tuple(classes) if classes is not None else model.classes)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from e


# ----------------------------------------------------------------------------------------------
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


# ----------------------------------------------------------------------------------------------
def format_detection(d: TimedDetection) -> str:
    """The line `kws_host` prints for a detection."""
    return (f"detection t={d.time_s:.3f}s frame={d.frame} class={d.class_index} label={d.label} "
            f"score={d.score}")


def format_summary(result: StreamResult, num_samples: int, sample_rate: int) -> str:
    """The summary line `kws_host` prints last."""
    return (f"summary frames={len(result.scores)} detections={len(result.detections)} "
            f"audio={num_samples / sample_rate:.3f}s")


def read_wav_int16(path: str | os.PathLike, sample_rate: int) -> np.ndarray:
    """A mono 16-bit PCM WAV at `sample_rate` as int16 (anything else: ValueError naming the file)."""
    import soundfile as sf

    path = os.fspath(path)
    try:
        info = sf.info(path)
    except (RuntimeError, sf.LibsndfileError) as e:
        raise ValueError(f"{path}: not a readable WAV file ({e})") from e
    if info.channels != 1:
        raise ValueError(f"{path}: {info.channels} channels, need mono")
    if info.samplerate != sample_rate:
        raise ValueError(f"{path}: sample rate {info.samplerate} Hz, need {sample_rate} Hz")
    if info.subtype != "PCM_16":
        raise ValueError(f"{path}: sample format {info.subtype}, need 16-bit PCM")
    audio, _ = sf.read(path, dtype="int16")
    return audio


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m keyword_spotting.pipeline --model m.fgb --wav clip.wav`: kws_host's output, from Python."""
    import argparse

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
        audio = read_wav_int16(args.wav, model.features.sample_rate)
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
