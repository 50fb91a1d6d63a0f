"""The one-BLAS-thread limit (trialstats/_blas.py) with threads that fit concurrently.

The BLAS thread count belongs to the process; the limit is reference-counted under a lock, so a
thread leaving its fit must not restore the threads while another thread is still inside one.
Checked with threadpoolctl's own ``threadpool_info`` (not the module's bookkeeping), with the
order of entering and leaving forced by events, and with MMRM refits running in four threads at
once (one BLAS thread inside each, in worker threads, where OpenBLAS ignores the setter that
threadpoolctl calls; results bitwise equal to the same refits run one after another). Tolerance:
exact.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import scipy.linalg  # noqa: F401  (scipy's OpenBLAS loaded before the counts are read)
from numpy.testing import assert_array_equal
from threadpoolctl import threadpool_info, threadpool_limits

import trialstats as ts
from trialstats._blas import one_blas_thread


def blas_threads() -> list[int]:
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def test_a_thread_leaving_does_not_lift_the_limit_of_another():
    a_inside, b_inside, a_left = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    @one_blas_thread
    def a():
        a_inside.set()
        assert b_inside.wait(10)
        seen["a"] = blas_threads()

    @one_blas_thread
    def b():
        assert a_inside.wait(10)
        b_inside.set()
        assert a_left.wait(10)
        seen["b after a left"] = blas_threads()  # the old depth flag had restored them here

    def run_a():
        a()
        a_left.set()

    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        assert set(before) == {2}  # a multi-threaded BLAS, else nothing is tested
        ta, tb = threading.Thread(target=run_a), threading.Thread(target=b)
        ta.start()
        tb.start()
        ta.join(20)
        tb.join(20)
        assert set(seen["a"]) == {1}
        assert set(seen["b after a left"]) == {1}
        assert blas_threads() == before  # the last one out restored them


def test_context_manager_nested_in_decorated_call():
    @one_blas_thread
    def fit():
        with one_blas_thread():
            inner = blas_threads()
        return inner, blas_threads()

    with threadpool_limits(limits=2, user_api="blas"):
        inner, after_inner = fit()
        assert set(inner) == {1} and set(after_inner) == {1}
        assert set(blas_threads()) == {2}


@pytest.fixture(scope="module")
def problem():
    d = ts.datasets.load("exo-hair-301").efficacy("TAHC")
    d = d[d["AVISIT"].isin(["WEEK 4", "WEEK 12", "WEEK 24"])].copy()
    d["AVISIT"] = d["AVISIT"].cat.remove_unused_categories()
    return ts.mmrm("CHG ~ ARM * AVISIT + BASE", d, subject="USUBJID", visit="AVISIT").problem()


def test_concurrent_refits_in_threads_equal_sequential_refits(problem):
    rng = np.random.default_rng(9)
    n = problem.n_subjects
    samples = [rng.integers(0, n, n) for _ in range(24)]
    expected = [problem.fit(subjects=s) for s in samples]
    observed = []

    @one_blas_thread  # as the fit itself: the count seen inside, in a worker thread
    def work(s):
        est = problem.fit(subjects=s)
        return est, blas_threads()

    with threadpool_limits(limits=2, user_api="blas"):
        with ThreadPoolExecutor(max_workers=4) as pool:
            got = list(pool.map(work, samples))
        observed = blas_threads()
    for (est, inside), ref in zip(got, expected, strict=True):
        assert_array_equal(est.beta, ref.beta)
        assert_array_equal(est.theta, ref.theta)
        assert set(inside) == {1}  # threadpoolctl's setter is ignored in non-main threads
    assert set(observed) == {2}


def test_first_limit_before_scipy_is_imported_covers_scipys_blas():
    """numpy and scipy ship separate OpenBLAS libraries; `import trialstats` loads neither
    scipy nor its BLAS, so a first limit taken before scipy is imported must still cover it
    (a fresh interpreter, where nothing has imported scipy)."""
    import subprocess
    import sys

    code = (
        "import numpy, sys\n"
        "from threadpoolctl import threadpool_info, threadpool_limits\n"
        "from trialstats._blas import one_blas_thread\n"
        "assert 'scipy.linalg' not in sys.modules\n"
        "with threadpool_limits(limits=2, user_api='blas'):\n"
        "    with one_blas_thread():\n"
        "        import scipy.linalg\n"
        "        inside = [i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas']\n"
        "print(len(inside), sorted(set(inside)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout.split()
    assert out[0] == "2" and out[1:] == ["[1]"], out  # both libraries, one thread each
