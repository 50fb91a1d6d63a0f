"""rbmi samples on local processes and on real Dask clusters give exactly the sequential result.

Clusters: a distributed.LocalCluster on 127.0.0.1, and a scheduler plus two workers started as
separate processes with the ``dask scheduler`` / ``dask worker`` command-line programs
(``python -m distributed.cli.*``) on free ports of 127.0.0.1, torn down by the fixture.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from test_estimands_random import simulate

import trialstats as ts
from trialstats.estimands import ClusterError

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def data():
    return simulate(np.random.default_rng(3), n_per_arm=40)


def run(data, engine, method="approxbayes", **kw):
    kw = {"n_samples": 6, **kw}
    return ts.rbmi(data, "Y ~ ARM * VISIT", subject="SUBJ", visit="VISIT", group="ARM",
                   reference={"B": "A"}, strategy="JR", method=method, seed=99,
                   engine=engine, **kw)


@pytest.fixture(scope="module")
def sequential(data):
    return run(data, "sequential"), run(data, "sequential", method="condmean",
                                        inference="jackknife", n_samples=None)


def _same(a, b):
    assert np.array_equal(a.samples["estimate"].to_numpy(), b.samples["estimate"].to_numpy())
    assert a.pooled.equals(b.pooled)


def test_local_processes_match_sequential(data, sequential):
    _same(run(data, None, workers=2), sequential[0])
    _same(run(data, "local", workers=2, method="condmean", inference="jackknife",
              n_samples=None), sequential[1])


def test_local_cluster_matches_sequential(data, sequential):
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        _same(run(data, client), sequential[0])


@pytest.fixture
def cli_cluster():
    """`dask scheduler` and two `dask worker` processes on 127.0.0.1, free ports."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), os.environ.get("PYTHONPATH", "")])}
    address = f"tcp://127.0.0.1:{port}"
    procs = [subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
         "--port", str(port), "--no-dashboard"], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        for _ in range(2):
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                 "--nworkers", "1", "--host", "127.0.0.1", "--no-dashboard"], env=env,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from distributed import Client

        deadline = time.monotonic() + 60
        while True:
            try:
                with Client(address, timeout="5s") as c:
                    c.wait_for_workers(2, timeout=60)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        yield address
    finally:
        for p in procs[::-1]:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=2)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def test_scheduler_and_workers_as_processes_match_sequential(data, sequential, cli_cluster):
    _same(run(data, cli_cluster), sequential[0])
    _same(run(data, cli_cluster, method="condmean", inference="bootstrap"),
          run(data, "sequential", method="condmean", inference="bootstrap"))


def test_unreachable_scheduler_fails_fast_naming_it(data):
    address = f"tcp://127.0.0.1:{_free_port()}"
    t0 = time.monotonic()
    with pytest.raises(ClusterError, match=f"cannot reach the Dask scheduler at '{address}'"):
        run(data, address)
    assert time.monotonic() - t0 < 30


def test_bad_engine(data):
    with pytest.raises(ts.TrialstatsError, match=r"unknown engine 'gpu'; valid: None"):
        run(data, "gpu")
    with pytest.raises(ts.TrialstatsError, match=r"workers must be a positive integer"):
        run(data, None, workers=0)


def test_progress_on_stderr_only_when_asked_or_a_terminal(data, capsys):
    run(data, "sequential", n_samples=3)
    assert "rbmi" not in capsys.readouterr().err  # stderr is not a terminal under pytest
    run(data, "sequential", n_samples=3, progress=True)
    err = capsys.readouterr().err
    assert "rbmi approxbayes" in err and "/3 " in err
