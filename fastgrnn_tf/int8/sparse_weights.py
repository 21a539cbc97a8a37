"""Bitmap-sparse storage of the FastGRNN weight matrices (`int8_step_spec.md`, "Sparse-stored weights").

    values, bitmap = to_bitmap_sparse(w)            # int8 [nnz], uint8 [ceil(rows*cols/8)]
    w = from_bitmap_sparse(values, bitmap, rows, cols)

Bit j (LSB first) of byte b is set iff element 8b + j of the row-major matrix is non-zero; the values
are the non-zeros in row-major order.
"""

from __future__ import annotations

import numpy as np


def bitmap_bytes(rows: int, cols: int) -> int:
    return (rows * cols + 7) // 8


def stored_bytes(w: np.ndarray, sparse: bool) -> int:
    """Bytes a matrix takes in the flatbuffer, dense or bitmap-sparse."""
    return int(np.count_nonzero(w)) + bitmap_bytes(*w.shape) if sparse else int(w.size)


def prefer_sparse(w: np.ndarray) -> bool:
    """Sparse storage is smaller (density below 7/8) and possible (at least one non-zero)."""
    return np.count_nonzero(w) >= 1 and stored_bytes(w, True) < stored_bytes(w, False)


def to_bitmap_sparse(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int8 [rows, cols] -> (non-zero values int8 [nnz], bitmap uint8 [ceil(rows*cols/8)])."""
    w = np.asarray(w)
    if w.dtype != np.int8 or w.ndim != 2:
        raise ValueError(f"expected an int8 matrix, got {w.dtype} {list(w.shape)}")
    flat = w.reshape(-1)
    mask = flat != 0
    if not mask.any():
        raise ValueError("an all-zero matrix cannot be stored bitmap-sparse (nnz must be >= 1)")
    return flat[mask].copy(), np.packbits(mask, bitorder="little")


def from_bitmap_sparse(values: np.ndarray, bitmap: np.ndarray, rows: int, cols: int,
                       what: str = "matrix") -> np.ndarray:
    """Dense int8 [rows, cols] from a bitmap and its values; ValueError naming `what` if inconsistent."""
    values, bitmap = np.asarray(values), np.asarray(bitmap)
    if bitmap.dtype != np.uint8 or bitmap.shape != (bitmap_bytes(rows, cols),):
        raise ValueError(f"{what}: bitmap must be uint8 [{bitmap_bytes(rows, cols)}] for a {rows}x{cols} "
                         f"matrix, got {bitmap.dtype} {list(bitmap.shape)}")
    bits = np.unpackbits(bitmap, bitorder="little")
    if bits[rows * cols:].any():
        raise ValueError(f"{what}: bitmap padding bits must be 0")
    mask = bits[:rows * cols].astype(bool)
    if values.dtype != np.int8 or values.ndim != 1 or values.size != int(mask.sum()) or values.size < 1:
        raise ValueError(f"{what}: values must be int8 [{int(mask.sum())}] (one per set bit, at least one), "
                         f"got {values.dtype} {list(values.shape)}")
    dense = np.zeros(rows * cols, np.int8)
    dense[mask] = values
    return dense.reshape(rows, cols)
