"""Writing a report safely: checks before the build, atomic files, a manifest, no CSV injection.

- :func:`check_output` runs before anything is computed: ``out_path`` must not be a folder,
  an input file of the trial (never overwritten, even with ``force``), or an existing file that
  is not a trialstats report (recognised by its ``<meta name="generator" content="trialstats
  ...">`` marker) unless ``force``.
- :func:`write_outputs` writes the analysis results data (CSV) into ``<stem>_ard/`` and then
  the HTML, each file to a temporary file in the same folder and renamed into place with
  :func:`os.replace` (a failure midway leaves the previous report intact). The whole write runs
  under an exclusive lock on the ARD folder (``fcntl.flock``, POSIX), so two builds to one path
  leave one complete report and the CSVs that belong to it. ``<stem>_ard/`` holds
  :data:`MANIFEST_NAME`, the list of files trialstats wrote there; only files listed in it are
  ever removed, and a file of another origin is never overwritten without ``force``.
- :func:`neutralise_csv` protects spreadsheet users (OWASP "CSV injection"): a text cell that
  starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading single quote,
  unless it is a plain number (``-1.5``). Numeric columns are written as numbers, unchanged.
  Every text cell is quoted (``csv.QUOTE_NONNUMERIC``), so a carriage return or line break
  inside a cell cannot split a row.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import re
import stat
import tempfile
from pathlib import Path

import pandas as pd

from ..errors import TrialstatsError

__all__ = ["MANIFEST_NAME", "OutputError", "atomic_write_bytes", "check_output",
           "check_output_path", "is_report",
           "neutralise_csv", "write_outputs"]

#: File in ``<stem>_ard/`` listing the files trialstats wrote there (JSON).
MANIFEST_NAME = "trialstats-manifest.json"
_MARKER = re.compile(rb'<meta name="generator" content="trialstats[ "]')
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*\.(csv|parquet)$")
_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
_MAX_MANIFEST = 1 << 20  # bytes; trialstats writes a few kB
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


class OutputError(TrialstatsError, ValueError):
    """The report cannot be written where asked: names the path, why, and what to do."""


def ard_dir(out_path: Path) -> Path:
    """Folder of the CSV tables of a report: ``<stem>_ard`` beside the HTML file."""
    return out_path.parent / f"{out_path.stem}_ard"


def is_report(path: Path) -> bool:
    """True when ``path`` is an HTML file written by trialstats (its generator marker)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False  # a FIFO would block the open; a device is never a report
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return bool(_MARKER.search(head))


def input_files(trial, plan_path: Path | None = None) -> list[Path]:
    """Every file the trial (and its plan) was read from, resolved."""
    files = list((getattr(trial, "source_files", {}) or {}).values())
    folder = getattr(trial.meta, "path", None)
    if folder is not None:
        files += [Path(folder) / "trial.toml", Path(folder) / "sap.toml"]
    if plan_path is not None:
        files.append(Path(plan_path))
    out = []
    for f in files:
        with contextlib.suppress(OSError, RuntimeError):
            out.append(Path(f).resolve())
    return out


def _same_file(a: Path, inputs: list[Path]) -> bool:
    try:
        target = a.resolve()
    except (OSError, RuntimeError):
        return False
    if target in inputs:
        return True
    return any(target.exists() and i.exists() and os.path.samefile(target, i) for i in inputs)


def check_output(trial, out_path: Path, *, force: bool = False, plan_path: Path | None = None) -> None:
    """Refuse an output path that would destroy something, before the build starts.

    Raises
    ------
    OutputError
        ``out_path`` is an existing folder; an input file of the trial (always refused); an
        existing file that is not a trialstats report (unless ``force``); or its ARD folder
        ``<stem>_ard`` is a symbolic link, holds input files of the trial, or is not a folder.
    """
    check_output_path(out_path, input_files(trial, plan_path), force=force,
                      owner=f"trial '{trial.meta.id}'")


def check_output_path(out_path: Path, inputs: list[Path], *, force: bool = False,
                      owner: str = "the analysis") -> None:
    """:func:`check_output` for any report: ``inputs`` are the resolved files it was read from.

    Parameters
    ----------
    out_path : Path
        The HTML file to write; its tables go to ``<stem>_ard/``.
    inputs : list of Path
        Resolved input files, never overwritten (even with ``force``).
    force : bool
        Overwrite an existing file that is not a trialstats report.
    owner : str
        Named in the messages (``"trial 'X'"``, ``"design d.toml"``).

    Raises
    ------
    OutputError
        As :func:`check_output`.
    """
    out_path = Path(out_path)
    _check_regular(out_path)
    if out_path.is_dir():
        raise OutputError(f"-o {out_path}: is an existing folder; give the HTML file to write "
                          f"(e.g. {out_path / 'report.html'})")
    folder = ard_dir(out_path)
    if folder.is_symlink():
        raise OutputError(f"-o {out_path}: {folder.name} is a symbolic link; the report writes its "
                          "tables into a real folder beside the HTML file; remove the link or choose "
                          "another output file")
    for path in (out_path, ard_dir(out_path)):
        if _same_file(path, inputs):
            raise OutputError(f"-o {out_path}: {path.name} is an input file of {owner}; a report "
                              "never overwrites its inputs; choose another output file")
    try:
        folder_resolved = ard_dir(out_path).resolve()
    except (OSError, RuntimeError):
        folder_resolved = None
    if folder_resolved is not None and any(i.parent == folder_resolved for i in inputs):
        raise OutputError(f"-o {out_path}: its tables folder {ard_dir(out_path).name} holds input files "
                          f"of {owner}; choose another output file name")
    if out_path.exists() and not force and not is_report(out_path):
        raise OutputError(f"-o {out_path}: the file exists and is not a trialstats report (no "
                          "trialstats generator marker); choose another file, or pass --force "
                          "(API: force=True) to overwrite it")
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"-o {out_path}: {folder.name} exists and is not a folder; the report "
                          "writes its tables there; move it or choose another output file")


