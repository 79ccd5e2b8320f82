"""The run observers: the bar drawn on a real pseudo-terminal, and when it is used."""

from __future__ import annotations

import asyncio
import io
import os
import re
import select
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TextIO

import pytest

from provisioner.cli._progress import ProgressObserver, make_observer
from provisioner.engine import NullObserver, RunObserver
from provisioner.reports._model import Outcome, Result

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass
class Tty:
    master: int
    stream: TextIO

    def read_until(self, *needles: str) -> str:
        """Read what was drawn until the last line drawn holds every needle (or 5 s pass)."""
        raw = b""
        while not all(n in _last_line(raw) for n in needles):
            ready, _, _ = select.select([self.master], [], [], 5)
            if not ready:
                break
            raw += os.read(self.master, 65536)
        return _last_line(raw)


def _last_line(raw: bytes) -> str:
    text = _ANSI.sub("", raw.decode("utf-8", errors="replace"))
    lines = [line for line in re.split(r"[\r\n]+", text) if line.strip()]
    return lines[-1] if lines else ""


@pytest.fixture
def tty(monkeypatch: pytest.MonkeyPatch) -> Iterator[Tty]:
    for var in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "NO_COLOR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("COLUMNS", "120")
    master, slave = os.openpty()
    stream = os.fdopen(slave, "w", encoding="utf-8")
    try:
        yield Tty(master=master, stream=stream)
    finally:
        stream.close()
        os.close(master)


def _result(status: Outcome) -> Result:
    return Result(name=f"db-{status.value}", sandbox="prod", status=status)


def test_progress_bar_shows_done_total_counts_and_rate(tty: Tty) -> None:
    observer: RunObserver = make_observer(True, stream=tty.stream)
    assert isinstance(observer, ProgressObserver)
    try:
        observer.start(5)
        observer.rate_changed(7.5)
        for status in (Outcome.CREATED, Outcome.EXISTING, Outcome.FAILED):
            observer.entry_finished(_result(status))
    finally:
        observer.close()
    line = tty.read_until("3/5", "7.5 req/s")
    assert "apply" in line
    assert "3/5" in line
    assert "created 1" in line
    assert "existing 1" in line
    assert "failed 1" in line
    assert "7.5 req/s" in line
    assert "ETA" in line
    assert "updated" not in line
    assert "skipped" not in line


def test_progress_bar_shows_updated_and_skipped_once_there_are_some(tty: Tty) -> None:
    observer = ProgressObserver(stream=tty.stream, description="plan")
    try:
        observer.start(2)
        observer.entry_finished(_result(Outcome.UPDATED))
        observer.entry_finished(_result(Outcome.SKIPPED))
    finally:
        observer.close()
    line = tty.read_until("2/2")
    assert line.startswith("plan")
    assert "created 0 existing 0 failed 0 updated 1 skipped 1" in line
    assert "- req/s" in line


def test_what_happened_before_start_is_shown(tty: Tty) -> None:
    observer = ProgressObserver(stream=tty.stream)
    observer.rate_changed(2.0)
    observer.entry_finished(_result(Outcome.CREATED))
    try:
        observer.start(4)
    finally:
        observer.close()
    line = tty.read_until("1/4", "2.0 req/s")
    assert "1/4" in line  # an entry that ended before the start counts as done
    assert "created 1" in line


def test_close_is_idempotent_and_start_after_close_draws_nothing() -> None:
    out = io.StringIO()
    observer = ProgressObserver(stream=out)
    observer.close()
    observer.start(3)
    observer.entry_finished(_result(Outcome.CREATED))
    observer.close()
    assert out.getvalue() == ""


def test_progress_on_a_plain_stream_prints_the_final_state_once() -> None:
    out = io.StringIO()
    observer = ProgressObserver(stream=out)
    observer.start(2)
    observer.start(9)  # a second start is ignored
    observer.entry_finished(_result(Outcome.CREATED))
    observer.close()
    observer.close()
    text = out.getvalue()
    assert "\x1b" not in text
    assert text.count("1/2") == 1
    assert "/9" not in text


def _raw(tty: Tty, until: bytes) -> bytes:
    raw = b""
    while until not in raw:
        ready, _, _ = select.select([tty.master], [], [], 5)
        if not ready:
            break
        raw += os.read(tty.master, 65536)
    return raw


def _on_stderr(tty: Tty, monkeypatch: pytest.MonkeyPatch) -> ProgressObserver:
    """A bar on the terminal that is also ``sys.stderr``, as in a run (set in the test's
    body: pytest's capture swaps ``sys.stderr`` between a fixture and the test)."""
    monkeypatch.setattr(sys, "stderr", tty.stream)
    return ProgressObserver(stream=tty.stream)


