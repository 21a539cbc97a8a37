"""Speaker K-fold cross-validation: the fold split (synthetic and real Speech Commands lists), the pooled
report (accuracies, paired gaps, discordant clips) and `kws-crossval`'s orchestration (resume, config
mismatch, bad input), with kws-train replaced by a stub that writes what kws-train writes."""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from keyword_spotting import crossval, crossval_cli
from keyword_spotting.datasets import Item, SplitDataset, load_speech_commands, speaker_fold
from keyword_spotting.train_config import load_config

SC_DEV = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "speech_commands_dev"


def _dataset(n_speakers: int = 23, seed: int = 0) -> SplitDataset:
    rng = np.random.default_rng(seed)
    items = [Item(f"/x/{s}_{i}.wav", int(rng.integers(0, 4)), f"spk{s}")
             for s in range(n_speakers) for i in range(int(rng.integers(1, 30)))]
    return SplitDataset(items[::3], items[1::3], items[2::3], ["a", "b", "c", "d"], ["/n.wav"])


def _check_folds(ds: SplitDataset, folds: int) -> None:
    everything = Counter([*ds.train, *ds.val, *ds.test])
    tested: Counter = Counter()
    test_sizes = []
    for k in range(folds):
        f = speaker_fold(ds, folds, k)
        assert Counter([*f.train, *f.val, *f.test]) == everything  # nothing lost or duplicated
        spk = {name: {it.speaker for it in f.split(name)} for name in ("train", "val", "test")}
        assert not (spk["train"] & spk["val"] or spk["train"] & spk["test"] or spk["val"] & spk["test"])
        assert spk["val"] == {it.speaker for it in speaker_fold(ds, folds, (k + 1) % folds).test}
        assert f.class_names == ds.class_names and f.noise == ds.noise
        tested.update(f.test)
        test_sizes.append(len(f.test))
    assert tested == everything  # every clip is a test clip exactly once
    biggest_speaker = max(Counter(it.speaker for it in everything).values())
    assert max(test_sizes) - min(test_sizes) <= biggest_speaker  # greedy dealing keeps the folds even


def test_speaker_fold_partitions_by_speaker() -> None:
    for folds in (3, 5, 10):
        _check_folds(_dataset(), folds)
    a, b = speaker_fold(_dataset(), 5, 2), speaker_fold(_dataset(), 5, 2)
    assert a.test == b.test and a.train == b.train  # deterministic


def test_speaker_fold_bad_input() -> None:
    ds = _dataset(n_speakers=4)
    with pytest.raises(ValueError, match="folds must be an integer >= 3"):
        speaker_fold(ds, 2, 0)
    with pytest.raises(ValueError, match=r"fold must be an integer in \[0, 3\)"):
        speaker_fold(ds, 3, 3)
    with pytest.raises(ValueError, match="5 folds need at least 5 distinct speakers, got 4"):
        speaker_fold(ds, 5, 0)
    with pytest.raises(ValueError, match="data.folds must be 0"):
        load_config(None, ["data.kind=filename", "data.root=x", "data.folds=5", "data.fold=5"])


def test_speaker_fold_on_speech_commands_dev() -> None:
    if not SC_DEV.is_dir():
        pytest.skip(f"real recordings not available: {SC_DEV} is absent")
    ds = load_speech_commands(SC_DEV)
    _check_folds(ds, 5)
    f = speaker_fold(ds, 5, 0)
    total = len(ds.train) + len(ds.val) + len(ds.test)
    assert len(f.test) == pytest.approx(total / 5, rel=0.1)
    assert set(Counter(it.label for it in f.test)) == set(range(12))  # every class in every fold


def test_paired_gap_counts_and_interval() -> None:
    labels = np.zeros(400, np.int64)
    a = np.zeros(400, np.int64)
    b = np.zeros(400, np.int64)
    a[:10] = 1  # a wrong on 10 clips
    b[5:25] = 1  # b wrong on 20 clips, 5 of them shared with a
    g = crossval.paired_gap(labels, a, b)
    assert g["points"] == pytest.approx(100 * (390 - 380) / 400)
    assert g["only_first_right"] == 15 and g["only_second_right"] == 5
    lo, hi = g["ci95"]
    assert lo < g["points"] < hi and hi - lo < 5