def _check_regular(out_path: Path) -> None:
    """An existing output path (followed through symbolic links) must be a regular file: a
    report is renamed into place, which would replace a device node such as ``/dev/null`` or
    ``/dev/stdout`` (a link to the terminal or a pipe) or a FIFO with a plain file; refused
    even with ``force``."""
    for path in (ard_dir(out_path), out_path):  # the tables folder's name is longer
        try:
            mode = os.lstat(path).st_mode if path != out_path else os.stat(path).st_mode
        except FileNotFoundError:
            mode = None
        except (OSError, ValueError) as e:  # name too long, NUL, permission, a symlink loop
            raise OutputError(f"-o {out_path}: {path.name[:60]}: cannot be used as an output "
                              f"name ({getattr(e, 'strerror', None) or e}); choose another output "
                              "file") from None
    if mode is None:
        return
    if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        raise OutputError(f"-o {out_path}: is not a regular file (a device, FIFO or socket, e.g. "
                          "/dev/stdout); a report is written as an HTML file with its tables "
                          "folder beside it; give a file path such as report.html")


def neutralise_csv(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells cannot start a spreadsheet formula (OWASP).

    Text cells (and column names) beginning with ``= + - @``, tab or carriage return get a
    leading single quote, except plain numbers written as text (``-1.5``). Numeric, boolean and
    datetime columns are unchanged (a negative number stays a number).
    """
    out = frame.copy()
    out.columns = [_neutral(str(c)) for c in frame.columns]
    for i, col in enumerate(frame.columns):
        s = frame[col]
        if s.dtype == object or isinstance(s.dtype, pd.StringDtype | pd.CategoricalDtype):
            out.isetitem(i, s.map(lambda v: _neutral(v) if isinstance(v, str) else v).astype(object))
    return out


def _neutral(text: str) -> str:
    if text.startswith(_DANGEROUS) and not _PLAIN_NUMBER.match(text):
        return "'" + text
    return text


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _locked(folder: Path):
    """Exclusive lock on a folder (POSIX flock on its descriptor); no lock where unsupported."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory locks on folders
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _read_manifest(folder: Path) -> list[str]:
    """File names listed by a previous build's manifest (only safe, plain CSV names)."""
    path = folder / MANIFEST_NAME
    try:
        if path.is_symlink() or path.stat().st_size > _MAX_MANIFEST:
            return []  # not a manifest trialstats wrote
        doc = json.loads(path.read_text(encoding="utf-8"))
        files = doc["files"]
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return []
    names = files if isinstance(files, list) else list(files) if isinstance(files, dict) else []
    return [n for n in names if isinstance(n, str) and _SAFE_NAME.match(n)]


def write_outputs(tables: dict[str, pd.DataFrame], html: bytes, out_path: Path, *, version: str,
                  force: bool = False, files: dict[str, bytes] | None = None) -> Path:
    """Write the ARD CSVs, the manifest and the HTML (see the module docstring).

    Parameters
    ----------
    tables : dict of str to DataFrame
        Table name -> tidy frame, written as ``<stem>_ard/<name>.csv``.
    html : bytes
        The report.
    out_path : Path
    version : str
        trialstats version recorded in the manifest.
    force : bool
        Overwrite CSVs in the ARD folder that a previous build did not write.
    files : dict of str to bytes, optional
        Further files of the ARD folder by name (``ard.parquet``), written as given (they are
        in the manifest like the CSVs).

    Returns
    -------
    Path
        ``out_path``.

    Raises
    ------
    OutputError
        A table name is not a plain file name, or a CSV would overwrite a file trialstats did
        not write (unless ``force``); nothing is written then.
    """
    out_path = Path(out_path)
    folder = ard_dir(out_path)
    folder.mkdir(parents=True, exist_ok=True)
    names = {f"{name}.csv": frame for name, frame in tables.items()}
    files = dict(files or {})
    bad = [n for n in [*names, *files] if not _SAFE_NAME.match(n) or (n in names and n in files)]
    if bad:
        raise OutputError(f"table names that are not plain file names: {', '.join(bad)}")
    with _locked(folder):
        previous = set(_read_manifest(folder))
        foreign = sorted(n for n in [*names, *files] if n not in previous and (folder / n).exists())
        if foreign and not force:
            raise OutputError(
                f"-o {out_path}: {folder.name}/ holds files trialstats did not write "
                f"({', '.join(foreign[:10])}{' ...' if len(foreign) > 10 else ''}); move them, choose "
                "another output file, or pass --force (API: force=True) to overwrite them")
        digests = {}
        for name, frame in sorted(names.items()):
            data = neutralise_csv(frame).to_csv(index=False, lineterminator="\n",
                                                quoting=csv.QUOTE_NONNUMERIC).encode("utf-8")
            atomic_write_bytes(folder / name, data)
            digests[name] = hashlib.sha256(data).hexdigest()
        for name, data in sorted(files.items()):
            atomic_write_bytes(folder / name, data)
            digests[name] = hashlib.sha256(data).hexdigest()
        for stale in sorted(previous - set(names) - set(files)):
            with contextlib.suppress(FileNotFoundError):
                (folder / stale).unlink()
        manifest = {"generator": f"trialstats {version}", "report": out_path.name,
                    "note": "files written by trialstats; only these are ever removed by it",
                    "files": digests}
        atomic_write_bytes(folder / MANIFEST_NAME,
                           (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode("utf-8"))
        atomic_write_bytes(out_path, html)
    return out_path
