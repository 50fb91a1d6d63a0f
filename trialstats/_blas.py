"""One BLAS thread while a computation runs: faster on small matrices, and the same bits everywhere.

Used by every MMRM fit (:func:`trialstats.mmrm`, refits), by ``ts.rbmi`` and by the report build.
Multi-threaded BLAS splits sums by the number of threads, so the last bits of a product, and
hence of an iterative fit such as statsmodels' MixedLM, can depend on how many cores a machine
has and on what earlier code set; a report must be byte-identical on rebuild, on any machine.

Threads. The BLAS thread count belongs to the process, and fits may run in several threads at
once (a thread pool, Dask's worker threads). The limit is therefore reference-counted under a
lock: the first limited call to enter, in any thread, sets one thread and keeps the previous
counts; later ones (nested, or in other threads) only count themselves; the last to leave
restores the counts. A thread leaving cannot lift the limit while another is still inside.

OpenBLAS (numpy's and scipy's wheels, pthreads builds) ignores ``openblas_set_num_threads`` when
it is called from a thread other than the main one (measured with OpenBLAS 0.3.30: the count and
the products stayed at two threads), which is what threadpoolctl calls. Its
``openblas_set_num_threads_local`` (OpenBLAS 0.3.27 and later) sets the same process-wide count
from any thread and returns the previous one; it is used where the library has it.

Code that sets BLAS threads itself while a limit is held (e.g. with threadpoolctl) is not
covered.
"""

from __future__ import annotations

import ctypes
import functools
import os
import threading

__all__ = ["one_blas_thread"]

_LOCK = threading.Lock()
_STATE: dict = {"setters": None, "active": 0, "restore": ()}


def _new_lock_in_child() -> None:  # a fork taken while another thread held the lock
    global _LOCK
    _LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_lock_in_child)


def _setters() -> tuple:
    """One function per BLAS library: set its thread count, return the previous count.

    The libraries are found once, at the first limit; scipy.linalg is imported first so that
    scipy's OpenBLAS (a separate library from numpy's) is loaded and found even when the first
    limited call comes before anything imported scipy (``import trialstats`` is lazy).
    """
    import scipy.linalg  # noqa: F401  (loads scipy's BLAS)
    from threadpoolctl import ThreadpoolController

    out = []
    for lib in ThreadpoolController().select(user_api="blas").lib_controllers:
        fn = None
        if lib.internal_api == "openblas":
            fn = getattr(lib.dynlib, "openblas_set_num_threads_local", None)
        if fn is not None:
            fn.restype, fn.argtypes = ctypes.c_int, [ctypes.c_int]
            out.append(fn)
        else:
            out.append(functools.partial(_set_controller, lib))
    return tuple(out)


def _set_controller(lib, n: int) -> int:
    previous = lib.num_threads
    if previous != n:
        lib.set_num_threads(n)
    return previous


def _enter() -> None:
    with _LOCK:
        if _STATE["active"] == 0:
            if _STATE["setters"] is None:
                _STATE["setters"] = _setters()
            _STATE["restore"] = tuple(set_threads(1) for set_threads in _STATE["setters"])
        _STATE["active"] += 1


def _exit() -> None:
    with _LOCK:
        _STATE["active"] -= 1
        if _STATE["active"] == 0:
            for set_threads, n in zip(_STATE["setters"], _STATE["restore"], strict=True):
                set_threads(n)
            _STATE["restore"] = ()


class _Limit:
    """Context manager form of :func:`one_blas_thread`."""

    def __enter__(self):
        _enter()
        return self

    def __exit__(self, *exc):
        _exit()
        return False


def one_blas_thread(fn=None):
    """Run ``fn`` with the BLAS libraries limited to one thread (restored afterwards).

    A decorator (``@one_blas_thread``) or, called without arguments, a context manager
    (``with one_blas_thread(): ...``). Nested calls, and calls in other threads, share the limit;
    the last one to end restores the thread counts (see the module docstring).

    An MMRM fit is many products of small matrices (visits x terms); OpenBLAS threads cost more
    to wake than the arithmetic they share, and on a loaded machine far more (measured at 200
    subjects: 2x the CPU time and up to 3x the wall time). The libraries are set directly (a
    few microseconds; threadpoolctl's ``threadpool_limits`` inspects every loaded library each
    time: 3-25 ms once pandas, scipy and statsmodels are loaded, on the 2-core development
    machine).

    Parameters
    ----------
    fn : callable, optional

    Returns
    -------
    callable or context manager
    """
    if fn is None:
        return _Limit()

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        _enter()
        try:
            return fn(*args, **kwargs)
        finally:
            _exit()
    return wrapper
