"""Dataset loaders: Speech Commands, a custom wake-word folder, a file-name-labelled folder.

Every loader returns a `SplitDataset`: train / val / test lists of `Item(path, label, speaker)`,
the class names (index = label) and the paths of noise recordings for silence and noise mixing.
Loaders only list files; audio is read later (`tfdata.make_feature_arrays`).

Silence items (`Item.path == ""`) carry no file: the feature builder renders them from the noise
recordings, deterministically from `Item.speaker` (a unique "_silence_<split>_<k>" tag).

Splits are speaker-disjoint:
- Speech Commands uses `validation_list.txt` / `testing_list.txt` when both exist, else the
  hash rule of the Speech Commands README (`which_set`).
- Folder loaders rank speakers by the SHA1 of their name and give the first speakers to
  validation until it holds `val_percentage` % of the clips, the next to test, the rest to
  train (`assign_speaker_splits`): deterministic, and never an empty split with >= 3 speakers.
- `speaker_fold` re-splits any loaded dataset for speaker K-fold cross-validation: all clips pooled,
  speakers dealt to K folds of about equal size; fold k is the test split, fold k+1 validation.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import re
from collections import Counter
from pathlib import Path

import numpy as np

SILENCE = "_silence_"
UNKNOWN = "_unknown_"
BACKGROUND_NOISE_DIR = "_background_noise_"
GOOGLE12_WORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
SPLITS = ("train", "val", "test")
FSDD_PATTERN = r"(?P<label>\d+)_(?P<speaker>[A-Za-z]+)_\d+\.wav"
MAX_NUM_WAVS_PER_CLASS = 2**27 - 1  # Speech Commands README constant


@dataclasses.dataclass(frozen=True)
class Item:
    """One clip: `path` to a WAV ("" for a synthetic silence clip), class index, speaker id."""

    path: str
    label: int
    speaker: str

    @property
    def is_silence(self) -> bool:
        return self.path == ""


@dataclasses.dataclass
class SplitDataset:
    """train / val / test items, class names (index = label) and noise recording paths."""

    train: list[Item]
    val: list[Item]
    test: list[Item]
    class_names: list[str]
    noise: list[str]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def split(self, name: str) -> list[Item]:
        if name not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {name!r}")
        return getattr(self, name)

    def counts(self) -> dict[str, list[int]]:
        """Per split, the number of items of each class."""
        out = {}
        for s in SPLITS:
            c = Counter(it.label for it in self.split(s))
            out[s] = [c.get(i, 0) for i in range(len(self.class_names))]
        return out

    def summary(self) -> str:
        """A small text table of the class counts per split."""
        counts = self.counts()
        width = max([5] + [len(n) for n in self.class_names])
        lines = [f"{'class':<{width}}  " + "  ".join(f"{s:>6}" for s in SPLITS)]
        for i, name in enumerate(self.class_names):
            lines.append(f"{name:<{width}}  " + "  ".join(f"{counts[s][i]:>6}" for s in SPLITS))
        lines.append(f"{'total':<{width}}  " + "  ".join(f"{len(self.split(s)):>6}" for s in SPLITS))
        lines.append(f"noise recordings: {len(self.noise)}")
        return "\n".join(lines)


def _sha1_int(text: str) -> int:
    return int(hashlib.sha1(text.encode("utf-8")).hexdigest(), 16)


def which_set(filename: str, validation_percentage: float, testing_percentage: float) -> str:
    """Speech Commands README split rule: 'training', 'validation' or 'testing' by speaker hash."""
    base_name = os.path.basename(filename)
    hash_name = re.sub(r"_nohash_.*$", "", base_name)
    percentage_hash = (_sha1_int(hash_name) % (MAX_NUM_WAVS_PER_CLASS + 1)) * (100.0 / MAX_NUM_WAVS_PER_CLASS)
    if percentage_hash < validation_percentage:
        return "validation"
    if percentage_hash < testing_percentage + validation_percentage:
        return "testing"
    return "training"


def _check_percentages(val_percentage: float, test_percentage: float) -> None:
    if val_percentage < 0 or test_percentage < 0 or val_percentage + test_percentage >= 100:
        raise ValueError(
            f"val_percentage and test_percentage must be >= 0 and sum to < 100, "
            f"got {val_percentage} and {test_percentage}"
        )


def assign_speaker_splits(speaker_counts: dict[str, int], val_percentage: float = 10.0,
                          test_percentage: float = 10.0) -> dict[str, str]:
    """Map each speaker to 'train' / 'val' / 'test' (see module docstring); deterministic."""
    _check_percentages(val_percentage, test_percentage)
    speakers = sorted(speaker_counts, key=lambda s: (_sha1_int(s), s))
    needed = int(val_percentage > 0) + int(test_percentage > 0) + 1
    if len(speakers) < needed:
        raise ValueError(f"need at least {needed} distinct speakers for speaker-disjoint splits, "
                         f"got {len(speakers)}: {speakers}")
    total = sum(speaker_counts.values())
    out: dict[str, str] = {}
    i = 0
    for split, pct in (("val", val_percentage), ("test", test_percentage)):
        if pct <= 0:
            continue
        taken = 0
        # Leave at least one speaker for each later split.
        later = 1 + int(split == "val" and test_percentage > 0)
        while i < len(speakers) - later and (taken == 0 or taken < total * pct / 100.0):
            out[speakers[i]] = split
            taken += speaker_counts[speakers[i]]
            i += 1
    for s in speakers[i:]:
        out[s] = "train"
    return out


def speaker_fold(dataset: SplitDataset, folds: int, fold: int) -> SplitDataset:
    """Fold `fold` of a speaker K-fold split of all of `dataset`'s clips (train + val + test pooled).

    Speakers, ranked by the SHA1 of their id, go one by one to the fold holding the fewest clips so far
    (ties: the lowest fold), so every speaker's clips are in exactly one fold and the folds are about
    equal in size. Test = fold `fold`, val = fold `fold + 1` (mod K), train = the other K - 2 folds.
    Over k = 0..K-1 every clip is a test clip exactly once. Deterministic."""
    if not isinstance(folds, int) or folds < 3:
        raise ValueError(f"folds must be an integer >= 3 (one fold each for test and validation), got {folds!r}")
    if not isinstance(fold, int) or not 0 <= fold < folds:
        raise ValueError(f"fold must be an integer in [0, {folds}), got {fold!r}")
    items = [*dataset.train, *dataset.val, *dataset.test]
    counts = Counter(it.speaker for it in items)
    if len(counts) < folds:
        raise ValueError(f"{folds} folds need at least {folds} distinct speakers, got {len(counts)}")
    sizes = [0] * folds
    fold_of: dict[str, int] = {}
    for speaker in sorted(counts, key=lambda s: (_sha1_int(s), s)):
        k = min(range(folds), key=lambda i: (sizes[i], i))
        fold_of[speaker] = k
        sizes[k] += counts[speaker]
    val_fold = (fold + 1) % folds
    role = {fold: "test", val_fold: "val"}
    pick: dict[str, list[Item]] = {name: [] for name in SPLITS}
    for it in items:
        pick[role.get(fold_of[it.speaker], "train")].append(it)
    return SplitDataset(pick["train"], pick["val"], pick["test"], list(dataset.class_names), list(dataset.noise))


def _silence_items(split: str, n: int, label: int) -> list[Item]:
    return [Item("", label, f"{SILENCE}{split}_{k}") for k in range(n)]


def wav_files(folder: Path) -> list[Path]:
    """Every .wav file under `folder` (recursively), sorted."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() == ".wav" and p.is_file())


