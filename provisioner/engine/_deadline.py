"""A worker's deadline for the entry it is on: one timer per worker, moved only when it falls
due.

``asyncio.timeout`` re-armed for each entry (``reschedule``) cancels a timer and pushes a new
one on the loop's heap every time: about 18,000 instructions per entry (callgrind), 1.5% of
a run. Here an entry that starts only moves the time it is due. The timer, armed for an
earlier entry, falls due first, finds the entry on now due later and moves itself there: a
worker re-arms about once per deadline's length, not once per entry. A fired deadline
cancels the worker's task, as ``asyncio.timeout`` does, and tells its own cancellation from
anyone else's by the task's count of cancel requests.
"""

from __future__ import annotations

import asyncio

__all__ = ["EntryDeadline"]


class EntryDeadline:
    """The current entry's deadline, for the task that creates it (a pool's worker)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        if task is None:  # pragma: no cover - always made inside a worker task
            raise RuntimeError("an EntryDeadline belongs to a task")
        self._task = task
        self._due: float | None = None  # None: no entry running
        self._timer: asyncio.TimerHandle | None = None
        self._armed_for = 0.0
        self._cancels = 0  # the task's cancel requests when the entry started
        self._fired = False

    def start(self) -> None:
        """An entry starts: it has ``seconds`` from now."""
        self._due = self._loop.time() + self.seconds
        self._fired = False
        self._cancels = self._task.cancelling()
        if self._timer is None:
            self._arm(self._due)

    def expired(self) -> bool:
        """Whether a cancellation the entry ended with is this deadline's (not a stop's).
        Call it once, when the entry ended in ``CancelledError``: it withdraws the
        deadline's cancel request, as ``asyncio.timeout`` does on leaving."""
        self._due = None
        return self._fired and self._task.uncancel() <= self._cancels

    def end(self) -> None:
        """The entry ended normally. If its code swallowed the deadline's cancellation, the
        cancel request is withdrawn: its result stands and the worker goes on."""
        self._due = None
        if self._fired:
            self._fired = False
            self._task.uncancel()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self, when: float) -> None:
        self._armed_for = when
        self._timer = self._loop.call_at(when, self._fall_due)

    def _fall_due(self) -> None:
        self._timer = None
        due = self._due
        if due is None:  # between entries: the next one to start arms it again
            return
        if due > self._armed_for and self._loop.time() < due:
            self._arm(due)  # armed for an earlier entry: wait for this one's
            return
        self._fired = True
        self._task.cancel()
