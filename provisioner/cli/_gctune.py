"""The cyclic garbage collector, tuned for one CLI run.

A run holds a large, long-lived manifest (and later its results) while it allocates many small,
short-lived objects per request. Under CPython's default thresholds (700 allocations) the
collector then runs thousands of times, and each older-generation pass walks every live object
again: measured at about a quarter of ``apply``'s CPU on 5,000 entries (``bench/README.md``).

So a process that is ours (the console script, ``python -m provisioner``) raises the first
threshold, and freezes what is alive once the manifest is loaded (``gc.freeze``: the collector
stops re-scanning it; reference counting still frees it). Cycles are still collected, only less
often (``provisioner emulator``, a long-running server, keeps the raised threshold too). No
``gc.collect()`` comes first: the few hundred objects of start-up garbage it would free are not
worth a full pass. A library caller (tests, an embedding program) keeps its own settings:
nothing here runs unless :func:`for_batch` was called.
"""

from __future__ import annotations

import gc
from typing import Final

__all__ = ["GEN0_THRESHOLD", "for_batch", "settle"]

GEN0_THRESHOLD: Final = 50_000

_tuned = False


def for_batch() -> None:
    """At process start: collect the youngest generation every ``GEN0_THRESHOLD`` allocations."""
    global _tuned
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, gen1, gen2)
    _tuned = True


def settle() -> None:
    """Once the long-lived data is loaded: stop scanning it (only after :func:`for_batch`)."""
    if _tuned:
        gc.freeze()