def _check_dir(root: str | os.PathLike, what: str) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"{what} {root} is not a directory")
    return root


def _read_list(path: Path) -> set[str]:
    return {line.strip() for line in path.read_text().splitlines() if line.strip()}


def load_speech_commands(
    root: str | os.PathLike,
    task: str = "google12",
    wanted_words: tuple[str, ...] | list[str] | None = None,
    val_percentage: float = 10.0,
    test_percentage: float = 10.0,
    silence_percentage: float = 10.0,
    unknown_percentage: float = 10.0,
    seed: int = 0,
) -> SplitDataset:
    """Speech Commands v1/v2 folder (`<word>/<speaker>_nohash_<n>.wav`, `_background_noise_/`).

    task="google12": classes `[_silence_, _unknown_] + wanted_words` (default the 10 Google
    words). As in TF's `speech_commands/input_data.py`, each split gets
    ceil(n_keyword_clips * silence_percentage / 100) silence items and as many unknown clips
    (other words, sampled with `seed`) for `unknown_percentage`.
    task="full": one class per word folder (sorted), no silence / unknown.
    val_percentage / test_percentage are used by the hash rule only (when the list files are absent).
    """
    root = _check_dir(root, "Speech Commands root")
    if task not in ("google12", "full"):
        raise ValueError(f"task must be 'google12' or 'full', got {task!r}")
    _check_percentages(val_percentage, test_percentage)
    if silence_percentage < 0 or unknown_percentage < 0:
        raise ValueError("silence_percentage and unknown_percentage must be >= 0")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    words = sorted(p.name for p in root.iterdir()
                   if p.is_dir() and not p.name.startswith("_") and any(p.glob("*.wav")))
    if not words:
        raise ValueError(f"Speech Commands root {root} has no <word>/*.wav folders")
    val_list, test_list = root / "validation_list.txt", root / "testing_list.txt"
    use_lists = val_list.is_file() and test_list.is_file()
    if use_lists:
        val_set, test_set = _read_list(val_list), _read_list(test_list)

    def split_of(rel: str) -> str:
        if use_lists:
            return "val" if rel in val_set else "test" if rel in test_set else "train"
        s = which_set(rel, val_percentage, test_percentage)
        return {"validation": "val", "testing": "test", "training": "train"}[s]

    if task == "full":
        class_names = list(words)
        wanted = set(words)
    else:
        wanted_list = list(wanted_words) if wanted_words is not None else list(GOOGLE12_WORDS)
        missing = [w for w in wanted_list if w not in words]
        if missing:
            raise ValueError(f"wanted_words not found under {root}: {missing}")
        class_names = [SILENCE, UNKNOWN] + wanted_list
        wanted = set(wanted_list)
    index = {name: i for i, name in enumerate(class_names)}

    keyword: dict[str, list[Item]] = {s: [] for s in SPLITS}
    unknown: dict[str, list[Item]] = {s: [] for s in SPLITS}
    for word in words:
        for wav in sorted((root / word).glob("*.wav")):
            rel = f"{word}/{wav.name}"
            speaker = re.sub(r"_nohash_.*$", "", wav.name)
            split = split_of(rel)
            if word in wanted:
                keyword[split].append(Item(str(wav), index[word], speaker))
            else:
                unknown[split].append(Item(str(wav), index.get(UNKNOWN, -1), speaker))

    out: dict[str, list[Item]] = {}
    for k, split in enumerate(SPLITS):
        items = list(keyword[split])
        if task == "google12":
            n = len(keyword[split])
            n_sil = math.ceil(n * silence_percentage / 100.0)
            n_unk = min(math.ceil(n * unknown_percentage / 100.0), len(unknown[split]))
            rng = np.random.default_rng([seed, k])
            pick = rng.permutation(len(unknown[split]))[:n_unk]
            items += [unknown[split][i] for i in sorted(pick)]
            items += _silence_items(split, n_sil, index[SILENCE])
        out[split] = items
    noise_dir = root / BACKGROUND_NOISE_DIR
    noise = [str(p) for p in wav_files(noise_dir)] if noise_dir.is_dir() else []
    return SplitDataset(out["train"], out["val"], out["test"], class_names, noise)


