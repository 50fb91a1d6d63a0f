"""Reading and writing the tables of a trial folder, chosen by file extension.

Readers never change the number of rows. CSV files are read with every column as text (UTF-8 with
or without a byte-order mark, LF or CRLF line endings; blank lines are not rows) so that junk in a
numeric column ('12O', 'n/a') reaches the validator and is reported instead of silently becoming
NaN; the columns without a schema spec are then given the type their text shows (numbers or
text), or the type recorded in trial.toml ``[column_types]``. Large files go through pyarrow
(:mod:`trialstats.data._arrow_csv`: typed in Arrow, memory within a few times the file size);
a file Arrow cannot parse, or whose header is unusable, is read by the csv module, whose
messages name the offending lines. Parquet and SAS files (.xpt transport, .sas7bdat) carry their own
types; SAS files are read with pyreadstat (pandas.read_sas cannot read XPORT version 8 files and
garbles the column names of some sas7bdat files).

The CSV writer is deterministic: columns in frame order, LF line endings, floats written with
``repr`` (the shortest text that reads back to the same float64), integers as digits, missing as
an empty field.
"""

from __future__ import annotations

import csv
import io
import math
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd

from ._arrow_csv import read_csv_arrow
from .schema import SPECS
from .validation import _INTEGER, _NUMBER, Problem

__all__ = ["READERS", "read_table", "write_table", "TableReadError"]

#: Extensions each reader handles (lower case).
READERS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".xpt": "xport",
           ".sas7bdat": "sas7bdat"}
WRITE_FORMATS = ("csv", "parquet")
_COLUMN_TYPES = ("str", "int64", "float64", "Int64", "bool")


class TableReadError(Exception):
    """A table file that cannot be read; carries the :class:`Problem` to report."""

    def __init__(self, problem: Problem):
        super().__init__(str(problem))
        self.problem = problem


def read_table(path: Path, table: str, column_types: dict | None = None) -> pd.DataFrame:
    """Read one table file; the reader is chosen by extension.

    Parameters
    ----------
    path : pathlib.Path
        The file.
    table : str
        Table name ("adeff"): its schema columns are left as text for the validator.
    column_types : dict of str to str, optional
        Types of extra CSV columns recorded by :func:`write_table` ({"SITEID": "str"}).

    Returns
    -------
    pandas.DataFrame
        Exactly the rows of the file.

    Raises
    ------
    TableReadError
        The file is missing, has an unknown extension, or cannot be parsed.
    """
    path = Path(path)
    label = path.name

    def fail(message):
        raise TableReadError(Problem(table=label, column=None, message=message))

    kind = READERS.get(path.suffix.lower())
    if kind is None:
        fail(f"unknown file type '{path.suffix}'; valid: {', '.join(READERS)}")
    try:  # a name too long for the file system, a NUL or a permission error raise OSError here
        exists, is_file = path.exists(), path.is_file()
    except (OSError, ValueError) as e:
        fail(f"file named in trial.toml [tables] {table} cannot be opened "
             f"({getattr(e, 'strerror', None) or e}); use a short file name inside the folder")
    if not exists:
        fail(f"file named in trial.toml [tables] {table} = \"{label}\" is missing from {path.parent}")
    if not is_file:
        what = "a directory" if path.is_dir() else "a FIFO, socket or device"
        fail(f"{path} is not a file but {what}; trial.toml [tables] {table} = \"{label}\" "
             "must name a regular table file")
    try:
        if kind == "csv":
            df = _read_csv(path, table, column_types or {}, fail)
        elif kind == "parquet":
            df = pd.read_parquet(path)
        else:
            df = _read_sas(path, kind)
        _check_column_names(df.columns, fail)
        return df
    except TableReadError:
        raise
    except Exception as e:  # any parser failure becomes a data problem naming the file
        fail(f"cannot be read as {kind} ({type(e).__name__}: {str(e).strip()[:200]})")


