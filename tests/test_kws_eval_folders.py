"""kws-eval on given folders of recordings: the benchmark's streams and numbers, known answers, bad input.

The folders are tiny and synthetic (rising chirps as the wake word, gated noise as speech); the model is the
benchmark smoke test's random int8 model. For known answers the scores are replaced by a hand-made "perfect"
scorer: 255 on every wake word, a false spike of 200 at a known place in each stream, 0 elsewhere.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_wakeword_bench import _random_model, _write

from keyword_spotting import eval_cli, folder_eval
from keyword_spotting.folder_eval import FolderEvalConfig, evaluate_folders

SR = 16000
HOURS = 60 / 3600  # three 20 s streams


def _folders(root: Path) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    for i in range(6):
        t = np.arange(int(0.7 * SR)) / SR
        word = 5000 * np.sin(2 * np.pi * (250 + 30 * i) * t * (1 + t))
        _write(root / "pos" / f"take_{i}.flac", np.concatenate([np.zeros(4000), word, np.zeros(4000)]))
    for i in range(3):
        n = int(rng.uniform(2, 4) * SR)
        _write(root / "neg" / "short" / f"talk_{i}.wav", rng.normal(0, 2500, n) * (np.sin(np.arange(n) / 300) > 0.2))
    n = 70 * SR  # one long recording: cut into 30 s pieces
    _write(root / "neg" / "long.flac", rng.normal(0, 2500, n) * (np.sin(np.arange(n) / 400) > 0.2))
    for i in range(2):
        _write(root / "noise" / f"room_{i}.flac", rng.normal(0, 1500, 5 * SR))
    return {"pos": root / "pos", "neg": root / "neg", "noise": root / "noise"}


@pytest.fixture()
def tree(tmp_path: Path) -> dict[str, Path]:
    d = _folders(tmp_path / "data")
    d["run"] = tmp_path / "run"
    _random_model(d["run"] / "model.fgb")
    return d


def _perfect_scorer(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Replace the model's scores by 255 on each wake word and one false spike (200, 0.6 s) per stream, inside
    a background clip >= 2 s from every wake word; returns the list that clip's name is appended to."""
    seen: dict[str, object] = {}
    spikes: list[str] = []
    real_build = folder_eval.build_condition

    def build(*args: object, **kw: object) -> object:
        seen["streams"] = real_build(*args, **kw)
        return seen["streams"]

    def scores(model: object, features: np.ndarray) -> np.ndarray:
        streams = seen["streams"]
        out = np.zeros(features.shape[:2] + (2,), np.uint8)
        t = 0.01 * np.arange(features.shape[1]) + 0.025  # the end of each frame, seconds
        for c, events in enumerate(streams.events):
            for e in events:
                out[c, (t >= e.start_s + 0.05) & (t <= e.end_s), 1] = 255
            free = [(x, i) for i, a, b in streams.negative_spans[c] for x in np.arange(a, b - 0.6, 0.1)
                    if all(x > e.end_s + 1.5 or x + 1.5 < e.start_s for e in events)]
            if not free:  # no background clip far enough from the wake words: a spike in a pause
                free = [(x, -1) for x in np.arange(1.0, t[-1] - 2.0, 0.5)
                        if all(abs(x - e.start_s) > 2 and abs(x - e.end_s) > 2 for e in events)][:1]
            if free:
                out[c, (t >= free[0][0]) & (t < free[0][0] + 0.6), 1] = 200
                spikes.append(streams.negative_clips[free[0][1]] if free[0][1] >= 0 else "")
        out[..., 0] = 255 - out[..., 1]
        return out

    monkeypatch.setattr(folder_eval, "build_condition", build)
    monkeypatch.setattr(folder_eval, "batch_scores", scores)
    return spikes