def _fake_fold(fold_dir: Path, labels: np.ndarray, wrong: dict[str, np.ndarray]) -> None:
    fold_dir.mkdir(parents=True, exist_ok=True)
    preds = {"labels": labels}
    for m in crossval.MODELS:
        p = labels.copy()
        p[wrong.get(m, np.zeros(len(labels), bool))] += 1
        preds[m] = p
    buf = io.BytesIO()
    np.savez(buf, **preds)
    (fold_dir / "predictions_test.npz").write_bytes(buf.getvalue())
    (fold_dir / "model_card.json").write_text(json.dumps({"model_bytes": 1234}))


def test_summarize_pools_folds(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    dirs, all_labels, all_wrong = [], [], {m: [] for m in crossval.MODELS}
    for k, n in enumerate((50, 70, 60)):
        labels = rng.integers(0, 5, n)
        wrong = {m: rng.random(n) < 0.2 for m in crossval.MODELS}
        wrong["qat"] = wrong["int8"]
        _fake_fold(tmp_path / f"fold{k}", labels, wrong)
        dirs.append(tmp_path / f"fold{k}")
        all_labels.append(labels)
        for m in crossval.MODELS:
            all_wrong[m].append(wrong[m])
    r = crossval.summarize(dirs)
    assert r["folds"] == 3 and r["test_clips"] == 180
    for m in crossval.MODELS:
        assert r[f"accuracy_{m}"] == pytest.approx(1 - np.concatenate(all_wrong[m]).mean())
    gap = r["int8_minus_pruned"]
    assert gap["points"] == pytest.approx(100 * (r["accuracy_int8"] - r["accuracy_pruned"]))
    assert len(gap["per_fold_points"]) == 3
    assert r["int8_vs_qat_agreement"] == 1.0
    assert [f["test_clips"] for f in r["per_fold"]] == [50, 70, 60]


def test_run_crossval_trains_each_fold_once_and_resumes(tmp_path: Path, monkeypatch) -> None:
    from keyword_spotting import train

    calls = []

    def fake_run_training(cfg, progress=True, cache_dir=None):
        calls.append((cfg.data.folds, cfg.data.fold, Path(cfg.out_dir).name, Path(cache_dir).name))
        out = Path(cfg.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(cfg.to_dict(), default=list))
        labels = np.arange(20) % 3
        _fake_fold(out, labels, {"int8": labels == 0})
        return {}

    monkeypatch.setattr(train, "run_training", fake_run_training)
    sets = ["--set", "data.kind=filename", "--set", f"data.root={tmp_path}"]
    out = tmp_path / "cv"
    assert crossval_cli.main(["--folds", "3", "--out", str(out), "--no-progress", *sets]) == 0
    assert calls == [(3, k, f"fold{k}", "cache") for k in range(3)]
    report = json.loads((out / "cv_report.json").read_text())
    assert report["test_clips"] == 60 and report["accuracy_int8"] == pytest.approx(39 / 60)  # 21 clips labelled 0
    assert report["int8_minus_float"]["only_second_right"] == 21 and report["int8_minus_float"]["only_first_right"] == 0
    calls.clear()
    assert crossval_cli.main(["--folds", "3", "--out", str(out), "--no-progress", *sets]) == 0
    assert calls == []  # finished folds are reused
    moved = out.rename(tmp_path / "cv_moved")
    assert crossval_cli.main(["--folds", "3", "--out", str(moved), "--no-progress", *sets]) == 0
    assert calls == []  # also from a moved folder
    out = moved
    # A different config in the same folder is refused, naming the folder.
    rc = crossval_cli.main(["--folds", "3", "--out", str(out), "--set", "train.epochs_qat=1", *sets])
    assert rc == 2 and calls == []


def test_crossval_cli_bad_input(tmp_path: Path, capsys) -> None:
    base = ["--set", "data.kind=filename", "--set", f"data.root={tmp_path}", "--out", str(tmp_path / "cv")]
    assert crossval_cli.main(["--folds", "2", *base]) == 2
    assert "data.folds must be 0" in capsys.readouterr().err
    assert crossval_cli.main(["--folds", "3", "--set", "data.folds=3", *base]) == 2
    assert "data.folds is set by --folds" in capsys.readouterr().err
