"""EntryDeadline on its own: a timer that falls due between entries cancels nothing, and the
next entry arms a timer of its own; a stop's cancellation is never taken for the deadline's."""

from __future__ import annotations

import asyncio

import pytest

from provisioner.engine._deadline import EntryDeadline


class LoopClock:
    """The running loop's clock, moved by hand."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        loop = asyncio.get_running_loop()
        self.now = loop.time()
        monkeypatch.setattr(loop, "time", lambda: self.now)

    async def turns(self, seconds: float) -> None:
        self.now += seconds
        for _ in range(3):
            await asyncio.sleep(0)


async def test_a_timer_that_falls_due_between_entries_cancels_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = LoopClock(monkeypatch)
    deadline = EntryDeadline(10.0)
    deadline.start()
    await clock.turns(1.0)
    deadline.end()
    await clock.turns(20.0)  # the first entry's timer falls due with no entry running
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]
    deadline.start()  # the next entry arms a timer of its own ...
    with pytest.raises(asyncio.CancelledError):
        await clock.turns(11.0)  # ... which fires after its full 10 s
    assert deadline.expired()
    deadline.close()


async def test_a_stop_is_not_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = LoopClock(monkeypatch)
    deadline = EntryDeadline(10.0)
    task = asyncio.current_task()
    assert task is not None
    deadline.start()
    asyncio.get_running_loop().call_soon(task.cancel)  # a stop, before the deadline
    with pytest.raises(asyncio.CancelledError):
        await clock.turns(1.0)
    assert not deadline.expired()
    task.uncancel()
    deadline.close()
