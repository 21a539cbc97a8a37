"""C++ `detector_replay` (tflm_app/detector) vs keyword_spotting/detector.py: identical detections."""

from __future__ import annotations

import pathlib
import subprocess

import numpy as np
import pytest
from conftest import build_host_target

from keyword_spotting.detector import Detection, DetectorParams, detect

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def replay() -> pathlib.Path:
    return build_host_target("detector_replay")


def _run_cpp(exe: pathlib.Path, scores: np.ndarray, p: DetectorParams, tmp: pathlib.Path) -> list[Detection]:
    path = tmp / "scores.txt"
    np.savetxt(path, scores, fmt="%d")
    cmd = [str(exe), "--classes", str(scores.shape[1]), "--keywords", ",".join(map(str, p.keywords)),
           "--window", str(p.window_frames), "--threshold", str(p.threshold),
           "--refractory", str(p.refractory_frames), "--min-frames", str(p.min_frames), str(path)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return [Detection(*map(int, line.split())) for line in res.stdout.splitlines()]


def _structured(rng: np.random.Generator, frames: int, classes: int) -> np.ndarray:
    """Low background with bursts near the threshold, plateaus of equal scores (ties) and steps."""
    s = rng.integers(0, 40, size=(frames, classes))
    t = 0
    while t < frames:
        length = int(rng.integers(3, 60))
        cls = int(rng.integers(1, classes))
        kind = rng.integers(0, 3)
        if kind == 0:
            s[t:t + length, cls] = rng.integers(140, 200)
        elif kind == 1:  # two keywords tied
            s[t:t + length, 1:] = rng.integers(150, 256)
        else:
            s[t:t + length, cls] = rng.integers(0, 256, size=len(s[t:t + length]))
        t += length + int(rng.integers(0, 80))
    return s.astype(np.uint8)


@pytest.mark.parametrize("seed", range(6))
def test_random_and_structured_streams_match(replay: pathlib.Path, tmp_path: pathlib.Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    classes = int(rng.integers(2, 6))
    total = 0
    for trial in range(4):
        keywords = tuple(int(k) for k in rng.choice(np.arange(1, classes), size=rng.integers(1, classes),
                                                    replace=False))
        p = DetectorParams(keywords=keywords, window_frames=int(rng.integers(1, 40)),
                           threshold=int(rng.integers(100, 200)), refractory_frames=int(rng.integers(0, 60)),
                           min_frames=int(rng.integers(0, 50)) if trial % 2 else None)
        frames = 1500
        scores = (_structured(rng, frames, classes) if trial % 2 == 0
                  else rng.integers(0, 256, size=(frames, classes)).astype(np.uint8))
        expected = detect(scores, p)
        assert _run_cpp(replay, scores, p, tmp_path) == expected, f"seed {seed} trial {trial} params {p}"
        total += len(expected)
    assert total > 0, "no detections at all: the comparison would be vacuous"


def test_edge_cases_match(replay: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """Exact threshold equality, maximum window, constant ties between three keywords."""
    n = 256
    p = DetectorParams(keywords=(3, 1, 2), window_frames=n, threshold=128, refractory_frames=10)
    scores = np.full((2000, 4), 128, np.uint8)
    scores[::7, 2] = 127
    expected = detect(scores, p)
    assert expected and expected[0] == Detection(n - 1, 1, 128)
    assert _run_cpp(replay, scores, p, tmp_path) == expected


def test_replay_rejects_bad_input(replay: pathlib.Path, tmp_path: pathlib.Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_text("0 1 300\n")
    res = subprocess.run([str(replay), "--classes", "3", "--keywords", "1", str(path)], capture_output=True,
                         text=True)
    assert res.returncode == 2 and "out of [0, 255]" in res.stderr
    res = subprocess.run([str(replay), "--classes", "3", "--keywords", "5", str(path)], capture_output=True,
                         text=True)
    assert res.returncode == 2 and "out of range" in res.stderr
