"""Import TensorFlow without its C++ start-up noise (CUDA probes, oneDNN notices) on CPU-only machines.

TF_CPP_MIN_LOG_LEVEL does not reach the lines absl prints before it is initialized ("Could not find cuda
drivers", "failed call to cuInit"), so the command-line tools call `quiet_tensorflow()` first: it sets the
level (unless the user set one) and holds file descriptor 2 on /dev/null while TensorFlow loads and probes
its devices. Python errors are still reported: they are raised after stderr is back.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def _stderr_silenced() -> Iterator[None]:
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def quiet_tensorflow() -> None:
    """Load TensorFlow (and tf_keras) quietly; a no-op when it is already loaded or KWS_TF_VERBOSE=1."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    if "tensorflow" in sys.modules or os.environ.get("KWS_TF_VERBOSE") == "1":
        return
    with _stderr_silenced():
        import tensorflow as tf

        tf.config.list_physical_devices()  # the device probe that logs cuInit failures
        import tf_keras  # noqa: F401