def test_lines_written_while_the_bar_runs_go_above_it(
    tty: Tty, monkeypatch: pytest.MonkeyPatch
) -> None:
    observer = _on_stderr(tty, monkeypatch)
    observer.start(3)
    try:
        assert sys.stderr is not tty.stream  # lifted while the bar is shown
        sys.stderr.write("a log line\n")
        observer.entry_finished(_result(Outcome.CREATED))
    finally:
        observer.close()
    assert sys.stderr is tty.stream  # given back
    raw = _raw(tty, b"1/3")
    # the bar is erased, the line written, then the bar drawn again below it
    assert re.search(rb"\r\x1b\[2Ka log line\r?\n\r\x1b\[2Kapply \[", raw), raw


def test_time_left_comes_from_the_pace_so_far(tty: Tty) -> None:
    now = [100.0]
    observer = ProgressObserver(stream=tty.stream, clock=lambda: now[0])
    observer.start(4)
    now[0] = 110.0  # two done in ten seconds: two left take ten more
    observer.entry_finished(_result(Outcome.CREATED))
    observer.entry_finished(_result(Outcome.CREATED))
    observer.close()
    assert "ETA 0:10" in tty.read_until("2/4")


def test_no_color_and_a_narrow_terminal(tty: Tty, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "60")  # too narrow for a bar: the figures stay
    observer = ProgressObserver(stream=tty.stream)
    observer.start(2)
    observer.entry_finished(_result(Outcome.FAILED))
    observer.close()
    raw = _raw(tty, b"1/2").decode()
    assert "\x1b[3" not in raw  # no colour codes
    assert "[=" not in raw
    assert "[ " not in raw
    assert "1/2 created 0 existing 0 failed 1 - req/s ETA" in raw


def test_a_line_never_wraps_so_it_can_be_erased_in_place(
    tty: Tty, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "30")
    observer = ProgressObserver(stream=tty.stream)
    observer.start(2)
    observer.entry_finished(_result(Outcome.CREATED))
    observer.close()
    text = _ANSI.sub("", _raw(tty, b"\r\n").decode())
    drawn = [line for line in re.split(r"[\r\n]+", text) if line]
    assert drawn
    assert all(len(line) <= 29 for line in drawn), drawn


def test_the_bar_is_refreshed_while_nothing_happens_and_not_lost_when_updates_bunch(
    tty: Tty,
) -> None:
    """With a loop running, updates that come faster than the refresh still show, and the
    time left keeps counting down."""
    now = [0.0]

    async def refreshed() -> None:  # the refresh is due at once: a few loop turns run it
        for _ in range(3):
            await asyncio.sleep(0)

    async def run() -> None:
        observer = ProgressObserver(stream=tty.stream, clock=lambda: now[0], refresh=0.0)
        observer.start(10)
        for _ in range(5):
            observer.entry_finished(_result(Outcome.CREATED))  # a burst, all at once
        now[0] = 5.0
        await refreshed()
        assert "5/10" in tty.read_until("5/10")
        now[0] = 8.0  # nothing happens, but the time left goes down
        await refreshed()
        assert "ETA 0:08" in tty.read_until("ETA 0:08")
        observer.close()

    asyncio.run(run())


def test_a_line_left_open_above_the_bar_is_not_drawn_over(
    tty: Tty, monkeypatch: pytest.MonkeyPatch
) -> None:
    observer = _on_stderr(tty, monkeypatch)
    observer.start(1)
    try:
        sys.stderr.writelines(["Continue? ", "(waiting)"])
        observer.entry_finished(_result(Outcome.CREATED))
    finally:
        observer.close()
    raw = _raw(tty, b"1/1").decode()
    assert "Continue? (waiting)\r\napply" in raw  # the bar went below it, nothing erased it


def test_streams_are_given_back_even_when_the_last_draw_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Gone(io.StringIO):
        def isatty(self) -> bool:
            return True

        def write(self, text: str) -> int:
            if self.closed_terminal:
                raise OSError(5, "Input/output error")
            return super().write(text)

        closed_terminal = False

    screen = Gone()
    before = (sys.stdout, sys.stderr)
    observer = ProgressObserver(stream=screen)
    observer.start(1)
    screen.closed_terminal = True
    with pytest.raises(OSError, match="Input/output"):
        observer.close()
    assert (sys.stdout, sys.stderr) == before


def test_make_observer_is_null_for_a_stream_that_is_not_a_terminal() -> None:
    assert isinstance(make_observer(True, stream=io.StringIO()), NullObserver)


def test_make_observer_names_the_bar(tty: Tty) -> None:
    observer = make_observer(True, stream=tty.stream, description="rollback")
    observer.start(1)
    observer.close()
    assert tty.read_until("0/1").startswith("rollback ")


def test_make_observer_is_null_when_disabled(tty: Tty) -> None:
    assert isinstance(make_observer(False, stream=tty.stream), NullObserver)


def test_null_observer_accepts_every_call() -> None:
    observer: RunObserver = NullObserver()
    observer.start(1)
    observer.rate_changed(1.0)
    observer.entry_finished(_result(Outcome.FAILED))
    observer.close()
