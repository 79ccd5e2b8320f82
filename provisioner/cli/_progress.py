"""A progress bar for terminals: the RunObserver that draws a run as it goes.

The bar is one line, redrawn in place (carriage return, erase line) at most ten times a second:
the description, a bar, done/total, the count per outcome, the current rate and the time left.
While it is shown, whatever the program writes to ``sys.stdout`` or ``sys.stderr`` (log lines)
goes above it. It stays on screen when the run ends, so the final counts remain above the
summary. On a stream that is not a terminal it prints its final state once, at the end.
Colours unless ``NO_COLOR`` is set. Hand-written (it used rich): importing rich cost about 40 ms
of CPU at every start, for a line of text.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any, Final, TextIO, cast

from provisioner.engine import NullObserver, RunObserver
from provisioner.reports import Outcome, Result

__all__ = ["ProgressObserver", "make_observer"]

_REFRESH: Final = 0.1  # seconds between redraws
_ERASE: Final = "\r\x1b[2K"  # to the line's start, then erase it
_RESET: Final = "\x1b[0m"
_COLOUR_CODE: Final = re.compile("\x1b\\[[0-9;]*m")
_FALLBACK_COLUMNS: Final = 80
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


def _clock_text(seconds: float | None) -> str:
    if seconds is None:
        return "-:--"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _columns(stream: TextIO) -> int:
    """The width of the terminal the bar is drawn on (``COLUMNS`` first, as for shutil)."""
    with contextlib.suppress(KeyError, ValueError):
        if (columns := int(os.environ["COLUMNS"])) > 0:
            return columns
    with contextlib.suppress(AttributeError, OSError, ValueError):
        if (columns := os.get_terminal_size(stream.fileno()).columns) > 0:
            return columns
    return _FALLBACK_COLUMNS


def _fit(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters on screen (colour codes take no room), so that
    it never wraps: a wrapped line could not be erased in place."""
    out: list[str] = []
    shown, inside, coloured = 0, False, False
    for char in text:
        if char == "\x1b":
            inside = coloured = True
        elif inside:
            inside = char != "m"
        elif shown == width:
            return "".join(out) + (_RESET if coloured else "")
        else:
            shown += 1
        out.append(char)
    return text


class ProgressObserver:
    """The progress bar (see the module docstring), drawn on ``stream`` (stderr by default).

    With an event loop running it is refreshed ten times a second (so the time left counts
    down while nothing happens); without one, on each change, at most that often.
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
        self._colour = self._tty and "NO_COLOR" not in os.environ
        self._description = description
        self._clock = clock
        self._counts = {outcome: 0 for outcome in Outcome}
        self._rate: float | None = None
        self._total: int | None = None
        self._started = 0.0
        self._drawn_at = float("-inf")
        self._on_screen = False
        self._held = False  # a lifted write left a line open: drawing now would erase it
        self._closed = False
        self._ticker: asyncio.TimerHandle | None = None
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
        try:
            if self._tty:  # below a line left open, or in place of the bar
                start = "\n" if self._held else _ERASE
                self._stream.write(start + self.line(colour=self._colour) + "\n")
            else:
                self._stream.write(self.line(colour=False) + "\n")
            self._stream.flush()
        finally:
            self._on_screen = False
            self._restore()

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
        columns = _columns(self._stream) - 1
        room = columns - len(self._description) - _visible(tail) - 4
        if room < _BAR_MIN:
            return _fit(f"{self._description} {tail}", columns)
        width = min(room, _BAR_MAX)
        filled = width * min(done, total) // total if total else width
        bar = "=" * filled + " " * (width - filled)
        return f"{self._description} [{bar}] {tail}"

    def clear(self) -> None:
        """Take the bar off the screen (before something else is written)."""
        if self._on_screen:
            self._stream.write(_ERASE)
            self._stream.flush()
            self._on_screen = False

    def hold(self, held: bool) -> None:
        """A line written above the bar is still open (no newline yet): do not draw over it."""
        self._held = held

    def redraw(self) -> None:
        """Put the bar (back) on the screen, while the run lasts."""
        if self._tty and self._total is not None and not self._closed and not self._held:
            self._stream.write(_ERASE + self.line(colour=self._colour))
            self._stream.flush()
            self._on_screen = True

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
        return f"\x1b[{_COLOURS[outcome]}m{text}{_RESET}" if colour else text

    def _restore(self) -> None:
        if self._swapped is not None:
            sys.stdout, sys.stderr = self._swapped
            self._swapped = None


def _visible(text: str) -> int:
    """Length on screen: colour codes take no room."""
    return len(_COLOUR_CODE.sub("", text))


class _Lifted:
    """A stream whose writes appear above the progress bar: the bar is cleared before each
    write and drawn again once the line is complete."""

    def __init__(self, target: TextIO, bar: ProgressObserver) -> None:
        self._target = target
        self._bar = bar

    def write(self, text: str) -> int:
        if not text:
            return 0
        self._bar.clear()
        written = self._target.write(text)
        self._bar.hold(not text.endswith("\n"))
        self._target.flush()
        self._bar.redraw()
        return written

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._target.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


def make_observer(enabled: bool, *, stream: TextIO, description: str = "apply") -> RunObserver:
    """A ProgressObserver when ``enabled`` and ``stream`` is a terminal; else a NullObserver."""
    if enabled and stream.isatty():
        return ProgressObserver(stream=stream, description=description)
    return NullObserver()
