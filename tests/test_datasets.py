"""Dataset loaders: Speech Commands (lists and hash rule), custom wake-word folder, file-name labels."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from keyword_spotting.audio_io import write_wav
from keyword_spotting.datasets import (
    GOOGLE12_WORDS,
    SILENCE,
    SPLITS,
    UNKNOWN,
    assign_speaker_splits,
    load_custom_folder,
    load_filename_labelled,
    load_speech_commands,
    speaker_from_filename,
    which_set,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SC_DEV = SHARED / "speech_commands_dev"
FSDD = SHARED / "fsdd" / "recordings"


def _need(path: Path) -> None:
    if not path.is_dir():
        pytest.skip(f"real recordings not available: {path} is absent")


def _tiny_wav(path: Path, seed: int = 0) -> None:
    write_wav(path, (np.random.default_rng(seed).standard_normal(400) * 1000).astype(np.int16))


def _speakers(items) -> set[str]:
    return {it.speaker for it in items if not it.is_silence}


def _assert_speaker_disjoint(ds) -> None:
    tr, va, te = (_speakers(ds.split(s)) for s in SPLITS)
    assert not (tr & va) and not (tr & te) and not (va & te)


# --- Speech Commands: hash rule ---------------------------------------------------------------

def test_which_set_groups_speaker_and_matches_percentages() -> None:
    rng = np.random.default_rng(0)
    names = [f"{rng.integers(2**32):08x}" for _ in range(20000)]
    sets = [which_set(f"yes/{n}_nohash_0.wav", 10, 10) for n in names]
    frac = {s: sets.count(s) / len(sets) for s in ("training", "validation", "testing")}
    assert abs(frac["validation"] - 0.10) < 0.01 and abs(frac["testing"] - 0.10) < 0.01
    # Every clip of a speaker, any word, any repetition, lands in the same set.
    for n, s in zip(names[:200], sets[:200], strict=True):
        assert which_set(f"/data/no/{n}_nohash_3.wav", 10, 10) == s
    # Growing the validation percentage only moves clips out of training/testing into validation.
    for n, s in zip(names[:500], sets[:500], strict=True):
        if s == "validation":
            assert which_set(f"{n}_nohash_0.wav", 20, 10) == "validation"


def _fake_speech_commands(root: Path, n_speakers: int = 60) -> None:
    words = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go", "cat", "dog"]
    rng = np.random.default_rng(3)
    for s in range(n_speakers):
        speaker = f"{s * 7919 + 12345:08x}"
        for w in rng.choice(words, size=4, replace=False):
            _tiny_wav(root / w / f"{speaker}_nohash_0.wav", s)
    _tiny_wav(root / "_background_noise_" / "hum.wav")


def test_speech_commands_hash_rule_without_lists(tmp_path: Path) -> None:
    _fake_speech_commands(tmp_path)
    ds = load_speech_commands(tmp_path, task="full")
    assert ds.class_names == sorted(["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go",
                                     "cat", "dog"])
    assert sum(len(ds.split(s)) for s in SPLITS) == 60 * 4
    name = {"train": "training", "val": "validation", "test": "testing"}
    for s in SPLITS:
        for it in ds.split(s):
            assert which_set(it.path, 10, 10) == name[s]
    assert ds.val and ds.test
    _assert_speaker_disjoint(ds)
    assert [Path(p).name for p in ds.noise] == ["hum.wav"]
    # Other percentages move the split.
    ds30 = load_speech_commands(tmp_path, task="full", val_percentage=30, test_percentage=30)
    assert len(ds30.train) < len(ds.train)


def test_speech_commands_google12_proportions_on_fake_tree(tmp_path: Path) -> None:
    _fake_speech_commands(tmp_path)
    ds = load_speech_commands(tmp_path, seed=1)
    assert ds.class_names == [SILENCE, UNKNOWN, *GOOGLE12_WORDS] and ds.num_classes == 12
    for s in SPLITS:
        items = ds.split(s)
        n_kw = sum(it.label >= 2 for it in items)
        silence = [it for it in items if it.label == 0]
        assert len(silence) == math.ceil(n_kw * 0.1) and all(it.is_silence for it in silence)
        unknown = [it for it in items if it.label == 1]
        assert all(Path(it.path).parent.name in ("cat", "dog") for it in unknown)
        assert not any(Path(it.path).parent.name in ("cat", "dog") for it in items if it.label >= 2)


def test_speech_commands_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a directory"):
        load_speech_commands(tmp_path / "nope")
    with pytest.raises(ValueError, match="no <word>"):
        load_speech_commands(tmp_path)
    _fake_speech_commands(tmp_path, 5)
    with pytest.raises(ValueError, match="marvin"):
        load_speech_commands(tmp_path, wanted_words=["yes", "marvin"])
    with pytest.raises(ValueError, match="task"):
        load_speech_commands(tmp_path, task="google35")


# --- Speech Commands: the real dev folder with lists ------------------------------------------

def test_speech_commands_dev_lists_full() -> None:
    _need(SC_DEV)
    ds = load_speech_commands(SC_DEV, task="full")
    assert len(ds.class_names) == 35
    assert (len(ds.train), len(ds.val), len(ds.test)) == (2841 - 273 - 401, 273, 401)
    val_list = set((SC_DEV / "validation_list.txt").read_text().split())
    assert {f"{Path(it.path).parent.name}/{Path(it.path).name}" for it in ds.val} == val_list
    _assert_speaker_disjoint(ds)
    assert len(ds.noise) == 257 and all(Path(p).is_file() for p in ds.noise)


def test_speech_commands_dev_google12() -> None:
    _need(SC_DEV)
    ds = load_speech_commands(SC_DEV, task="google12", seed=0)
    assert ds.class_names[:2] == [SILENCE, UNKNOWN]
    counts = ds.counts()
    for s in SPLITS:
        n_kw = sum(counts[s][2:])
        assert counts[s][0] == math.ceil(n_kw * 0.1) == counts[s][1]
        share = counts[s][1] / len(ds.split(s))
        assert 0.07 < share < 0.10  # ~10% of the keyword count = ~8.3% of the split
    assert sum(counts["train"][2:]) > 1800
    _assert_speaker_disjoint(ds)
    again = load_speech_commands(SC_DEV, task="google12", seed=0)
    assert again.train == ds.train
    other = load_speech_commands(SC_DEV, task="google12", seed=5)
    assert {it.path for it in other.train if it.label == 1} != {it.path for it in ds.train if it.label == 1}


# --- speaker splits -----------------------------------------------------------------------------

def test_assign_speaker_splits() -> None:
    counts = {f"spk{i}": 10 + i % 7 for i in range(100)}
    a = assign_speaker_splits(counts, 10, 20)
    assert a == assign_speaker_splits(dict(reversed(list(counts.items()))), 10, 20)
    total = sum(counts.values())
    share = {s: sum(c for k, c in counts.items() if a[k] == s) / total for s in SPLITS}
    assert 0.10 <= share["val"] < 0.13 and 0.20 <= share["test"] < 0.23
    small = assign_speaker_splits({"a": 100, "b": 100, "c": 100}, 10, 10)
    assert sorted(small.values()) == ["test", "train", "val"]
    with pytest.raises(ValueError, match="at least 3"):
        assign_speaker_splits({"a": 1, "b": 2}, 10, 10)
    with pytest.raises(ValueError, match="percentage"):
        assign_speaker_splits(counts, 60, 50)


def test_speaker_from_filename(tmp_path: Path) -> None:
    assert speaker_from_filename("x/positives/en-us+f3__pos_00001.wav") == "en-us+f3"
    pos = tmp_path / "positives"
    assert speaker_from_filename(pos / "alice" / "take1.wav", pos) == "alice"
    assert speaker_from_filename(pos / "clip7.wav", pos) == "clip7"


# --- custom wake-word folder ----------------------------------------------------------------------

def _custom_folder(root: Path) -> None:
    for v in range(12):
        for n in range(3):
            _tiny_wav(root / "positives" / f"voice{v}__pos_{n}.wav", v)
            _tiny_wav(root / "negatives" / f"voice{v}__neg_{n}.wav", v + 100)
    for n in range(10):
        _tiny_wav(root / "negatives" / f"street_{n}.wav", n)  # unknown speaker: own file
    _tiny_wav(root / "noise" / "fan.wav")


def test_custom_folder(tmp_path: Path) -> None:
    _custom_folder(tmp_path)
    ds = load_custom_folder(tmp_path, val_percentage=20, test_percentage=20)
    assert ds.class_names == ["negative", "positive"]
    real = [it for s in SPLITS for it in ds.split(s) if not it.is_silence]
    assert len(real) == 12 * 6 + 10
    for it in real:
        assert it.label == (1 if "positives" in it.path else 0)
    _assert_speaker_disjoint(ds)
    for s in SPLITS:
        items = ds.split(s)
        n_pos = sum(it.label == 1 for it in items)
        assert n_pos > 0
        assert sum(it.is_silence for it in items) == math.ceil(n_pos * 0.1)
        assert all(it.label == 0 for it in items if it.is_silence)
    assert [Path(p).name for p in ds.noise] == ["fan.wav"]
    assert load_custom_folder(tmp_path, 20, 20).train == ds.train


def test_custom_folder_requires_positives_and_negatives(tmp_path: Path) -> None:
    _tiny_wav(tmp_path / "negatives" / "a.wav")
    with pytest.raises(ValueError, match="positives"):
        load_custom_folder(tmp_path)
    _tiny_wav(tmp_path / "positives" / "a.wav")
    (tmp_path / "negatives" / "a.wav").unlink()
    with pytest.raises(ValueError, match="negatives"):
        load_custom_folder(tmp_path)


def test_custom_folder_extra_negatives(tmp_path: Path) -> None:
    _custom_folder(tmp_path / "kw")
    for n in range(6):
        _tiny_wav(tmp_path / "speech" / f"talk{n}.wav", n)
    ds = load_custom_folder(tmp_path / "kw", extra_negative_dirs=[tmp_path / "speech"])
    extra = [it for s in SPLITS for it in ds.split(s) if "speech" in Path(it.path).parts]
    assert len(extra) == 6 and all(it.label == 0 for it in extra)


# --- file-name-labelled folder -----------------------------------------------------------------

def test_filename_labelled_fake(tmp_path: Path) -> None:
    for spk in ("ann", "bob", "cyd", "dee", "eve"):
        for d in range(3):
            _tiny_wav(tmp_path / f"{d}_{spk}_0.wav")
    ds = load_filename_labelled(tmp_path, val_percentage=20, test_percentage=20)
    assert ds.class_names == ["0", "1", "2"]
    _assert_speaker_disjoint(ds)
    assert all(ds.split(s) for s in SPLITS)
    for it in ds.train + ds.val + ds.test:
        assert Path(it.path).name.startswith(f"{it.label}_")
    ds2 = load_filename_labelled(tmp_path, class_names=["2", "1", "0"], val_percentage=20, test_percentage=20)
    assert all(Path(it.path).name.startswith(f"{2 - it.label}_") for it in ds2.train)
    custom = load_filename_labelled(tmp_path, r"(?P<label>\d)_\w+_\d+\.wav", val_percentage=20,
                                    test_percentage=20)
    assert len({it.speaker for it in custom.train + custom.val + custom.test}) == 15  # no speaker group


def test_filename_labelled_bad_input(tmp_path: Path) -> None:
    for spk in ("ann", "bob", "cyd"):
        _tiny_wav(tmp_path / f"1_{spk}_0.wav")
    _tiny_wav(tmp_path / "oops.wav")
    with pytest.raises(ValueError, match="oops.wav"):
        load_filename_labelled(tmp_path)
    with pytest.raises(ValueError, match="label"):
        load_filename_labelled(tmp_path, pattern=r"(?P<speaker>\w+)\.wav")
    with pytest.raises(ValueError, match="regex"):
        load_filename_labelled(tmp_path, pattern=r"(?P<label>")
    (tmp_path / "oops.wav").unlink()
    with pytest.raises(ValueError, match=r"\['1'\]"):
        load_filename_labelled(tmp_path, class_names=["0"])


def test_fsdd_speaker_disjoint() -> None:
    _need(FSDD)
    ds = load_filename_labelled(FSDD)
    assert ds.class_names == [str(d) for d in range(10)]
    assert len(ds.train) + len(ds.val) + len(ds.test) == 3000
    _assert_speaker_disjoint(ds)
    assert len(_speakers(ds.val)) >= 1 and len(_speakers(ds.test)) >= 1 and len(_speakers(ds.train)) >= 3
    assert all(c == len(ds.val) // 10 for c in ds.counts()["val"])
