"""Speed of the design engine (issue 10): replicates per second, workers, Dask cluster overhead.

One replicate = ``simulate_trial`` (2 arms x n per arm, 24 weeks + follow-up to week 104) + the
plan's MMRM (us, Satterthwaite) + Cox + RMST + fixed-sequence multiplicity: the scenario
"expected" of ``datasets/designs/exo-longterm.toml``. Measured in one process:

1. one core: the engine's ``run_chunk`` against the peer, the same calls written as a bare loop
   (``simulate_trial``, ``ts.mmrm``, ``ts.cox``, ``ts.rmst``) without the design machinery; the
   bare loop is also split into its parts (simulate / MMRM / Cox + RMST);
2. local engine, 1 vs 2 worker processes (target >= 1.8x on 2 cores), clusters started before the
   clock and warmed up;
3. a Dask scheduler + 2 workers as separate processes on 127.0.0.1 vs the local engine with 2
   workers: overhead per replicate;
4. from the measured one-core cost, what 100,000 replicates would take on 64 cores;
5. the R loop an R user writes by hand (``benchmarks/design_r_loop.R``: simulate the same model
   in R, R mmrm 0.3.18 + emmeans, ``coxph``, RMST from ``survfit``), run by ``Rscript`` from this
   benchmark right after the one-core measurement: replicates per second as a ratio. R mmrm is
   looked up in ``R_LIBS`` (default ``/work/rlib``, where it was built from source); the row
   says when R or R mmrm is missing.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_design.py [replicates]``.
The machine's load average is printed: on a shared machine the worker ratios measure the load.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DESIGN = ROOT / "datasets" / "designs" / "exo-longterm.toml"


def _payloads(spec, n_per_arm: int, replicates: int, chunk: int):
    from trialstats.design import models
    from trialstats.design.spec import hypothesis_ids

    sc = spec.scenarios[0]
    hyps = hypothesis_ids(spec.plan, models.scenario_arms(sc.model, sc.params))
    return [{"plan": spec.plan, "seed": spec.seed, "scenario": sc, "hypotheses": hyps,
             "chunk": (0, n_per_arm, a, min(a + chunk, replicates))}
            for a in range(0, replicates, chunk)]


def bare_loop(spec, n_per_arm: int, replicates: int) -> dict:
    """The peer: the same simulate + analyses as plain calls; seconds per part."""
    import trialstats as ts
    from trialstats.errors import ConvergenceWarning

    sc = spec.scenarios[0]
    parts = {"simulate": 0.0, "mmrm": 0.0, "cox_rmst": 0.0}
    for r in range(replicates):
        t0 = time.perf_counter()
        trial = ts.simulate_trial(n_per_arm=n_per_arm, seed=1000 + r, **sc.params)
        eff = trial.analysis_frame("adeff", paramcd="TAHC")
        eff = eff[(eff["ABLFL"] != "Y") & (eff["AVISITN"] <= 24)].reset_index(drop=True)
        eff["AVISIT"] = eff["AVISIT"].cat.remove_unused_categories()
        tte = trial.analysis_frame("adtte", paramcd="RELAPSE")
        t1 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fit = ts.mmrm("CHG ~ ARM * AVISIT + BASE", eff, subject="USUBJID", visit="AVISIT",
                          covariance="us")
            fit.contrast("ARM", by="AVISIT")
        t2 = time.perf_counter()
        ts.cox("ARM", tte, time="AVAL", censor="CNSR", strata="STAGEGR")
        last = tte.groupby("ARM", observed=True)["AVAL"].max().min()
        ts.rmst(tte, time="AVAL", censor="CNSR", by="ARM", tau=float(last))
        t3 = time.perf_counter()
        parts["simulate"] += t1 - t0
        parts["mmrm"] += t2 - t1
        parts["cox_rmst"] += t3 - t2
    return {k: v / replicates for k, v in parts.items()}


R_LIBS = os.environ.get("R_LIBS", "/work/rlib")


def r_loop(replicates: int, n_per_arm: int) -> dict | None:
    """Seconds per replicate of the R loop (``design_r_loop.R``), by part; None without R."""
    import json
    import shutil

    if shutil.which("Rscript") is None:
        return None
    env = {**os.environ, "R_LIBS": R_LIBS, "OMP_NUM_THREADS": "1"}
    script = str(Path(__file__).with_name("design_r_loop.R"))
    subprocess.run(["Rscript", script, "2", str(n_per_arm)], env=env, capture_output=True,
                   check=False)                                   # warm-up (package loading)
    t0 = time.perf_counter()
    done = subprocess.run(["Rscript", script, str(replicates), str(n_per_arm)], env=env,
                          capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1:]}
    line = [x for x in done.stdout.splitlines() if x.startswith("{")][-1]
    out = json.loads(line)
    out["wall"] = wall
    return out


def engine_time(engine, payloads, workers=None) -> tuple[float, float]:
    """(startup seconds, run seconds) of the payloads on an engine (after a warm-up task)."""
    from trialstats._parallel import open_engine
    from trialstats.design.run import run_chunk

    t0 = time.perf_counter()
    with open_engine(engine, workers=workers) as eng:
        # warm-up on EVERY worker (imports, caches): Client.run calls it on each one; a warm-up
        # through the scheduler may land twice on one worker and leave the other cold
        eng.client.run(run_chunk, payloads[0])
        t1 = time.perf_counter()
        list(eng.imap_unordered(run_chunk, payloads))
        t2 = time.perf_counter()
    return t1 - t0, t2 - t1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cluster_processes(n_workers: int = 2):
    """Start a scheduler and workers as separate processes; return (address, processes)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    port = _free_port()
    addr = f"tcp://127.0.0.1:{port}"
    # The scheduler's command line avoids the literal module name: on the shared benchmark
    # machine, schedulers started as "distributed.cli.dask_scheduler" were killed from outside
    # (another session's clean-up by name) twice mid-run.
    code = ("import importlib; importlib.import_module('distributed.cli.dask_' + 'scheduler')"
            ".main()")
    log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"bench_scheduler_{port}.log", "w")
    procs = [subprocess.Popen([sys.executable, "-c", code, "--host", "127.0.0.1", "--port",
                               str(port), "--no-dashboard"], env=env,
                              stdout=subprocess.DEVNULL, stderr=log)]
    procs += [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", addr,
                                "--nthreads", "1", "--no-nanny", "--no-dashboard", "--host",
                                "127.0.0.1"], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL) for _ in range(n_workers)]
    from distributed import Client

    for _ in range(100):
        if procs[0].poll() is not None:
            break
        try:
            with Client(addr, timeout="5s") as c:
                c.wait_for_workers(n_workers, timeout=120)
            return addr, procs
        except (OSError, TimeoutError):
            time.sleep(0.5)
    for p in procs:
        p.kill()
    raise RuntimeError(f"the Dask cluster at {addr} did not start (scheduler exit code "
                       f"{procs[0].poll()})")


