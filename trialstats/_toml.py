"""TOML for trial.toml and sap.toml: one robust reader and a small deterministic writer.

:func:`read_toml` reads a file from an untrusted folder: UTF-8 with or without a byte-order
mark, at most :data:`MAX_BYTES` bytes, nesting at most :data:`MAX_DEPTH` levels deep (a
5,000-deep document would otherwise crash the parser with RecursionError); every failure is a
:class:`TomlReadError` naming the file, which the callers turn into their own error
(``TrialDataError`` for trial.toml, ``PlanError`` for sap.toml).

The writer (the standard library's tomllib only reads) is used for trial.toml
(:mod:`trialstats.data.metadata`) and the analysis plan (:mod:`trialstats.report.plan`): bare
keys where TOML allows them, escaped strings, exact floats (``repr``), lists and inline tables.
"""

from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path

#: Deepest nesting of tables and arrays accepted in trial.toml / sap.toml (real files use 3).
MAX_DEPTH = 32
#: Largest trial.toml / sap.toml accepted (real files are a few kB).
MAX_BYTES = 1_000_000


class TomlReadError(Exception):
    """A TOML file that cannot be read; the message names the file and what is valid.

    ``syntax`` holds the parser's message when the text is not valid TOML (else None).
    """

    def __init__(self, message: str, syntax: str | None = None):
        super().__init__(message)
        self.syntax = syntax


def read_toml(path: str | Path) -> dict:
    """Read a TOML file from an untrusted folder.

    Parameters
    ----------
    path : str or pathlib.Path

    Returns
    -------
    dict
        The parsed document.

    Raises
    ------
    TomlReadError
        Missing or unreadable file, larger than :data:`MAX_BYTES`, not UTF-8 text, invalid
        TOML, or nested deeper than :data:`MAX_DEPTH`; the message starts with the file name.
    """
    path = Path(path)
    name = path.name
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise TomlReadError(f"{name}: {size} bytes; at most {MAX_BYTES} bytes are accepted")
        raw = path.read_bytes()
    except OSError as e:
        raise TomlReadError(f"{name}: cannot be read ({type(e).__name__}: {e.strerror or e})") from e
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise TomlReadError(
            f"{name}: not UTF-8 text (byte 0x{raw[e.start]:02x} at offset {e.start}); "
            "the file must be saved as UTF-8 (a byte-order mark is accepted)") from e
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise TomlReadError(f"{name}: invalid TOML: {e}", syntax=str(e)) from e
    except RecursionError as e:
        raise TomlReadError(f"{name}: nested too deeply to be read; at most {MAX_DEPTH} levels "
                            "of tables and arrays are accepted") from e
    depth = toml_depth(doc)
    if depth > MAX_DEPTH:
        raise TomlReadError(f"{name}: nested {depth} levels deep; at most {MAX_DEPTH} levels of "
                            "tables and arrays are accepted")
    return doc


def toml_depth(doc) -> int:
    """Deepest nesting of dicts and lists in ``doc`` (a scalar is 0), computed without recursion."""
    deepest, stack = 0, [(doc, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            value = list(value.values())
        elif not isinstance(value, list):
            continue
        depth += 1
        deepest = max(deepest, depth)
        stack.extend((v, depth) for v in value if isinstance(v, dict | list))
    return deepest

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def toml_key(key: str) -> str:
    """A key, bare when TOML allows it, else quoted."""
    return key if _BARE_KEY.match(key) else toml_string(key)


def toml_string(s: str) -> str:
    """A basic TOML string with every control character escaped."""
    out = []
    for ch in s:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_value(v) -> str:
    """A TOML value: bool, int, float (exact), str, list/tuple or dict (inline table).

    Raises
    ------
    TypeError
        For any other type, naming it and the valid ones.
    """
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return toml_string(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        if not v:
            return "{}"
        return "{ " + ", ".join(f"{toml_key(str(k))} = {toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} value {v!r}; valid types: "
                    "str, int, float, bool, list, dict")


def dump_toml_document(d: dict) -> str:
    """A TOML document: top-level scalars and lists, then ``[tables]``, then ``[[arrays of
    tables]]`` (the shapes of the analysis plan; round-trips through tomllib)."""
    lines: list[str] = []
    scalars = {k: v for k, v in d.items() if not isinstance(v, dict) and not _is_table_array(v)}
    for k, v in scalars.items():
        lines.append(f"{toml_key(k)} = {toml_value(v)}")
    for k, v in d.items():
        if isinstance(v, dict):
            lines += ["", f"[{toml_key(k)}]"]
            lines += [f"{toml_key(kk)} = {toml_value(vv)}" for kk, vv in v.items()]
        elif _is_table_array(v):
            for item in v:
                lines += ["", f"[[{toml_key(k)}]]"]
                lines += [f"{toml_key(kk)} = {toml_value(vv)}" for kk, vv in item.items()]
    return "\n".join(lines) + "\n"


def _is_table_array(v) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)