def speaker_from_filename(path: str | os.PathLike, base: str | os.PathLike | None = None) -> str:
    """Speaker of a clip in a custom folder.

    `<speaker>__<anything>.wav` (as `kws-tts` writes them) -> `<speaker>`; else, for a file in a
    sub-folder of `base` (`positives/<speaker>/x.wav`) -> that sub-folder; else the file stem
    (an unknown speaker, so the clip is split on its own).
    """
    path = Path(path)
    if "__" in path.stem:
        return path.stem.split("__", 1)[0]
    if base is not None:
        rel = path.relative_to(base)
        if len(rel.parts) > 1:
            return rel.parts[0]
    return path.stem


def _split_items(items: list[Item], val_percentage: float, test_percentage: float) -> dict[str, list[Item]]:
    counts = Counter(it.speaker for it in items)
    assign = assign_speaker_splits(dict(counts), val_percentage, test_percentage)
    out: dict[str, list[Item]] = {s: [] for s in SPLITS}
    for it in items:
        out[assign[it.speaker]].append(it)
    return out


def load_custom_folder(
    root: str | os.PathLike,
    val_percentage: float = 10.0,
    test_percentage: float = 10.0,
    silence_percentage: float = 10.0,
    extra_negative_dirs: tuple[str | os.PathLike, ...] | list = (),
    extra_noise_dirs: tuple[str | os.PathLike, ...] | list = (),
) -> SplitDataset:
    """A wake-word folder: `positives/`, `negatives/` (WAVs, any depth) and optional `noise/`.

    Classes: 0 "negative", 1 "positive". Speakers come from `speaker_from_filename`; splits are
    speaker-disjoint over positives and negatives together. Each split also gets
    ceil(n_positive * silence_percentage / 100) silence items labelled negative (rendered from
    the noise). `extra_negative_dirs` add more negative WAVs (e.g. real speech), split the same way.
    """
    root = _check_dir(root, "custom wake-word folder")
    items: list[Item] = []
    for label, sub in ((1, "positives"), (0, "negatives")):
        folder = root / sub
        files = wav_files(folder) if folder.is_dir() else []
        if not files:
            raise ValueError(f"custom wake-word folder {root}: {sub}/ is missing or has no .wav files")
        items += [Item(str(p), label, speaker_from_filename(p, folder)) for p in files]
    for d in extra_negative_dirs:
        d = _check_dir(d, "extra negative folder")
        items += [Item(str(p), 0, "extra:" + speaker_from_filename(p, d)) for p in wav_files(d)]
    split = _split_items(items, val_percentage, test_percentage)
    for s in SPLITS:
        n_pos = sum(it.label == 1 for it in split[s])
        split[s] += _silence_items(s, math.ceil(n_pos * silence_percentage / 100.0), 0)
    noise = [str(p) for p in wav_files(root / "noise")] if (root / "noise").is_dir() else []
    for d in extra_noise_dirs:
        noise += [str(p) for p in wav_files(_check_dir(d, "extra noise folder"))]
    return SplitDataset(split["train"], split["val"], split["test"], ["negative", "positive"], noise)


