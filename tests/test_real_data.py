"""real_data: discovery of the shared real recordings and a training / measuring split disjoint by file and speaker."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from keyword_spotting import real_data
from keyword_spotting.real_data import RealFile, discover, librispeech_speaker, measuring_groups

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _tone(path: Path, seconds: float = 0.2) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    y = 0.3 * np.sin(np.arange(int(16000 * seconds)) * 0.05)
    sf.write(path, y, 16000, format="FLAC" if path.suffix == ".flac" else "WAV")


def _tree(root: Path) -> None:
    for i in range(3):
        _tone(root / "wakewords" / "hey" / f"{i}.flac")
    for spk in (11, 22, 33, 44, 55, 66):
        for utt in range(3):
            _tone(root / "negatives" / "librispeech" / f"x__{spk}-100-{utt:04d}.flac")
    for i in range(6):
        _tone(root / "negatives" / "speech" / f"phrase_{i}.wav")
        _tone(root / "noise" / "ambience" / f"amb_{i}.flac")
    _tone(root / "negatives" / "speech" / "porcupine_multiple_keywords.wav")
    _tone(root / "speech_commands_dev" / "_background_noise_" / "clip_1.wav")
    (root / "negatives" / "speech" / "notes.txt").write_text("not audio")


def _check_disjoint(data: real_data.RealData) -> None:
    train, measure = data.part("train"), data.part("measure")
    train_paths = {f.path for f in train.files()}
    measure_paths = {f.path for f in measure.files()}
    assert train_paths and measure_paths and not train_paths & measure_paths
    assert train_paths | measure_paths == {f.path for f in data.negatives + data.noise}
    speakers = {s: {f.group for f in p.negatives if f.source == "librispeech"} for s, p in
                (("train", train), ("measure", measure))}
    assert speakers["train"] and speakers["measure"] and not speakers["train"] & speakers["measure"]
    assert not any(f.source == "background" for f in measure.files())
    wake = {p for files in data.wakewords.values() for p in files}
    assert not wake & (train_paths | measure_paths)


def test_discover_and_split_a_small_tree(tmp_path: Path) -> None:
    _tree(tmp_path)
    data = discover(tmp_path)
    assert list(data.wakewords) == ["hey"] and len(data.wakewords["hey"]) == 3
    names = {f.path.name for f in data.negatives}
    assert "porcupine_multiple_keywords.wav" not in names and "notes.txt" not in names
    assert len(data.negatives) == 18 + 6
    assert {f.group for f in data.negatives if f.source == "librispeech"} == {"11", "22", "33", "44", "55", "66"}
    _check_disjoint(data)
    measure = data.part("measure")
    # Half of each source's groups: 3 of 6 speakers (9 files), 3 of 6 phrases, 3 of 6 ambience files.
    assert sum(f.source == "librispeech" for f in measure.negatives) == 9
    assert sum(f.source == "speech" for f in measure.negatives) == 3 and len(measure.noise) == 3
    # Deterministic, and independent of the folder's location.
    other = tmp_path / "copy"
    _tree(other)
    assert ({f.path.name for f in discover(other).part("measure").files()}
            == {f.path.name for f in measure.files()})
    assert "measure: 12 negative files" in data.summary()


def test_split_fraction_and_errors(tmp_path: Path) -> None:
    files = [RealFile(Path(f"{g}.wav"), "speech", g) for g in "abcdefghij"]
    assert measuring_groups(files, 0.0) == set()
    assert len(measuring_groups(files, 0.3)) == 3
    assert measuring_groups(files, 1.0) == {("speech", g) for g in "abcdefghij"}
    assert measuring_groups([RealFile(Path("c.wav"), "background", "c")], 1.0) == set()
    with pytest.raises(ValueError, match="measure_fraction"):
        measuring_groups(files, 1.5)
    with pytest.raises(ValueError, match="does not exist"):
        discover(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no audio"):
        discover(tmp_path / "empty")
    _tree(tmp_path / "t")
    with pytest.raises(ValueError, match="part must be"):
        discover(tmp_path / "t").part("test")


def test_librispeech_speaker() -> None:
    assert librispeech_speaker("a__librispeech_test-other__1998__1998-15444-0000.flac") == "1998"
    with pytest.raises(ValueError, match="LibriSpeech"):
        librispeech_speaker("speech.flac")


def test_shared_data_parts_are_disjoint_by_file_and_speaker() -> None:
    if not SHARED.is_dir():
        pytest.skip(f"real recordings not available: {SHARED} is absent")
    data = discover(SHARED)
    assert {"alexa", "jarvis"} <= set(data.wakewords)
    _check_disjoint(data)
    measure = data.part("measure")
    assert {f.source for f in measure.negatives} == {"librispeech", "speech"}
    assert {f.source for f in measure.noise} == {"ambience", "music"}
