"""Atomic file writes: a temp file beside the target, then os.replace, so a reader never sees a
half-written file and an interrupted run leaves the old file (or none). Standard library only.

    atomic_write_bytes("out/model.tflite", data)
    atomic_write_text("out/report.json", text)
    with atomic_path("out/plot.png") as tmp: fig.savefig(tmp)    # any writer that takes a path
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temp path in `path`'s directory (created) ending in `path`'s name, so writers that pick the
    format by extension still do; it replaces `path` when the block ends, and is removed on error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=f"-{path.name}")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.is_file():
            tmp.unlink()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` atomically; returns `path` as a Path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """`atomic_write_bytes` of UTF-8 text."""
    return atomic_write_bytes(path, text.encode("utf-8"))