def load_filename_labelled(
    root: str | os.PathLike,
    pattern: str = FSDD_PATTERN,
    class_names: list[str] | None = None,
    val_percentage: float = 10.0,
    test_percentage: float = 10.0,
    noise_dirs: tuple[str | os.PathLike, ...] | list = (),
) -> SplitDataset:
    """A flat folder of WAVs labelled by their file name, e.g. FSDD `<digit>_<speaker>_<n>.wav`.

    `pattern` must fully match every WAV file name and have a named group `label` (and
    optionally `speaker`; without it each file is its own speaker). `class_names` fixes the
    class order (labels not in it are an error); by default the sorted labels found (numeric
    order when all labels are integers). Noise for mixing comes from `noise_dirs`.
    """
    root = _check_dir(root, "file-name-labelled folder")
    try:
        rx = re.compile(pattern)
    except re.error as e:
        raise ValueError(f"pattern {pattern!r} is not a valid regex: {e}") from e
    if "label" not in rx.groupindex:
        raise ValueError(f"pattern {pattern!r} needs a named group (?P<label>...)")
    files = sorted(p for p in root.iterdir() if p.suffix.lower() == ".wav" and p.is_file())
    if not files:
        raise ValueError(f"file-name-labelled folder {root} has no .wav files")
    parsed = []
    bad = []
    for p in files:
        m = rx.fullmatch(p.name)
        if m is None:
            bad.append(p.name)
            continue
        speaker = m.group("speaker") if "speaker" in rx.groupindex else p.stem
        parsed.append((p, m.group("label"), speaker))
    if bad:
        raise ValueError(f"{len(bad)} file(s) in {root} do not match pattern {pattern!r}, e.g. {bad[:3]}")
    labels = sorted({lab for _, lab, _ in parsed})
    if class_names is None:
        class_names = sorted(labels, key=int) if all(lab.isdigit() for lab in labels) else labels
    else:
        class_names = list(class_names)
        unknown = sorted(set(labels) - set(class_names))
        if unknown:
            raise ValueError(f"labels {unknown} found in {root} are not in class_names")
    index = {name: i for i, name in enumerate(class_names)}
    items = [Item(str(p), index[lab], spk) for p, lab, spk in parsed]
    split = _split_items(items, val_percentage, test_percentage)
    noise = []
    for d in noise_dirs:
        noise += [str(p) for p in wav_files(_check_dir(d, "noise folder"))]
    return SplitDataset(split["train"], split["val"], split["test"], class_names, noise)
