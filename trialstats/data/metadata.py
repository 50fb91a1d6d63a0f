"""trial.toml: the trial's metadata (:class:`TrialMeta`), read with tomllib, written deterministically.

Format (see DESIGN.md)::

    id = "EXO-HAIR-301"
    title = "..."
    simulated = true
    [arms]
    reference = "PLACEBO"
    codes = { EXOSOME = "Exosome injections", PLACEBO = "Placebo" }
    [tables]
    adsl = "adsl.csv"
    adeff = "adeff.csv"
    [endpoints]
    primary = { paramcd = "TAHC", visit = "WEEK 24" }

Any other top-level key goes to ``TrialMeta.extra``. The ``[column_types]`` table is written by
:meth:`trialstats.Trial.write` for the few extra columns whose type the CSV text alone does not
tell (a text column holding only digits, a boolean column); it is read back by the CSV reader.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .._toml import TomlReadError, read_toml, toml_key, toml_string, toml_value
from ..errors import TrialDataError
from .validation import Problem

__all__ = ["TrialMeta", "parse_meta", "read_meta", "dumps_toml", "TOML_NAME"]

TOML_NAME = "trial.toml"
_RESERVED = ("id", "title", "simulated", "arms", "tables", "endpoints", "column_types")


@dataclass(frozen=True)
class TrialMeta:
    """What trial.toml says about a trial.

    Attributes
    ----------
    id : str
        Trial identifier ("EXO-HAIR-301").
    title : str
    simulated : bool
        True for simulated data (reports carry a visible banner).
    arms : dict of str to str
        Arm code -> label. The level order of ARM is ``reference`` first, then the other codes in
        this order.
    reference : str
        Code of the reference (comparator) arm; must be a key of ``arms``.
    tables : dict of str to str
        Table name -> file name inside the folder ("adsl" -> "adsl.csv").
    endpoints : dict of str to dict
        {"primary": {"paramcd": "TAHC", "visit": "WEEK 24"}, ...}.
    path : pathlib.Path or None
        Folder the trial was loaded from; None when built in memory.
    extra : dict
        Any other trial.toml keys (seed, description, ...).
    """

    id: str
    title: str
    simulated: bool
    arms: dict
    reference: str
    tables: dict = field(default_factory=dict)
    endpoints: dict = field(default_factory=dict)
    path: Path | None = None
    extra: dict = field(default_factory=dict)

    @property
    def arm_levels(self) -> list[str]:
        """Arm codes in level order: the reference first, then the others as declared."""
        codes = list(self.arms)
        if self.reference in codes:
            codes.remove(self.reference)
            return [self.reference, *codes]
        return codes


def _problem(message: str, column: str | None = None) -> Problem:
    return Problem(table=TOML_NAME, column=column, message=message)


#: Lengths and counts of trial.toml text (an arm label is drawn in every figure legend)
MAX_ID, MAX_TITLE, MAX_LABEL, MAX_ARMS = 100, 500, 200, 50


def parse_meta(doc: dict, path: Path | None = None) -> tuple[TrialMeta | None, list[Problem]]:
    """Build a :class:`TrialMeta` from a parsed trial.toml, collecting every problem.

    Parameters
    ----------
    doc : dict
        The parsed TOML document.
    path : pathlib.Path, optional
        The trial folder.

    Returns
    -------
    meta : TrialMeta or None
        None when a problem makes the metadata unusable.
    problems : list of Problem
    """
    problems: list[Problem] = []
    tid, title, simulated = _parse_scalars(doc, problems)
    codes, reference = _parse_arms(doc, problems)
    tables = _parse_tables(doc, problems)
    endpoints = _parse_endpoints(doc, problems)
    extra = {k: v for k, v in doc.items() if k not in _RESERVED}
    if problems:
        return None, problems
    meta = TrialMeta(
        id=tid, title=title, simulated=simulated, arms=dict(codes), reference=reference,
        tables=dict(tables), endpoints={k: dict(v) for k, v in endpoints.items()},
        path=path, extra=extra,
    )
    return meta, problems


def _parse_scalars(doc: dict, problems: list[Problem]):
    """Keys ``id``, ``title`` and ``simulated``; their problems are appended to ``problems``."""
    tid = doc.get("id")
    if not isinstance(tid, str) or not tid.strip():
        problems.append(_problem(f"key 'id' must be a non-empty string (the trial id); got {tid!r}", "id"))
    title = doc.get("title", "")
    if not isinstance(title, str):
        problems.append(_problem(f"key 'title' must be a string; got {title!r}", "title"))
    for key, value, most in (("id", tid, MAX_ID), ("title", title, MAX_TITLE)):
        if isinstance(value, str) and (len(value) > most or not value.isprintable()):
            problems.append(_problem(f"key '{key}' must be printable text of at most {most} "
                                     f"characters; got {len(value)} characters", key))
    simulated = doc.get("simulated", False)
    if not isinstance(simulated, bool):
        problems.append(_problem(f"key 'simulated' must be true or false; got {simulated!r}", "simulated"))
    return tid, title, simulated


def _parse_arms(doc: dict, problems: list[Problem]):
    """The ``[arms]`` table: (codes, reference); its problems are appended to ``problems``."""
    arms_doc = doc.get("arms")
    codes: dict = {}
    reference = None
    if not isinstance(arms_doc, dict):
        problems.append(_problem(
            "missing [arms] table; expected reference = \"<code>\" and codes = { CODE = \"label\", ... }",
            "arms"))
    else:
        codes = arms_doc.get("codes")
        reference = arms_doc.get("reference")
        if not isinstance(codes, dict) or not codes:
            problems.append(_problem(
                "[arms] needs codes = { CODE = \"label\", ... } with at least one arm", "arms.codes"))
            codes = {}
        else:
            bad = [k for k, v in codes.items() if not isinstance(v, str)]
            if bad:
                problems.append(_problem(f"arm labels must be strings; not for {', '.join(bad)}", "arms.codes"))
            odd = [k for k, v in codes.items() if isinstance(v, str) and (
                len(v) > MAX_LABEL or not v.isprintable())]
            if len(codes) > MAX_ARMS:
                problems.append(_problem(f"{len(codes)} arms; at most {MAX_ARMS} are allowed",
                                         "arms.codes"))
            elif odd:
                problems.append(_problem(
                    f"arm labels must be printable text of at most {MAX_LABEL} characters; not "
                    f"for {', '.join(map(str, odd[:10]))}", "arms.codes"))
        if not isinstance(reference, str):
            problems.append(_problem(
                f"[arms] needs reference = \"<code>\" naming the comparator arm; got {reference!r}",
                "arms.reference"))
        elif codes and reference not in codes:
            problems.append(_problem(
                f"reference arm '{reference}' is not an arm; valid: {', '.join(codes)}", "arms.reference"))
    return codes, reference


def _parse_tables(doc: dict, problems: list[Problem]) -> dict:
    """The usable ``[tables]`` entries; their problems are appended to ``problems``."""
    tables = doc.get("tables")
    if not isinstance(tables, dict):
        problems.append(_problem(
            "missing [tables] table; expected adsl = \"adsl.csv\", adeff = \"adeff.csv\", ...", "tables"))
        tables = {}
    else:
        bad = [k for k, v in tables.items() if not isinstance(v, str) or not v]
        if bad:
            problems.append(_problem(f"table file names must be strings; not for {', '.join(bad)}", "tables"))
            tables = {k: v for k, v in tables.items() if k not in bad}
    return tables


def _parse_endpoints(doc: dict, problems: list[Problem]) -> dict:
    """The ``[endpoints]`` table; its problems are appended to ``problems``."""
    endpoints = doc.get("endpoints", {})
    if not isinstance(endpoints, dict) or not all(isinstance(v, dict) for v in endpoints.values()):
        problems.append(_problem(
            "[endpoints] must map names to tables, e.g. primary = { paramcd = \"TAHC\", visit = \"WEEK 24\" }",
            "endpoints"))
        endpoints = {}
    for ep, spec in endpoints.items():
        bad = [k for k, v in spec.items() if not isinstance(v, str) or not v.strip()]
        if bad:
            problems.append(_problem(
                f"endpoints.{ep}.{bad[0]}: must be a non-empty string (a PARAMCD, AVISIT or name); "
                f"got {spec[bad[0]]!r}", "endpoints"))
    return endpoints


def read_meta(folder: Path) -> tuple[TrialMeta | None, list[Problem], dict, dict]:
    """Read ``folder/trial.toml``.

    Raises
    ------
    TrialDataError
        When the folder or trial.toml does not exist, or trial.toml is not valid TOML (nothing
        else can be checked then).

    Returns
    -------
    meta : TrialMeta or None
    problems : list of Problem
    column_types : dict
        The ``[column_types]`` table ({table: {column: type}}), empty when absent.
    tables : dict
        The ``[tables]`` entries that are usable (so tables are checked even when other parts of
        trial.toml are wrong).
    """
    folder = Path(folder)
    if not folder.is_dir():
        where = "is a file, not a folder" if folder.exists() else "does not exist"
        raise TrialDataError(
            f"trial folder '{folder}' {where}; a trial folder holds {TOML_NAME} and the tables it names",
            [_problem(f"folder {where}")])
    toml_path = folder / TOML_NAME
    if not toml_path.is_file():
        others = sorted(p.name for p in folder.iterdir())[:10]
        raise TrialDataError(
            f"no {TOML_NAME} in '{folder}'; a trial folder needs {TOML_NAME} naming the trial, its arms "
            f"and its tables (found: {', '.join(others) or 'nothing'})",
            [_problem("file is missing")])
    try:
        doc = read_toml(toml_path)
    except TomlReadError as e:
        raise TrialDataError(f"{e} (in trial folder '{folder}')", [_problem(str(e))]) from e
    meta, problems = parse_meta(doc, path=folder)
    column_types = doc.get("column_types", {})
    if not isinstance(column_types, dict):
        problems.append(_problem("[column_types] must map table names to { column = \"type\" }", "column_types"))
        column_types = {}
    tables = doc.get("tables") if isinstance(doc.get("tables"), dict) else {}
    tables = {k: v for k, v in tables.items() if isinstance(v, str) and v}
    return meta, problems, column_types, tables


# --- deterministic TOML writing (tomllib only reads) ---------------------------------------------

def _toml_value(v) -> str:
    try:
        return toml_value(v)
    except TypeError as e:
        raise TrialDataError(f"trial.toml: {e}") from e


_toml_key = toml_key
_toml_string = toml_string


def dumps_toml(meta: TrialMeta, tables: dict, column_types: dict | None = None) -> str:
    """trial.toml text for ``meta`` with the given ``tables`` (name -> file name).

    The output is deterministic: fixed key order (id, title, simulated, extra scalar keys sorted,
    [arms], [tables], [endpoints], extra tables sorted, [column_types]), LF line endings,
    floats written with ``repr`` (exact round trip).
    """
    lines = [
        f"id = {_toml_string(meta.id)}",
        f"title = {_toml_string(meta.title)}",
        f"simulated = {_toml_value(bool(meta.simulated))}",
    ]
    extra_tables = {}
    for key in sorted(meta.extra):
        value = meta.extra[key]
        if isinstance(value, dict):
            extra_tables[key] = value
        else:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    codes = {code: meta.arms[code] for code in meta.arm_levels}
    lines += ["", "[arms]", f"reference = {_toml_string(meta.reference)}",
              f"codes = {_toml_value(codes)}"]
    lines += ["", "[tables]"] + [f"{_toml_key(k)} = {_toml_string(v)}" for k, v in tables.items()]
    if meta.endpoints:
        lines += ["", "[endpoints]"]
        lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in meta.endpoints.items()]
    for key, value in extra_tables.items():
        lines += ["", f"[{_toml_key(key)}]"]
        lines += [f"{_toml_key(str(k))} = {_toml_value(v)}" for k, v in value.items()]
    for table, types in (column_types or {}).items():
        if types:
            lines += ["", f"[column_types.{_toml_key(table)}]"]
            lines += [f"{_toml_key(c)} = {_toml_string(t)}" for c, t in sorted(types.items())]
    return "\n".join(lines) + "\n"
