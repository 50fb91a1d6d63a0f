"""trialstats.design.run on every engine, for real: bit-identical results, checkpoints and resume.

Engines: sequential; a Dask LocalCluster of 2 processes on 127.0.0.1; a Dask scheduler and two
workers started here as separate processes on 127.0.0.1 (free ports, torn down by a fixture).
Interruption is real: a run in a subprocess is SIGKILLed midway and rerun; a worker process is
SIGKILLed midway through a cluster run.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from design_util import TWO_VISIT_PLAN, make_spec, two_visit
from pandas.testing import assert_frame_equal

import trialstats as ts
from trialstats._parallel import EngineError
from trialstats.design import DesignError

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
       "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def design(replicates=6, chunk_size=2, seed=3):
    return {"seed": seed, "replicates": replicates, "n_per_arm": [15, 25],
            "chunk_size": chunk_size,
            "scenarios": [two_visit("null", 0.0, null=True), two_visit("alt", 6.0)]}


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    return make_spec(tmp_path_factory.mktemp("spec"), design(), TWO_VISIT_PLAN)


@pytest.fixture(scope="module")
def reference(spec):
    return ts.design.run(spec, engine="sequential", progress=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A dask scheduler and ``n`` single-threaded workers, each its own process (no nanny)."""

    def __init__(self, n_workers: int = 2):
        port = free_port()
        self.address = f"tcp://127.0.0.1:{port}"
        py = sys.executable
        self.scheduler = subprocess.Popen(
            [py, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port",
             str(port), "--no-dashboard"], env=ENV, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        self.workers = [subprocess.Popen(
            [py, "-m", "distributed.cli.dask_worker", self.address, "--nthreads", "1",
             "--no-nanny", "--no-dashboard", "--host", "127.0.0.1"], env=ENV,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(n_workers)]
        from distributed import Client

        deadline = time.monotonic() + 60
        while True:
            try:
                with Client(self.address, timeout="5s") as c:
                    c.wait_for_workers(n_workers, timeout=60)
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.close()
                    raise
                time.sleep(0.3)

    def close(self):
        for p in [*self.workers, self.scheduler]:
            if p.poll() is None:
                p.terminate()
        for p in [*self.workers, self.scheduler]:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


@pytest.fixture(scope="module")
def cluster():
    c = Cluster(2)
    yield c
    c.close()


def test_sequential_is_reproducible_and_chunking_does_not_matter(spec, reference, tmp_path):
    other = make_spec(tmp_path, design(chunk_size=5), TWO_VISIT_PLAN)
    again = ts.design.run(other, progress=False)
    assert_frame_equal(again.replicates, reference.replicates)
    assert len(reference.replicates) == 2 * 2 * 6
    assert reference.replicates["converged"].all()


def test_local_cluster_of_two_processes_is_bit_identical(spec, reference):
    res = ts.design.run(spec, engine="local", workers=2, progress=False)
    assert res.engine == "local"
    assert_frame_equal(res.replicates, reference.replicates)
    assert_frame_equal(res.summary, reference.summary)


def test_separate_scheduler_and_workers_are_bit_identical(spec, reference, cluster):
    res = ts.design.run(spec, engine=cluster.address, progress=False)
    assert res.engine == "dask"
    assert_frame_equal(res.replicates, reference.replicates)
    from distributed import Client

    with Client(cluster.address) as client:   # an existing Client is used and left open
        res2 = ts.design.run(spec, engine=client, progress=False)
        assert client.status == "running"
    assert_frame_equal(res2.replicates, reference.replicates)


def test_unreachable_scheduler_fails_fast_with_the_address(spec):
    address = f"tcp://127.0.0.1:{free_port()}"
    t0 = time.monotonic()
    with pytest.raises(EngineError, match=f"cannot reach the Dask scheduler at {address}"):
        ts.design.run(spec, engine=address, progress=False)
    assert time.monotonic() - t0 < 30


def test_unknown_engine_lists_the_valid_ones(spec):
    with pytest.raises(EngineError, match=r"unknown engine 'threads'; valid: sequential, local"):
        ts.design.run(spec, engine="threads", progress=False)


def chunk_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("chunk-*.parquet"))


def test_resume_after_the_run_is_killed_midway(tmp_path, reference):
    folder = tmp_path / "d"
    make_spec(folder, design(), TWO_VISIT_PLAN)
    (folder / "design.toml").write_text(
        'plan = "sap.toml"\nseed = 3\nreplicates = 6\nn_per_arm = [15, 25]\nchunk_size = 2\n'
        + "".join(f'\n[[scenarios]]\nname = "{n}"\nmodel = "normal"\nnull = {str(nl).lower()}\n'
                  f'visits = [12, 24]\nmean_difference = [{d / 2}, {d}]\nsd = 10.0\n'
                  'correlation = 0.5\nretention = 1.0\n'
                  for n, d, nl in (("null", 0.0, True), ("alt", 6.0, False))))
    ck = tmp_path / "ck"
    code = ("import sys, time, trialstats as ts, trialstats.design\n"
            "r = sys.modules['trialstats.design.run']\n"
            "orig = r.run_chunk\n"
            "def slow(p):\n    time.sleep(0.4)\n    return orig(p)\n"
            "r.run_chunk = slow\n"
            f"ts.design.run({str(folder / 'design.toml')!r}, checkpoint={str(ck)!r}, "
            "progress=False)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], env=ENV)
    deadline = time.monotonic() + 180   # generous: the machine may be heavily shared
    while len(chunk_files(ck)) < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    kept = {f: f.stat().st_mtime_ns for f in chunk_files(ck)}
    assert 3 <= len(kept) < 12, "the run must be killed midway"
    resumed = ts.design.run(folder / "design.toml", checkpoint=ck, progress=False)
    assert_frame_equal(resumed.replicates, reference.replicates)
    assert len(chunk_files(ck)) == 12
    assert all(f.stat().st_mtime_ns == t for f, t in kept.items())  # not recomputed


def test_checkpoint_of_another_design_is_refused(tmp_path, spec):
    ts.design.run(spec, n_replicates=2, checkpoint=tmp_path, progress=False)
    other = make_spec(tmp_path / "o", design(seed=4), TWO_VISIT_PLAN)
    with pytest.raises(DesignError, match="holds results of a different design"):
        ts.design.run(other, checkpoint=tmp_path, progress=False)


def test_a_worker_killed_midway_the_run_continues_and_nothing_is_lost(tmp_path, reference):
    spec = make_spec(tmp_path / "s", design(replicates=8, chunk_size=1), TWO_VISIT_PLAN)
    expected = ts.design.run(spec, progress=False).replicates
    c = Cluster(2)
    try:
        ck = tmp_path / "ck"
        out = {}

        def go():
            try:
                out["res"] = ts.design.run(spec, engine=c.address, checkpoint=ck,
                                           progress=False)
            except Exception as e:  # reported below
                out["err"] = e

        th = threading.Thread(target=go)
        th.start()
        deadline = time.monotonic() + 180
        while len(chunk_files(ck)) < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        n_before = len(chunk_files(ck))
        c.workers[0].send_signal(signal.SIGKILL)
        th.join(timeout=120)
        assert not th.is_alive()
        assert n_before < 32, "the worker must be killed midway"
        assert "err" not in out, out.get("err")
        assert_frame_equal(out["res"].replicates, expected)
        assert len(chunk_files(ck)) == 32
    finally:
        c.close()


def test_progress_bar_only_when_asked(spec, capsys):
    ts.design.run(spec, n_replicates=2, progress=False)
    assert capsys.readouterr().err == ""
    ts.design.run(spec, n_replicates=2, progress=True)
    assert "replicate" in capsys.readouterr().err


def test_a_task_failing_on_a_worker_fails_clearly(cluster):
    from trialstats._parallel import open_engine
    from trialstats.design.run import run_chunk
    from trialstats.design.spec import Scenario

    bad = {"scenario": Scenario("x", "weibull", {}), "plan": None, "seed": 1,
           "hypotheses": [], "chunk": (0, 10, 0, 1)}
    with open_engine(cluster.address) as eng:
        with pytest.raises(EngineError, match=r"failed on the Dask engine .*unknown model "
                                              r"'weibull'"):
            list(eng.imap_unordered(run_chunk, [bad]))
        from trialstats.design.run import _task_label

        with pytest.raises(EngineError, match=r"chunk of scenario 'x', n per arm 10, "
                                              r"replicates 0..0 failed on the Dask engine"):
            list(eng.imap_unordered(run_chunk, [bad], label=_task_label))


def test_every_worker_killed_waits_then_fails_clearly_and_nothing_is_lost(tmp_path, reference):
    """The only worker is SIGKILLed midway: the run waits ``worker_wait`` seconds for a worker,
    then raises EngineError naming the scheduler; the chunks written before are intact, and a
    rerun (here sequential) resumes from them to the same final table."""
    spec = make_spec(tmp_path / "s", design(replicates=8, chunk_size=1), TWO_VISIT_PLAN)
    expected = ts.design.run(spec, progress=False).replicates
    c = Cluster(1)
    ck = tmp_path / "ck"
    out = {}
    try:
        def go():
            try:
                out["res"] = ts.design.run(spec, engine=c.address, checkpoint=ck,
                                           progress=False, worker_wait=3.0)
            except Exception as e:  # checked below
                out["err"] = e
                out["t"] = time.monotonic()

        th = threading.Thread(target=go)
        th.start()
        deadline = time.monotonic() + 180
        while len(chunk_files(ck)) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        c.workers[0].send_signal(signal.SIGKILL)
        killed = time.monotonic()
        c.workers[0].wait()
        th.join(timeout=120)
        assert not th.is_alive(), "the run must not hang once every worker is gone"
        assert isinstance(out.get("err"), EngineError), out
        msg = str(out["err"])
        assert c.address in msg and "every worker is gone" in msg and "3 s" in msg
        assert out["t"] - killed >= 3.0            # it waited for a worker first
        written = chunk_files(ck)
        assert 3 <= len(written) < 32
    finally:
        c.close()
    for f in written:                              # every file written is whole
        assert len(pd.read_parquet(f)) > 0
    again = ts.design.run(spec, engine="sequential", checkpoint=ck, progress=False)
    assert_frame_equal(again.replicates, expected)
