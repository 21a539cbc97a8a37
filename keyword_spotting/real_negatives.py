"""Real audio in training: long negative recordings cut into 1 s clips, and extra background noise.

A wake word learned from synthetic speech alone fires on real people talking; the recipe adds real speech as
the negative class and real rooms' noise to the augmentation (microWakeWord and openWakeWord train on hours
of both). Sources: `data.negative_dirs` / `data.noise_dirs` (every file), and `data.real_data`, a root laid
out like ../shared/data of which only the TRAINING part (`real_data.RealData.part("train")`) is taken, so
audio that measures a model never trains it.

Clips are cut at a 1 s hop, windows quieter than -45 dBFS RMS are skipped, and at most `max_clips` are kept
(an even spread over the files, fixed by the seed); they are written once as WAVs under `out_dir` (atomic)
and reused. They all go to the TRAIN split: validation and test stay the dataset's own.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from keyword_spotting import real_data
from keyword_spotting.audio_io import CLIP_SAMPLES, SAMPLE_RATE, read_audio, write_wav
from keyword_spotting.datasets import Item, SplitDataset

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
QUIET_DBFS = -45.0
NEGATIVE_CLASS = "negative"


def audio_files(folder: str | Path, what: str) -> list[Path]:
    """The audio files under `folder` (recursive, sorted); ValueError naming the folder when there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{what} folder {folder} does not exist")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
    if not files:
        raise ValueError(f"{what} folder {folder} holds no audio ({', '.join(AUDIO_SUFFIXES)})")
    return files


@dataclasses.dataclass(frozen=True)
class RealSources:
    negatives: tuple[tuple[Path, str], ...]  # (file, speaker / group)
    noise: tuple[Path, ...]


def gather(negative_dirs: Sequence[str], noise_dirs: Sequence[str], real_root: str = "") -> RealSources:
    """Every file of the given folders plus the TRAINING part of `real_root` (if given)."""
    negatives = [(p, p.stem) for d in negative_dirs for p in audio_files(d, "negative")]
    noise = [p for d in noise_dirs for p in audio_files(d, "noise")]
    if real_root:
        part = real_data.discover(real_root).part("train")
        negatives += [(f.path, f"{f.source}-{f.group}") for f in part.negatives]
        noise += [f.path for f in part.noise]
    return RealSources(tuple(negatives), tuple(noise))


def loud_windows(pcm: np.ndarray, hop: int = CLIP_SAMPLES) -> list[int]:
    """Start samples of the 1 s windows of `pcm` at `hop` that are louder than QUIET_DBFS."""
    starts = range(0, len(pcm) - CLIP_SAMPLES + 1, hop)
    floor = (10 ** (QUIET_DBFS / 20) * 32768) ** 2
    return [s for s in starts if np.mean(pcm[s:s + CLIP_SAMPLES].astype(np.float64) ** 2) > floor]


def cut_negatives(sources: Sequence[tuple[Path, str]], out_dir: str | Path, max_clips: int,
                  seed: int = 0) -> list[tuple[Path, str]]:
    """1 s clips of the negative recordings as WAVs in `out_dir` (reused when present): [(wav, speaker)]."""
    if max_clips <= 0 or not sources:
        return []
    out_dir = Path(out_dir)
    per_file = []
    for path, group in sources:
        pcm = read_audio(path, SAMPLE_RATE)
        per_file.append((path, group, pcm, loud_windows(pcm)))
    total = sum(len(w) for *_, w in per_file)
    keep = np.ones(total, bool)
    if total > max_clips:  # an even spread: every file keeps its share
        keep[:] = False
        keep[np.random.default_rng(seed).choice(total, max_clips, replace=False)] = True
    clips, k = [], 0
    for path, group, pcm, windows in per_file:
        tag = hashlib.sha1(str(Path(path).resolve()).encode()).hexdigest()[:10]
        for s in windows:
            if keep[k]:
                wav = out_dir / f"{group}__{tag}_{s // CLIP_SAMPLES:05d}.wav"
                if not wav.is_file():
                    write_wav(wav, pcm[s:s + CLIP_SAMPLES])
                clips.append((wav, group))
            k += 1
    return clips


def add_real_audio(dataset: SplitDataset, sources: RealSources, out_dir: str | Path, max_clips: int,
                   seed: int = 0) -> SplitDataset:
    """`dataset` with the cut negative clips added to train (class "negative", created if missing) and the
    noise recordings added to its noise list."""
    if not sources.negatives and not sources.noise:
        return dataset
    classes = list(dataset.class_names)
    if sources.negatives and NEGATIVE_CLASS not in classes:
        classes.append(NEGATIVE_CLASS)
    train = list(dataset.train)
    if sources.negatives:
        label = classes.index(NEGATIVE_CLASS)
        clips = cut_negatives(sources.negatives, out_dir, max_clips, seed)
        train += [Item(str(p), label, f"real-{g}") for p, g in clips]
    noise = list(dataset.noise) + [str(p) for p in sources.noise]
    return SplitDataset(train, list(dataset.val), list(dataset.test), classes, noise)
