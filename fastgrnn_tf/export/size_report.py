"""Bytes of an exported custom-op `.tflite`, split by part, as a JSON-able dict.

    report = size_report(tflite_bytes)       # dict; write_size_report(path, report) writes JSON

`fastgrnn_weights_stored_bytes` is what the file holds for the FastGRNN weight matrices (dense or
bitmap-sparse, `int8_step_spec.md`: values + bitmaps). Sparse storage is also costed in two formats
(the smaller is `fastgrnn_weights_sparse_bytes`):
- "bitmap": 1 bit per matrix entry (ceil(rows * cols / 8) bytes) + 1 int8 byte per non-zero;
- "csr": 1 int8 byte + 1 uint8 column index per non-zero (in_dim <= 256) + uint16 row offsets
  (rows + 1 per matrix).
Dense storage is 1 byte per entry. Biases (int32), LUTs (int16), options (flexbuffer) and head
(int8 weights + int32 biases of the FULLY_CONNECTED layers) are counted separately.
"""

from __future__ import annotations

import json
import os

import numpy as np

from fastgrnn_tf.atomic_io import atomic_write_bytes
from fastgrnn_tf.export.tflite_reader import find_fastgrnn_op, read_exported, read_model
from fastgrnn_tf.int8.sparse_weights import stored_bytes


def sparse_bytes(mats: list[np.ndarray]) -> dict[str, int]:
    """Bytes of int8 matrices ([out, in]) stored densely, as bitmap+values, and as CSR."""
    dense = sum(int(m.size) for m in mats)
    nnz = sum(int(np.count_nonzero(m)) for m in mats)
    bitmap = sum(stored_bytes(m, sparse=True) for m in mats)
    csr = 2 * nnz + sum(2 * (int(m.shape[0]) + 1) for m in mats)
    return {"dense": dense, "nonzeros": nnz, "bitmap": bitmap, "csr": csr}


def size_report(tflite: bytes | str | os.PathLike) -> dict:
    """Sizes in bytes of the parts of a custom-op `.tflite` (see the module docstring)."""
    data = tflite if isinstance(tflite, (bytes, bytearray)) else open(tflite, "rb").read()
    m = read_exported(bytes(data))
    model, label = read_model(bytes(data))
    op = find_fastgrnn_op(model, label)
    p = m.fastgrnn
    mats = [w for w in (p.w1, p.w2, p.u1, p.u2) if w is not None]
    sp = sparse_bytes(mats)
    ins = [int(i) for i in op.inputs]
    weight_tensors = [i for i in ins[1:5] + ins[10:14] if i >= 0]
    sg = model.subgraphs[0]
    stored = sum(len(model.buffers[sg.tensors[i].buffer].data) for i in weight_tensors)
    head_w = sum(int(L.weights.size) for L in m.head)
    head_b = sum(4 * int(L.bias.size) for L in m.head)
    total_entries = sp["dense"]
    return {
        "tflite_bytes": len(data),
        "fastgrnn_weight_entries": total_entries,
        "fastgrnn_weight_nonzeros": sp["nonzeros"],
        "fastgrnn_weight_density": round(sp["nonzeros"] / max(1, total_entries), 4),
        "fastgrnn_weights_stored_bytes": stored,
        "fastgrnn_weights_storage": _storage(ins, len(mats)),
        "fastgrnn_weights_dense_bytes": sp["dense"],
        "fastgrnn_weights_sparse_bytes": min(sp["bitmap"], sp["csr"]),
        "fastgrnn_weights_sparse_format": "bitmap" if sp["bitmap"] <= sp["csr"] else "csr",
        "fastgrnn_weights_bitmap_bytes": sp["bitmap"],
        "fastgrnn_weights_csr_bytes": sp["csr"],
        "fastgrnn_bias_bytes": 4 * (int(p.bias_z.size) + int(p.bias_h.size)),
        "fastgrnn_lut_bytes": 2 * (int(p.gate_lut.size) + int(p.update_lut.size)),
        "fastgrnn_options_bytes": len(op.customOptions),
        "head_weight_bytes": head_w,
        "head_bias_bytes": head_b,
        "head_bytes": head_w + head_b,
        "macs_per_step": p.macs_per_step(),
        "shape": {"input_dim": p.input_dim, "units": p.units, "w_rank": p.w_rank, "u_rank": p.u_rank,
                  "time_steps": m.time_steps, "head": [list(L.weights.shape) for L in m.head]},
        "sparse_format_note": "bitmap = ceil(entries/8) + nnz bytes; "
                              "csr = 2*nnz + 2*(rows+1) bytes per matrix",
    }


def _storage(ins: list[int], matrices: int) -> str:
    """"bitmap" (every matrix sparse-stored), "mixed" or "dense", from the op's bitmap inputs 10-13."""
    sparse = sum(i >= 0 for i in ins[10:14])
    return "dense" if sparse == 0 else "bitmap" if sparse == matrices else "mixed"


def write_size_report(path: str | os.PathLike, report: dict) -> None:
    atomic_write_bytes(path, (json.dumps(report, indent=2, sort_keys=True) + "\n").encode())
