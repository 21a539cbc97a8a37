"""C++ int8 FastGRNN kernel vs the numpy oracle, bit for bit (int8_step_spec.md).

Vectors come from `fastgrnn_tf.int8.oracle.run` on random quantized models (dense, low-rank,
pruned; several shapes incl. Google-12 size; nonzero input zero points; every supported activation
pair) and are written as `.fgb` bundles (`vec.x`, `vec.h0`, `vec.seq`). The vector runner
(`tflm_app/fastgrnn/fastgrnn_vectors_main.cc`) replays each file in window, streaming and chunked
mode: on the host (reference implementation, built with CMake in build/host) and under
qemu-system-arm (Cortex-M4 implementation, built with tflm_app/m4's Makefile).
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import build_host_target

from fastgrnn_tf.export import bundle as fgb
from fastgrnn_tf.int8 import oracle as O
from fastgrnn_tf.int8 import quantize as Q

ROOT = Path(__file__).resolve().parents[1]
M4_BUILD = ROOT / "build" / "m4"
M4_RUNNER = M4_BUILD / "fastgrnn_vectors.elf"
M4_UNIT_TEST = M4_BUILD / "fastgrnn_int8_test_m4.elf"
RUN_QEMU = ROOT / "tflm_app" / "m4" / "run_qemu.sh"
SUMMARY = re.compile(r"checked=(\d+) mismatches=(\d+) (OK|FAIL)")


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    input_dim: int
    units: int
    w_rank: int
    u_rank: int
    keep: float = 1.0
    zero_point: int = 12
    steps: int = 20
    batch: int = 2
    gate: str = "sigmoid"
    update: str = "tanh"
    random_h0: bool = True
    seed: int = 0


CASES = [
    Case("dense_full_rank", 8, 12, 0, 0, zero_point=-20),
    Case("google12_lowrank", 32, 100, 16, 25, steps=99, batch=1, random_h0=False, seed=1),
    Case("google12_sparse", 32, 100, 16, 25, keep=0.3, steps=99, batch=1, seed=2),
    Case("sparse_full_rank", 20, 40, 0, 0, keep=0.25, zero_point=-128, seed=3),
    Case("w_lowrank_u_full", 13, 37, 5, 0, zero_point=127, seed=4),
    Case("w_full_u_lowrank", 10, 29, 0, 7, zero_point=0, seed=5),
    Case("odd_shapes", 17, 51, 9, 11, keep=0.5, zero_point=-77, seed=6),
    Case("rank_one", 3, 5, 1, 1, steps=30, seed=7),
] + [
    Case(f"act_{g}_{u}", 9, 14, 3, 4, zero_point=-3, steps=12, gate=g, update=u, seed=10 + i)
    for i, (g, u) in enumerate((g, u) for g in O.GATE_ACTIVATIONS for u in O.UPDATE_ACTIVATIONS)
]


def make_vectors(case: Case, path: Path) -> O.Int8Params:
    """Quantize a random model, run the oracle, write params + vec.* to `path`."""
    params, _ = Q.random_int8_params(case.input_dim, case.units, case.w_rank, case.u_rank, keep=case.keep,
                                     seed=case.seed, input_zero_point=case.zero_point,
                                     gate_activation=case.gate, update_activation=case.update)
    x = Q.random_int8_inputs(case.input_dim, case.steps, case.batch, seed=case.seed + 100,
                             zero_point=case.zero_point)
    rng = np.random.default_rng(case.seed + 200)
    if case.random_h0:
        h0 = rng.integers(-128, 128, (case.batch, case.units)).astype(np.int8)
    else:
        h0 = np.zeros((case.batch, case.units), np.int8)
    seq, h_last = O.run(params, x, h0, return_sequences=True)
    np.testing.assert_array_equal(seq[:, -1], h_last)
    fgb.write_fastgrnn(path, params, extra={"vec.x": x, "vec.h0": h0, "vec.seq": seq})
    return params


@pytest.fixture(scope="module")
def vectors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("kernel_vectors")
    files = {}
    for case in CASES:
        files[case.name] = out / f"{case.name}.fgb"
        make_vectors(case, files[case.name])
    return files


@pytest.fixture(scope="module")
def host_runner() -> Path:
    return build_host_target("fastgrnn_vectors")


@pytest.fixture(scope="module")
def m4_runner() -> Path:
    missing = [t for t in ("qemu-system-arm", "arm-none-eabi-g++", "make") if shutil.which(t) is None]
    if missing:
        pytest.skip(f"Cortex-M4 parity needs {', '.join(missing)} (make setup)")
    if not RUN_QEMU.exists():
        pytest.skip("tflm_app/m4/run_qemu.sh is not there yet")
    for main, elf in (("tflm_app/fastgrnn/fastgrnn_vectors_main.cc", M4_RUNNER),
                      ("tflm_app/fastgrnn/fastgrnn_int8_test.cc", M4_UNIT_TEST)):
        r = subprocess.run(["make", "-s", "-C", str(ROOT / "tflm_app" / "m4"), "elf", f"MAIN={main}",
                            f"OUT={elf}", "IMPL=m4"], capture_output=True, text=True)
        if r.returncode != 0:
            pytest.fail(f"M4 build of {main} failed:\n{r.stdout}\n{r.stderr}")
    return M4_RUNNER


def run_vectors(cmd: list[str]) -> tuple[int, str]:
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT)
    return r.returncode, r.stdout + r.stderr


def assert_parity(code: int, output: str, expected_impl: str) -> None:
    m = SUMMARY.search(output)
    assert m is not None, f"no summary line in runner output:\n{output}"
    assert f"impl={expected_impl}" in output, output
    checked, mismatches = int(m.group(1)), int(m.group(2))
    assert mismatches == 0 and m.group(3) == "OK" and code == 0, output
    assert checked > 0, output


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_host_reference_matches_oracle(case: Case, vectors: dict[str, Path], host_runner: Path) -> None:
    code, output = run_vectors([str(host_runner), str(vectors[case.name])])
    assert_parity(code, output, "reference")
    # window, streaming and chunked: T steps x H units each, plus the final state and last output.
    assert f"checked={case.batch * case.units * (3 * case.steps + 2)} " in output


def test_runner_detects_a_single_wrong_value(tmp_path: Path, host_runner: Path) -> None:
    """The harness is not vacuous: one flipped expected value makes the runner fail."""
    case = CASES[0]
    path = tmp_path / "bad.fgb"
    make_vectors(case, path)
    arrays = fgb.read_bundle(path)
    arrays["vec.seq"][1, 5, 3] ^= 1
    fgb.write_bundle(path, arrays)
    code, output = run_vectors([str(host_runner), str(path)])
    assert code == 1, output
    assert "MISMATCH window: batch 1 step 5 unit 3" in output
    assert "FAIL" in output


def test_runner_reports_missing_entry(tmp_path: Path, host_runner: Path) -> None:
    case = CASES[0]
    path = tmp_path / "incomplete.fgb"
    make_vectors(case, path)
    arrays = fgb.read_bundle(path)
    del arrays["fastgrnn.bias_h"]
    fgb.write_bundle(path, arrays)
    code, output = run_vectors([str(host_runner), str(path)])
    assert code == 2
    assert "entry 'fastgrnn.bias_h' not found" in output and str(path) in output


@pytest.mark.m4
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_cortex_m4_matches_oracle(case: Case, vectors: dict[str, Path], m4_runner: Path) -> None:
    code, output = run_vectors([str(RUN_QEMU), str(m4_runner), str(vectors[case.name])])
    assert_parity(code, output, "cortex-m4")


@pytest.mark.m4
def test_cortex_m4_unit_tests(m4_runner: Path) -> None:
    code, output = run_vectors([str(RUN_QEMU), str(M4_UNIT_TEST)])
    assert code == 0, output
    assert "implementation cortex-m4" in output and " 0 failed" in output, output
