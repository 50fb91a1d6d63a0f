"""Declarative column specifications of the ADaM-style tables of a trial folder.

One :class:`TableSpec` per table lists its columns (:class:`ColumnSpec`): whether the column is
required, the kind of value it holds, the values allowed, whether it must be non-negative and
whether it may hold missing values, plus the columns that identify one row (the key). The
validation engine (:mod:`trialstats.data.validation`) reads these specs; it holds no
table-specific rules apart from the few cross-column checks it documents (CHG = AVAL - BASE,
AVISIT <-> AVISITN, subjects known to ADSL).

Kinds
-----
``"str"``
    Character values. Missing character values are the empty string ``""`` (the ADaM/SAS
    convention), never NaN.
``"number"``
    Numeric. Stored as ``int64`` when every value is a whole number written without a decimal
    point and none is missing, otherwise ``float64`` (the rule ``pandas.read_csv`` uses).
``"integer"``
    Whole numbers, stored as ``int64``; missing values are not allowed.

Plausibility
------------
Every numeric column must hold finite values (``inf`` is an error; NaN is a missing value).
``limits`` is the closed range outside which a value is impossible (an error: ``AGE = 1e308``,
``AVAL = 1e300``); ``plausible`` the range outside which a value is suspicious (a warning naming
the rows; the rows stay); ``count_limit`` the exclusive upper bound of hair counts (rows whose
PARAMCD is in :data:`COUNT_PARAMCDS`). The magnitudes are generous: they catch corrupt and
absurd values, not clinical outliers.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ARMS",
    "CHG_ATOL",
    "COUNT_PARAMCDS",
    "ColumnSpec",
    "MISSING_TOKENS",
    "OPTIONAL_TABLES",
    "REQUIRED_TABLES",
    "SPECS",
    "TABLE_NAMES",
    "TableSpec",
]

#: Sentinel for ``ColumnSpec.allowed``: the arm codes declared in trial.toml.
ARMS = "<arms of trial.toml>"

#: Text read as a missing value in a numeric column (after stripping blanks). Anything else that
#: is not a number ('12O', 'n/a', '-') is reported as an error, never turned into NaN.
MISSING_TOKENS = frozenset({"", "NA", "NaN", "nan", "."})

#: Parameters whose AVAL / BASE are hair counts or densities and so cannot be negative.
COUNT_PARAMCDS = frozenset({"TAHC", "HAIRCNT", "HAIRDENS", "NVHC", "TAHD"})

#: Absolute tolerance of the check CHG = AVAL - BASE (|CHG - (AVAL - BASE)| <= CHG_ATOL).
CHG_ATOL = 1e-6

KINDS = ("str", "number", "integer")

#: Largest possible hair count (exclusive): counts per cm^2 are in the hundreds.
MAX_COUNT = 1e6
#: Largest possible magnitude of an efficacy value (AVAL, BASE, CHG) of any parameter.
MAX_MEASUREMENT = 1e9
#: Largest possible time or study day, in days (about 274 years).
MAX_DAYS = 1e5
#: Largest plausible time to event, in days (100 years): beyond it, a warning.
PLAUSIBLE_DAYS = 36525.0
_DAYS = (0.0, MAX_DAYS)
_MEASUREMENT = (-MAX_MEASUREMENT, MAX_MEASUREMENT)


@dataclass(frozen=True)
class ColumnSpec:
    """What one column of a table must hold.

    Parameters
    ----------
    name : str
        Column name (case-sensitive, as in CDISC ADaM).
    kind : {"str", "number", "integer"}
        Kind of value (see the module docstring).
    required : bool, default False
        The column must be present.
    nonmissing : bool, default False
        No value may be missing (blank). Only checked when the column is present.
    allowed : tuple of values or ``ARMS``, optional
        The only values allowed (blank allowed too unless ``nonmissing``). ``ARMS`` means the arm
        codes declared in trial.toml.
    nonnegative : bool, default False
        Values must be >= 0.
    nonnegative_for : frozenset of str, optional
        Values must be >= 0 on rows whose PARAMCD is in this set (e.g. hair counts).
    missing_is_warning : bool, default False
        A missing value is a soft problem (a warning in ``trial.validation``; the row stays).
    description : str
        One line shown in messages.
    limits : (float, float), optional
        Closed range of possible values; a value outside is an error.
    plausible : (float, float), optional
        Closed range of plausible values; a value outside (but within ``limits``) is a warning.
    count_limit : float, optional
        Values must be below this on rows whose PARAMCD is a hair count (``COUNT_PARAMCDS``).
    """

    name: str
    kind: str
    required: bool = False
    nonmissing: bool = False
    allowed: tuple | str | None = None
    nonnegative: bool = False
    nonnegative_for: frozenset | None = None
    missing_is_warning: bool = False
    description: str = ""
    limits: tuple | None = None
    plausible: tuple | None = None
    count_limit: float | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"ColumnSpec {self.name}: kind must be one of {KINDS}; got {self.kind!r}")


@dataclass(frozen=True)
class TableSpec:
    """The columns of one table and the columns that identify a row.

    Parameters
    ----------
    name : str
        Table name as used in trial.toml ``[tables]`` (``"adsl"``).
    columns : tuple of ColumnSpec
    key : tuple of str
        Columns whose combination must be unique (one row per key).
    key_description : str
        How a key is named in messages ("one row per subject").
    allow_empty : bool, default False
        A table with a header and no rows is valid (ADAE of a trial without adverse events).
    """

    name: str
    columns: tuple
    key: tuple = ()
    key_description: str = ""
    allow_empty: bool = False

    def column(self, name: str) -> ColumnSpec | None:
        """The spec of column ``name``, or None when the table has no spec for it."""
        for col in self.columns:
            if col.name == name:
                return col
        return None

    @property
    def required_columns(self) -> list[str]:
        """Names of the required columns, in spec order."""
        return [c.name for c in self.columns if c.required]


_YN = ("Y", "N")
_SUBJECT = ColumnSpec("USUBJID", "str", required=True, nonmissing=True,
                      description="unique subject identifier")
_ARM_OPTIONAL = ColumnSpec("ARM", "str", nonmissing=True, allowed=ARMS, description="arm code")

ADSL = TableSpec(
    "adsl",
    (
        _SUBJECT,
        ColumnSpec("ARM", "str", required=True, nonmissing=True, allowed=ARMS,
                   description="randomised arm code"),
        ColumnSpec("AGE", "number", nonnegative=True, description="age in years",
                   limits=(0.0, 150.0), plausible=(0.0, 120.0)),
        ColumnSpec("SEX", "str"),
        ColumnSpec("ITTFL", "str", allowed=_YN),
        ColumnSpec("SAFFL", "str", allowed=_YN),
        ColumnSpec("COMPLFL", "str", allowed=_YN),
        ColumnSpec("EOSSTT", "str", allowed=("COMPLETED", "DISCONTINUED", "ONGOING")),
        ColumnSpec("DCSREAS", "str"),
        ColumnSpec("BASETAHC", "number", nonnegative=True, limits=(0.0, MAX_COUNT),
                   description="baseline target-area hair count"),
    ),
    key=("USUBJID",),
    key_description="ADSL must have one row per subject",
)

ADEFF = TableSpec(
    "adeff",
    (
        _SUBJECT,
        ColumnSpec("PARAMCD", "str", required=True, nonmissing=True),
        ColumnSpec("AVISIT", "str", required=True, nonmissing=True),
        ColumnSpec("AVISITN", "number", required=True, nonmissing=True, limits=(-1e4, 1e4)),
        ColumnSpec("AVAL", "number", required=True, nonnegative_for=COUNT_PARAMCDS,
                   missing_is_warning=True, limits=_MEASUREMENT, count_limit=MAX_COUNT),
        ColumnSpec("BASE", "number", nonnegative_for=COUNT_PARAMCDS, limits=_MEASUREMENT,
                   count_limit=MAX_COUNT),
        ColumnSpec("CHG", "number", limits=_MEASUREMENT),
        ColumnSpec("ABLFL", "str", allowed=_YN),
        ColumnSpec("ONTRTFL", "str", allowed=_YN),
        _ARM_OPTIONAL,
    ),
    key=("USUBJID", "PARAMCD", "AVISIT"),
    key_description="one row per subject, parameter and visit",
)

ADTTE = TableSpec(
    "adtte",
    (
        _SUBJECT,
        ColumnSpec("PARAMCD", "str", required=True, nonmissing=True),
        ColumnSpec("AVAL", "number", required=True, nonmissing=True, nonnegative=True,
                   description="time in days", limits=_DAYS, plausible=(0.0, PLAUSIBLE_DAYS)),
        ColumnSpec("CNSR", "integer", required=True, allowed=(0, 1),
                   description="1 = censored, 0 = event"),
        ColumnSpec("EVNTDESC", "str"),
        ColumnSpec("TLOWER", "number", nonnegative=True, limits=_DAYS),
        ColumnSpec("TUPPER", "number", nonnegative=True, limits=_DAYS),
        ColumnSpec("EVENTCD", "integer", allowed=(0, 1, 2),
                   description="0 censored, 1 event, 2 competing event"),
        _ARM_OPTIONAL,
    ),
    key=("USUBJID", "PARAMCD"),
    key_description="one row per subject and parameter",
)

ADAE = TableSpec(
    "adae",
    (
        _SUBJECT,
        ColumnSpec("AESEQ", "integer", limits=(0.0, 1e6)),
        ColumnSpec("AEBODSYS", "str"),
        ColumnSpec("AEDECOD", "str", required=True, nonmissing=True),
        ColumnSpec("AESEV", "str", allowed=("MILD", "MODERATE", "SEVERE")),
        ColumnSpec("AESER", "str", allowed=_YN),
        ColumnSpec("TRTEMFL", "str", allowed=_YN),
        ColumnSpec("ASTDY", "number", limits=(-MAX_DAYS, MAX_DAYS), description="study day"),
        _ARM_OPTIONAL,
    ),
    allow_empty=True,
)

#: Table specs by table name, in the order tables are validated and reported.
SPECS: dict[str, TableSpec] = {"adsl": ADSL, "adeff": ADEFF, "adtte": ADTTE, "adae": ADAE}
TABLE_NAMES = tuple(SPECS)
REQUIRED_TABLES = ("adsl", "adeff")
OPTIONAL_TABLES = ("adtte", "adae")
