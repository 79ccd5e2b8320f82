"""Watching a run: the RunObserver seam the pool reports to, and a progress bar for terminals.

The bar is one line, redrawn in place (carriage return, erase line) at most ten times a second:
the description, a bar, done/total, the count per outcome, the current rate and the time left.
While it is shown, whatever the program writes to ``sys.stdout`` or ``sys.stderr`` (log lines)
goes above it. It stays on screen when the run ends, so the final counts remain above the
summary. On a stream that is not a terminal it prints its final state once, at the end.
Colours unless ``NO_COLOR`` is set. Hand-written (it used rich): importing rich cost about 40 ms
of CPU at every start, for a line of text.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable
from typing import Any, Final, Protocol, TextIO, cast

from provisioner.report import Outcome, Result

__all__ = ["NullObserver", "ProgressObserver", "RunObserver", "make_observer"]

_REDRAW_EVERY: Final = 0.1  # seconds
_ERASE: Final = "\r\x1b[2K"  # to the line's start, then erase it
_BAR_MAX: Final = 40
_BAR_MIN: Final = 8
_ALWAYS_SHOWN: Final = (Outcome.CREATED, Outcome.EXISTING, Outcome.FAILED)
_SHOWN_IF_ANY: Final = (Outcome.UPDATED, Outcome.DELETED, Outcome.SKIPPED)
_COLOURS: Final = {  # ANSI SGR codes
    Outcome.CREATED: "32",
    Outcome.EXISTING: "36",
    Outcome.UPDATED: "34",
    Outcome.DELETED: "35",
    Outcome.FAILED: "31",
    Outcome.SKIPPED: "33",
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


def _clock_text(seconds: float | None) -> str:
    if seconds is None:
        return "-:--"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class ProgressObserver:
    """The progress bar (see the module docstring), drawn on ``stream`` (stderr by default)."""

    def __init__(
        self,
        *,
        stream: TextIO | None = None,
        description: str = "apply",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._tty = self._stream.isatty()
        self._colour = self._tty and "NO_COLOR" not in os.environ
        self._description = description
        self._clock = clock
        self._counts = {outcome: 0 for outcome in Outcome}
        self._rate: float | None = None
        self._total: int | None = None
        self._started = 0.0
        self._drawn_at = float("-inf")
        self._on_screen = False
        self._closed = False
        self._swapped: tuple[TextIO, TextIO] | None = None  # sys.stdout, sys.stderr before

    def start(self, total: int) -> None:
        if self._total is not None or self._closed:
            return
        self._total = total
        self._started = self._clock()
        if self._tty:
            self._swapped = (sys.stdout, sys.stderr)
            sys.stdout = cast(TextIO, _Lifted(sys.stdout, self))
            sys.stderr = cast(TextIO, _Lifted(sys.stderr, self))
            self.redraw()

    def entry_finished(self, result: Result) -> None:
        self._counts[result.status] += 1
        self._draw_soon()

    def rate_changed(self, rate: float) -> None:
        self._rate = rate
        self._draw_soon()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._total is None:
            return
        if self._tty:
            self._stream.write(_ERASE + self.line(colour=self._colour) + "\n")
            self._on_screen = False
            self._restore()
        else:
            self._stream.write(self.line(colour=False) + "\n")
        self._stream.flush()

    def line(self, *, colour: bool) -> str:
        """The bar's text, fitted to the terminal's width."""
        total = self._total or 0
        done = sum(self._counts.values())
        counts = " ".join(
            self._paint(f"{outcome.value} {self._counts[outcome]}", outcome, colour)
            for outcome in (*_ALWAYS_SHOWN, *_SHOWN_IF_ANY)
            if outcome in _ALWAYS_SHOWN or self._counts[outcome]
        )
        rate = "-" if self._rate is None else f"{self._rate:.1f}"
        tail = f"{done}/{total} {counts} {rate} req/s ETA {_clock_text(self._left(done, total))}"
        room = shutil.get_terminal_size().columns - len(self._description) - _visible(tail) - 4
        if room < _BAR_MIN:
            return f"{self._description} {tail}"
        width = min(room, _BAR_MAX)
        filled = width * min(done, total) // total if total else 0
        bar = "=" * filled + " " * (width - filled)
        return f"{self._description} [{bar}] {tail}"

    def clear(self) -> None:
        """Take the bar off the screen (before something else is written)."""
        if self._on_screen:
            self._stream.write(_ERASE)
            self._stream.flush()
            self._on_screen = False

    def redraw(self) -> None:
        """Put the bar (back) on the screen, while the run lasts."""
        if self._tty and self._total is not None and not self._closed:
            self._stream.write(_ERASE + self.line(colour=self._colour))
            self._stream.flush()
            self._on_screen = True
            self._drawn_at = self._clock()

    def _draw_soon(self) -> None:
        if self._clock() - self._drawn_at >= _REDRAW_EVERY:
            self.redraw()

    def _left(self, done: int, total: int) -> float | None:
        elapsed = self._clock() - self._started
        if done == 0 or elapsed <= 0:
            return None
        return max(0.0, (total - done) * elapsed / done)

    def _paint(self, text: str, outcome: Outcome, colour: bool) -> str:
        return f"\x1b[{_COLOURS[outcome]}m{text}\x1b[0m" if colour else text

    def _restore(self) -> None:
        if self._swapped is not None:
            sys.stdout, sys.stderr = self._swapped
            self._swapped = None


def _visible(text: str) -> int:
    """Length on screen: colour codes take no room."""
    length, inside = 0, False
    for char in text:
        if char == "\x1b":
            inside = True
        elif inside:
            inside = char != "m"
        else:
            length += 1
    return length


class _Lifted:
    """A stream whose writes appear above the progress bar: the bar is cleared before each
    write and drawn again once a line is complete."""

    def __init__(self, target: TextIO, bar: ProgressObserver) -> None:
        self._target = target
        self._bar = bar

    def write(self, text: str) -> int:
        self._bar.clear()
        written = self._target.write(text)
        if text.endswith("\n"):
            self._target.flush()
            self._bar.redraw()
        return written

    def flush(self) -> None:
        self._target.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


def make_observer(enabled: bool, *, stream: TextIO) -> RunObserver:
    """A ProgressObserver when ``enabled`` and ``stream`` is a terminal; else a NullObserver."""
    if enabled and stream.isatty():
        return ProgressObserver(stream=stream)
    return NullObserver()
