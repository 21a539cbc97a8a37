"""Oracle test vectors in a `.fgb` bundle, for the C++ kernel tests: an int8 step's parameters plus
`vec.x`, `vec.h0`, `vec.out_seq` and `vec.h_last` computed by the numpy oracle. Numpy only.

    write_test_vectors(path, params, x_int8_TxD, h0)
    python -m fastgrnn_tf.export.vectors out.fgb --units 100 --w-rank 16 --u-rank 25 --keep 0.3 --steps 20
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from fastgrnn_tf.export.bundle import write_fastgrnn
from fastgrnn_tf.int8.oracle import Int8Params, run
from fastgrnn_tf.int8.quantize import random_int8_inputs, random_int8_params


def test_vector_arrays(p: Int8Params, x: np.ndarray, h0: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Oracle test vectors for one batch row: `vec.x` int8 [T, D], `vec.h0` int8 [H], `vec.out_seq`
    int8 [T, H] (every step's h), `vec.h_last` int8 [H]."""
    x = np.asarray(x)
    if x.dtype != np.int8 or x.ndim != 2:
        raise ValueError(f"x must be int8 [T, D], got {x.dtype} {list(x.shape)}")
    h0 = np.zeros(p.units, np.int8) if h0 is None else np.asarray(h0, np.int8)
    seq, h_last = run(p, x, h0, return_sequences=True)
    return {"vec.x": x, "vec.h0": h0, "vec.out_seq": seq, "vec.h_last": h_last}


def write_test_vectors(path: str | os.PathLike, p: Int8Params, x: np.ndarray,
                       h0: np.ndarray | None = None) -> None:
    """A bundle with the step parameters and `test_vector_arrays(p, x, h0)`."""
    write_fastgrnn(path, p, test_vector_arrays(p, x, h0))


def main(argv: list[str] | None = None) -> int:
    """`python -m fastgrnn_tf.export.vectors OUT.fgb [--input-dim 32 --units 100 --w-rank 16 --u-rank 25 --keep 0.3
    --steps 20 --seed 0 --gate sigmoid --update tanh]`: random realistic params + oracle test vectors."""
    ap = argparse.ArgumentParser(prog="python -m fastgrnn_tf.export.vectors", description=main.__doc__)
    ap.add_argument("out")
    ap.add_argument("--input-dim", type=int, default=32)
    ap.add_argument("--units", type=int, default=100)
    ap.add_argument("--w-rank", type=int, default=16, help="0 = full rank")
    ap.add_argument("--u-rank", type=int, default=25, help="0 = full rank")
    ap.add_argument("--keep", type=float, default=1.0, help="fraction of non-zero weights")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--gate", default="sigmoid")
    ap.add_argument("--update", default="tanh")
    a = ap.parse_args(argv)
    p, _ = random_int8_params(a.input_dim, a.units, a.w_rank, a.u_rank, a.keep, a.seed,
                              gate_activation=a.gate, update_activation=a.update)
    x = random_int8_inputs(a.input_dim, a.steps, 1, a.seed + 100)[0]
    h0 = np.random.default_rng(a.seed + 200).integers(-128, 128, a.units).astype(np.int8)
    write_test_vectors(a.out, p, x, h0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
