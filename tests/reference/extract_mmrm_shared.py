"""Copy the R mmrm 0.3.18 reference set into the repository, compactly and with provenance.

Source: ``../shared/reference`` (relative to the repository root), made by
``../shared/reference/make_mmrm_reference.R`` (R 4.2.2, mmrm 0.3.18, emmeans 1.8.4.1; see that
folder's README.md). Writes into ``tests/reference/mmrm/``:

* ``<case_id>.json`` for each of the 20 cases: identification (case_id, r_call, source file,
  provenance line, versions), then the numbers the tests use from BOTH the default fit
  (``default``) and the tightly converged refit (``tight_refit``): m2loglik, theta, theta_vcov (default
  only: the shared set has none for the refit), varcorr, coefficients, vcov (and vcov_model_based
  where the fit's covariance is adjusted; default only), LS means, contrasts, n_obs, n_subjects,
  AIC, BIC, and the emmeans L matrices. Tables are stored column-wise
  (``{"term": [...], "estimate": [...], ...}``). No number is computed here except where a field
  says ``derived``: the tight refit's AIC and BIC, which the shared set does not store, are
  mmrm's own formulas (AIC = m2loglik + 2 n_theta, BIC = m2loglik + log(n_subjects) n_theta, from
  each case's ``information_criteria_note``) applied to the refit's m2loglik; the script first
  checks that the same formulas reproduce the default fit's AIC and BIC.
* ``fev_data.csv``, ``bcva_data.csv``, ``levels.json``: byte-for-byte copies.
* ``MANIFEST.json``: SHA-256 of every source file and every file written.

Numbers are copied through Python's JSON reader and writer, which round-trip every double exactly
(the shared files hold 15 significant digits, written by ``jsonlite::toJSON(digits = NA)``).

Run from the repository root (CI never runs it; its outputs are committed)::

    .venv/bin/python tests/reference/extract_mmrm_shared.py
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO.parent / "shared" / "reference"
SOURCE_LABEL = "../shared/reference"
OUT = REPO / "tests" / "reference" / "mmrm"
PROVENANCE = "R mmrm 0.3.18 via ../shared/reference/make_mmrm_reference.R"
COPIED = ("fev_data.csv", "bcva_data.csv", "levels.json")
N_CASES = 20


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def columns(records: list[dict]) -> dict[str, list]:
    """A list of row dicts -> one list per column (order of the first row's keys)."""
    keys = list(records[0])
    for r in records:
        if list(r) != keys:
            raise ValueError(f"inconsistent columns: {list(r)} vs {keys}")
    return {k: [r[k] for r in records] for k in keys}


def matrix(m: dict) -> dict:
    """A {rownames, colnames, values} matrix, checked square/rectangular as stated."""
    vals = m["values"]
    nrow = len(vals)
    ncol = len(vals[0]) if nrow else 0
    if any(len(row) != ncol for row in vals):
        raise ValueError("ragged matrix")
    if m.get("rownames") is not None and len(m["rownames"]) != nrow:
        raise ValueError("rownames do not match")
    if m.get("colnames") is not None and len(m["colnames"]) != ncol:
        raise ValueError("colnames do not match")
    return {"rownames": m.get("rownames"), "colnames": m.get("colnames"), "values": vals}


def varcorr(v: dict, grouped: bool) -> dict:
    if grouped:
        return {g: matrix(m) for g, m in v.items()}
    return matrix(v)


def information_criteria(m2loglik: float, n_theta: int, n_subjects: int) -> tuple[float, float]:
    """mmrm's AIC and BIC (each case's information_criteria_note)."""
    return m2loglik + 2 * n_theta, m2loglik + math.log(n_subjects) * n_theta


def compact_case(src: dict, file_name: str) -> dict:
    grouped = src["n_groups"] > 1
    em = src["emmeans"]
    tight = src["tight_refit"]
    if "error" in tight or "emmeans_error" in tight:
        raise ValueError(f"{src['case_id']}: the tight refit has an error")
    if not tight["converged"]:
        raise ValueError(f"{src['case_id']}: the tight refit did not converge")

    aic, bic = information_criteria(src["m2loglik"], src["n_theta"], src["n_subjects"])
    for name, ours, theirs in (("AIC", aic, src["AIC"]), ("BIC", bic, src["BIC"])):
        if abs(ours - theirs) > 1e-9 * abs(theirs):
            raise ValueError(f"{src['case_id']}: mmrm's {name} formula does not reproduce {theirs}")
    tight_aic, tight_bic = information_criteria(
        tight["m2loglik"], src["n_theta"], src["n_subjects"]
    )

    default = {
        "source_fields": "top level of the shared case file",
        "converged": src["converged"],
        "optimizer": src["optimizer"],
        "max_abs_gradient_at_theta": src["max_abs_gradient_at_theta"],
        "n_obs": src["n_obs"],
        "n_subjects": src["n_subjects"],
        "m2loglik": src["m2loglik"],
        "AIC": src["AIC"],
        "BIC": src["BIC"],
        "theta": src["theta"],
        "theta_vcov": matrix(src["theta_vcov"]),
        "varcorr": varcorr(src["varcorr"], grouped),
        "coefficients": columns(src["coefficients"]),
        "vcov": matrix(src["vcov"]),
        "vcov_model_based": matrix(src["vcov_model_based"]) if "vcov_model_based" in src else None,
        "lsmeans": columns(em["lsmeans"]),
        "contrasts": columns(em["contrasts"]),
    }
    tight_out = {
        "source_fields": "tight_refit block of the shared case file",
        "r_call_extra_arguments": tight["r_call_extra_arguments"],
        "converged": tight["converged"],
        "optimizer_message": tight["optimizer_message"],
        "max_abs_gradient_at_theta": tight["max_abs_gradient_at_theta"],
        "n_obs": src["n_obs"],
        "n_subjects": src["n_subjects"],
        "n_obs_note": "same data and model as the default fit, so the same rows and subjects",
        "m2loglik": tight["m2loglik"],
        "AIC_derived": tight_aic,
        "BIC_derived": tight_bic,
        "AIC_BIC_derived_note": (
            "not stored by the shared set for the refit: mmrm's formulas AIC = m2loglik + 2 n_theta, "
            "BIC = m2loglik + log(n_subjects) n_theta (information_criteria_note) applied to the "
            "refit's m2loglik; the same formulas reproduce the default fit's AIC and BIC to 1e-9"
        ),
        "theta": tight["theta"],
        "theta_vcov": None,
        "theta_vcov_note": "not in the shared set for the refit; use default.theta_vcov",
        "varcorr": varcorr(tight["varcorr"], grouped),
        "coefficients": columns(tight["coefficients"]),
        "vcov": matrix(tight["vcov"]),
        "vcov_note": "vcov(fit) of the refit: the covariance used for inference, as default.vcov",
        "lsmeans": columns(tight["lsmeans"]),
        "contrasts": columns(tight["contrasts"]),
        "default_vs_tight": tight["default_vs_tight"],
    }
    return {
        "case_id": src["case_id"],
        "r_call": src["r_call"],
        "source_file": f"{SOURCE_LABEL}/{file_name}",
        "provenance": PROVENANCE,
        "versions": src["versions"],
        "dataset": src["dataset"],
        "formula": src["formula"],
        "reml": src["reml"],
        "method": src["method"],
        "vcov_requested": src["vcov_requested"],
        "vcov_type": src["vcov_type"],
        "vcov_note": src["vcov_note"],
        "n_timepoints": src["n_timepoints"],
        "n_groups": src["n_groups"],
        "n_theta": src["n_theta"],
        "n_beta": src["n_beta"],
        "theta_parameterization": src["theta_parameterization"],
        "information_criteria_note": src["information_criteria_note"],
        "factor_levels_used": src["factor_levels_used"],
        "emmeans": {
            "emmeans_call": em["emmeans_call"],
            "contrast_call": em["contrast_call"],
            "contrast_direction": em["contrast_direction"],
            "conf_level": em["conf_level"],
            "averaged_over": em["averaged_over"],
            "weights": em["weights"],
            "reference_grid_levels": em["reference_grid_levels"],
            "lsmeans_linfct": matrix(em["lsmeans_linfct"]),
            "contrast_linfct": matrix(em["contrast_linfct"]),
        },
        "default": default,
        "tight_refit": tight_out,
    }


def main() -> int:
    if not SOURCE.is_dir():
        print(f"source folder not found: {SOURCE}", file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    index = json.loads((SOURCE / "index.json").read_text())
    cases = index["cases"]
    if len(cases) != N_CASES:
        raise ValueError(f"expected {N_CASES} cases in index.json, found {len(cases)}")
    manifest = {
        "provenance": PROVENANCE,
        "source_folder": SOURCE_LABEL,
        "written_by": "tests/reference/extract_mmrm_shared.py",
        "versions": index["versions"],
        "sources": {},
        "outputs": {},
    }
    for name in ("index.json", "README.md", "make_mmrm_reference.R"):
        manifest["sources"][name] = sha256(SOURCE / name)
    case_ids = []
    for row in cases:
        if row["status"] != "converged" or row["error"] is not None:
            raise ValueError(f"{row['case_id']}: status {row['status']}")
        src_path = SOURCE / row["file"]
        src = json.loads(src_path.read_text())
        out = compact_case(src, row["file"])
        out_path = OUT / f"{row['case_id']}.json"
        out_path.write_text(json.dumps(out, indent=1, allow_nan=False) + "\n")
        # Round trip: every copied number reads back identical.
        back = json.loads(out_path.read_text())
        if back["tight_refit"]["coefficients"]["estimate"] != [
            c["estimate"] for c in src["tight_refit"]["coefficients"]
        ]:
            raise ValueError(f"{row['case_id']}: round trip failed")
        manifest["sources"][row["file"]] = sha256(src_path)
        manifest["outputs"][out_path.name] = sha256(out_path)
        case_ids.append(row["case_id"])
    for name in COPIED:
        shutil.copyfile(SOURCE / name, OUT / name)
        if sha256(SOURCE / name) != sha256(OUT / name):
            raise ValueError(f"copy of {name} differs")
        manifest["sources"][name] = sha256(SOURCE / name)
        manifest["outputs"][name] = sha256(OUT / name)
    manifest["case_ids"] = case_ids
    (OUT / "MANIFEST.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"wrote {len(case_ids)} cases and {len(COPIED)} copies to {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
