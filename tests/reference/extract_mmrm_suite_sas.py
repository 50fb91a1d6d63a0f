"""Extract the SAS PROC MIXED numbers of R mmrm's own test suite (test-tmb.R) into JSON.

R mmrm 0.3.18's tests/testthat/test-tmb.R checks intercept-only fits ``FEV1 ~ <cov>(AVISIT |
USUBJID)`` (ML and REML, per covariance structure, by group, with weights, spatial on VISITN)
against SAS output kept in the mmrm repository (``design/SAS/*.txt``, cited per block). This script
reads those ``test_that`` blocks and writes, for each, the formula, ML/REML, weights, the SAS
-2 log-likelihood, the intercept and its standard error, each with the number of decimals SAS
printed and the tolerance mmrm's own test uses. Source: github:openpharma/mmrm tag v0.3.18, file
tests/testthat/test-tmb.R (a copy was at /work/rsrc/mmrm when this ran).

Run: python tests/reference/extract_mmrm_suite_sas.py [path/to/test-tmb.R]
writes tests/reference/mmrm_suite_sas.json; used by tests/test_mmrm_r_suite_sas.py.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

SRC = Path(sys.argv[1] if len(sys.argv) > 1 else "/work/rsrc/mmrm/tests/testthat/test-tmb.R")
OUT = Path(__file__).with_name("mmrm_suite_sas.json")
DEFAULT_TOL = 1.5e-8  # testthat's expect_equal default, sqrt(.Machine$double.eps)


def _number(expr: str, text: str):
    """(value, decimals, tolerance) of ``expect_equal(<expr>, value[, tolerance = t])``."""
    m = re.search(r"expect_equal\(\s*" + expr + r",\s*([-0-9.]+)\s*(?:,\s*tolerance\s*=\s*"
                  r"([0-9.e-]+))?\s*\)", text)
    if not m:
        return None
    value = m.group(1)
    decimals = len(value.split(".")[1]) if "." in value else 0
    return {"value": float(value), "decimals": decimals,
            "tolerance": float(m.group(2)) if m.group(2) else DEFAULT_TOL}


def main() -> None:
    text = SRC.read_text()
    starts = [m.start() + 1 for m in re.finditer(r"\ntest_that\(", text)] + [len(text)]
    cases, seen = [], set()
    for start, end in zip(starts[:-1], starts[1:], strict=True):
        block = text[start:end]
        sas = re.search(r"design/SAS/(\S+) for the source", block)
        if not sas:
            continue
        if block in seen:  # the suite repeats some blocks verbatim (group cs / csh): once here
            continue
        seen.add(block)
        title = block.split('"')[1]
        line = text[:start].count("\n") + 1
        form = re.search(r"(FEV1 ~ \w+\(([^)|]*)\|\s*(?:(\w+)\s*/\s*)?USUBJID\))", block)
        if not form or "," in form.group(2):  # 2-D spatial coordinates: not in ts.mmrm
            continue
        cov = re.search(r"FEV1 ~ (\w+)\(", form.group(1)).group(1)
        dev = (_number(r"deviance\(result\)", block)
               or _number(r"2 \* result\$neg_log_lik", block))
        reml = re.search(r"reml = (TRUE|FALSE)", block)
        if dev is None or reml is None:
            continue
        cases.append({
            "title": title, "source": f"test-tmb.R line {line}", "sas_output": sas.group(1),
            "formula": form.group(1), "covariance": cov, "coords": form.group(2).strip(),
            "group": form.group(3), "reml": reml.group(1) == "TRUE",
            "weights": "WEIGHT" if "fev_data$WEIGHT" in block else None,
            "m2loglik": dev,
            "intercept": (_number(r"as.numeric\(result\$beta_est(?:\[1\])?\)", block)),
            "intercept_se": _number(r"sqrt\(result\$beta_vcov\[1, 1\]\)", block),
        })
    OUT.write_text(json.dumps({"source": "R mmrm 0.3.18 tests/testthat/test-tmb.R "
                                         "(github:openpharma/mmrm tag v0.3.18)",
                               "produced_by": "tests/reference/extract_mmrm_suite_sas.py",
                               "cases": cases}, indent=1) + "\n")
    print(f"wrote {OUT} ({len(cases)} cases)")


if __name__ == "__main__":
    main()
