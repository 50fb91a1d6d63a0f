"""Spatial MMRM on 2-d points (issue 12, ``coords=[...]``) against the same model on one coordinate.

Simulated trial of ``n`` subjects, 6 visits, ~15 % missed visits, each row at its own time
``TIME = week + z / 4`` (z standard normal), outcome with an exponential correlation in TIME.
Times ``ts.mmrm(..., coords=["TIME", "ZERO"], covariance=cov)`` (2-d points whose second
coordinate is 0: the same model and numbers) and its peer in the same process,
``coords="TIME"``: the ratio is the cost of the key column of the points and the Euclidean
distances.

Run: ``python benchmarks/bench_mmrm_spatial2d.py [n_subjects]`` (prints a Markdown table). Not
wired into ``make bench`` (benchmarks/run.py is a shared file).
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd


def simulate(n: int, seed: int = 20261130) -> pd.DataFrame:
    """Long data: USUBJID, ARM, AVISIT, TIME, ZERO, Y (sp_exp in TIME, range 2)."""
    rng = np.random.default_rng(seed)
    weeks = np.array([2, 4, 8, 12, 16, 24], dtype=float) / 4
    arm = rng.integers(0, 2, n)
    t = weeks + rng.standard_normal((n, 6)) / 4
    L = np.linalg.cholesky(25.0 * np.exp(-np.abs(t[:, :, None] - t[:, None, :]) / 2.0))
    y = (L @ rng.standard_normal((n, 6, 1)))[:, :, 0] + weeks * (1 + arm[:, None])
    keep = rng.random((n, 6)) > 0.15
    keep[:, 0] = True
    i, j = np.nonzero(keep)
    return pd.DataFrame({
        "USUBJID": [f"S{k:05d}" for k in i],
        "ARM": pd.Categorical(np.where(arm[i] == 1, "TRT", "PBO"), categories=["PBO", "TRT"]),
        "AVISIT": pd.Categorical([f"V{k + 1}" for k in j], categories=[f"V{k}" for k in
                                                                        range(1, 7)]),
        "TIME": t[i, j], "ZERO": 0.0, "Y": y[i, j],
    })


def _best(fn, repeats: int) -> float:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return min(out)


def run(n: int = 2_000, repeats: int = 3) -> list[dict]:
    """Best-of-``repeats`` wall times of the 2-d fit and its 1-d peer, per covariance."""
    import trialstats as ts

    df = simulate(n)
    rows = []
    for cov in ("sp_exp", "sp_gau"):
        two = _best(lambda cov=cov: ts.mmrm("Y ~ ARM * AVISIT", df, coords=["TIME", "ZERO"],
                                            covariance=cov), repeats)
        one = _best(lambda cov=cov: ts.mmrm("Y ~ ARM * AVISIT", df, coords="TIME",
                                            covariance=cov), repeats)
        rows.append({"covariance": cov, "rows": len(df), "wall_2d_s": two, "wall_1d_s": one,
                     "ratio": two / one})
    return rows


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000
    print("| covariance | rows | 2-d points (s) | 1-d peer (s) | ratio |")
    print("|---|---|---|---|---|")
    for r in run(n):
        print(f"| {r['covariance']} | {r['rows']} | {r['wall_2d_s']:.3f} | {r['wall_1d_s']:.3f} "
              f"| {r['ratio']:.2f} |")
