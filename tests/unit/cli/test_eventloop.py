"""The event loop: uvloop in a process of our own when installed, asyncio's loop otherwise or
when asked, and a bad choice refused before anything runs."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest

from provisioner.cli import _eventloop as eventloop
from provisioner.cli._main import main
from provisioner.errors import ConfigError
from tests.cliproc import cli_env
from tests.helpers import write_manifest

uvloop = pytest.importorskip("uvloop")  # a dependency except on Windows


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


@pytest.fixture
def ours(monkeypatch: pytest.MonkeyPatch) -> None:
    """As after ``for_process()`` (the console script), undone after the test."""
    monkeypatch.setattr(eventloop, "_ours", False)
    eventloop.for_process()


def test_a_library_caller_keeps_asyncios_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(eventloop, "_ours", False)
    assert eventloop.loop_factory({}) is None
    assert eventloop.run({}, _loop_module).startswith("asyncio")


@pytest.mark.usefixtures("ours")
def test_a_process_of_ours_runs_on_uvloop() -> None:
    assert eventloop.loop_factory({}) is uvloop.new_event_loop
    assert eventloop.run({"PROVISIONER_LOOP": "auto"}, _loop_module).startswith("uvloop")


@pytest.mark.usefixtures("ours")
def test_asyncio_can_be_chosen_in_a_process_of_ours() -> None:
    assert eventloop.run({"PROVISIONER_LOOP": " Asyncio "}, _loop_module).startswith("asyncio")


def test_uvloop_can_be_asked_for_by_a_library_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(eventloop, "_ours", False)
    assert eventloop.run({"PROVISIONER_LOOP": "uvloop"}, _loop_module).startswith("uvloop")


@pytest.mark.usefixtures("ours")
def test_without_uvloop_auto_falls_back_and_uvloop_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop -> ImportError
    assert eventloop.loop_factory({}) is None
    with pytest.raises(ConfigError, match="PROVISIONER_LOOP=uvloop, but uvloop is not installed"):
        eventloop.loop_factory({"PROVISIONER_LOOP": "uvloop"})


def test_a_bad_choice_is_refused_before_the_coroutine_is_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(eventloop, "_ours", False)
    made: list[str] = []

    def make() -> Coroutine[Any, Any, str]:
        made.append("coroutine")
        return _loop_module()

    with pytest.raises(ConfigError, match=r"PROVISIONER_LOOP: expected one of auto, asyncio, uvlo"):
        eventloop.run({"PROVISIONER_LOOP": "fast"}, make)
    assert made == []  # nothing made, so no "coroutine was never awaited" either
    assert eventloop.run({}, make).startswith("asyncio")
    assert made == ["coroutine"]


def test_a_bad_choice_exits_2_and_sends_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DB_PASSWORD", "pw")
    monkeypatch.setenv("PROVISIONER_LOOP", "fast")
    manifest = write_manifest(tmp_path / "m.yaml", ["one"])
    assert main(["apply", str(manifest), "--emulator", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "PROVISIONER_LOOP: expected one of auto, asyncio, uvloop, got 'fast'" in err
    assert "Traceback" not in err
    emulator_data = tmp_path / ".provisioner" / "emulator.db"
    assert not emulator_data.exists()  # the emulator never started: nothing was sent
    monkeypatch.setenv("PROVISIONER_LOOP", "asyncio")
    assert main(["apply", str(manifest), "--emulator", "--no-progress"]) == 0
    assert emulator_data.exists()


def _console_loop(manifest: Path, **env: str) -> str:
    """The loop ``python -m provisioner plan`` ran on, from its debug log."""
    argv = ["plan", str(manifest), "--emulator", "--log-level", "debug", "--log-format", "json"]
    done = subprocess.run(
        [sys.executable, "-m", "provisioner", *argv],
        env=cli_env(None, **env),
        capture_output=True,
        text=True,
        timeout=25,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    events = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    loops = [e["loop"] for e in events if e.get("event") == "event_loop"]
    assert len(loops) == 1, done.stderr[-2000:]
    return str(loops[0])


def test_the_console_process_runs_on_uvloop_unless_told_otherwise(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path / "m.yaml", ["one", "two"])
    assert _console_loop(manifest) == "uvloop"
    assert _console_loop(manifest, PROVISIONER_LOOP="asyncio") == "asyncio"