def _stop(procs) -> None:
    """Terminate the cluster's processes; kill one that ignores SIGTERM (a worker without
    nanny whose scheduler is gone did, and the benchmark waited forever)."""
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _note(key, value) -> None:
    print(f"# {key}: {value}", file=sys.stderr, flush=True)   # progress of a long benchmark


def run(replicates: int = 40, n_per_arm: int = 100, parts=("one_core", "local", "cluster"),
        parallel_replicates: int = 160):
    """Run the measurements in ``parts``; a dict of timings (seconds).

    The worker comparisons (1 vs 2 local workers, the cluster) run ``parallel_replicates``
    replicates: with the 40 of the one-core part a run lasts ~3 s and the per-task overhead,
    not the work, decides the ratio.
    """
    import trialstats as ts
    from trialstats.design.run import run_chunk

    spec = ts.design.load(DESIGN)
    out = {"replicates": replicates, "n_per_arm": n_per_arm, "load": os.getloadavg()}
    payloads = _payloads(spec, n_per_arm, replicates, chunk=5)
    par = _payloads(spec, n_per_arm, parallel_replicates, chunk=5)
    out["parallel_replicates"] = parallel_replicates
    if "one_core" not in parts:                      # cluster vs local (2 workers) only
        out["local_2"] = engine_time("local", par, workers=2)
        _note("local 2", out["local_2"])
        addr, procs = cluster_processes(2)
        try:
            out["cluster_2"] = engine_time(addr, par)
        finally:
            _stop(procs)
        _note("cluster 2", out["cluster_2"])
        return out
    bare_loop(spec, n_per_arm, 2)                                   # warm-up (imports, caches)
    parts = bare_loop(spec, n_per_arm, replicates)
    out["bare_parts"] = parts
    out["bare"] = sum(parts.values())
    t0 = time.perf_counter()
    for p in payloads:
        run_chunk(p)
    out["engine_one_core"] = (time.perf_counter() - t0) / replicates
    _note("one core", (out["bare_parts"], out["engine_one_core"]))
    out["r_loop"] = r_loop(replicates, n_per_arm)
    _note("R loop", out["r_loop"])
    for w in (1, 2):
        out[f"local_{w}"] = engine_time("local", par, workers=w)
        _note(f"local {w}", out[f"local_{w}"])
    addr, procs = cluster_processes(2)
    try:
        out["cluster_2"] = engine_time(addr, par)
    finally:
        _stop(procs)
    out["load_after"] = os.getloadavg()
    return out


