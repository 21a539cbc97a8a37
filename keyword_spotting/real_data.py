"""The shared real recordings (`../shared/data`, see its README) and their training / measuring split.

    data = discover()                         # or discover("/path/to/data")
    data.wakewords["alexa"]                   # real recordings of the word: measuring only, never training
    data.part("measure").negatives            # [RealFile]: real speech that no model trains on
    data.part("train").noise                  # [RealFile]: real noise a recipe may train on

What is found (audio: .wav .flac .ogg .mp3, read by `audio_io.read_audio`):
- `wakewords/<word>/*`: real people saying the word. All of it is for measuring.
- negatives: `negatives/librispeech/*` (speaker id from `<speaker>-<chapter>-<utt>` in the name) and
  `negatives/speech/*` (no speaker id: one group per file).
- noise: `noise/ambience/*`, `noise/music/*` (one group per file) and
  `speech_commands_dev/_background_noise_/*`.

The split (deterministic, no randomness, no file lists to keep):
- Each source's groups (LibriSpeech: speakers; elsewhere: files) are ranked by
  sha1("real_data:<source>:<group>") and the first round(n * measure_fraction) of them (default half)
  go to the MEASURING part, the rest to the TRAINING part. A speaker's every utterance lands on one
  side, so the parts are disjoint by file and by speaker.
- `speech_commands_dev/_background_noise_` is TRAINING only: its `clip_*.wav` are cut from Speech
  Commands background recordings, so a split by file could put the same noise on both sides.
- Files named `*multiple_keywords*` (Picovoice's Porcupine samples, which say Porcupine's built-in
  wake words, among them "alexa" and "jarvis") are in neither part.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "shared" / "data"
"""`../shared/data` relative to the project root."""
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3")
PARTS = ("train", "measure")
EXCLUDED = re.compile(r"multiple_keywords")
NEGATIVE_SOURCES = {"librispeech": "negatives/librispeech", "speech": "negatives/speech"}
NOISE_SOURCES = {"ambience": "noise/ambience", "music": "noise/music",
                 "background": "speech_commands_dev/_background_noise_"}
TRAIN_ONLY = frozenset({"background"})
_LIBRI = re.compile(r"(?P<speaker>\d+)-(?P<chapter>\d+)-(?P<utt>\d+)$")


@dataclasses.dataclass(frozen=True)
class RealFile:
    """One recording: its path, source folder key and group (speaker or file) the split keeps together."""

    path: Path
    source: str
    group: str


@dataclasses.dataclass(frozen=True)
class RealPart:
    """The negatives and noise of one part ("train" or "measure")."""

    name: str
    negatives: tuple[RealFile, ...]
    noise: tuple[RealFile, ...]

    def files(self) -> tuple[RealFile, ...]:
        return self.negatives + self.noise


@dataclasses.dataclass(frozen=True)
class RealData:
    """Everything `discover` found under `root`."""

    root: Path
    wakewords: dict[str, tuple[Path, ...]]
    negatives: tuple[RealFile, ...]
    noise: tuple[RealFile, ...]
    measure_fraction: float = 0.5

    def part(self, name: str) -> RealPart:
        """The TRAINING ("train") or MEASURING ("measure") part of the negatives and noise."""
        if name not in PARTS:
            raise ValueError(f"part must be one of {PARTS}, got {name!r}")
        measure = measuring_groups(self.negatives + self.noise, self.measure_fraction)

        def pick(files: tuple[RealFile, ...]) -> tuple[RealFile, ...]:
            return tuple(f for f in files if ((f.source, f.group) in measure) == (name == "measure"))

        return RealPart(name, pick(self.negatives), pick(self.noise))

    def summary(self) -> str:
        words = ", ".join(f"{w} {len(p)}" for w, p in self.wakewords.items()) or "none"
        lines = [f"real data {self.root}: wake words: {words}"]
        for name in PARTS:
            p = self.part(name)
            lines.append(f"  {name}: {len(p.negatives)} negative files "
                         f"({len({(f.source, f.group) for f in p.negatives})} groups), {len(p.noise)} noise files")
        return "\n".join(lines)


def _audio_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES
                  and not EXCLUDED.search(p.name))


def librispeech_speaker(path: str | os.PathLike) -> str:
    """The speaker id of a LibriSpeech file named `...<speaker>-<chapter>-<utt>.flac` (ValueError otherwise)."""
    stem = Path(path).stem
    m = _LIBRI.search(stem)
    if m is None:
        raise ValueError(f"{path}: not a LibriSpeech file name (<speaker>-<chapter>-<utt>)")
    return m["speaker"]


def _hash(source: str, group: str) -> str:
    return hashlib.sha1(f"real_data:{source}:{group}".encode()).hexdigest()


def measuring_groups(files: tuple[RealFile, ...] | list[RealFile], measure_fraction: float = 0.5
                     ) -> set[tuple[str, str]]:
    """(source, group) pairs of the MEASURING part: per source, the first round(n * fraction) groups by hash."""
    if not 0.0 <= measure_fraction <= 1.0:
        raise ValueError(f"measure_fraction must be in [0, 1], got {measure_fraction}")
    by_source: dict[str, set[str]] = {}
    for f in files:
        by_source.setdefault(f.source, set()).add(f.group)
    out: set[tuple[str, str]] = set()
    for source, groups in by_source.items():
        if source in TRAIN_ONLY:
            continue
        ranked = sorted(groups, key=lambda g: _hash(source, g))
        out |= {(source, g) for g in ranked[: round(len(ranked) * measure_fraction)]}
    return out


def discover(root: str | os.PathLike | None = None, measure_fraction: float = 0.5) -> RealData:
    """Find the real recordings under `root` (default `ROOT`); ValueError when there is no audio at all."""
    root = Path(root) if root is not None else ROOT
    if not root.is_dir():
        raise ValueError(f"real data folder {root} does not exist (see ../shared/data/README.md)")
    wake_dir = root / "wakewords"
    wakewords = {}
    if wake_dir.is_dir():
        for d in sorted(p for p in wake_dir.iterdir() if p.is_dir()):
            files = _audio_files(d)
            if files:
                wakewords[d.name] = tuple(files)
    negatives: list[RealFile] = []
    for source, sub in NEGATIVE_SOURCES.items():
        for p in _audio_files(root / sub):
            group = librispeech_speaker(p) if source == "librispeech" else p.stem
            negatives.append(RealFile(p, source, group))
    noise = [RealFile(p, source, p.stem) for source, sub in NOISE_SOURCES.items() for p in _audio_files(root / sub)]
    if not (wakewords or negatives or noise):
        raise ValueError(f"real data folder {root} has no audio in wakewords/, negatives/ or noise/")
    data = RealData(root, wakewords, tuple(negatives), tuple(noise), measure_fraction)
    measuring_groups(data.negatives, measure_fraction)  # validates the fraction early
    return data
