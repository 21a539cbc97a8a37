"""From dataset items to int8 feature arrays and tf.data pipelines.

`make_feature_arrays` turns `Item`s into int8 features `[N, T, D]` (exactly what the device
frontend produces), optionally with K augmented copies per item made with numpy
(`augment.Augmenter`), deterministic given `seed`: the copy k of an item depends only on
(seed, k, item path, item speaker), not on the item order or the number of workers.

Clean (unaugmented) features and decoded 1 s clips are cached on disk under `cache_dir`,
one `.npy` per clip, keyed by SHA1 of the feature spec (features only), the absolute path,
size and mtime of the WAV, and the clip length; files are written atomically.

`make_dataset` builds the tf.data pipeline; it dequantizes int8 -> float inside the pipeline
with a 256-entry table made by `keyword_spotting.features.dequantize`, so the model trains on
exactly the values the int8 device sees.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import hashlib
import io
import json
import multiprocessing
import os
from pathlib import Path

import numpy as np

from fastgrnn_tf.atomic_io import atomic_write_bytes
from keyword_spotting.audio_io import CLIP_SAMPLES, float_to_int16, load_clip
from keyword_spotting.augment import AugmentConfig, Augmenter, load_noise_clips, render_silence
from keyword_spotting.datasets import SPLITS, Item, SplitDataset
from keyword_spotting.features import FeatureSpec, dequantize, int8_features

DEFAULT_AUGMENT = AugmentConfig()
# One clip's features take ~0.5 ms; a process pool (forkserver start-up, shipping the noise
# recordings to each worker) costs seconds, so `workers` > 1 is only used for bigger jobs.
POOL_MIN_ROWS = 20000


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def cache_key(path: str | os.PathLike, kind: str, spec: FeatureSpec | None = None,
              num_samples: int = CLIP_SAMPLES) -> str:
    """Cache key of one clip: SHA1 over kind, spec, absolute path, size, mtime and clip length."""
    p = Path(path).resolve()
    st = p.stat()
    payload = {
        "kind": kind, "path": str(p), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
        "num_samples": num_samples, "spec": spec.to_dict() if spec is not None else None,
    }
    return _sha1(json.dumps(payload, sort_keys=True))


def _cache_path(cache_dir: Path, kind: str, key: str) -> Path:
    return cache_dir / kind / key[:2] / f"{key}.npy"


def _cache_load(path: Path) -> np.ndarray | None:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None


def _cache_save(path: Path, arr: np.ndarray) -> None:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    atomic_write_bytes(path, buf.getvalue())


def _item_rng_seed(item: Item, *extra: int) -> list[int]:
    h = int(_sha1(f"{item.path}\0{item.speaker}")[:15], 16)
    return [*extra, h]


def item_audio(item: Item, noise_clips: list[np.ndarray] | None = None,
               cache_dir: str | os.PathLike | None = None, num_samples: int = CLIP_SAMPLES,
               sample_rate: int = 16000) -> np.ndarray:
    """The 1 s int16 clip of an item; silence items are rendered from `noise_clips` (by speaker tag)."""
    if item.is_silence:
        rng = np.random.default_rng(_item_rng_seed(item))
        return float_to_int16(render_silence(noise_clips or [], num_samples, rng))
    if cache_dir is None:
        return load_clip(item.path, sample_rate, num_samples)
    key = cache_key(item.path, "audio", None, num_samples)
    path = _cache_path(Path(cache_dir), f"audio{sample_rate}", key)
    arr = _cache_load(path)
    if arr is None or arr.shape != (num_samples,) or arr.dtype != np.int16:
        arr = load_clip(item.path, sample_rate, num_samples)
        _cache_save(path, arr)
    return arr


def clean_features(item: Item, spec: FeatureSpec = FeatureSpec(), noise_clips: list[np.ndarray] | None = None,
                   cache_dir: str | os.PathLike | None = None, num_samples: int = CLIP_SAMPLES) -> np.ndarray:
    """int8 features [T, D] of the unaugmented clip (cached on disk when `cache_dir` is given)."""
    if cache_dir is None or item.is_silence:
        return int8_features(item_audio(item, noise_clips, cache_dir, num_samples, spec.sample_rate), spec)
    key = cache_key(item.path, "features", spec, num_samples)
    path = _cache_path(Path(cache_dir), "features", key)
    feats = _cache_load(path)
    expected = (spec.num_frames(num_samples), spec.num_features)
    if feats is None or feats.shape != expected or feats.dtype != np.int8:
        feats = int8_features(item_audio(item, noise_clips, cache_dir, num_samples, spec.sample_rate), spec)
        _cache_save(path, feats)
    return feats


def _single_thread_blas():
    """numpy's BLAS threads make the tiny per-clip mel matmul ~3x slower on a busy machine."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return contextlib.nullcontext()
    return threadpool_limits(1)


