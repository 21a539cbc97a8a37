"""A user's real recordings of the phrase in training (`data.real_positives`), and the benchmark's
"text + N real" recipe (N recordings held out of measurement for both recipes)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from test_wakeword_bench import _random_model, _tree, _write

from keyword_spotting import real_data, real_positives, wakeword_bench
from keyword_spotting.audio_io import write_wav
from keyword_spotting.datasets import Item, SplitDataset
from keyword_spotting.run_folder import load_config_dataset
from keyword_spotting.train_config import load_config
from keyword_spotting.wakeword_bench import BenchConfig

SR = 16000


def _recording(seconds: float, word_at: float, seed: int) -> np.ndarray:
    """`seconds` of faint noise with a 0.5 s tone "word" starting at `word_at` s."""
    rng = np.random.default_rng(seed)
    pcm = rng.normal(0, 30, int(seconds * SR))
    t = np.arange(SR // 2) / SR
    pcm[int(word_at * SR): int(word_at * SR) + len(t)] += 8000 * np.sin(2 * np.pi * 440 * t)
    return np.round(pcm).astype(np.int16)


def _custom_folder(root: Path) -> None:
    for spk in ("ann", "bob", "cid", "dot"):
        for i in range(2):
            write_wav(root / "positives" / f"{spk}__p{i}.wav", _recording(1.0, 0.2, i))
            write_wav(root / "negatives" / f"{spk}__n{i}.wav", _recording(1.0, 0.0, 10 + i) // 50)


def test_positive_files_pick_and_check(tmp_path: Path) -> None:
    for i in range(5):
        _write(tmp_path / "rec" / f"take_{i}.flac", _recording(2.5, 1.0, i))
    all_files = real_positives.positive_files(tmp_path / "rec")
    assert [p.name for p in all_files] == [f"take_{i}.flac" for i in range(5)]
    two = real_positives.positive_files(tmp_path / "rec", 2, seed=3)
    assert len(two) == 2 and two == sorted(two) and two == real_positives.positive_files(tmp_path / "rec", 2, 3)
    assert real_positives.positive_files(tmp_path / "rec", 9) == all_files
    with pytest.raises(ValueError, match="max_files"):
        real_positives.positive_files(tmp_path / "rec", -1)
    (tmp_path / "rec" / "bad.wav").write_bytes(b"RIFF....WAVE")
    with pytest.raises(ValueError, match=r"1 of 6 real positive .*/bad\.wav: WAV has no fmt"):
        real_positives.positive_files(tmp_path / "rec")


def test_recordings_join_the_train_split_as_loudest_1s(tmp_path: Path) -> None:
    from keyword_spotting.tfdata import item_audio

    _custom_folder(tmp_path / "data")
    rec = _recording(3.0, 2.1, 7)  # the word late in a long recording
    _write(tmp_path / "mine" / "me_saying_it.flac", rec)
    base = ["data.kind=custom", f"data.root={tmp_path / 'data'}"]
    plain = load_config_dataset(load_config(None, base), progress=False)
    ds = load_config_dataset(load_config(None, [*base, f"data.real_positives={tmp_path / 'mine'}"]), False)
    added = [it for it in ds.train if it not in plain.train]
    assert added == [Item(str(tmp_path / "mine" / "me_saying_it.flac"), 1, "real-positive:me_saying_it")]
    assert ds.val == plain.val and ds.test == plain.test and ds.class_names == ["negative", "positive"]
    clip = item_audio(added[0])  # the loudest 1 s window: it holds the whole word (2.1..2.6 s)
    assert len(clip) == SR and np.sum(clip.astype(float) ** 2) > 0.99 * np.sum(rec.astype(float) ** 2)
    short = _recording(0.6, 0.05, 8)
    _write(tmp_path / "mine" / "short.flac", short)
    padded = item_audio(Item(str(tmp_path / "mine" / "short.flac"), 1, "x"))
    assert np.array_equal(padded[:len(short)], short) and not padded[len(short):].any()
    with pytest.raises(ValueError, match="'positive' class"):
        real_positives.add_real_positives(SplitDataset([], [], [], ["yes", "no"], []), [tmp_path / "x.wav"])


def test_record_in_card(tmp_path: Path) -> None:
    for i in range(3):
        _write(tmp_path / "rec" / f"{i}.wav", _recording(1.5, 0.3, i))
    (tmp_path / "model_card.json").write_text(json.dumps({"classes": ["negative", "positive"]}))
    entry = real_positives.record_in_card(tmp_path / "model_card.json", str(tmp_path / "rec"), 2, seed=0)
    card = json.loads((tmp_path / "model_card.json").read_text())
    assert card["classes"] == ["negative", "positive"] and card["real_positives"] == entry
    assert entry["count"] == 2 and len(entry["files"]) == 2 and "loudest 1 s" in entry["clip"]


def test_hold_out(tmp_path: Path) -> None:
    files = []
    for i in range(6):
        files.append(tmp_path / f"{i}.flac")
        _write(files[-1], _recording(1.0, 0.2, i))
    broken = tmp_path / "broken.flac"
    broken.write_bytes(b"fLaC not really")
    files.insert(2, broken)
    chosen, rest = real_positives.hold_out(files, 6, seed=0)  # every readable one: the broken one stays
    assert chosen == sorted(set(files) - {broken}) and rest == [broken]
    a, ra = real_positives.hold_out(files, 2, seed=1)
    assert (a, ra) == real_positives.hold_out(files, 2, seed=1) and len(a) == 2 and len(ra) == 5
    assert set(a).isdisjoint(ra) and set(a) | set(ra) == set(files)
    with pytest.raises(ValueError, match="none would be left"):
        real_positives.hold_out(files, 7)
    with pytest.raises(ValueError, match=">= 1"):
        real_positives.hold_out(files, 0)


def test_benchmark_text_plus_real(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The smoke benchmark with --real-positives 2: a separate recipe (another run hash) trained on 2 readable
    recordings, both recipes measured on the other 5 files (4 readable), the held-out files in the JSON."""
    _tree(tmp_path / "data")
    trained: list = []

    def fake_ensure_model(word: str, bench: BenchConfig, cfg: object = None) -> Path:
        cfg = wakeword_bench.recipe_config(word, bench) if cfg is None else cfg
        run = Path(bench.work) / word / f"run-{wakeword_bench._recipe_digest(cfg)}"
        if not (run / "model.fgb").is_file():
            _random_model(run / "model.fgb")
        trained.append((run, cfg))
        return run

    monkeypatch.setattr(wakeword_bench, "ensure_model", fake_ensure_model)
    bench = BenchConfig(words=("hey",), data_root=str(tmp_path / "data"), work=str(tmp_path / "work"),
                        out_json=str(tmp_path / "out.json"), hours=40 / 3600, chunk_s=20, progress=False,
                        windows=(20,), seed=1, calibration_hours=0, conditions=("10dB",), real_positives=2)
    rep = wakeword_bench.run_benchmark(bench)
    saved = json.loads((tmp_path / "out.json").read_text())
    word = saved["words"]["hey"]
    held = word["real_positives_held_out"]
    assert held["count"] == 2 and held["measured_files"] == 5 and "broken.flac" not in held["files"]
    assert word["10dB"]["positives"] == 4 and word["text+2_real"]["10dB"]["positives"] == 4
    assert word["10dB"]["streams"]["positive_files"] == 5
    assert saved["real_positives"]["recipe_key"] == "text+2_real" and "mean_text+2_real" in rep
    (text_run, text_cfg), (real_run, real_cfg) = trained
    assert text_run != real_run and word["text+2_real"]["run"] == str(real_run)
    assert text_cfg.data.real_positives == "" and real_cfg.data.real_positives_max == 0
    copies = sorted(p.name for p in Path(real_cfg.data.real_positives).iterdir())
    assert copies == sorted(held["files"])
    # The text-only run keeps the hash it had before data.real_positives (and the feature contract v2 fields and
    # train.hard_negatives* and train.spec_*) existed.
    d = text_cfg.to_dict()
    d.pop("out_dir")
    for k in ("real_positives", "real_positives_max"):
        d["data"].pop(k)
    for k in ("channel_norm", "channel_norm_smoothing"):
        d["features"].pop(k)
    for k in ("hard_negatives", "hard_negative_hop_ms", "spec_freq_masks", "spec_freq_width", "spec_time_masks",
              "spec_time_width"):
        d["train"].pop(k)
    assert text_run.name == f"run-{wakeword_bench._digest(d)}"
    # Both recipes were measured on the same streams (one stream cache for the word and condition).
    assert len(list((tmp_path / "work" / "hey" / "streams").glob("10dB-*.npz"))) == 1
    with pytest.raises(ValueError, match="none would be left"):
        wakeword_bench.run_benchmark(dataclasses.replace(bench, real_positives=7))
    data = real_data.discover(tmp_path / "data")
    assert wakeword_bench.recipe_config("hey", bench).data.real_positives == ""
    assert len(data.wakewords["hey"]) == 7