def test_known_answers(tree: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spikes = _perfect_scorer(monkeypatch)
    cfg = FolderEvalConfig((str(tree["pos"]),), (str(tree["neg"]),), (str(tree["noise"]),), hours=HOURS,
                           chunk_s=20, windows=(20,), seed=2)
    out = tmp_path / "out" / "r.json"
    rep = evaluate_folders(tree["run"], cfg, out)
    assert rep["positives"] == 6 and rep["chunks"] == 3 and len(spikes) == 3
    assert rep["files"] == {"positives": 6, "negatives": 4, "noise": 2} and rep["snr_db"] == 10.0
    assert rep["streams"]["negative_clips_available"] == 3 + 3  # the 70 s recording in 30 + 30 + 10 s pieces
    # Every wake word scores 255, the spikes 200: above 200 nothing is missed and nothing false fires.
    assert rep["miss_rate_at_fa_per_hour"] == {"0.1": 0.0, "0.5": 0.0, "1": 0.0}
    assert rep["fa_per_hour_at_miss_rate"] == {"0.05": 0.0, "0.1": 0.0}
    c = rep["configured_threshold"]  # threshold 130: every wake word and every spike
    assert (c["threshold"], c["hits"], c["misses"], c["false_accepts"]) == (130, 6, 0, 3)
    assert c["fa_per_hour"] == pytest.approx(3 / rep["negative_hours"])
    assert 0 < rep["negative_hours"] < rep["stream_hours"] == pytest.approx(HOURS, rel=0.01)
    saved = json.loads(out.read_text())
    assert saved["configured_threshold"] == c and Path(saved["det_plot"]).is_file()
    assert saved["det_plot"] == str(tmp_path / "out" / "r_det.png")
    text = folder_eval.summary(rep)
    assert "0.0% @ 0.1/h" in text and "configured threshold 130: miss 0.0%" in text and str(out) in text


def test_false_accepts_only(tree: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    """No positive folder: one spike of 200 per stream is all that fires; 201 is the quiet threshold."""
    spikes = _perfect_scorer(monkeypatch)
    out = tmp_path / "fa.json"
    args = ["--run", str(tree["run"]), "--negatives", str(tree["neg"]), "--noise", str(tree["noise"]), "--hours",
            str(HOURS), "--chunk-seconds", "20", "--out", str(out), "--no-progress"]
    assert eval_cli.main(args) == 0 and len(spikes) == 3
    rep = json.loads(out.read_text())
    assert rep["positives"] == 0 and rep["files"]["positives"] == 0
    c = rep["configured_threshold"]
    assert c["false_accepts"] == 3 and c["fa_per_hour"] == pytest.approx(3 / rep["negative_hours"])
    t = rep["threshold_for_target"]
    assert (t["threshold"], t["fa_per_hour"], t["target_fa_per_hour"]) == (201, 0.0, 0.5)
    assert rep["det_curve"]["fa_per_hour"][200] == pytest.approx(c["fa_per_hour"])
    text = capsys.readouterr().out
    assert "no positives: false accepts only" in text and "lowest threshold for <= 0.5 FA/h: threshold 201" in text
    # Which files fired at the configured threshold: exactly the clips that hold the spikes.
    src, named = rep["false_accept_sources"], [s for s in spikes if s]
    assert named, "no stream placed a background clip"
    assert src["threshold"] == 130 and src["copies_reaching_threshold"] == len(named)
    assert src["clips_reaching_threshold"] == len(set(named))
    assert {r["clip"] for r in src["top"] if r["copies_reaching_threshold"]} == set(named)
    assert set(named) <= {"talk_0.wav@0s", "talk_1.wav@0s", "talk_2.wav@0s", "long.flac@0s", "long.flac@30s",
                           "long.flac@60s"}  # --max-negative-seconds 30: pieces named by their offset
    assert f"{len(set(named))} of {src['clips']} negative files reach threshold 130" in text


def test_cli_with_the_real_model(tree: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--run", str(tree["run"]), "--positives", str(tree["pos"]), "--negatives", str(tree["neg"] / "short"),
            "--negatives", str(tree["neg"]), "--hours", str(HOURS), "--chunk-seconds", "20", "--no-progress"]
    assert eval_cli.main(args) == 0  # no noise folder: no noise bed; the report goes to the run folder
    out = capsys.readouterr().out
    assert "no noise" in out and "configured threshold 130" in out and "FA/h" in out
    rep = json.loads((tree["run"] / "real_eval.json").read_text())
    assert rep["snr_db"] is None and rep["positives"] == 6 and rep["files"]["negatives"] == 3 + 4
    assert all(0.0 <= v <= 1.0 for v in rep["miss_rate_at_fa_per_hour"].values())
    assert rep["frontend"] in ("device", "reference")
    # The same streams and model give the same numbers (deterministic by seed).
    assert eval_cli.main(args + ["--out", str(tmp_path / "again.json")]) == 0
    again = json.loads((tmp_path / "again.json").read_text())
    assert again["det_curve"] == rep["det_curve"]


def test_bad_folders_and_files(tree: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--run", str(tree["run"]), "--hours", str(HOURS), "--chunk-seconds", "20", "--no-progress"]
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no audio here")
    assert eval_cli.main(base + ["--positives", str(empty), "--negatives", str(tree["neg"])]) == 2
    assert f"positives folder {empty} holds no audio" in capsys.readouterr().err
    assert eval_cli.main(base + ["--positives", str(tree["pos"]), "--negatives", str(tmp_path / "nope")]) == 2
    assert "negatives folder" in capsys.readouterr().err
    # An unreadable recording stops the run and is named; --skip-unreadable skips it and lists it.
    (tree["pos"] / "broken.flac").write_bytes(b"fLaC not really")
    args = base + ["--positives", str(tree["pos"]), "--negatives", str(tree["neg"]), "--out", str(tmp_path / "s")]
    assert eval_cli.main(args) == 2
    err = capsys.readouterr().err
    assert "1 of 7 kws-eval positive files are unreadable or silent" in err and "broken.flac" in err
    assert "--skip-unreadable skips" in err
    assert eval_cli.main(args + ["--skip-unreadable"]) == 0
    assert "skipped 1 unreadable" in capsys.readouterr().out
    rep = json.loads((tmp_path / "s" / "real_eval.json").read_text())
    assert rep["files"]["positives"] == 7 and rep["positives"] == 6
    assert any("broken.flac" in s for s in rep["streams"]["skipped_files"])
    # A noise level without noise, no model, flags of the other mode.
    folders = ["--positives", str(tree["pos"]), "--negatives", str(tree["neg"])]
    assert eval_cli.main(base + folders + ["--snr-db", "5"]) == 2
    assert "SNR needs noise" in capsys.readouterr().err
    assert eval_cli.main(["--run", str(tmp_path), *folders]) == 2
    assert "no model.fgb" in capsys.readouterr().err
    for bad in (["--positives", str(tree["pos"])], [*folders, "--minutes", "3"], ["--snr-db", "5"],
                [*folders, "--no-accuracy"]):
        with pytest.raises(SystemExit):
            eval_cli.main(["--run", str(tree["run"]), *bad])
