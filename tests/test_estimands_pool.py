"""rbmi pooling rules vs R: bootstrap (normal, percentile) and Rubin/Barnard-Rubin from the
per-sample estimates R produced, and Rubin's rules vs mice::pool.

source: tests/reference/rbmi/ad_bootstrap_us_JR.json and ad_approxbayes_us_JR.json
(``pool_inputs``: every per-sample est/se/df; ``results``: rbmi's pool()), and
unit_vectors_rubin_mice.json (rbmi tests/testthat/test-pool.R with mice's expected values), made
by tests/reference/rbmi/make_rbmi_reference.R (rbmi 1.5.2). Pooling given these inputs is
deterministic: tolerance RBMI_POOL (1e-10), README section 5.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from rbmi_data import load_case
from tolerances import MICE_DF_ZERO_BETWEEN, RBMI_PERCENTILE_P_UNIROOT, RBMI_POOL

from trialstats.estimands._analysis import (
    pool_bootstrap_normal,
    pool_bootstrap_percentile,
    rubin_rules,
)

VISITS = ("4", "5", "6", "7")


@pytest.mark.parametrize("pool_type", ["normal", "percentile"])
def test_bootstrap_pooling_from_rbmi_inputs(pool_type):
    case = load_case("ad_bootstrap_us_JR")
    inputs = case["pool_inputs"]["by_parameter"]
    exact_p = case["deterministic"]["percentile_pvalue_root_precision"]["by_parameter"]
    fn = pool_bootstrap_normal if pool_type == "normal" else pool_bootstrap_percentile
    for bv in case["results"][pool_type]["by_visit"]:
        est = np.asarray(inputs[f"trt_{bv['visit']}"]["est"])  # [0] = full data, then 200
        got = fn(est[:1], est[1:, None], 0.95)
        ref = bv["trt"]
        assert_allclose(got[0][0], ref["est"], **RBMI_POOL)
        assert_allclose([got[3][0], got[4][0]], ref["ci"], **RBMI_POOL)
        if pool_type == "normal":
            assert_allclose(got[1][0], ref["se"], **RBMI_POOL)
            assert_allclose(got[5][0], ref["pvalue"], **RBMI_POOL)
        else:  # rbmi's uniroot stops at ~1e-4; the same root solved to 1e-14 is exact
            assert_allclose(got[5][0], ref["pvalue"], **RBMI_PERCENTILE_P_UNIROOT)
            exact = exact_p[f"trt_{bv['visit']}"]["same_root_tol_1e14"]
            assert_allclose(got[5][0], exact, **RBMI_POOL)


def test_rubin_barnard_rubin_from_rbmi_inputs():
    case = load_case("ad_approxbayes_us_JR")
    inputs = case["pool_inputs"]["by_parameter"]
    for bv in case["results"]["default"]["by_visit"]:
        d = inputs[f"trt_{bv['visit']}"]
        got = rubin_rules(np.asarray(d["est"])[:, None], np.asarray(d["se"])[:, None],
                          d["df"][0], 0.95)
        ref = bv["trt"]
        assert_allclose(got[0][0], ref["est"], **RBMI_POOL)
        assert_allclose(got[1][0], ref["se"], **RBMI_POOL)
        assert_allclose(got[2][0], ref["df"], **RBMI_POOL)
        assert_allclose([got[3][0], got[4][0]], ref["ci"], **RBMI_POOL)
        assert_allclose(got[5][0], ref["pvalue"], **RBMI_POOL)


def test_rubin_df_with_zero_between_variance_is_v_obs_not_v_com():
    """README trap 5: visit 4 has no missing data; df = (v+1)/(v+3) v = 167.03 for v = 169."""
    case = load_case("ad_approxbayes_us_JR")
    d = case["pool_inputs"]["by_parameter"]["trt_4"]
    got = rubin_rules(np.asarray(d["est"])[:, None], np.asarray(d["se"])[:, None], 169.0, 0.95)
    assert_allclose(got[2][0], 170.0 / 172.0 * 169.0, rtol=1e-12)


@pytest.mark.parametrize("which", ["random", "zeros"])
def test_rubin_rules_vs_mice_pool(which):
    ref = load_case("unit_vectors_rubin_mice")
    ses = np.asarray(ref["inputs"]["ses"])
    ests = np.asarray(ref["inputs"]["ests"]) if which == "random" else np.zeros_like(ses)
    cases = [c for c in ref["cases"] if c["ests"] == which]
    assert cases
    for c in cases:
        v_com = np.inf if c["v_com"] in ("Inf", None) else float(c["v_com"])
        est, se, df, *_ = rubin_rules(ests[:, None], ses[:, None], v_com, 0.95)
        assert_allclose(est[0], c["mice"]["est_point"], **RBMI_POOL)
        assert_allclose(se[0] ** 2, c["mice"]["var_t"], **RBMI_POOL)
        if which == "random":
            assert_allclose(df[0], c["mice"]["df"], rtol=1e-8)  # rbmi's test: testthat 1.5e-8
        else:  # mice's df is 1e-4 lower when the between-variance is 0; rbmi's is exact
            assert_allclose(df[0], c["rbmi"]["df"], **RBMI_POOL)
            assert_allclose(df[0], c["mice"]["df"], **MICE_DF_ZERO_BETWEEN)
