"""The run observers: the bar (rich's) drawn on a real pseudo-terminal, and when it is used."""

from __future__ import annotations

import asyncio
import io
import os
import re
import select
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import pytest
import structlog

from provisioner.cli._logs import configure_logging
from provisioner.cli._progress import ProgressObserver, make_observer
from provisioner.engine import NullObserver, RunObserver
from provisioner.reports._model import Outcome, Result
from tests.cliproc import cli_env

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


def test_log_lines_written_while_the_bar_runs_go_above_it_through_rich(
    tty: Tty, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(fmt="console")  # to stderr, which the bar takes over while drawn
    stderr = sys.stderr
    observer = ProgressObserver(stream=tty.stream)
    observer.start(3)
    try:
        structlog.get_logger().warning("grace_expired", cancelled=2)
        assert sys.stderr is stderr  # nothing is swapped
        observer.entry_finished(_result(Outcome.CREATED))
    finally:
        observer.close()
    structlog.get_logger().warning("after_the_bar")
    text = _ANSI.sub("", _raw(tty, b"1/3").decode())
    lines = [line for line in re.split(r"[\r\n]+", text) if line.strip()]
    logged = next(i for i, line in enumerate(lines) if "grace_expired cancelled=2" in line)
    assert lines[logged + 1].startswith("apply ")  # the bar is drawn again below the line
    err = capsys.readouterr().err
    assert "grace_expired" not in err
    assert "after_the_bar" in err  # once the bar is gone: stderr again


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


def test_a_line_is_fitted_to_a_narrow_terminal(tty: Tty, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "30")
    observer = ProgressObserver(stream=tty.stream)
    observer.start(2)
    observer.entry_finished(_result(Outcome.CREATED))
    observer.close()
    text = _ANSI.sub("", _raw(tty, b"\r\n").decode())
    drawn = [line for line in re.split(r"[\r\n]+", text) if line]
    assert drawn
    assert all(len(line) <= 30 for line in drawn), drawn
    assert "1/2" in drawn[-1]


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


def test_log_lines_go_back_to_stderr_even_when_the_last_draw_fails(
    capsys: pytest.CaptureFixture[str],
) -> None:
    class Gone(io.StringIO):
        def isatty(self) -> bool:
            return True

        def write(self, text: str) -> int:
            if self.closed_terminal:
                raise OSError(5, "Input/output error")
            return super().write(text)

        closed_terminal = False

    configure_logging(fmt="console")
    screen = Gone()
    observer = ProgressObserver(stream=screen)
    observer.start(1)
    screen.closed_terminal = True
    with pytest.raises(OSError, match="Input/output"):
        observer.close()
    structlog.get_logger().warning("still_heard")
    assert "still_heard" in capsys.readouterr().err


def test_a_run_off_a_terminal_never_imports_rich(tmp_path: Path) -> None:
    """Cron and CI pay nothing for the bar: a whole apply with the bar enabled but stderr not a
    terminal, in a fresh interpreter, ends with rich never imported."""
    script = (
        "import sys\n"
        "from provisioner.cli import run\n"
        "sys.argv = ['provisioner', 'apply', 'configs/example.yaml', '--emulator']\n"
        "try:\n"
        "    run()\n"
        "except SystemExit as exc:\n"
        "    print(exc.code, sorted(m for m in sys.modules if m.split('.')[0] == 'rich'))\n"
    )
    env = cli_env(
        ORACLE_PASSWORD="demo-oracle-pw", HR_PASSWORD="demo-hr-pw", BILLING_PASSWORD="demo-b-pw"
    )
    example = Path(__file__).parents[3] / "configs" / "example.yaml"
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "example.yaml").write_text(example.read_text())
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.stdout.split("\n")[-2] == "0 []", (done.stdout, done.stderr)


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
