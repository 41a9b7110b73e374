"""Process settings for command-line runs: the C heap's thresholds and the cyclic GC.

**The C heap.** :func:`keep_freed_memory` keeps freed memory in the heap for reuse
(glibc), so the engine's temporaries stop page-faulting.

The DVH engine works on chunks of about 100,000 samples, so each NumPy temporary is
one to a few megabytes. glibc serves blocks that large with ``mmap`` and returns them
to the system when freed, unless a larger block was freed before (its threshold then
rises, dynamically). Whether that happened depends on the order in which a run
allocates: measured on the benchmark plan (issue #11), the same DVHs took 0.65 s
or 0.87 s in one process depending only on when the RTSTRUCT was parsed, all of the
difference in page faults on fresh temporaries. Fixing the thresholds makes every run
take the fast path, whatever it allocated before.

:func:`keep_freed_memory` sets ``M_MMAP_THRESHOLD`` to 32 MiB (glibc's maximum: larger
blocks, such as a dose grid, still get their own mapping) and ``M_TRIM_THRESHOLD`` to
128 MiB (free memory at the top of the heap is returned beyond that). The cost is
memory: up to that much freed memory stays with the process until it exits.
Elsewhere than glibc on Linux it does nothing. The command line calls it for every
command, and each batch or listener worker process at start; a script using the
Python API may call it too.

**The cyclic garbage collector.** A ``check`` or ``dvh`` run allocates some million
objects while it imports pydicom, NumPy, rich and the constraint machinery, and the
collector walks them again and again for cycles that are not there: 30 ms of a 0.46 s
``check`` on the benchmark plan (issue #11). :func:`pause_cyclic_gc` turns it off for
a run that lasts one plan (memory is freed by reference counting as before; only
reference cycles wait for the process to exit). Commands that run for long (``batch``,
``listen``, ``serve``) call :func:`resume_cyclic_gc` when they start, which also
freezes what was imported so later collections skip it.

**Exit.** When the interpreter shuts down it runs one last cyclic collection over
every object still alive (the plan, its DVHs, every module): 45 ms of a 0.45 s
``check`` (median of 9 runs, 0.447 s against 0.404 s). The console script calls
:func:`before_exit` once the command has returned: the objects alive then are frozen,
so that collection skips them; everything else about shutdown (``atexit`` handlers,
flushing and closing files) is unchanged.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["before_exit", "keep_freed_memory", "pause_cyclic_gc", "resume_cyclic_gc"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024
TRIM_THRESHOLD_BYTES = 128 * 1024 * 1024

_done: bool | None = None


def keep_freed_memory() -> bool:
    """Fix glibc's mmap and trim thresholds for this process (once).

    Returns
    -------
    bool
        True when both were set (glibc on Linux), False elsewhere.
    """
    global _done
    if _done is None:
        _done = False
        if sys.platform.startswith("linux"):
            import ctypes

            try:
                mallopt = ctypes.CDLL(None).mallopt
            except (OSError, AttributeError):
                return False
            mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
            mallopt.restype = ctypes.c_int
            _done = bool(
                mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
                and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
            )
    return _done


@contextmanager
def pause_cyclic_gc() -> Iterator[None]:
    """Turn off the cyclic garbage collector while a command runs (restored after, for
    callers such as tests that run several commands in one process)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def resume_cyclic_gc() -> None:
    """Turn the cyclic garbage collector back on for a long run, the modules imported
    so far frozen (never collected, never walked again)."""
    gc.freeze()
    gc.enable()


def before_exit() -> None:
    """Freeze every object alive, so the interpreter's last collection skips them (call
    it only when the process is about to exit)."""
    gc.freeze()
