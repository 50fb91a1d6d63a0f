"""One BLAS thread while a computation runs: faster on small matrices, and the same bits everywhere.

Used by every MMRM fit (:func:`trialstats.mmrm`, refits) and by the report build. Multi-threaded
BLAS splits sums by the number of threads, so the last bits of a product, and hence of an
iterative fit such as statsmodels' MixedLM, can depend on how many cores a machine has and on
what earlier code set; a report must be byte-identical on rebuild, on any machine.
"""

from __future__ import annotations

import functools

__all__ = ["one_blas_thread"]

_BLAS = {}  # "libs": threadpoolctl's BLAS controllers (found at the first fit); "depth"


def one_blas_thread(fn):
    """Run ``fn`` with the BLAS libraries limited to one thread (restored afterwards).

    An MMRM fit is many products of small matrices (visits x terms); OpenBLAS threads cost more
    to wake than the arithmetic they share, and on a loaded machine far more (measured at 200
    subjects: 2x the CPU time and up to 3x the wall time). The limit is process-wide while the
    call runs, as for rbmi (:mod:`trialstats.estimands._parallel`). The controllers are set
    directly (a few microseconds; threadpoolctl's ``limit`` context costs ~5 % of a refit), and
    nested calls leave the limit to the outermost.
    """
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if _BLAS.get("depth"):
            return fn(*args, **kwargs)
        if "libs" not in _BLAS:
            from threadpoolctl import ThreadpoolController

            _BLAS["libs"] = ThreadpoolController().select(user_api="blas").lib_controllers
        changed = []
        for lib in _BLAS["libs"]:
            n = lib.num_threads
            if n != 1:
                lib.set_num_threads(1)
                changed.append((lib, n))
        _BLAS["depth"] = 1
        try:
            return fn(*args, **kwargs)
        finally:
            _BLAS["depth"] = 0
            for lib, n in changed:
                lib.set_num_threads(n)
    return wrapper
