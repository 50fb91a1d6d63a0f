"""Display formatters of the report (trialstats.report.tables): pure, parametrised."""

import math

import numpy as np
import pandas as pd
import pytest

from trialstats.report.tables import (
    MISSING,
    NOT_ESTIMABLE,
    display_frame,
    fmt_estimate_ci,
    fmt_int,
    fmt_mean_sd,
    fmt_median_iqr,
    fmt_n_pct,
    fmt_number,
    fmt_pvalue,
)


@pytest.mark.parametrize(
    ("x", "digits", "expected"),
    [
        (3.14159, 2, "3.14"),
        (2.5, 0, "2"),  # half to even
        (3.5, 0, "4"),
        (-0.004, 2, "0.00"),  # no negative zero
        (-0.0, 1, "0.0"),
        (-1.25, 1, "-1.2"),  # binary 1.25 is exact: half to even
        (1234.5678, 1, "1234.6"),
        (None, 1, MISSING),
        (float("nan"), 1, MISSING),
        (pd.NA, 1, MISSING),
        (math.inf, 1, "Inf"),
        (-math.inf, 1, "-Inf"),
        (np.float32(1.5), 1, "1.5"),
    ],
)
def test_fmt_number(x, digits, expected):
    assert fmt_number(x, digits) == expected


@pytest.mark.parametrize(
    ("p", "expected"),
    [
        (0.0, "<0.001"),
        (0.0004, "<0.001"),
        (0.001, "0.001"),
        (0.0123, "0.012"),
        (0.04999, "0.0499"),
        (0.04996, "0.0499"),
        (0.0494, "0.049"),
        (0.05, "0.050"),
        (0.5, "0.500"),
        (0.999, "0.999"),
        (0.9994, ">0.999"),
        (0.9996, ">0.999"),
        (1.0, ">0.999"),
        (None, MISSING),
        (float("nan"), MISSING),
    ],
)
def test_fmt_pvalue(p, expected):
    assert fmt_pvalue(p) == expected


def test_fmt_pvalue_never_shows_005_for_a_significant_p():
    for p in np.linspace(0.0495, 0.049999, 50):
        s = fmt_pvalue(p)
        assert float(s) < 0.05, (p, s)


@pytest.mark.parametrize("p", [-0.01, 1.2])
def test_fmt_pvalue_rejects_values_outside_unit_interval(p):
    with pytest.raises(ValueError, match="must lie in"):
        fmt_pvalue(p)


def test_fmt_pvalue_digits():
    assert fmt_pvalue(0.00005, digits=4) == "<0.0001"
    assert fmt_pvalue(0.01234, digits=4) == "0.0123"


@pytest.mark.parametrize(
    ("args", "digits", "expected"),
    [
        ((1.234, 0.456, 2.012), 2, "1.23 (0.46, 2.01)"),
        ((-1.0, -2.5, 0.5), 1, "-1.0 (-2.5, 0.5)"),
        ((None, 0.0, 1.0), 2, NOT_ESTIMABLE),
        ((100.0, 90.0, float("nan")), 0, "100 (90, NE)"),
        ((np.nan, np.nan, np.nan), 2, NOT_ESTIMABLE),
    ],
)
def test_fmt_estimate_ci(args, digits, expected):
    assert fmt_estimate_ci(*args, digits=digits) == expected


@pytest.mark.parametrize(
    ("n", "total", "expected"),
    [
        (12, 30, "12 (40.0%)"),
        (1, 3, "1 (33.3%)"),
        (0, 25, "0 (0.0%)"),
        (0, 0, "0"),
        (5, None, "5"),
        (None, 10, MISSING),
        (np.int64(2), np.int64(8), "2 (25.0%)"),
    ],
)
def test_fmt_n_pct(n, total, expected):
    assert fmt_n_pct(n, total) == expected


@pytest.mark.parametrize(
    ("args", "expected"),
    [((12.34, 4.56), "12.3 (4.6)"), ((1.0, float("nan")), "1.0 (-)"), ((None, 1.0), MISSING)],
)
def test_fmt_mean_sd(args, expected):
    assert fmt_mean_sd(*args) == expected


@pytest.mark.parametrize(
    ("args", "expected"),
    [((12.0, 10.0, 14.0), "12.0 [10.0, 14.0]"), ((None, 1.0, 2.0), MISSING)],
)
def test_fmt_median_iqr(args, expected):
    assert fmt_median_iqr(*args) == expected


@pytest.mark.parametrize(("x", "expected"), [(12.0, "12"), (3, "3"), (2.6, "3"), (None, MISSING)])
def test_fmt_int(x, expected):
    assert fmt_int(x) == expected


def test_display_frame_strings_in_row_order():
    data = pd.DataFrame({"ARM": ["B", "A"], "estimate": [1.0, 2.5], "conf_low": [0.0, 2.0], "conf_high": [2.0, 3.0]})
    out = display_frame(data, {"Arm": "ARM", "Estimate": "estimate",
                               "CI": lambda r: fmt_estimate_ci(r["estimate"], r["conf_low"], r["conf_high"], 1)})
    assert out.to_dict("list") == {"Arm": ["B", "A"], "Estimate": ["1.00", "2.50"], "CI": ["1.0 (0.0, 2.0)", "2.5 (2.0, 3.0)"]}
