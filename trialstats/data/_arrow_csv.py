"""Reading a large CSV table with pyarrow, keeping every value the validator must see.

The file is parsed by :func:`pyarrow.csv.read_csv` with *every* column typed as a string (no
value is ever turned into NaN or null by the parser), then each column is converted in Arrow:

- a schema column of kind ``number`` / ``integer`` becomes ``float64`` (NaN for the missing
  tokens of :data:`~trialstats.data.schema.MISSING_TOKENS`) or ``int64`` (whole numbers, none
  missing) when every value is a number or a missing token; when any value is junk (``12O``,
  ``n/a``) the column stays text, so the validator reports each junk value with its row;
- a schema column of kind ``str`` becomes a pandas object column (repeated strings share one
  Python object, so memory stays small);
- any other column becomes numbers when its text shows numbers, else text (as the
  csv-module reader does).

The file is streamed block by block, so memory stays within a few times the file size (the csv
module built one Python string per cell, about ten times the file size). A file Arrow cannot parse (ragged rows, a quoted line break,
invalid UTF-8) returns ``None`` so the caller falls back to the exact csv-module reader, whose
messages name the offending lines.
"""

from __future__ import annotations

import numpy as np

from ._arrays import frame_from_columns
from .schema import MISSING_TOKENS

__all__ = ["read_csv_arrow"]

_NUMBER = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
_INTEGER = r"^[+-]?\d+$"
_INT_LIMIT = 2**62  # larger whole numbers stay float64, as in the validator


def read_csv_arrow(path, header: list[str], kinds: dict[str, str], typed: set[str]):
    """Read ``path`` with pyarrow; None when Arrow cannot parse it (caller falls back).

    The file is streamed block by block (:func:`pyarrow.csv.open_csv`): numeric schema columns
    are converted per block, other columns are kept as compact Arrow strings until the end,
    so the whole file is never held as text at once. When a numeric column holds junk, the
    file is read again as one table with that column kept as text (:func:`_read_whole`).

    Parameters
    ----------
    path : pathlib.Path
    header : list of str
        Column names (already read and checked for duplicates).
    kinds : dict of str to str
        Schema kind of each schema column ("str", "number", "integer").
    typed : set of str
        Extra columns whose type trial.toml records (left as text for the caller).

    Returns
    -------
    pandas.DataFrame or None
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    options = dict(
        read_options=pacsv.ReadOptions(use_threads=False, block_size=1 << 22),
        convert_options=pacsv.ConvertOptions(
            column_types={h: pa.string() for h in header}, strings_can_be_null=False,
            quoted_strings_can_be_null=False, null_values=[]),
    )
    numeric = [h for h in header if kinds.get(h) in ("number", "integer")]
    chunks: dict[str, list] = {h: [] for h in header}
    try:
        reader = pacsv.open_csv(path, **options)
        if reader.schema.names != header:
            return None
        for batch in reader:
            for i, name in enumerate(header):
                column = batch.column(i)
                if name in numeric:
                    values = _numbers(column)
                    if values is None:  # junk: keep every value as text for the validator
                        return _read_whole(path, header, kinds, typed, options)
                    chunks[name].append(values)
                else:
                    chunks[name].append(column)
            pa.default_memory_pool().release_unused()  # the block's temporaries
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError):
        return None
    out = {}
    pool = pa.default_memory_pool()
    for name in header:
        parts = chunks.pop(name)
        if name in numeric:
            out[name] = _concat_numbers(parts)
            continue
        column = pa.chunked_array(parts, type=pa.string())
        values = None if kinds.get(name) == "str" or name in typed else _inferred(column)
        out[name] = column.to_pandas() if values is None else values
        del column, parts
        pool.release_unused()  # hand the text's memory back to the system as we go
    return frame_from_columns(out)  # one block per column: no consolidation copy


def _concat_numbers(parts: list) -> np.ndarray:
    """One column from per-block arrays: int64 when every block was whole numbers with none
    missing, else float64."""
    if not parts:
        return np.array([], dtype=np.int64)
    if all(p.dtype == np.int64 for p in parts):
        return np.concatenate(parts)
    return np.concatenate([p.astype(float, copy=False) for p in parts])


def _read_whole(path, header, kinds, typed, options):
    """The file as one Arrow table; numeric columns holding junk stay text."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        table = pacsv.read_csv(path, **options)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError):
        return None
    out = {}
    for name in header:
        column = table.column(name)
        kind = kinds.get(name)
        if kind in ("number", "integer"):
            values = _numbers(column)
        elif kind == "str" or name in typed:
            values = None
        else:
            values = _inferred(column)
        out[name] = column.to_pandas() if values is None else values
        table = table.drop_columns([name])  # release the text as we go
    return frame_from_columns(out)


def _to_float(text, mask):
    """float64 of the strings where ``mask`` is true, NaN elsewhere."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kept = pc.if_else(mask, text, pa.scalar(None, pa.string()))
    try:
        floats = pc.cast(kept, pa.float64())
    except pa.ArrowInvalid:  # a spelling Arrow does not parse but Python does
        return np.array([float(v) if v is not None else np.nan for v in kept.to_pylist()])
    return floats.to_numpy(zero_copy_only=False).astype(float, copy=False)


def _to_int(text):
    """int64 of whole-number strings, or None when one is too large."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        ints = pc.cast(pc.replace_substring_regex(text, r"^\+", ""), pa.int64())
    except pa.ArrowInvalid:
        return None
    arr = ints.to_numpy(zero_copy_only=False)
    return arr if len(arr) == 0 or np.abs(arr).max() < _INT_LIMIT else None


def _numbers(column):
    """A schema numeric column: int64 / float64, or None when any value is junk."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pc.utf8_trim_whitespace(column)
    missing = pc.is_in(text, value_set=pa.array(sorted(MISSING_TOKENS)))
    number = pc.match_substring_regex(text, _NUMBER)
    if not pc.all(pc.or_(missing, number)).as_py() and len(column):
        return None
    if not pc.any(missing).as_py() and pc.all(pc.match_substring_regex(text, _INTEGER)).as_py():
        ints = _to_int(text)
        if ints is not None:
            return ints
    return _to_float(text, number)


def _inferred(column):
    """An extra column: numbers when every non-blank value is a number, else None (text)."""
    import pyarrow.compute as pc

    blank = pc.equal(column, "")
    filled = pc.invert(blank)
    if not pc.any(filled).as_py():
        return None
    if not pc.all(pc.or_(blank, pc.match_substring_regex(column, _NUMBER))).as_py():
        return None
    if not pc.any(blank).as_py() and pc.all(pc.match_substring_regex(column, _INTEGER)).as_py():
        ints = _to_int(column)
        if ints is not None:
            return ints
    return _to_float(column, filled)