def _check_column_names(columns, fail) -> None:
    """Refuse column names holding invisible characters (a byte-order mark, zero-width space or
    control character): "\ufeffSEX" would otherwise be read as a column other than SEX."""
    bad = []
    for i, name in enumerate(columns, start=1):
        hidden = [ch for ch in str(name) if unicodedata.category(ch) in ("Cf", "Cc")]
        if hidden:
            codes = ", ".join(sorted({f"U+{ord(ch):04X}" for ch in hidden}))
            bad.append(f"column {i} {str(name)!r} ({codes})")
    if bad:
        fail("column names contain invisible characters: " + "; ".join(bad[:10])
             + ("; and more" if len(bad) > 10 else "")
             + " (a byte-order mark or zero-width character inside the header, e.g. from "
               "concatenated files); remove them so the names match the ADaM columns")


def _read_csv(path: Path, table: str, column_types: dict, fail) -> pd.DataFrame:
    """A CSV table through pyarrow when possible, else through the csv module."""
    with open(path, "rb") as f:
        head = f.read(8192)
    if b"\x00" in head:
        fail("binary file, not CSV text (contains NUL bytes); expected UTF-8 comma-separated text")
    header = _header(path)
    if header and len(set(header)) == len(header) and any(h.strip() for h in header):
        spec = SPECS.get(table)
        kinds = {c.name: c.kind for c in spec.columns} if spec else {}
        typed = {c for c, k in column_types.items() if k in _COLUMN_TYPES}
        df = read_csv_arrow(path, header, kinds, typed)
        if df is not None:
            for col in typed & set(header):
                if col not in kinds:
                    df[col] = _typed_text(df[col].astype(object), column_types[col])
            return df
    return _read_csv_python(path, table, column_types, fail)


