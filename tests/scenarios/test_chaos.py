"""Crash safety: the CLI as a real process against the emulator, killed with SIGKILL mid-run,
then run again until it exits 0. Exactly one connection per entry must exist at the end."""

from __future__ import annotations

import asyncio
import random
import signal
from pathlib import Path

import pytest

from provisioner.emulator._faults import FaultPlan
from provisioner.emulator._server import RunningEmulator, running_emulator
from provisioner.engine._state import StateStore
from provisioner.reports._io import load_report
from tests.cliproc import CLI_ORG_ID, cli_env, start_cli
from tests.helpers import write_manifest

ENTRIES = 500


def _apply_args(manifest: Path, report: Path) -> list[str]:
    return [
        "apply", str(manifest),
        "--concurrency", "16", "--rate", "100000", "--max-attempts", "8",
        "--backoff-base", "0.005", "--backoff-cap", "0.05",
        "--settle", "0.2",  # the emulator's listings do not lag here: a short window will do
        "--log-format", "json", "--no-progress", "--report", str(report),
    ]  # fmt: skip


async def _run_and_kill(
    emu: RunningEmulator, args: list[str], *, revoke_at: int, kill_at: int
) -> int | None:
    """Run apply; revoke every token after ``revoke_at`` entries, SIGKILL after ``kill_at``."""
    proc = await start_cli(*args, env=cli_env(emu), stdout=asyncio.subprocess.DEVNULL)
    assert proc.stderr is not None
    finished = 0
    while line := await proc.stderr.readline():
        if b'"entry_finished"' not in line:
            continue
        finished += 1
        if finished == revoke_at:
            emu.state.revoke_tokens()
        if finished == kill_at:
            proc.send_signal(signal.SIGKILL)
            break
    return await proc.wait()


async def _run(emu: RunningEmulator, args: list[str]) -> int:
    quiet = asyncio.subprocess.DEVNULL
    proc = await start_cli(*args, env=cli_env(emu), stdout=quiet, stderr=quiet)
    return await proc.wait()


@pytest.mark.slow
async def test_sigkill_mid_run_then_reruns_leave_exactly_one_connection_per_entry(
    tmp_path: Path,
) -> None:
    names = [f"chaos-{i:03d}" for i in range(ENTRIES)]
    manifest = write_manifest(tmp_path / "chaos.yaml", names)
    report = tmp_path / "report.json"
    plan = FaultPlan(error_rate=0.2, reset_rate=0.05, seed=20261128)
    kill_at = random.Random(7).randint(120, 380)
    async with running_emulator(plan, tmp_path / "emulator.db") as emu:
        code = await _run_and_kill(
            emu, _apply_args(manifest, report), revoke_at=60, kill_at=kill_at
        )
        assert code == -signal.SIGKILL
        assert emu.stats.resets > 0
        codes = []
        for _ in range(6):
            codes.append(await _run(emu, _apply_args(manifest, report)))
            if codes[-1] == 0:
                break
        assert codes[-1] == 0, codes
        stored = emu.store.connections()
        assert len(stored) == ENTRIES
        assert sorted(c.name for c in stored) == names
        final = load_report(report)
        assert final.summary.total == ENTRIES
        assert {r.connection_id for r in final.results} == {c.id for c in stored}
        with StateStore.open(tmp_path / ".provisioner" / "state.db") as state:
            rows = state.entries(f"{emu.base_url}|{CLI_ORG_ID}|prod")
        assert len(rows) == ENTRIES
        assert all(row.created_by_us for row in rows.values())  # even creates lost to SIGKILL
        assert {row.connection_id for row in rows.values()} == {c.id for c in stored}
