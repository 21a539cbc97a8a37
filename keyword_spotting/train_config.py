"""The training configuration: one dataclass tree, loadable from YAML and overridable by flags."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from fastgrnn_tf.atomic_io import atomic_write_text
from keyword_spotting.features import FeatureSpec
from keyword_spotting.spec_augment import SpecMask
from keyword_spotting.stream_training import StreamTargets
from keyword_spotting.tts_engines import ENGINE_NAMES


@dataclasses.dataclass
class DataConfig:
    """Where the clips come from. kind: speech_commands | custom | filename | tts."""

    kind: str = "tts"
    root: str = ""
    task: str = "google12"  # speech_commands only: google12 | full
    pattern: str = r"(?P<label>[^_]+)_(?P<speaker>[^_]+)_\d+\.wav"  # filename only
    phrase: str = "hey nano"  # tts only
    tts_positives: int = 400
    tts_negatives: int = 800
    tts_noise: int = 120
    tts_engines: tuple[str, ...] = ()  # tts only: espeak, flite, festival, piper; empty = every installed one
    tts_weight_cap: int = 8  # tts only: an engine's share of the clips ~ min(its voices, this); 1 = equal shares
    augment_copies: int = 2
    context_frames: int = 60  # streaming context: frames of another clip before each training clip (0 = off)
    snr_db: tuple[float, float] = (5.0, 20.0)
    max_shift_ms: float = 100.0
    seed: int = 0
    rir_prob: float = 0.0  # share of augmented copies heard through a simulated room (keyword_spotting.rooms)
    rooms: int = 200  # simulated rooms in the bank (fixed by data.seed, cached)
    # Voice and channel perturbations of the augmented copies (keyword_spotting.perturb, ranges in AugmentConfig):
    perturb_prob: float = 0.0  # speed, pitch and vocal-tract length, each with this probability
    eq_prob: float = 0.0  # random peaking EQ (a microphone's and a room's colour)
    clip_prob: float = 0.0  # hard clipping
    noise_dirs: tuple[str, ...] = ()  # more background recordings for augmentation (every file)
    negative_dirs: tuple[str, ...] = ()  # long real negative speech, cut into 1 s training clips
    real_data: str = ""  # a ../shared/data-layout root: its TRAINING part adds negatives and noise (real_data.py)
    real_negative_clips: int = 3000  # at most this many 1 s clips cut from negative_dirs + real_data
    folds: int = 0  # > 0: speaker K-fold cross-validation split (datasets.speaker_fold), test = fold `fold`
    fold: int = 0
    # Optional real recordings of the phrase (real_positives.py): added to the TRAIN split's positive class.
    real_positives: str = ""  # a folder of recordings of the wake phrase (any length, any audio format)
    real_positives_max: int = 0  # at most this many of them (a seeded pick); 0 = all

    def validate(self) -> None:
        if self.folds != 0 and (self.folds < 3 or not 0 <= self.fold < self.folds):
            raise ValueError(f"data.folds must be 0 (the loader's split) or >= 3 with 0 <= data.fold < data.folds, "
                             f"got folds={self.folds}, fold={self.fold}")
        if self.kind not in ("speech_commands", "custom", "filename", "tts"):
            raise ValueError(f"data.kind must be speech_commands, custom, filename or tts, got {self.kind!r}")
        if self.kind != "tts" and not self.root:
            raise ValueError(f"data.root is required for data.kind={self.kind!r}")
        unknown = [e for e in self.tts_engines if e not in ENGINE_NAMES]
        if isinstance(self.tts_engines, str) or unknown:
            raise ValueError(f"data.tts_engines must be a list of {', '.join(ENGINE_NAMES)}, got {self.tts_engines!r}")
        if isinstance(self.tts_weight_cap, bool) or not isinstance(self.tts_weight_cap, int) or self.tts_weight_cap < 1:
            raise ValueError(f"data.tts_weight_cap must be an integer >= 1, got {self.tts_weight_cap!r}")
        if self.augment_copies < 0:
            raise ValueError("data.augment_copies must be >= 0")
        if self.context_frames < 0:
            raise ValueError("data.context_frames must be >= 0")
        for name in ("rir_prob", "perturb_prob", "eq_prob", "clip_prob"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
                raise ValueError(f"data.{name} must be a probability in [0, 1], got {value!r}")
        if self.rir_prob > 0 and self.rooms < 1:
            raise ValueError(f"data.rooms must be >= 1 when data.rir_prob > 0, got {self.rooms}")
        if self.real_negative_clips < 0:
            raise ValueError(f"data.real_negative_clips must be >= 0, got {self.real_negative_clips}")
        for name in ("noise_dirs", "negative_dirs"):
            value = getattr(self, name)
            if isinstance(value, str) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"data.{name} must be a list of folder paths, got {value!r}")
            for folder in value:
                if not Path(folder).is_dir():
                    raise ValueError(f"data.{name}: folder {folder} does not exist")
        if self.real_data and not Path(self.real_data).is_dir():
            raise ValueError(f"data.real_data: folder {self.real_data} does not exist")
        # Real positives (two fields, validated together).
        if not isinstance(self.real_positives, str):
            raise ValueError(f"data.real_positives must be a folder path, got {self.real_positives!r}")
        if self.real_positives and not Path(self.real_positives).is_dir():
            raise ValueError(f"data.real_positives: folder {self.real_positives} does not exist")
        n = self.real_positives_max
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"data.real_positives_max must be an integer >= 0 (0 = all), got {n!r}")


@dataclasses.dataclass
class ModelConfig:
    """The network: FastGRNN (or a GRU baseline) over int8 features, then a Dense head."""

    kind: str = "fastgrnn"  # fastgrnn | gru
    units: int = 100
    w_rank: int | None = 16
    u_rank: int | None = 25
    gate_activation: str = "sigmoid"
    update_activation: str = "tanh"

    def validate(self) -> None:
        if self.kind not in ("fastgrnn", "gru"):
            raise ValueError(f"model.kind must be fastgrnn or gru, got {self.kind!r}")
        if self.units <= 0:
            raise ValueError(f"model.units must be positive, got {self.units}")


@dataclasses.dataclass
class TrainConfig:
    """Epochs and learning rates of the three stages + QAT; keep fractions are non-zeros kept."""

    batch_size: int = 64
    epochs_dense: int = 20
    epochs_prune: int = 10
    epochs_retrain: int = 5
    epochs_qat: int = 5
    learning_rate: float = 3e-3
    keep_w: float = 0.3
    keep_u: float = 0.3
    qat: bool = True
    # Training for streams (keyword_spotting/stream_training.py): 0 = clips, scored at their last frame (with
    # data.context_frames); K > 0 = sequences of K clips with a target on every frame.
    stream_clips: int = 0
    stream_target_frames: int = 10  # keyword target on a keyword clip's last frames
    stream_after_frames: int = 30  # frames after a keyword clip without loss
    negative_weight: float = 1.0  # weight of a non-keyword frame (a keyword clip weighs as one clip)
    # Hard-negative mining (keyword_spotting/hard_negatives.py): after the dense stage, the N windows of the
    # training part of the real negatives that the dense model scores highest join the later stages' training
    # set (0 = off); windows at this hop.
    hard_negatives: int = 0
    hard_negative_hop_ms: float = 250.0
    # SpecAugment on the training sequences (keyword_spotting/spec_augment.py; needs stream_clips): per sequence
    # spec_freq_masks bands of up to spec_freq_width mel channels, per clip spec_time_masks stretches of up to
    # spec_time_width frames, set to the normalized features' 0 (the training mean). 0 = off.
    spec_freq_masks: int = 0
    spec_freq_width: int = 0
    spec_time_masks: int = 0
    spec_time_width: int = 0

    def validate(self) -> None:
        if self.stream_clips < 0:
            raise ValueError(f"train.stream_clips must be >= 0, got {self.stream_clips}")
        if self.hard_negatives < 0:
            raise ValueError(f"train.hard_negatives must be >= 0, got {self.hard_negatives}")
        if not self.hard_negative_hop_ms > 0:
            raise ValueError(f"train.hard_negative_hop_ms must be positive, got {self.hard_negative_hop_ms}")
        if self.stream_clips:
            self.stream_targets()
        if self.spec_mask().active and not self.stream_clips:
            raise ValueError("train.spec_* masks are applied to training sequences: set train.stream_clips > 0")

    def spec_mask(self) -> SpecMask:
        """The SpecMask of this config (ValueError naming the bad value)."""
        try:
            return SpecMask(self.spec_freq_masks, self.spec_freq_width, self.spec_time_masks, self.spec_time_width)
        except ValueError as e:
            raise ValueError(f"train.spec_*: {e}") from None

    def stream_targets(self) -> StreamTargets:
        """The StreamTargets of this config (ValueError naming the bad value)."""
        try:
            return StreamTargets(self.stream_clips, self.stream_target_frames, self.stream_after_frames,
                                 self.negative_weight)
        except ValueError as e:
            raise ValueError(f"train.stream_*: {e}") from None


@dataclasses.dataclass
class DetectorConfig:
    window_frames: int = 30
    threshold: int = 160
    refractory_frames: int = 100


@dataclasses.dataclass
class Config:
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    features: FeatureSpec = dataclasses.field(default_factory=FeatureSpec)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    detector: DetectorConfig = dataclasses.field(default_factory=DetectorConfig)
    out_dir: str = "build/train"

    def validate(self) -> None:
        self.data.validate()
        self.model.validate()
        self.train.validate()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig, "detector": DetectorConfig}


def _typed(name: str, value: Any, hint: Any) -> Any:
    """`value` checked against a field's type hint (int, float, str, bool, X | None, tuple[...]); a list
    becomes a tuple, an int a float where a float is wanted, and a string that is a number (YAML 1.1 reads
    1e-6 as a string) a float; ValueError naming the key otherwise."""
    args = typing.get_args(hint)
    if isinstance(hint, types.UnionType):
        if value is None and type(None) in args:
            return None
        hint = next(a for a in args if a is not type(None))
        args = typing.get_args(hint)
    if typing.get_origin(hint) is tuple:
        if isinstance(value, (list, tuple)):
            if args[-1] is Ellipsis:
                return tuple(_typed(name, v, args[0]) for v in value)
            if len(value) == len(args):
                return tuple(_typed(name, v, a) for v, a in zip(value, args, strict=True))
        kind = f"a list of {args[0].__name__}" if args[-1] is Ellipsis else f"a list of {len(args)} values"
        raise ValueError(f"config key {name} must be {kind}, got {value!r}")
    if hint is float and isinstance(value, str):
        with contextlib.suppress(ValueError):
            return float(value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        names = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
        raise ValueError(f"config key {name} must be {names.get(hint, hint.__name__)}, got {value!r}")
    return value


def _section_values(name: str, cls: type, value: Any) -> dict[str, Any]:
    """A section's `key: value` mapping, every key known and every value of its field's type."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"config section {name!r} must be a mapping of keys to values, got {value!r}")
    hints = typing.get_type_hints(cls)
    unknown = [k for k in value if k not in hints]
    if unknown:
        raise ValueError(f"unknown config key {name}.{unknown[0]}")
    return {k: _typed(f"{name}.{k}", v, hints[k]) for k, v in value.items()}


