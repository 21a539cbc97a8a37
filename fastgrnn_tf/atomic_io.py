"""Atomic file writes: a temp file beside the target, then os.replace, so a reader never sees a
half-written file and an interrupted run leaves the old file (or none). Standard library only.

    atomic_write_bytes("out/model.tflite", data)
    atomic_write_text("out/report.json", text)
    with atomic_path("out/plot.png") as tmp: fig.savefig(tmp)    # any writer that takes a path
    remove_stale_temps("out")       # temps a killed process (kill -9, power cut) left behind

A temp file is named `.tmp-<pid>-<random>-<name>`: a process killed before its os.replace leaves it
behind (no `finally` runs), and `remove_stale_temps` removes the ones whose process is gone.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

TEMP_PREFIX = ".tmp-"
_TEMP_NAME = re.compile(r"\.tmp-(\d+)-")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temp path in `path`'s directory (created) ending in `path`'s name, so writers that pick the
    format by extension still do; it replaces `path` when the block ends, and is removed on error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f"{TEMP_PREFIX}{os.getpid()}-", suffix=f"-{path.name}")
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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_stale_temps(*folders: str | os.PathLike) -> list[Path]:
    """Remove, under each folder (recursively; a missing folder is skipped), the temp files of
    `atomic_path` whose writing process no longer runs on this machine. Returns the removed paths."""
    removed: list[Path] = []
    for folder in folders:
        for root, _, files in os.walk(folder):
            for name in files:
                m = _TEMP_NAME.match(name)
                if m and int(m.group(1)) != os.getpid() and not _alive(int(m.group(1))):
                    p = Path(root) / name
                    with contextlib.suppress(FileNotFoundError):
                        p.unlink()
                        removed.append(p)
    return removed
