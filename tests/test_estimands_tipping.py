"""ts.tipping_point and its plot.

source of the R check: tests/reference/rbmi/ad_jk_us_JR_delta5_drug.json (rbmi 1.5.2, made by
tests/reference/rbmi/make_rbmi_reference.R): +5 on every imputed DRUG value, JR, jackknife.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from numpy.testing import assert_allclose  # noqa: E402
from rbmi_data import FORMULA, antidepressant, load_case  # noqa: E402
from tolerances import RBMI_TIGHT_EST, RBMI_TIGHT_P, RBMI_TIGHT_SE  # noqa: E402

import trialstats as ts  # noqa: E402
from trialstats.errors import ModelError  # noqa: E402

# the reference data has one intermittent gap (subject 3618); tests/test_estimands_errors.py checks
# the warning, here it is expected
pytestmark = pytest.mark.filterwarnings("ignore:rbmi. non-monotone missingness:UserWarning")

CASE = load_case("ad_jk_us_JR")
ARGS = dict(subject="PATIENT", visit="VISIT", group="THERAPY",
            reference=CASE["call"]["references"], covariates=["BASVAL"], engine="sequential")


@pytest.fixture(scope="module")
def data():
    return antidepressant()


@pytest.fixture(scope="module")
def tp(data):
    return ts.tipping_point(data, FORMULA, ice=pd.DataFrame(CASE["call"]["data_ice"]),
                            deltas=[0, 2.5, 5, 7.5, 10], arm="DRUG", **ARGS)


def test_delta_five_on_drug_matches_rbmi(tp):
    ref = load_case("ad_jk_us_JR_delta5_drug")["results"]["tight"]["by_visit"][-1]["trt"]
    row = tp.table.set_index("delta").loc[5.0]
    assert_allclose(row["estimate"], ref["est"], **RBMI_TIGHT_EST)
    assert_allclose(row["std_error"], ref["se"], **RBMI_TIGHT_SE)
    assert_allclose([row["conf_low"], row["conf_high"]], ref["ci"], **RBMI_TIGHT_EST)
    assert_allclose(row["p_value"], ref["pvalue"], **RBMI_TIGHT_P)
    zero = load_case("ad_jk_us_JR")["results"]["tight"]["by_visit"][-1]["trt"]
    assert_allclose(tp.table["estimate"].iloc[0], zero["est"], **RBMI_TIGHT_EST)


def test_flip_is_where_p_equals_alpha(data, tp):
    assert list(tp.table.columns) == ["delta", "estimate", "std_error", "df", "conf_low",
                                      "conf_high", "p_value", "significant"]
    assert tp.table["significant"].tolist() == [True, False, False, False, False]
    assert len(tp.flips) == 1 and 0 < tp.tipping_delta < 2.5
    assert repr(tp).startswith("<TippingPointResult: PLACEBO - DRUG at 7, delta on DRUG")
    assert "tipping delta" in str(tp.summary()) and "<table" in tp.summary()._repr_html_()
    # ts.rbmi with that delta on every imputed DRUG value: p = 0.05, CI touches 0
    mi = ts.rbmi(data, FORMULA, ice=pd.DataFrame(CASE["call"]["data_ice"]), **ARGS)
    tmpl = mi.delta_template()
    tmpl["delta"] = np.where(tmpl["is_missing"] & (tmpl["arm"] == "DRUG"), tp.tipping_delta, 0.0)
    at = ts.rbmi(data, FORMULA, ice=pd.DataFrame(CASE["call"]["data_ice"]), delta=tmpl, **ARGS)
    row = at.pooled.query("parameter == 'trt' and visit == '7'").iloc[0]
    assert_allclose(row["p_value"], 0.05, rtol=1e-8)  # brentq xtol 1e-10 on delta
    assert_allclose(row["conf_low"], 0.0, atol=1e-8)


def test_bad_input(data):
    with pytest.raises(ModelError, match=r"unknown arm 'DRUGS'; valid: DRUG, PLACEBO"):
        ts.tipping_point(data, FORMULA, deltas=[0, 1], arm="DRUGS", **ARGS)
    with pytest.raises(ModelError, match=r"deltas must be at least two finite numbers"):
        ts.tipping_point(data, FORMULA, deltas=[1], **ARGS)
    with pytest.raises(ModelError, match=r"unknown visit '9'; valid: 4, 5, 6, 7"):
        ts.tipping_point(data, FORMULA, deltas=[0, 1], at_visit="9", **ARGS)


def _png(ax) -> bytes:
    buf = io.BytesIO()
    ax.figure.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def test_plot_tipping_point(tp):
    ax = ts.plots.plot_tipping_point(tp)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert f"tipping point: delta = {tp.tipping_delta:.3g}" in labels
    vlines = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert len(vlines) == 1 and vlines[0].get_xdata()[0] == tp.tipping_delta
    est = [line for line in ax.get_lines() if line.get_label() == "estimate"][0]
    assert_allclose(est.get_ydata(), tp.table["estimate"], rtol=0, atol=0)
    first = _png(ax)
    plt.close("all")
    _, ax2 = plt.subplots(figsize=(7.0, 4.2))
    assert ts.plots.plot_tipping_point(tp, ax=ax2) is ax2
    assert _png(ax2) == first  # deterministic
    plt.close("all")
