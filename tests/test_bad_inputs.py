"""The bad-input table (`tools/bad_inputs.py`): every malformed `.tflite`, `.fgb`, audio file and training
config is accepted or rejected with a message that names the cause, by the Python readers, `kws_host` and
`kws-train`; no traceback, crash or hang."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import build_host_target

from tools import bad_inputs


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> list[bad_inputs.Row]:
    return bad_inputs.collect(tmp_path_factory.mktemp("bad_inputs"), build_host_target("kws_host"))


def test_no_row_is_a_traceback_crash_or_hang(rows) -> None:
    bugs = [r for r in rows if r.bug]
    assert not bugs, bad_inputs.markdown(bugs)
    components = {r.component for r in rows}
    assert components == {"read_exported", "load_model", "read_audio", "kws_host", "kws-train"}


def test_rejections_name_the_file_or_key(rows) -> None:
    """A rejected file's message starts with the file's name; a rejected config names the bad key or file."""
    suffixes = (".tflite", ".fgb", ".wav", ".flac", ".mp3", ".ogg")
    for r in rows:
        if r.result == "ValueError" or (r.component == "kws_host" and r.result == "exit 2"):
            first = r.message.removeprefix("kws_host: ").split(":")[0]
            assert first == "<folder>" or Path(first).suffix in suffixes, r
    by_input = {(r.input, r.component): r for r in rows}
    for key in ("unknown key", "wrong type (train.epochs_dense: ten)", "wrong type (model.units: [64])",
                "YAML syntax error", "section not a mapping (data: 5)", "missing data folder"):
        r = by_input[(f"config: {key}", "kws-train")]
        assert r.result == "exit 2" and r.message.startswith("kws-train: "), r
    assert "train.epochs_dense" in by_input[("config: wrong type (train.epochs_dense: ten)", "kws-train")].message


def test_valid_inputs_are_accepted(rows) -> None:
    """The table's valid files pass, so that every rejection is the malformation's doing."""
    by_input = {(r.input, r.component): r for r in rows}
    for name in ("16 kHz mono PCM16 (valid)", "8 kHz mono PCM16", "16 kHz stereo PCM16", "24-bit", "32-bit float",
                 "16 kHz mono FLAC (valid)", "8 kHz stereo 24-bit FLAC"):
        assert by_input[(f"audio: {name}", "read_audio")].result == "accepted", name
    assert by_input[("audio: 16 kHz mono PCM16 (valid)", "kws_host")].result == "exit 0 (accepted)"


def test_unprintable_class_names_are_rejected_at_load(rows) -> None:
    """Class names are printed in kws_host's detection lines (`label=...`): a name that is not UTF-8 or holds a
    control character (here ESC, a terminal escape) is rejected when the model loads, naming the file, the
    entry and the byte, by kws_host (exit 2) and by the Python reader, instead of being printed raw."""
    by_input = {(r.input, r.component): r for r in rows}
    for label, host_why in (("classes not UTF-8", "class name 1 is not UTF-8 (byte 0 is 0xFF)"),
                            ("classes with a control character (ESC)",
                             "class name 1 holds a control character (U+001B at byte 3)")):
        host = by_input[(f".fgb: {label}", "kws_host")]
        assert host.result == "exit 2", host
        assert host.message.startswith("kws_host: m") and f".fgb: entry 'classes': {host_why}" in host.message, host
        py = by_input[(f".fgb: {label}", "load_model")]
        assert py.result == "ValueError" and py.message.startswith("m"), py
    assert "control characters" in by_input[(".fgb: classes with a control character (ESC)", "load_model")].message
    assert "entry 'classes' is not UTF-8" in by_input[(".fgb: classes not UTF-8", "load_model")].message
