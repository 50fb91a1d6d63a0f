"""The :class:`Trial` (metadata plus ADaM tables) and :func:`load_trial` (a trial folder)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from ..errors import TrialDataError
from .metadata import TOML_NAME, TrialMeta, dumps_toml, read_meta
from .readers import READERS, WRITE_FORMATS, TableReadError, read_table, write_table
from .schema import SPECS, TABLE_NAMES
from .validation import Problem, ValidationReport, check_trial

__all__ = ["Trial", "TrialMeta", "load_trial", "validate_folder"]


class Trial:
    """A trial: its metadata and its ADaM-style tables, validated.

    Building a Trial validates the tables against :mod:`trialstats.data.schema` and gives the
    columns their dtypes: ARM categorical with the reference arm first, AVISIT categorical
    ordered by AVISITN, CNSR int64, character columns with ``""`` for blanks. Extra columns are
    kept. No row is ever added or dropped.

    Parameters
    ----------
    meta : TrialMeta
    adsl, adeff : pandas.DataFrame
        Subject-level and efficacy (BDS) tables.
    adtte, adae : pandas.DataFrame, optional
        Time-to-event and adverse-event tables.
    source_files : dict of str to pathlib.Path, optional
        Table name -> file it was read from (set by :func:`load_trial`).

    Raises
    ------
    TrialDataError
        Listing every problem found (table, column, rows, subjects, what was expected).

    Attributes
    ----------
    meta : TrialMeta
    adsl, adeff, adtte, adae : pandas.DataFrame or None
    validation : ValidationReport
        Warnings (soft problems) found when the trial was built; ``str()`` is a summary.
    source_files : dict of str to pathlib.Path

    Examples
    --------
    >>> trial = load_trial("datasets/exo-hair-301")          # doctest: +SKIP
    >>> trial.analysis_frame("adeff", paramcd="TAHC")         # doctest: +SKIP
    """

    def __init__(self, meta: TrialMeta, adsl, adeff, adtte=None, adae=None, *, source_files=None,
                 _owned: bool = False):
        if not isinstance(meta, TrialMeta):
            raise TrialDataError(f"meta must be a TrialMeta; got {type(meta).__name__}")
        self.meta = meta
        self.source_files = {k: Path(v) for k, v in (source_files or {}).items()}
        labels = {k: p.name for k, p in self.source_files.items()}
        raw = {"adsl": adsl, "adeff": adeff, "adtte": adtte, "adae": adae}
        frames, report = check_trial(meta, raw, labels, owned=_owned)
        report.raise_for_errors()
        self._labels = labels
        self.adsl = frames["adsl"]
        self.adeff = frames["adeff"]
        self.adtte = frames["adtte"]
        self.adae = frames["adae"]
        self.validation: ValidationReport = report

    # -- accessors --------------------------------------------------------------------------

    @property
    def arms(self) -> list[str]:
        """Arm codes in level order, the reference arm first."""
        return self.meta.arm_levels

    @property
    def tables(self) -> dict:
        """The tables present, by name ({"adsl": DataFrame, ...})."""
        return {n: getattr(self, n) for n in TABLE_NAMES if getattr(self, n) is not None}

    def validate(self) -> ValidationReport:
        """Validate the tables as they are now (after any change made to them).

        Returns
        -------
        ValidationReport
            With the warnings; ``trial.validation`` is updated.

        Raises
        ------
        TrialDataError
            Listing every error.
        """
        raw = {n: getattr(self, n) for n in TABLE_NAMES}
        frames, report = check_trial(self.meta, raw, self._labels)
        report.raise_for_errors()
        self.validation = report
        return report

    def analysis_frame(self, table: str = "adeff", paramcd: str | None = None) -> pd.DataFrame:
        """A table (optionally one parameter) with ADSL's subject-level columns merged in.

        Parameters
        ----------
        table : {"adeff", "adtte", "adae", "adsl"}
        paramcd : str, optional
            Keep only rows of this PARAMCD (adeff / adtte). Unused AVISIT levels are then removed
            (the level order is kept).

        Returns
        -------
        pandas.DataFrame
            The table's rows in their order (row count preserved) with ADSL's columns that the
            table lacks (ARM, AGE, SEX, STAGE, ...) merged on USUBJID; the table's own columns win.

        Raises
        ------
        TrialDataError
            Unknown or absent table, or a PARAMCD the table does not hold (valid ones listed).
        """
        if table not in TABLE_NAMES:
            raise TrialDataError(f"unknown table '{table}'; valid: {', '.join(TABLE_NAMES)}")
        frame = getattr(self, table)
        if frame is None:
            present = ", ".join(self.tables)
            raise TrialDataError(f"trial '{self.meta.id}' has no {table} table; present: {present}")
        if paramcd is not None:
            if "PARAMCD" not in frame.columns:
                raise TrialDataError(f"table {table} has no PARAMCD column; paramcd= cannot be used")
            valid = sorted(set(frame["PARAMCD"]))
            if paramcd not in valid:
                raise TrialDataError(f"PARAMCD '{paramcd}' is not in {table} of trial "
                                     f"'{self.meta.id}'; valid: {', '.join(valid)}")
            frame = frame[frame["PARAMCD"] == paramcd]
            if "AVISIT" in frame.columns and isinstance(frame["AVISIT"].dtype, pd.CategoricalDtype):
                frame = frame.assign(AVISIT=frame["AVISIT"].cat.remove_unused_categories())
        frame = frame.reset_index(drop=True)
        if table == "adsl":
            return frame.copy()
        subject_cols = ["USUBJID", *[c for c in self.adsl.columns if c not in frame.columns]]
        merged = frame.merge(self.adsl[subject_cols], on="USUBJID", how="left",
                             validate="many_to_one", sort=False)
        if len(merged) != len(frame):  # pragma: no cover - guaranteed by validation
            raise TrialDataError("merge with adsl changed the row count")
        return merged

    def efficacy(self, paramcd: str | None = None) -> pd.DataFrame:
        """Shorthand for ``analysis_frame("adeff", paramcd)``."""
        return self.analysis_frame("adeff", paramcd)

    # -- writing ----------------------------------------------------------------------------

    def write(self, folder, format: str = "csv") -> Path:
        """Write trial.toml and the tables to ``folder`` with deterministic bytes.

        Parameters
        ----------
        folder : str or pathlib.Path
            Created when missing; existing files of the same names are replaced.
        format : {"csv", "parquet"}
            Table format. CSV output reads back through :func:`load_trial` with the same values,
            rows and dtypes.

        Returns
        -------
        pathlib.Path
            The folder.
        """
        if format not in WRITE_FORMATS:
            raise TrialDataError(f"unknown format '{format}'; valid: {', '.join(WRITE_FORMATS)}")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        ext = {"csv": "csv", "parquet": "parquet"}[format]
        files, column_types = {}, {}
        for name, frame in self.tables.items():
            files[name] = f"{name}.{ext}"
            types = write_table(frame, folder / files[name], name, format)
            if types:
                column_types[name] = types
        (folder / TOML_NAME).write_bytes(dumps_toml(self.meta, files, column_types).encode("utf-8"))
        return folder

    def __repr__(self) -> str:
        n_subj = len(self.adsl)
        parts = ", ".join(f"{n} {len(f)} rows" for n, f in self.tables.items())
        sim = " (simulated)" if self.meta.simulated else ""
        return f"<Trial {self.meta.id}{sim}: {len(self.arms)} arms, {n_subj} subjects; {parts}>"


def _inside(file: Path, folder: Path) -> bool:
    """True when ``file``, with every symbolic link resolved, lies inside ``folder`` (resolved)."""
    try:
        file.resolve().relative_to(folder.resolve())
    except (ValueError, OSError, RuntimeError):  # outside, unreadable, or a symlink loop
        return False
    return True


def _read_folder(path, allow_outside: bool = False):
    """Read a trial folder: (meta, raw frames, labels, source files, problems).

    Table paths of trial.toml must stay inside the folder once resolved (``../x``, absolute
    paths and symbolic links leaving the folder are refused) unless ``allow_outside``.
    """
    folder = Path(path)
    toml = folder / TOML_NAME
    if not allow_outside and toml.is_symlink() and not _inside(toml, folder):
        raise TrialDataError(f"{TOML_NAME} in trial folder '{folder}' is a symbolic link leaving "
                             "the folder; the trial's metadata must be inside it (or pass "
                             "allow_outside=True / --allow-outside)")
    meta, problems, column_types, tables = read_meta(folder)
    frames, labels, sources = {}, {}, {}
    for name, fname in tables.items():
        if name not in SPECS:
            problems.append(Problem(TOML_NAME, f"tables.{name}",
                                    f"table '{name}' is not used by trialstats and was not read; "
                                    f"known tables: {', '.join(TABLE_NAMES)}", severity="warning"))
            continue
        file = folder / fname
        if not allow_outside and not _inside(file, folder):
            problems.append(Problem(TOML_NAME, f"tables.{name}", (
                f"path \"{fname}\" leaves the trial folder (it resolves outside '{folder}', "
                "through '..', an absolute path or a symbolic link); table files must be inside the "
                "trial folder (or pass allow_outside=True / --allow-outside to read it anyway)")))
            frames[name] = None
            continue
        labels[name] = file.name
        sources[name] = file
        try:
            frames[name] = read_table(file, name, column_types.get(name, {}))
        except TableReadError as e:
            problems.append(e.problem)
            frames[name] = None
    if isinstance(tables, dict):
        for name in ("adsl", "adeff"):
            if name not in tables and not (name == "adeff" and "adtte" in tables):
                problems.append(Problem(TOML_NAME, "tables", f"[tables] must name the {name} file, "
                                        f"e.g. {name} = \"{name}.csv\" (formats: {', '.join(READERS)})"))
    return meta, frames, labels, sources, problems


def validate_folder(path, allow_outside: bool = False) -> ValidationReport:
    """Validate a trial folder without raising for data problems.

    Parameters
    ----------
    path : str or pathlib.Path
    allow_outside : bool, default False
        Read table files that lie outside the folder (see :func:`load_trial`).

    Returns
    -------
    ValidationReport
        Rows per table and per arm, every error and warning (``report.ok`` is False on errors).
    """
    try:
        meta, frames, labels, _, problems = _read_folder(path, allow_outside)
    except TrialDataError as e:
        return ValidationReport(trial_id=Path(path).name,
                                errors=(Problem(TOML_NAME, None, str(e)),))
    _, report = check_trial(meta, frames, labels, problems, trial_id=Path(path).name,
                            require_tables=False)
    return report


def load_trial(path, allow_outside: bool = False) -> Trial:
    """Load and validate a trial folder (trial.toml plus the tables it names).

    Tables may be CSV (UTF-8, with or without BOM, LF or CRLF), Parquet, SAS transport (.xpt)
    or .sas7bdat, chosen by extension.

    Parameters
    ----------
    path : str or pathlib.Path
        The trial folder.
    allow_outside : bool, default False
        Table paths in trial.toml are resolved (symbolic links followed) and must stay inside
        the folder; ``../x``, absolute paths and links leaving it are refused unless this is
        True (only for folders you trust).

    Returns
    -------
    Trial
        ``trial.validation`` holds the warnings; ``trial.meta.path`` is the folder.

    Raises
    ------
    TrialDataError
        One error listing every problem: trial.toml missing or invalid, table files missing,
        unreadable or outside the folder (naming the ``[tables]`` key and path), and every problem in the tables (see :mod:`trialstats.data.schema`).
    """
    meta, frames, labels, sources, problems = _read_folder(path, allow_outside)
    errors = [p for p in problems if p.severity == "error"]
    if errors or meta is None:
        _, report = check_trial(meta, frames, labels, problems, trial_id=Path(path).name,
                            require_tables=False)
        report.raise_for_errors()
    trial = Trial(meta, frames.get("adsl"), frames.get("adeff"), frames.get("adtte"),
                  frames.get("adae"), source_files=sources, _owned=True)
    trial.allow_outside = bool(allow_outside)  # the report reads sap.toml under the same rule
    if problems:  # warnings about trial.toml come first
        trial.validation = replace(trial.validation,
                                   warnings=tuple(problems) + trial.validation.warnings)
    return trial
