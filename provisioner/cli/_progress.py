"""A progress bar for terminals: the RunObserver that draws a run as it goes, with rich.

The bar is one line: the description, a bar, done/total, the count per outcome, the current rate
and the time left. While it is drawn, console log lines are printed above it by rich's console
(``divert_lines``); nothing swaps ``sys.stdout`` or ``sys.stderr``. It stays on screen when the
run ends, so the final counts remain above the summary. Colours unless ``NO_COLOR`` is set (rich
honours it). rich is imported only when a bar is drawn: a run that is not on a terminal (cron,
CI, ``--no-progress``) gets a NullObserver and never imports it. On a stream that is not a
terminal a ProgressObserver prints its final state once, at the end, as plain text.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, TextIO

from provisioner.cli._logs import divert_lines
from provisioner.engine import NullObserver, RunObserver
from provisioner.reports import Outcome, Result

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

__all__ = ["ProgressObserver", "make_observer"]

_REFRESH: Final = 0.1  # seconds between redraws
_BAR_WIDTH: Final = 40
_ALWAYS_SHOWN: Final = (Outcome.CREATED, Outcome.EXISTING, Outcome.FAILED)
_SHOWN_IF_ANY: Final = (Outcome.UPDATED, Outcome.DELETED, Outcome.SKIPPED)
_COLOURS: Final = {
    Outcome.CREATED: "green",
    Outcome.EXISTING: "cyan",
    Outcome.UPDATED: "blue",
    Outcome.DELETED: "magenta",
    Outcome.FAILED: "red",
    Outcome.SKIPPED: "yellow",
}


def _clock_text(seconds: float | None) -> str:
    if seconds is None:
        return "-:--"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class ProgressObserver:
    """The progress bar (see the module docstring), drawn on ``stream`` (stderr by default).

    With an event loop running it is refreshed ten times a second (so the time left counts
    down while nothing happens); without one, on each change, at most that often. It draws
    from the loop's thread only: rich's own refresh thread is not used.
    """

    def __init__(
        self,
        *,
        stream: TextIO | None = None,
        description: str = "apply",
        clock: Callable[[], float] = time.monotonic,
        refresh: float = _REFRESH,
    ) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._refresh = refresh
        isatty = getattr(self._stream, "isatty", None)
        self._tty = bool(isatty()) if callable(isatty) else False
        self._description = description
        self._clock = clock
        self._counts = dict.fromkeys(Outcome, 0)
        self._rate: float | None = None
        self._total: int | None = None
        self._started = 0.0
        self._drawn_at = float("-inf")
        self._closed = False
        self._ticker: asyncio.TimerHandle | None = None
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def start(self, total: int) -> None:
        if self._total is not None or self._closed:
            return
        self._total = total
        self._started = self._clock()
        if self._tty:
            figures = self.figures(colour=True)
            self._bar, self._task = _draw_on(self._stream, self._description, total, figures)
            divert_lines(self.print_above)
            self.redraw()  # with what ended before the start
            with contextlib.suppress(RuntimeError):  # no running loop: draw on changes
                self._ticker = asyncio.get_running_loop().call_later(self._refresh, self._tick)

    def entry_finished(self, result: Result) -> None:
        self._counts[result.status] += 1
        self._changed()

    def rate_changed(self, rate: float) -> None:
        self._rate = rate
        self._changed()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._ticker is not None:
            self._ticker.cancel()
        if self._total is None:
            return
        if self._bar is None:
            self._stream.write(f"{self._description} {self.figures(colour=False)}\n")
            self._stream.flush()
            return
        try:
            self.redraw(final=True)
            self._bar.stop()
        finally:
            divert_lines(None)

    def figures(self, *, colour: bool) -> str:
        """What the bar says beside the bar itself: done/total, counts, rate, time left."""
        total = self._total or 0
        done = self._done()
        counts = " ".join(
            self._paint(f"{outcome.value} {self._counts[outcome]}", outcome, colour)
            for outcome in (*_ALWAYS_SHOWN, *_SHOWN_IF_ANY)
            if outcome in _ALWAYS_SHOWN or self._counts[outcome]
        )
        rate = "-" if self._rate is None else f"{self._rate:.1f}"
        return f"{done}/{total} {counts} {rate} req/s ETA {_clock_text(self._left(done, total))}"

    def print_above(self, line: str) -> None:
        """Print a (log) line above the bar; the bar is drawn again below it."""
        if self._bar is None:
            return
        from rich.text import Text  # rich only once a bar is drawn

        self._bar.console.print(Text.from_ansi(line), soft_wrap=True)

    def redraw(self, *, final: bool = False) -> None:
        """Draw the bar with the figures as they are now, while the run lasts."""
        if self._bar is None or self._task is None or (self._closed and not final):
            return
        self._bar.update(
            self._task, completed=self._done(), figures=self.figures(colour=True), refresh=True
        )

    def _done(self) -> int:
        return sum(self._counts.values())

    def _changed(self) -> None:
        if self._ticker is not None or self._clock() - self._drawn_at < self._refresh:
            return  # the ticker draws it, or it was drawn a moment ago
        self._drawn_at = self._clock()
        self.redraw()

    def _tick(self) -> None:
        self._ticker = None
        if self._closed:
            return
        self.redraw()
        self._ticker = asyncio.get_running_loop().call_later(self._refresh, self._tick)

    def _left(self, done: int, total: int) -> float | None:
        elapsed = self._clock() - self._started
        if done == 0 or elapsed <= 0:
            return None
        return max(0.0, (total - done) * elapsed / done)

    def _paint(self, text: str, outcome: Outcome, colour: bool) -> str:
        return f"[{_COLOURS[outcome]}]{text}[/]" if colour else text


def _draw_on(stream: TextIO, description: str, total: int, figures: str) -> tuple[Progress, TaskID]:
    """A started rich Progress on ``stream`` with one task; refreshed by us, not by a thread."""
    from rich.console import Console  # rich only once a bar is drawn
    from rich.progress import BarColumn, Progress, TextColumn
    from rich.table import Column

    console = Console(file=stream, highlight=False)  # it honours NO_COLOR itself
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(bar_width=_BAR_WIDTH),
        TextColumn(
            "{task.fields[figures]}",
            table_column=Column(no_wrap=True, overflow="ellipsis"),
        ),
        console=console,
        auto_refresh=False,
        redirect_stdout=False,
        redirect_stderr=False,
    )
    task = bar.add_task(description, total=total, completed=0, figures=figures)
    bar.start()
    return bar, task


def make_observer(enabled: bool, *, stream: TextIO, description: str = "apply") -> RunObserver:
    """A ProgressObserver when ``enabled`` and ``stream`` is a terminal; else a NullObserver."""
    if enabled and stream.isatty():
        return ProgressObserver(stream=stream, description=description)
    return NullObserver()
