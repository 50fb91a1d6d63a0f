"""R mmrm timings run in the same benchmark (issue 14): used by bench_mmrm.py when R has mmrm.

:func:`available` asks ``Rscript`` whether the ``mmrm`` package loads (library paths from the
environment, e.g. ``R_LIBS=/path/to/rlib make bench``); :func:`time_fits` writes the generated
data sets to temporary CSV files (numbers written with 17 significant digits, so R reads the same
doubles) and runs ``benchmarks/r_mmrm_timing.R`` once for all of them. When R or mmrm is missing
the benchmark falls back to the figures recorded in issue 14.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pandas as pd

SCRIPT = Path(__file__).with_name("r_mmrm_timing.R")
#: Where this project's build machine has R mmrm 0.3.18 built from source (not in Debian); used
#: when R_LIBS is not set.
DEFAULT_RLIB = Path("/work/rlib")


def r_env() -> dict:
    """The environment for Rscript: R_LIBS as given, else :data:`DEFAULT_RLIB` when it has mmrm."""
    env = dict(os.environ)
    if "R_LIBS" not in env and (DEFAULT_RLIB / "mmrm").is_dir():
        env["R_LIBS"] = str(DEFAULT_RLIB)
    return env


def available(timeout: float = 60.0) -> str | None:
    """The version of R mmrm that ``Rscript`` loads, or None (no Rscript, no mmrm)."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        return None
    code = ('if (requireNamespace("mmrm", quietly = TRUE)) '
            'cat(as.character(utils::packageVersion("mmrm")))')
    try:
        out = subprocess.run([rscript, "-e", code], capture_output=True, text=True,
                             timeout=timeout, check=False, env=r_env())
    except (OSError, subprocess.TimeoutExpired):
        return None
    version = out.stdout.strip()
    return version or None


def time_fits(jobs: list[dict], timeout: float = 3600.0) -> dict[str, dict]:
    """Time R mmrm on each job's data.

    Parameters
    ----------
    jobs : list of dict
        ``name``, ``data`` (DataFrame with USUBJID, ARM, AVISIT, WEEK, BASE, CHG and, for the
        weighted and spatial models, W and DAY), ``model`` ("us", "us_weights", "sp_exp"),
        ``repeats`` and ``end_to_end`` (also time fit + emmeans contrasts once).

    Returns
    -------
    dict
        name -> the script's record (fit_wall_s, fit_cpu_s, converged, end_to_end_wall_s, ...).
    """
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for job in jobs:
            csv = Path(tmp) / f"{job['name']}.csv"
            data = job["data"].copy()
            for col in ("USUBJID", "ARM", "AVISIT"):
                data[col] = data[col].astype(str)
            data.to_csv(csv, index=False, float_format="%.17g")
            rows.append({"name": job["name"], "csv": str(csv), "model": job["model"],
                         "repeats": int(job["repeats"]), "end_to_end": int(job["end_to_end"])})
        jobs_csv = Path(tmp) / "jobs.csv"
        pd.DataFrame(rows).to_csv(jobs_csv, index=False)
        out_json = Path(tmp) / "timings.json"
        subprocess.run(["Rscript", str(SCRIPT), str(jobs_csv), str(out_json)], check=True,
                       capture_output=True, text=True, timeout=timeout, env=r_env())
        result = json.loads(out_json.read_text())
    return {t["name"]: t | {"mmrm": result["mmrm"]} for t in result["timings"]}