def _header(path: Path) -> list[str] | None:
    """The first CSV record (column names), or None when it cannot be read."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            return next(csv.reader(f, strict=True))
    except (UnicodeDecodeError, csv.Error, StopIteration):
        return None


def _read_csv_python(path: Path, table: str, column_types: dict, fail) -> pd.DataFrame:
    """The csv-module reader: exact messages for malformed files (the whole file in memory)."""
    raw = path.read_bytes()
    if not raw.strip():
        fail("file is empty (no header line); expected a header line and one row per record")
    if b"\x00" in raw[:8192]:
        fail("binary file, not CSV text (contains NUL bytes); expected UTF-8 comma-separated text")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        fail(f"not UTF-8 text (byte 0x{raw[e.start]:02x} at offset {e.start}); save it as UTF-8 CSV")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
        records, ragged = [], []
        for record in reader:
            if not record:  # a blank line is not a row
                continue
            if len(record) != len(header):
                ragged.append((reader.line_num, len(record)))
            records.append(record)
    except csv.Error as e:
        fail(f"malformed CSV near line {reader.line_num} ({e})")
    if len(set(header)) != len(header):
        dup = sorted({h for h in header if header.count(h) > 1})
        fail(f"duplicate column names in the header: {', '.join(dup)}; each column must appear once")
    if ragged:
        shown = ", ".join(f"line {line} has {n}" for line, n in ragged[:10])
        more = f" and {len(ragged) - 10} more" if len(ragged) > 10 else ""
        fail(f"malformed CSV: {shown}{more} fields; the header has {len(header)} "
             "(every line needs as many fields as the header)")
    df = pd.DataFrame(records, columns=header, dtype=object)
    if not records:
        df = pd.DataFrame({h: pd.Series([], dtype=object) for h in header})
    spec = SPECS.get(table)
    spec_cols = {c.name for c in spec.columns} if spec else set()
    for col in df.columns:
        if col in spec_cols:
            continue
        kind = column_types.get(col)
        df[col] = _typed_text(df[col], kind) if kind in _COLUMN_TYPES else _infer_text(df[col])
    return df


def _infer_text(s: pd.Series) -> pd.Series:
    """Numbers when every non-blank value is a number (int64 if all integers and none blank)."""
    text = s.to_numpy(dtype=object)
    filled = [t for t in text if t != ""]
    if not filled or not all(_NUMBER.match(t) for t in filled):
        return s
    if len(filled) == len(text) and all(_INTEGER.match(t) for t in filled):
        return pd.Series(np.array([int(t) for t in text], dtype=np.int64), index=s.index)
    return pd.Series(np.array([float(t) if t != "" else np.nan for t in text]), index=s.index)


def _typed_text(s: pd.Series, kind: str) -> pd.Series:
    text = s.to_numpy(dtype=object)
    if kind == "str":
        return s
    if kind == "bool":
        return pd.Series(np.array([t == "True" for t in text]), index=s.index)
    if kind == "int64":
        return pd.Series(np.array([int(t) for t in text], dtype=np.int64), index=s.index)
    if kind == "Int64":
        return pd.Series(pd.array([int(t) if t != "" else pd.NA for t in text], dtype="Int64"),
                         index=s.index)
    return pd.Series(np.array([float(t) if t != "" else np.nan for t in text]), index=s.index)


def _read_sas(path: Path, kind: str) -> pd.DataFrame:
    """A SAS file through pyreadstat (pandas.read_sas reads neither XPORT v8 nor every sas7bdat)."""
    try:
        import pyreadstat
    except ImportError as e:
        raise TableReadError(Problem(
            table=path.name, column=None,
            message=f"reading {path.suffix} files needs the pyreadstat package "
                    "(pip install 'pyreadstat>=1.2'); or convert the table to CSV or Parquet")) from e
    reader = pyreadstat.read_xport if kind == "xport" else pyreadstat.read_sas7bdat
    df, _ = reader(str(path))
    return df


# --- writing ----------------------------------------------------------------------------------


def _column_kind(s: pd.Series) -> str:
    dt = s.dtype
    if pd.api.types.is_bool_dtype(dt):
        return "bool"
    if isinstance(dt, pd.Int64Dtype | pd.Int32Dtype | pd.Int16Dtype | pd.Int8Dtype):
        return "Int64"
    if pd.api.types.is_integer_dtype(dt):
        return "int64"
    if pd.api.types.is_float_dtype(dt):
        return "float64"
    return "str"


def _format(v) -> str:
    if v is None or v is pd.NA or v is pd.NaT:
        return ""
    if isinstance(v, bool | np.bool_):
        return "True" if v else "False"
    if isinstance(v, int | np.integer):
        return str(int(v))
    if isinstance(v, float | np.floating):
        f = float(v)
        return "" if math.isnan(f) else repr(f)
    return str(v)


def write_table(df: pd.DataFrame, path: Path, table: str, format: str = "csv") -> dict:
    """Write one table deterministically.

    Parameters
    ----------
    df : pandas.DataFrame
    path : pathlib.Path
    table : str
        Table name (its schema columns need no recorded type).
    format : {"csv", "parquet"}

    Returns
    -------
    dict of str to str
        For CSV, the extra columns whose type the text would not show (to record in
        trial.toml ``[column_types]``); empty for Parquet.
    """
    if format == "parquet":
        df.to_parquet(path, index=False)
        return {}
    spec = SPECS.get(table)
    spec_cols = {c.name for c in spec.columns} if spec else set()
    columns = [str(c) for c in df.columns]
    cells = [[_format(v) for v in df[c].astype(object).tolist()] for c in df.columns]
    types = {}
    for name, col, text in zip(columns, df.columns, cells):
        if name in spec_cols:
            continue
        kind = _column_kind(df[col])
        inferred = _infer_text(pd.Series(text, dtype=object))
        natural = "str" if inferred.dtype == object else str(inferred.dtype)
        if kind != natural:
            types[name] = kind
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(zip(*cells) if cells else [])
    Path(path).write_bytes(buf.getvalue().encode("utf-8"))
    return types