def _features_chunk(items: list[Item], spec: FeatureSpec, augment: Augmenter | None, copies: int,
                    include_clean: bool, seed: int, cache_dir: str | None, noise_clips: list[np.ndarray],
                    num_samples: int) -> np.ndarray:
    """Rows for `items`: [len(items), n_copies, T, D]."""
    with _single_thread_blas():
        return _features_chunk_impl(items, spec, augment, copies, include_clean, seed, cache_dir,
                                    noise_clips, num_samples)


_WORKER_ARGS: tuple = ()


def _worker_init(args: tuple) -> None:
    global _WORKER_ARGS
    _WORKER_ARGS = args


def _worker_chunk(items: list[Item]) -> np.ndarray:
    return _features_chunk(items, *_WORKER_ARGS)


def _features_chunk_impl(items: list[Item], spec: FeatureSpec, augment: Augmenter | None, copies: int,
                         include_clean: bool, seed: int, cache_dir: str | None, noise_clips: list[np.ndarray],
                         num_samples: int) -> np.ndarray:
    n_copies = int(include_clean) + (copies if augment is not None else 0)
    out = np.empty((len(items), n_copies, spec.num_frames(num_samples), spec.num_features), np.int8)
    for i, item in enumerate(items):
        c = 0
        if include_clean:
            out[i, 0] = clean_features(item, spec, noise_clips, cache_dir, num_samples)
            c = 1
        if augment is not None and copies:
            audio = item_audio(item, noise_clips, cache_dir, num_samples, spec.sample_rate)
            for k in range(copies):
                rng = np.random.default_rng(_item_rng_seed(item, seed, k))
                out[i, c + k] = int8_features(float_to_int16(augment(audio, rng)), spec)
    return out


