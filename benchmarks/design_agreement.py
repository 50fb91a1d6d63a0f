"""The design engine's closed-form agreements at 2,000 replicates (issue 10), as a script.

The same checks as tests/test_design_closed_form.py (which runs them at a few hundred replicates
in CI), each at ``replicates`` (default 2,000) per scenario:

* null rejection rate of the MMRM at a complete visit vs alpha = 0.05;
* power of that test vs statsmodels ``TTestIndPower``;
* coverage of its 95 % intervals;
* Cox power under exponential relapse vs R rpact ``getPowerSurvival`` (Schoenfeld), case
  ``hr065_noacc`` of tests/reference/design_rpact.json;
* MMRM power with monotone dropout (3 visits, AR(1)) vs Lu, Luo & Chen (2008).

Prints a Markdown table: simulated value, its MC SE, the reference and the difference in MC SEs.
Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/design_agreement.py [replicates] [engine]``.
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def main(replicates: int = 2000, engine: str = "sequential") -> str:
    from design_util import TWO_VISIT_PLAN, make_spec, two_visit

    import trialstats as ts
    from trialstats.design import closed_form
    from trialstats.design.models import covariance_matrix

    ref = json.loads((ROOT / "tests" / "reference" / "design_rpact.json").read_text())
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="design_agreement_"))

    def add(check, value, r, reference):
        se = math.sqrt(reference * (1 - reference) / r)
        rows.append((check, r, value, se, reference, (value - reference) / se))

    spec = make_spec(tmp / "n", {"seed": 11, "replicates": replicates, "n_per_arm": 30,
                                 "chunk_size": 100, "scenarios": [two_visit("null", 0.0, null=True),
                                                                  two_visit("alt", 6.5)]},
                     TWO_VISIT_PLAN)
    s = ts.design.run(spec, engine=engine, progress=False).summary.set_index("scenario")
    add("null rejection rate vs alpha", s.loc["null", "rejection_rate"], replicates, 0.05)
    add("power vs TTestIndPower (d = 0.65, n = 30)", s.loc["alt", "rejection_rate"], replicates,
        closed_form.ttest_power(6.5, 10.0, 30))
    for sc in ("null", "alt"):
        add(f"coverage of 95 % CI ({sc})", s.loc[sc, "coverage"], replicates, 0.95)

    c = ref["hr065_noacc"]
    plan = {"relapse": {"strata": [], "tau": 300}, "hypotheses": [{"endpoint": "cox",
                                                                  "arm": "ACTIVE"}]}
    sc = {"name": "exp", "model": "exponential-relapse", "median_reference":
          c["median_reference"], "hazard_ratio": c["hazard_ratio"],
          "followup_days": c["followup_days"]}
    spec = make_spec(tmp / "e", {"seed": 5, "replicates": replicates, "n_per_arm": c["n_per_arm"],
                                 "chunk_size": 100, "scenarios": [sc]}, plan)
    s = ts.design.run(spec, engine=engine, progress=False).summary.iloc[0]
    add("Cox power vs rpact getPowerSurvival (HR 0.65, 133/arm)", s["rejection_rate"],
        replicates, c["power_at_n_total"])
    add("coverage of 95 % CI of log HR", s["coverage"], replicates, 0.95)

    sd, rho, ret, delta, n = [10.0, 11.0, 12.0], 0.6, [0.95, 0.85, 0.7], 5.0, 70
    sc = {"name": "llc", "model": "normal", "visits": [4, 12, 24],
          "mean_difference": [2.0, 3.5, delta], "sd": sd, "correlation": rho,
          "structure": "ar1", "retention": ret}
    spec = make_spec(tmp / "l", {"seed": 9, "replicates": replicates, "n_per_arm": n,
                                 "chunk_size": 100, "scenarios": [sc]}, TWO_VISIT_PLAN)
    s = ts.design.run(spec, engine=engine, progress=False).summary.iloc[0]
    add("MMRM power with dropout vs Lu, Luo & Chen (n = 70)", s["rejection_rate"], replicates,
        closed_form.llc_power(delta, covariance_matrix(sd, rho, "ar1"), ret, n))

    lines = ["| check | replicates | simulated | MC SE | reference | difference / MC SE |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {a} | {r} | {v:.4f} | {se:.4f} | {ref_:.4f} | {z:+.2f} |"
              for a, r, v, se, ref_, z in rows]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    eng = sys.argv[2] if len(sys.argv) > 2 else "sequential"
    print(main(reps, eng))
