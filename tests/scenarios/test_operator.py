"""What operators see (issue 6): the progress bar on a terminal, JSON log lines for cron."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import sys
from pathlib import Path

from provisioner.emulator._faults import FaultPlan
from provisioner.emulator._server import running_emulator
from tests.cliproc import cli_env, run_cli
from tests.helpers import write_manifest


def _read_all(fd: int) -> bytes:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


async def test_apply_on_a_terminal_shows_the_progress_bar(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path / "tty.yaml", [f"tty-{i}" for i in range(12)])
    master, slave = pty.openpty()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "provisioner", "apply", str(manifest), "--emulator",
        "--rate", "1000", "--log-level", "warning",
        stdin=slave, stdout=slave, stderr=slave, env=cli_env(COLUMNS="100"),
    )  # fmt: skip
    os.close(slave)
    screen = await asyncio.to_thread(_read_all, master)
    os.close(master)
    assert await proc.wait() == 0
    text = screen.decode(errors="replace")
    assert "12/12" in text
    assert "created" in text
    assert "req/s" in text


async def test_apply_without_a_terminal_shows_no_bar_and_logs_json_lines(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path / "cron.yaml", [f"cron-{i}" for i in range(30)])
    async with running_emulator(FaultPlan(error_rate=0.3, seed=2)) as emu:
        done = await run_cli(
            "apply", str(manifest), "--rate", "1000", "--backoff-base", "0.001",
            "--max-attempts", "10",
            env=cli_env(emu),
        )  # fmt: skip
    assert done.code == 0, done.stderr[-2000:]
    assert "req/s" not in done.stderr
    events = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    assert events
    run_ids = {e.get("run_id") for e in events if e["event"] != "emulator_started"}
    assert len(run_ids) == 1
    assert None not in run_ids
    finished = [e for e in events if e["event"] == "entry_finished"]
    assert len(finished) == 30
    for event in finished:
        assert {"entry", "status", "attempts", "http_status", "duration_ms", "timestamp"} <= set(
            event
        )
    retries = [e for e in events if e["event"] == "retry_scheduled"]
    assert retries
    for event in retries:  # a listing read retried has a kind in place of an entry and a rate
        assert {"attempt", "delay_s", "reason", "http_status"} <= set(event)
        assert {"entry", "rate"} <= set(event) or "kind" in event