def test_kws_train_lists_them_in_the_model_card(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """kws-train --real-positives DIR --real-positives-max 2: the config carries them and the card lists them
    (the training itself replaced by a stand-in that writes a card, as run_training does)."""
    from keyword_spotting import train, train_cli

    _custom_folder(tmp_path / "data")
    for i in range(3):
        _write(tmp_path / "mine" / f"take_{i}.flac", _recording(2.5, 1.0, 20 + i))
    seen = {}

    def fake_run_training(cfg: object, **kw: object) -> dict:
        seen["cfg"] = cfg
        Path(cfg.out_dir).mkdir(parents=True)
        (Path(cfg.out_dir) / "model_card.json").write_text(json.dumps({"accuracy_int8": 0.5}))
        return {"accuracy_int8": 0.5}

    monkeypatch.setattr(train, "run_training", fake_run_training)
    rc = train_cli.main(["--set", "data.kind=custom", "--set", f"data.root={tmp_path / 'data'}", "--real-positives",
                         str(tmp_path / "mine"), "--real-positives-max", "2", "--out", str(tmp_path / "run")])
    assert rc == 0
    cfg = seen["cfg"]
    assert (cfg.data.real_positives, cfg.data.real_positives_max) == (str(tmp_path / "mine"), 2)
    card = json.loads((tmp_path / "run" / "model_card.json").read_text())
    assert card["accuracy_int8"] == 0.5 and card["real_positives"]["count"] == 2
    assert set(card["real_positives"]["files"]) <= {str(tmp_path / "mine" / f"take_{i}.flac") for i in range(3)}
    assert "real positives in training: 2 recordings" in capsys.readouterr().out
    assert train_cli.main(["--phrase", "hey", "--data", str(tmp_path)]) == 2
    assert "give one of them" in capsys.readouterr().err


def test_bench_cli_names_a_collapsed_training(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from fastgrnn_tf.collapse import TrainingCollapsed
    from keyword_spotting import bench_wakeword_cli

    def collapse(bench: BenchConfig) -> None:
        raise TrainingCollapsed("stage 'dense' stayed at chance after 3 attempts")

    monkeypatch.setattr(bench_wakeword_cli, "run_benchmark", collapse)
    assert bench_wakeword_cli.main(["--real-positives", "3"]) == 1
    err = capsys.readouterr().err
    assert "stayed at chance" in err and "Traceback" not in err
    with pytest.raises(SystemExit):
        bench_wakeword_cli.main(["--real-positives", "-1"])
