"""Reproducibility manifest: input file hashes, table sizes, software versions, seeds, command.

Everything here is a pure function of the inputs and the installed environment (no clock), so the
report stays byte-identical for identical inputs.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata as md
import os
import platform
import re
import shlex
from pathlib import Path

import pandas as pd

__all__ = ["dependency_versions", "input_hashes", "rebuild_command", "sha256_file", "table_rows"]


def sha256_file(path: str | Path) -> str:
    """SHA-256 hex digest of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _frame_sha256(frame: pd.DataFrame) -> str:
    text = frame.to_csv(index=False, lineterminator="\n")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def input_hashes(trial, plan_path: Path | None = None) -> pd.DataFrame:
    """One row per input: ``input, file, sha256, bytes, source``.

    Files the trial was read from (``trial.source_files``, plus ``trial.toml`` and ``sap.toml``
    of its folder when present) are hashed as bytes on disk. A table built in memory has no file:
    its hash is that of its CSV serialisation, and ``source`` says so.
    """
    rows = []
    folder = Path(trial.meta.path) if getattr(trial.meta, "path", None) else None
    if folder is not None:
        for name in ("trial.toml",):
            f = folder / name
            if f.is_file():
                rows.append({"input": "metadata", "file": name, "sha256": sha256_file(f), "bytes": f.stat().st_size, "source": "file"})
    files = dict(getattr(trial, "source_files", {}) or {})
    for table, frame in trial.tables.items():
        f = files.get(table)
        if f is not None and Path(f).is_file():
            f = Path(f)
            name = f.name if folder is None else _rel(f, folder)
            rows.append({"input": table, "file": name, "sha256": sha256_file(f), "bytes": f.stat().st_size, "source": "file"})
        else:
            rows.append({"input": table, "file": f"({table}, in memory)", "sha256": _frame_sha256(frame),
                         "bytes": len(frame.to_csv(index=False, lineterminator="\n").encode("utf-8")),
                         "source": "in memory: SHA-256 of its CSV serialisation"})
    if plan_path is not None and Path(plan_path).is_file():
        p = Path(plan_path)
        rows.append({"input": "analysis plan", "file": p.name, "sha256": sha256_file(p), "bytes": p.stat().st_size, "source": "file"})
    return pd.DataFrame(rows, columns=["input", "file", "sha256", "bytes", "source"])


def _rel(f: Path, folder: Path) -> str:
    """``f`` relative to the trial folder (POSIX separators), never an absolute path.

    A file the trial was allowed to read from outside its folder (``allow_outside=True``) is
    written as a relative path with ``..`` parts.
    """
    f, folder = Path(f), Path(folder)
    try:
        return f.relative_to(folder).as_posix()
    except ValueError:
        pass
    try:
        return Path(os.path.relpath(f.resolve(), folder.resolve())).as_posix()
    except ValueError:  # another drive (Windows): no relative path exists
        return f.name


def table_rows(trial) -> pd.DataFrame:
    """Rows and columns per input table."""
    return pd.DataFrame(
        [{"table": n, "rows": len(f), "columns": f.shape[1]} for n, f in trial.tables.items()],
        columns=["table", "rows", "columns"],
    )


def _req_name(req: str) -> str | None:
    if ";" in req and "extra ==" in req.split(";", 1)[1]:
        return None
    m = re.match(r"\s*([A-Za-z0-9_.\-]+)", req)
    return m.group(1) if m else None


def dependency_versions(root: str = "trialstats") -> pd.DataFrame:
    """Versions of Python, ``root`` and every (transitive, non-optional) dependency, sorted by name.

    Falls back to the direct dependencies named in this function when ``root`` is not installed
    as a distribution (e.g. run from a source tree). Cached per process (installed versions do
    not change while it runs).
    """
    return _dependency_versions(root).copy()


@functools.lru_cache(maxsize=4)
def _dependency_versions(root: str) -> pd.DataFrame:
    seen: dict[str, str] = {}
    try:
        todo = [root]
        seen[root] = md.version(root)
        todo = [r for r in (_req_name(x) for x in (md.requires(root) or [])) if r]
    except md.PackageNotFoundError:
        todo = ["numpy", "scipy", "pandas", "statsmodels", "lifelines", "matplotlib", "seaborn", "jinja2", "pyarrow", "formulaic"]
    while todo:
        name = todo.pop()
        key = name.lower().replace("_", "-")
        if key in {k.lower().replace("_", "-") for k in seen}:
            continue
        try:
            seen[name] = md.version(name)
        except md.PackageNotFoundError:
            seen[name] = "(not installed)"
            continue
        todo += [r for r in (_req_name(x) for x in (md.requires(name) or [])) if r]
    rows = [{"package": "Python", "version": platform.python_version()}]
    rows += [{"package": k, "version": seen[k]} for k in sorted(seen, key=str.lower)]
    return pd.DataFrame(rows, columns=["package", "version"])


def rebuild_command(trial, out_path: Path) -> str:
    """The command that rebuilds this report (``python -m trialstats report <folder> -o <file>``).

    The output path and the trial folder are written as given when relative
    (``reports/exo-hair-301.html``), else by their last name only, so the report does not
    depend on where the trial or the report lives (the same data in another folder gives a
    byte-identical report).
    """
    out_path = Path(out_path)
    if out_path.is_absolute():
        out_path = Path(out_path.name)
    folder = getattr(trial.meta, "path", None)
    if folder is not None and Path(folder).is_absolute():
        folder = Path(folder).name
    if folder is None:
        gen = (getattr(trial.meta, "extra", {}) or {}).get("generator")
        if isinstance(gen, dict) and gen.get("function"):
            params = ", ".join(f"{k}={v!r}" for k, v in sorted((gen.get("parameters") or {}).items()))
            return (f"python -c \"import trialstats as ts; ts.build_report("
                    f"ts.{gen['function'].rsplit('.', 1)[-1]}(seed={gen.get('seed')!r}, {params}), {str(out_path)!r})\"")
        return "(trial built in memory: no command rebuilds it from files)"
    return f"python -m trialstats report {shlex.quote(str(folder))} -o {shlex.quote(str(out_path))}"