def config_from_dict(d: dict[str, Any]) -> Config:
    """Build a Config from nested dicts, rejecting unknown keys and values of the wrong type by their full name."""
    d = dict(d or {})
    cfg = Config()
    for key, value in d.items():
        if key == "out_dir":
            cfg.out_dir = str(value)
        elif key == "features":
            cfg.features = FeatureSpec.from_dict({**cfg.features.to_dict(),
                                                  **_section_values(key, FeatureSpec, value)})
        elif key in _SECTIONS:
            section = getattr(cfg, key)
            for k, v in _section_values(key, _SECTIONS[key], value).items():
                setattr(section, k, v)
        else:
            raise ValueError(f"unknown config section {key!r}")
    cfg.validate()
    return cfg


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> Config:
    """YAML file (optional) + `section.key=value` overrides (values parsed as YAML)."""
    d: dict[str, Any] = {}
    if path:
        p = Path(path)
        if not p.is_file():
            raise ValueError(f"config file not found: {p}")
        # JSON as JSON: YAML 1.1 reads the 1e-06 that save_config writes as a string.
        try:
            d = (json.loads(p.read_text()) if p.suffix == ".json" else yaml.safe_load(p.read_text())) or {}
        except (yaml.YAMLError, json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"config file {p} is not valid {'JSON' if p.suffix == '.json' else 'YAML'}: "
                             f"{' '.join(str(e).split())}") from e
        if not isinstance(d, dict):
            raise ValueError(f"config file {p} must hold a mapping")
    for item in overrides or []:
        if "=" not in item or "." not in item.split("=", 1)[0]:
            raise ValueError(f"override must look like section.key=value, got {item!r}")
        dotted, value = item.split("=", 1)
        section, key = dotted.split(".", 1)
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError as e:
            raise ValueError(f"override {item!r}: the value is not valid YAML: {' '.join(str(e).split())}") from e
        if not isinstance(d.setdefault(section, {}), dict):
            raise ValueError(f"config section {section!r} must be a mapping of keys to values")
        d[section][key] = parsed
    return config_from_dict(d)


def save_config(cfg: Config, path: str | Path) -> None:
    """The config as JSON (loadable by `load_config`), written atomically."""
    atomic_write_text(path, json.dumps(cfg.to_dict(), indent=2, default=list))
