"""The `.fgb` bundle writer/reader (`bundle_spec.md`)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from fastgrnn_tf.export import bundle as B
from fastgrnn_tf.export import vectors as V
from fastgrnn_tf.int8 import oracle as O
from fastgrnn_tf.int8 import quantize as Q


def test_layout_by_hand(tmp_path: Path) -> None:
    path = tmp_path / "a.fgb"
    B.write_bundle(path, {"ab": np.array([[1, -2, 3]], np.int8), "s": 7, "t": "hi", "f": 0.5})
    data = path.read_bytes()
    expected = (b"FGB1" + struct.pack("<I", 4)
                + struct.pack("<H", 2) + b"ab" + bytes([1, 2]) + struct.pack("<II", 1, 3) + bytes([1, 254, 3])
                + struct.pack("<H", 1) + b"s" + bytes([3, 0]) + struct.pack("<i", 7)
                + struct.pack("<H", 1) + b"t" + bytes([5, 1]) + struct.pack("<I", 2) + b"hi"
                + struct.pack("<H", 1) + b"f" + bytes([4, 0]) + struct.pack("<f", 0.5))
    assert data == expected
    back = B.read_bundle(path)
    assert back["ab"].dtype == np.int8 and back["ab"].tolist() == [[1, -2, 3]]
    assert back["s"].dtype == np.int32 and int(back["s"]) == 7 and B.text(back["t"]) == "hi"
    assert not list(tmp_path.glob(".tmp-*"))


def test_fastgrnn_roundtrip_runs_identically(tmp_path: Path) -> None:
    for ranks in ((16, 25), (0, 0)):
        ip, _ = Q.random_int8_params(32, 40, *ranks, keep=0.5, seed=2)
        x = Q.random_int8_inputs(32, 10, 1, seed=3)[0]
        path = tmp_path / f"m{ranks[0]}.fgb"
        B.write_fastgrnn(path, ip, {"vec.x": x, "classes": "yes\nno"})
        arrays = B.read_bundle(path)
        assert ("fastgrnn.w2" in arrays) == bool(ranks[0])
        assert B.text(arrays["fastgrnn.opt.update_activation"]) == "tanh"
        assert arrays["fastgrnn.opt.units"].dtype == np.int32 and arrays["input.scale"].dtype == np.float32
        ip2 = B.read_fastgrnn(path)
        np.testing.assert_array_equal(O.run(ip2, arrays["vec.x"])[0], O.run(ip, x)[0])
        assert ip2.options() == ip.options()


def test_reader_errors(tmp_path: Path) -> None:
    good = B.encode_bundle({"a": np.arange(6, dtype=np.int16), "b": 1})
    cases = {
        "magic": (b"XXXX" + good[4:], "bad magic"),
        "truncated": (good[:-3], "entry 1 'b': truncated"),
        "dtype": (good[:8 + 2 + 1] + bytes([9]) + good[12:], "unknown dtype"),
        "dup": (B.encode_bundle({"a": 1})[:8].replace(b"\x01\x00\x00\x00", b"\x02\x00\x00\x00")
                + B.encode_bundle({"a": 1})[8:] * 2, "duplicate"),
    }
    for name, (data, msg) in cases.items():
        path = tmp_path / f"{name}.fgb"
        path.write_bytes(data)
        with pytest.raises(ValueError, match=msg) as info:
            B.read_bundle(path)
        assert str(path) in str(info.value)
    with pytest.raises(ValueError, match="unsupported dtype"):
        B.write_bundle(tmp_path / "x.fgb", {"a": np.zeros(2, np.int64)})
    with pytest.raises(ValueError, match="missing entry 'input.zero_point'"):
        B.read_fastgrnn({"x": np.zeros(1, np.int8)} | {f"fastgrnn.opt.{k}": 1 for k in O.OPTION_KEYS}
                        | {f"fastgrnn.opt.{k}": np.frombuffer(b"tanh", np.uint8) for k in B.TEXT_OPTIONS})
    with pytest.raises(ValueError, match="'fastgrnn.opt.gate_activation': a text entry must be uint8"):
        B.read_fastgrnn({f"fastgrnn.opt.{k}": 1 for k in O.OPTION_KEYS})


def test_test_vectors_cli(tmp_path: Path) -> None:
    path = tmp_path / "v.fgb"
    assert V.main([str(path), "--units", "20", "--w-rank", "0", "--u-rank", "5", "--keep", "0.5",
                   "--steps", "7"]) == 0
    arrays = B.read_bundle(path)
    p = B.read_fastgrnn(arrays)
    assert p.units == 20 and p.w_rank == 0 and p.u_rank == 5 and arrays["vec.out_seq"].shape == (7, 20)
    seq, h = O.run(p, arrays["vec.x"], arrays["vec.h0"], return_sequences=True)
    np.testing.assert_array_equal(seq, arrays["vec.out_seq"])
    np.testing.assert_array_equal(h, arrays["vec.h_last"])
    assert len(np.unique(seq)) > 20  # not a degenerate (saturated / all-zero) trajectory
