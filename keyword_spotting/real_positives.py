"""A user's own recordings of the wake phrase in training (`data.real_positives`, `kws-train --real-positives`).

    files = positive_files("my_recordings/", max_files=20, seed=0)   # checked: every file reads, none is silent
    dataset = add_real_positives(dataset, files)                      # TRAIN split, class "positive"
    record_in_card("run/model_card.json", "my_recordings/", 20, 0)     # the card lists how many and which
    chosen, rest = hold_out(recordings, 10, seed=0)                   # the benchmark's N training clips

A recording may have any length and any format `audio_io.read_audio` reads. It becomes one training item
whose clip the feature loader cuts like every other clip (`audio_io.load_clip` -> `fix_length`): a recording
longer than 1 s is trimmed to its loudest 1 s window (10 ms hop), a shorter one is zero-padded at the end.
Augmented copies (noise, shift, rooms) are made as for the synthetic positives. Real positives go to the
TRAIN split only: validation and test stay the dataset's own, so the clip accuracies keep measuring the
synthetic data. At most `max_files` are used (0 = all): a pick fixed by the seed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from keyword_spotting.audio_io import read_audio
from keyword_spotting.datasets import Item, SplitDataset
from keyword_spotting.real_negatives import audio_files

POSITIVE_CLASS = "positive"
SPEAKER_PREFIX = "real-positive:"
"""`Item.speaker` of a real positive: the prefix, then the file's stem."""


def _problem(path: Path) -> str | None:
    """Why `path` cannot be a positive (unreadable, silent), or None."""
    try:
        pcm = read_audio(path)
    except ValueError as e:
        return str(e)
    return None if pcm.size and np.any(pcm) else f"{path}: silent (every sample is 0)"


def check_readable(files: Sequence[Path], what: str) -> None:
    """ValueError naming the files of `files` that cannot be read or are silent (up to 3 of them)."""
    bad = [msg for msg in (_problem(Path(p)) for p in files) if msg]
    if bad:
        more = f" (and {len(bad) - 3} more)" if len(bad) > 3 else ""
        raise ValueError(f"{len(bad)} of {len(files)} {what} files cannot be used: " + "; ".join(bad[:3]) + more)


def positive_files(folder: str | os.PathLike, max_files: int = 0, seed: int = 0, check: bool = True) -> list[Path]:
    """The recordings in `folder` (recursive), at most `max_files` (0 = all; a seeded pick), sorted;
    with `check`, every one must read and hold sound (ValueError naming the files)."""
    if isinstance(max_files, bool) or not isinstance(max_files, int) or max_files < 0:
        raise ValueError(f"max_files must be an integer >= 0 (0 = all), got {max_files!r}")
    files = audio_files(folder, "real positives")
    if 0 < max_files < len(files):
        pick = np.random.default_rng([seed, 13]).permutation(len(files))[:max_files]
        files = [files[i] for i in sorted(pick)]
    if check:
        check_readable(files, f"real positive ({folder})")
    return files


def add_real_positives(dataset: SplitDataset, files: Sequence[Path]) -> SplitDataset:
    """`dataset` with `files` added to its TRAIN split as the class "positive" (which it must have)."""
    if not files:
        return dataset
    if POSITIVE_CLASS not in dataset.class_names:
        raise ValueError(f"real positives need a wake-word dataset (data.kind tts or custom) with a "
                         f"{POSITIVE_CLASS!r} class; this one has {list(dataset.class_names)}")
    label = list(dataset.class_names).index(POSITIVE_CLASS)
    train = list(dataset.train) + [Item(str(p), label, SPEAKER_PREFIX + Path(p).stem) for p in files]
    return SplitDataset(train, list(dataset.val), list(dataset.test), list(dataset.class_names),
                        list(dataset.noise))


def hold_out(recordings: Sequence[Path], n: int, seed: int = 0) -> tuple[list[Path], list[Path]]:
    """(the `n` recordings to train on, the others): a seeded pick among the readable, non-silent ones
    (unreadable files stay with the others, where the benchmark skips them). ValueError when fewer than
    `n` are usable or none would be left to measure."""
    recordings = list(recordings)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"the number of real positives must be an integer >= 1, got {n!r}")
    if n >= len(recordings):
        raise ValueError(f"cannot take {n} of {len(recordings)} recordings for training: none would be left "
                         "to measure")
    chosen: list[Path] = []
    for i in np.random.default_rng([seed, 17]).permutation(len(recordings)):
        if len(chosen) == n:
            break
        if _problem(Path(recordings[int(i)])) is None:
            chosen.append(Path(recordings[int(i)]))
    if len(chosen) < n:
        raise ValueError(f"only {len(chosen)} of {len(recordings)} recordings are readable, need {n}")
    taken = set(chosen)
    return sorted(chosen), [Path(p) for p in recordings if Path(p) not in taken]


def record_in_card(card_path: str | os.PathLike, folder: str, max_files: int = 0, seed: int = 0) -> dict[str, object]:
    """Add the `real_positives` entry (the files `positive_files` picks) to a written model card, atomically;
    returns the entry. Called after `train.run_training` by `kws-train` and the benchmark."""
    import json

    from fastgrnn_tf.atomic_io import atomic_write_text

    files = positive_files(folder, max_files, seed, check=False) if folder else []
    entry = {"count": len(files), "folder": folder, "files": [str(p) for p in files],
             "clip": "loudest 1 s window of each recording (shorter ones zero-padded), train split only"}
    path = Path(card_path)
    card = json.loads(path.read_text())
    card["real_positives"] = entry
    atomic_write_text(path, json.dumps(card, indent=2, default=str) + "\n")
    return entry
