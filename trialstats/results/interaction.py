"""Treatment-by-subgroup interaction tests for an MMRM endpoint.

Two tests, both reported with their degrees of freedom and the terms they test:

* ``test="wald"`` (default): at one visit (default the last, i.e. the primary visit of a
  change-from-baseline MMRM), is the treatment effect the same in every level of the subgroup?
  The MMRM ``<formula> + <subgroup> * <visit> + <arm>:<subgroup> + <arm>:<subgroup>:<visit>`` is
  fitted (REML, the given covariance and df method) and the
  :math:`(k_\\text{arm} - 1)(k_\\text{sub} - 1)` contrasts
  :math:`(\\mu_{a,s} - \\mu_{r,s}) - (\\mu_{a,s_0} - \\mu_{r,s_0})` at that visit are tested jointly
  by :meth:`MMRMResult.f_test` (Wald F; denominator df by the fit's df method). This is R
  ``emmeans::contrast(emmeans(fit, ~ arm * sub | visit), interaction = "trt.vs.ctrl")`` with
  ``test(joint = TRUE)``.
* ``test="lr"``: a likelihood-ratio test (ML) of that model against
  ``<formula> + <subgroup> * <visit>``: every treatment-by-subgroup term at every visit at once.

The models are fitted with :func:`trialstats.mmrm`; nothing is new numerics.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import ModelError

__all__ = ["subgroup_interaction"]

_TESTS = ("wald", "lr")


def _models(formula: str, arm: str, subgroup: str, visit: str) -> tuple[str, str]:
    if "~" not in formula:
        raise ModelError(f"subgroup_interaction: formula {formula!r} has no '~'")
    reduced = f"{formula} + {subgroup} * {visit}"
    full = f"{reduced} + {arm}:{subgroup} + {arm}:{subgroup}:{visit}"
    return full, reduced


def _wald(fit, arm, subgroup, visit, at):
    from ..longitudinal._design import reference_grid_matrix

    design = fit.design
    for name, role in ((arm, "arm"), (visit, "visit")):
        if name not in design.levels:
            raise ModelError(f"subgroup_interaction: {role} {name!r} is not a factor of the model "
                             f"(a numeric column enters linearly); make it text or categorical, "
                             f"e.g. data[{name!r}].astype(str)")
    arms, subs = design.levels[arm], design.levels[subgroup]
    visits = [str(v) for v in design.levels[visit]]
    at = visits[-1] if at is None else str(at)
    if at not in visits:
        raise ModelError(f"subgroup_interaction: at={at!r} is not a visit of the rows used; "
                         f"visits: {', '.join(visits)}")
    v = design.levels[visit][visits.index(at)]

    def x(a, s):
        return reference_grid_matrix(design, {arm: a, subgroup: s, visit: v})

    rows, labels = [], []
    for a in arms[1:]:
        for s in subs[1:]:
            rows.append((x(a, s) - x(arms[0], s)) - (x(a, subs[0]) - x(arms[0], subs[0])))
            labels.append(f"({a} - {arms[0]}) in {s} minus in {subs[0]}")
    f = fit.f_test(np.array(rows)).iloc[0]
    return {"statistic": f["statistic"], "num_df": f["num_df"], "den_df": f["den_df"],
            "p_value": f["p_value"], "visit": at,
            "terms": f"{arm} x {subgroup} at {visit} = {at}: " + "; ".join(labels),
            "method": f"Wald F, MMRM {fit.spec.covariance} {fit.spec.method.upper()}, "
                      f"{fit.spec.df} df"}


def subgroup_interaction(data: pd.DataFrame, subgroup: str, *,
                         formula: str = "CHG ~ ARM * AVISIT + BASE", arm: str = "ARM",
                         visit: str = "AVISIT", subject: str = "USUBJID", at=None,
                         test: str = "wald", covariance: str = "us",
                         df: str = "satterthwaite") -> pd.DataFrame:
    """Test whether the treatment effect differs between the levels of a subgroup.

    Parameters
    ----------
    data : DataFrame
        MMRM input (one row per subject and post-baseline visit) with the ``subgroup`` column.
        Rows with a missing (blank) subgroup are left out and counted.
    subgroup : str
        Subgroup column (a factor; numbers are treated as codes).
    formula : str, default "CHG ~ ARM * AVISIT + BASE"
        The MMRM without the subgroup.
    arm, visit, subject : str
        Columns of the arm, the visit and the subject.
    at : optional
        Visit of the Wald test; default the last visit (in ``visit`` order).
    test : {"wald", "lr"}
        See the module docstring.
    covariance, df : str
        As in :func:`trialstats.mmrm`.

    Returns
    -------
    pandas.DataFrame
        One row: subgroup, test, visit (``""`` for "lr"), terms (the contrasts or model terms
        tested, in words), statistic (F or chi-square), num_df, den_df (inf for "lr"), p_value,
        n_levels, n_subjects, n_excluded_rows, method.

    Raises
    ------
    ModelError
        Unknown test, a subgroup with fewer than two levels, a column not in ``data``, or any
        MMRM error of the two fits.
    """
    from ..longitudinal.mmrm.api import mmrm

    if test not in _TESTS:
        raise ModelError(f"subgroup_interaction: test must be one of {', '.join(_TESTS)}; "
                         f"got {test!r}")
    if subgroup not in data.columns:
        raise ModelError(f"subgroup_interaction: {subgroup!r} is not a column; columns: "
                         f"{', '.join(map(str, data.columns))}")
    s = data[subgroup]
    keep = s.notna() & (s.astype(str) != "")
    work = data[keep].reset_index(drop=True).copy()
    if not isinstance(work[subgroup].dtype, pd.CategoricalDtype):
        work[subgroup] = work[subgroup].astype(str)
    n_levels = work[subgroup].nunique()
    if n_levels < 2:
        raise ModelError(f"subgroup_interaction: {subgroup!r} has {n_levels} level(s) in the "
                         "rows with data; an interaction needs at least two")
    full, reduced = _models(formula, arm, subgroup, visit)
    # an empty arm x subgroup x visit cell keeps its named ModelError (the Wald rows are built
    # on the full design; ts.mmrm's default since issue 12 would drop the aliased column)
    opts = dict(subject=subject, visit=visit, covariance=covariance, df=df,
                rank_deficient="error")
    if test == "wald":
        fit = mmrm(full, work, method="reml", **opts)
        out = _wald(fit, arm, subgroup, visit, at)
    else:
        f_full = mmrm(full, work, method="ml", **opts)
        f_red = mmrm(reduced, work, method="ml", **opts)
        added = [t for t in f_full.terms if t not in set(f_red.terms)]
        stat = max(0.0, 2.0 * (f_full.loglik - f_red.loglik))
        out = {"statistic": stat, "num_df": float(len(added)), "den_df": np.inf,
               "p_value": float(stats.chi2.sf(stat, len(added))), "visit": "",
               "terms": ", ".join(added),
               "method": f"likelihood ratio (ML), MMRM {covariance}"}
        fit = f_full
    return pd.DataFrame([{"subgroup": subgroup, "test": test, "visit": out["visit"],
                          "terms": out["terms"], "statistic": float(out["statistic"]),
                          "num_df": float(out["num_df"]), "den_df": float(out["den_df"]),
                          "p_value": float(out["p_value"]), "n_levels": int(n_levels),
                          "n_subjects": int(fit.n_subjects),
                          "n_excluded_rows": int((~keep).sum()), "method": out["method"]}])