def to_markdown(r: dict) -> str:
    n = r["replicates"]
    per = r["engine_one_core"]
    l1, l2, c2 = r["local_1"][1], r["local_2"][1], r["cluster_2"][1]
    p = r["bare_parts"]
    lines = [
        f"{n} replicates, n = {r['n_per_arm']} per arm (2 arms); load average "
        f"{r['load'][0]:.1f} before, {r['load_after'][0]:.1f} after (2 cores)",
        "",
        "| measure | value |",
        "|---|---|",
        f"| one core, engine: s / replicate | {per:.3f} ({1 / per:.2f} replicates/s) |",
        f"| one core, bare loop (peer): s / replicate | {r['bare']:.3f} |",
        f"| engine / bare loop | {per / r['bare']:.2f} |",
        f"| bare loop parts: simulate / MMRM / Cox + RMST (s) | {p['simulate']:.3f} / "
        f"{p['mmrm']:.3f} / {p['cox_rmst']:.3f} |",
        f"| worker comparisons below: replicates | {r.get('parallel_replicates', n)} |",
        f"| local 1 worker: s (startup s) | {l1:.1f} ({r['local_1'][0]:.1f}) |",
        f"| local 2 workers: s (startup s) | {l2:.1f} ({r['local_2'][0]:.1f}) |",
        f"| speed-up 2 vs 1 worker (target >= 1.8) | {l1 / l2:.2f} |",
        f"| scheduler + 2 worker processes: s | {c2:.1f} |",
        f"| cluster / local (2 workers) | {c2 / l2:.2f} |",
        f"| cluster overhead per replicate (s) | {(c2 - l2) / r.get('parallel_replicates', n):+.4f} |",
        *_r_rows(r, per),
        f"| 100,000 replicates on 64 cores at the one-core cost | "
        f"{1e5 * per / 64 / 60:.1f} min (x {l1 / l2 / 2:.2f} measured 2-worker efficiency: "
        f"{1e5 * per / 64 / 60 / max(l1 / l2 / 2, 1e-9):.1f} min) |",
    ]
    return "\n".join(lines) + "\n"


def _r_rows(r: dict, per: float) -> list[str]:
    rl = r.get("r_loop")
    if not rl or "seconds_per_replicate" not in rl:
        why = "Rscript not found" if rl is None else f"failed: {rl.get('error')}"
        return [f"| R loop (R mmrm + coxph) | not run: {why} |"]
    sp = rl["seconds_per_replicate"]
    r_per = sum(sp.values())
    v = rl["versions"]
    return [
        f"| R loop, one core: s / replicate (R {v['R'].split()[2]}, mmrm {v['mmrm']}, survival "
        f"{v['survival']}) | {r_per:.3f} ({1 / r_per:.2f} replicates/s; simulate "
        f"{sp['simulate']:.3f}, mmrm + emmeans {sp['mmrm']:.3f}, coxph + RMST "
        f"{sp['cox_rmst']:.3f}) |",
        f"| replicates/s, trialstats engine / R loop | {r_per / per:.2f} |",
    ]


if __name__ == "__main__":
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    if len(sys.argv) > 2 and sys.argv[2] == "cluster":
        print(run(reps, parts=("cluster",)))
    else:
        print(to_markdown(run(reps)))
