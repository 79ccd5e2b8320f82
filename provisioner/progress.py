"""Watching a run: the RunObserver seam the pool reports to, and a rich progress bar for TTYs."""

from __future__ import annotations

import sys
from typing import Final, Protocol, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Column
from rich.text import Text

from provisioner.report import Outcome, Result

__all__ = ["NullObserver", "ProgressObserver", "RunObserver", "make_observer"]

_SHOWN: Final = (Outcome.CREATED, Outcome.EXISTING, Outcome.FAILED)
_SHOWN_IF_ANY: Final = (Outcome.UPDATED, Outcome.DELETED, Outcome.SKIPPED)
_STYLES: Final = {
    Outcome.CREATED: "green",
    Outcome.EXISTING: "cyan",
    Outcome.UPDATED: "blue",
    Outcome.DELETED: "magenta",
    Outcome.FAILED: "red",
    Outcome.SKIPPED: "yellow",
}


class RunObserver(Protocol):
    """What a run tells whoever watches it. Calls come from the event loop's thread."""

    def start(self, total: int) -> None:
        """The run begins with ``total`` entries to act on."""

    def entry_finished(self, result: Result) -> None:
        """One entry ended (any outcome)."""

    def rate_changed(self, rate: float) -> None:
        """The request rate now allowed, in requests per second."""

    def close(self) -> None:
        """The run is over; release the display. Safe to call more than once."""


class NullObserver:
    """Watches nothing: for non-TTY streams and ``--no-progress``."""

    def start(self, total: int) -> None:
        pass

    def entry_finished(self, result: Result) -> None:
        pass

    def rate_changed(self, rate: float) -> None:
        pass

    def close(self) -> None:
        pass


class _CountsColumn(ProgressColumn):
    """created/existing/failed counts, plus updated and skipped once there are any."""

    def render(self, task: Task) -> Text:
        counts: dict[Outcome, int] = task.fields.get("counts", {})
        text = Text()
        for outcome in (*_SHOWN, *_SHOWN_IF_ANY):
            count = counts.get(outcome, 0)
            if outcome in _SHOWN_IF_ANY and not count:
                continue
            if text:
                text.append(" ")
            text.append(f"{outcome.value} {count}", style=_STYLES[outcome])
        return text


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        rate = task.fields.get("rate")
        shown = "-" if rate is None else f"{float(rate):.1f}"
        return Text(f"{shown} req/s", style="magenta")


class ProgressObserver:
    """A progress bar: done/total, counts per outcome, the current rate and the ETA.

    It draws on ``stream`` (stderr by default) and stays on screen when the run ends, so the
    final counts remain above the summary. While it runs, rich lifts writes to ``sys.stdout``
    and ``sys.stderr`` above the bar.
    """

    def __init__(self, *, stream: TextIO | None = None, description: str = "apply") -> None:
        self._console = Console(file=stream if stream is not None else sys.stderr)
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=None, table_column=Column(ratio=1)),
            MofNCompleteColumn(table_column=Column(no_wrap=True)),
            _CountsColumn(table_column=Column(no_wrap=True)),
            _RateColumn(table_column=Column(no_wrap=True)),
            TextColumn("ETA"),
            TimeRemainingColumn(compact=True),
            console=self._console,
            transient=False,
            expand=True,
        )
        self._description = description
        self._task: TaskID | None = None
        self._counts = {outcome: 0 for outcome in Outcome}
        self._rate: float | None = None
        self._closed = False

    def start(self, total: int) -> None:
        if self._task is not None or self._closed:
            return
        self._task = self._progress.add_task(
            self._description, total=total, rate=self._rate, counts=dict(self._counts)
        )
        self._progress.start()

    def entry_finished(self, result: Result) -> None:
        self._counts[result.status] += 1
        if self._task is not None:
            self._progress.update(self._task, advance=1, counts=dict(self._counts))

    def rate_changed(self, rate: float) -> None:
        self._rate = rate
        if self._task is not None:
            self._progress.update(self._task, rate=rate)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._task is not None:
            self._progress.stop()


def make_observer(enabled: bool, *, stream: TextIO) -> RunObserver:
    """A ProgressObserver when ``enabled`` and ``stream`` is a terminal; else a NullObserver."""
    if enabled and stream.isatty():
        return ProgressObserver(stream=stream)
    return NullObserver()