def make_feature_arrays(
    items: list[Item],
    spec: FeatureSpec = FeatureSpec(),
    augment: Augmenter | None = None,
    copies: int = 1,
    include_clean: bool = True,
    seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
    noise_clips: list[np.ndarray] | None = None,
    num_samples: int = CLIP_SAMPLES,
    workers: int = 1,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Items -> (x int8 [N, T, D], y int64 [N]).

    Without `augment`: one clean row per item (N = len(items)). With `augment`: per item,
    the clean row (if `include_clean`) and `copies` augmented rows; rows are grouped by copy
    (all clean rows, then all copy-1 rows, ...). Silence items are rendered from `noise_clips`
    (default: the augmenter's noise). `workers` > 1 uses a process pool (forkserver) when the
    job has at least `POOL_MIN_ROWS` rows; the result is identical either way.
    """
    if copies < 0:
        raise ValueError(f"copies must be >= 0, got {copies}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    if not include_clean and (augment is None or copies == 0):
        raise ValueError("include_clean=False needs an augment and copies >= 1")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if noise_clips is None:
        noise_clips = augment.noise_clips if augment is not None else []
    cache = str(cache_dir) if cache_dir is not None else None
    frames, dims = spec.num_frames(num_samples), spec.num_features
    n_copies = int(include_clean) + (copies if augment is not None else 0)
    y = np.array([it.label for it in items], np.int64)
    if not items:
        return np.zeros((0, frames, dims), np.int8), y
    chunk = max(1, min(256, -(-len(items) // (4 * workers))))
    chunks = [items[i:i + chunk] for i in range(0, len(items), chunk)]
    args = (spec, augment, copies, include_clean, seed, cache, noise_clips, num_samples)
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(items), desc="features", unit="clip")
    parts: list[np.ndarray] = []
    if workers == 1 or len(items) * n_copies < POOL_MIN_ROWS:
        for c in chunks:
            parts.append(_features_chunk(c, *args))
            if bar is not None:
                bar.update(len(c))
    else:
        ctx = multiprocessing.get_context("forkserver")
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init,
                                                    initargs=(args,)) as pool:
            futures = [pool.submit(_worker_chunk, c) for c in chunks]
            for f in futures:
                parts.append(f.result())
                if bar is not None:
                    bar.update(len(parts[-1]))
    if bar is not None:
        bar.close()
    rows = np.concatenate(parts, axis=0)  # [N, n_copies, T, D]
    x = np.ascontiguousarray(rows.transpose(1, 0, 2, 3).reshape(n_copies * len(items), frames, dims))
    return x, np.tile(y, n_copies)


def split_arrays_key(dataset: SplitDataset, spec: FeatureSpec, augment_config: AugmentConfig | None, copies: int,
                     seed: int, rirs: list[np.ndarray] | None) -> str:
    """What decides `make_split_arrays`' output: every item (file name, size, label, speaker), the noise files,
    the spec, the augmentation, the copies, the seed and the rooms; not where the files live, so runs of one
    dataset in other folders (e.g. recipes that differ only in training) share the arrays."""
    def ident(path: str) -> list:
        p = Path(path)
        return [p.name, p.stat().st_size if path and p.is_file() else -1]

    h = hashlib.sha1()
    for split in SPLITS:
        for it in dataset.split(split):
            h.update(json.dumps([split, *ident(it.path), it.label, it.speaker]).encode())
    h.update(json.dumps([[ident(n) for n in dataset.noise], list(dataset.class_names), spec.to_dict(),
                         dataclasses.asdict(augment_config) if augment_config else None, copies, seed,
                         ARRAYS_FORMAT], default=list).encode())
    for r in rirs or []:
        h.update(np.ascontiguousarray(r).tobytes())
    return h.hexdigest()


ARRAYS_FORMAT = 1


def make_split_arrays(
    dataset: SplitDataset,
    spec: FeatureSpec = FeatureSpec(),
    augment_config: AugmentConfig | None = DEFAULT_AUGMENT,
    copies: int = 2,
    seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
    workers: int = 1,
    progress: bool = False,
    rirs: list[np.ndarray] | None = None,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Feature arrays for train / val / test: train gets clean + `copies` augmented rows
    (no augmentation when `augment_config` is None; `rirs`: the simulated rooms of augment_config.rir_prob);
    val and test are clean only. With `cache_dir`, the whole result is also kept in
    `cache_dir/arrays/<split_arrays_key>.npz` (augmenting is the slow part of a run) and reused."""
    cached = None
    if cache_dir is not None:
        key = split_arrays_key(dataset, spec, augment_config, copies, seed, rirs)
        cached = Path(cache_dir) / "arrays" / f"{key}.npz"
        try:
            with np.load(cached, allow_pickle=False) as z:
                return {split: (z[f"{split}_x"], z[f"{split}_y"]) for split in SPLITS}
        except (OSError, ValueError, KeyError):
            pass
    noise = load_noise_clips(dataset.noise, spec.sample_rate)
    augmenter = Augmenter(noise, augment_config, spec.sample_rate, rirs) if augment_config is not None else None
    out = {}
    for split in SPLITS:
        aug = augmenter if split == "train" else None
        out[split] = make_feature_arrays(dataset.split(split), spec, aug, copies, True, seed, cache_dir,
                                         noise, workers=workers, progress=progress)
    if cached is not None:
        buf = io.BytesIO()
        np.savez(buf, **{f"{split}_{k}": v for split, (x, y) in out.items() for k, v in (("x", x), ("y", y))})
        atomic_write_bytes(cached, buf.getvalue())
    return out


def dequantize_table(spec: FeatureSpec = FeatureSpec()) -> np.ndarray:
    """float32 [256]: `features.dequantize` of int8 values -128..127 (index = q + 128)."""
    return dequantize(np.arange(-128, 128).astype(np.int8), spec).astype(np.float32)


def make_dataset(
    x: np.ndarray,
    y: np.ndarray,
    spec: FeatureSpec = FeatureSpec(),
    batch_size: int = 64,
    shuffle: bool = False,
    seed: int = 0,
    repeat: bool = False,
    drop_remainder: bool = False,
    sample_weight: np.ndarray | None = None,
):
    """tf.data.Dataset of (float32 features [B, T, D], int32 labels [B]) [, sample weights [B]].

    `x` is int8 as made by `make_feature_arrays`; it is dequantized inside the pipeline.
    Shuffling (whole array, reshuffled each epoch) is deterministic given `seed`.
    """
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    import tensorflow as tf

    x = np.asarray(x)
    y = np.asarray(y)
    if x.dtype != np.int8 or x.ndim != 3:
        raise ValueError(f"x must be int8 [N, T, D], got {x.dtype} {x.shape}")
    if y.shape != (len(x),):
        raise ValueError(f"y must have shape ({len(x)},), got {y.shape}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    tensors: tuple = (x, y.astype(np.int32))
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight, np.float32)
        if sample_weight.shape != (len(x),):
            raise ValueError(f"sample_weight must have shape ({len(x)},), got {sample_weight.shape}")
        tensors += (sample_weight,)
    ds = tf.data.Dataset.from_tensor_slices(tensors)
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    table = tf.constant(dequantize_table(spec))

    def deq(q, *rest):
        return (tf.gather(table, tf.cast(q, tf.int32) + 128), *rest)

    return ds.map(deq, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(tf.data.AUTOTUNE)
