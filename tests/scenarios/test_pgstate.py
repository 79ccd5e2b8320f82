"""The state in a real PostgreSQL server, shared by two "hosts" (two folders, no shared file,
one URL) against one emulator: what one host learned, the other knows; the advisory lock keeps
two runs of one target from overlapping; a SIGKILL leaves no duplicate; no secret in a dump."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
from pathlib import Path

from provisioner.emulator._faults import FaultPlan, RequestKind
from provisioner.emulator._server import RunningEmulator, running_emulator
from provisioner.engine import ApplyRun, RunOptions
from provisioner.engine._pgstate import PgState
from provisioner.manifest._load import DatabaseSpec
from provisioner.reports._io import load_report
from provisioner.reports._model import Outcome, Report
from provisioner.secrets import Secret
from tests.cliproc import CLI_ORG_ID, cli_env, run_cli, start_cli
from tests.conftest import make_settings
from tests.helpers import manifest, many, write_manifest
from tests.services.postgres import PgDatabase

CANARY = "CANARY-db-pw-91c2e7"


async def _apply_as_host(
    emu: RunningEmulator, host_dir: Path, url: str, specs: list[DatabaseSpec]
) -> Report:
    settings = dataclasses.replace(make_settings(emu, host_dir), state_url=Secret(url))
    return await ApplyRun(manifest(host_dir, specs), settings, RunOptions()).execute()


async def test_host_b_knows_what_host_a_did(
    emulator: RunningEmulator, tmp_path: Path, pg_url: str
) -> None:
    entries = many(20)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = await _apply_as_host(emulator, tmp_path / "a", pg_url, entries)
    assert first.summary.created == 20
    emulator.stats.clear()
    second = await _apply_as_host(emulator, tmp_path / "b", pg_url, entries)
    assert emulator.stats.requests[RequestKind.CREATE] == 0
    assert emulator.stats.requests[RequestKind.PATCH] == 0
    assert {r.status for r in second.results} == {Outcome.EXISTING}
    rotated = list(entries)
    rotated[7] = entries[7]._replace(password=Secret("rotated-password"))
    emulator.stats.clear()
    third = await _apply_as_host(emulator, tmp_path / "b", pg_url, rotated)
    assert emulator.stats.requests[RequestKind.CREATE] == 0
    assert emulator.stats.requests[RequestKind.PATCH] == 1
    assert [r.name for r in third.results if r.status is Outcome.UPDATED] == [entries[7].name]
    assert not list((tmp_path / "b").glob("**/*.db")), "host B kept no file of its own"


def _args(manifest_path: Path, *extra: str) -> list[str]:
    return [
        "apply", str(manifest_path), "--concurrency", "4", "--rate", "100000",
        "--settle", "0.5",  # the emulator's listings do not lag: creates a killed run left
        "--log-format", "json", "--no-progress", "--report", str(manifest_path.parent / "r.json"),
        *extra,
    ]  # fmt: skip


async def _started(proc: asyncio.subprocess.Process, entries: int) -> None:
    """Read the run's log until ``entries`` entries finished (it is mid-run then)."""
    assert proc.stderr is not None
    finished = 0
    while finished < entries:
        line = await proc.stderr.readline()
        assert line, "the run ended early"
        finished += b'"entry_finished"' in line


async def _logged(proc: asyncio.subprocess.Process, event: bytes) -> None:
    """Read the run's log until ``event`` appears."""
    assert proc.stderr is not None
    while event not in (line := await proc.stderr.readline()):
        assert line, "the run ended before it logged the event"


async def _drain(proc: asyncio.subprocess.Process) -> int:
    assert proc.stderr is not None
    await proc.stderr.read()
    return await proc.wait()


def _hosts(tmp_path: Path, names: list[str]) -> tuple[Path, Path]:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    return (
        write_manifest(tmp_path / "a" / "m.yaml", names),
        write_manifest(tmp_path / "b" / "m.yaml", names),
    )


async def test_two_runs_at_once_on_one_url_never_both_create(tmp_path: Path, pg_url: str) -> None:
    names = [f"lock-{i:03d}" for i in range(60)]
    host_a, host_b = _hosts(tmp_path, names)
    async with running_emulator(FaultPlan()) as emu:
        env = cli_env(emu, PROVISIONER_STATE=pg_url)
        first = await start_cli(*_args(host_a), env=env, stdout=asyncio.subprocess.DEVNULL)
        await _started(first, 1)
        first.send_signal(signal.SIGSTOP)  # mid-run, holding the lock, until SIGCONT
        refused = await run_cli(*_args(host_b), env=env)
        assert refused.code == 2
        assert "holds the lock" in refused.stderr
        assert "pg-test-pw" not in refused.stderr
        waiting = await start_cli(
            *_args(host_b, "--wait-lock", "120"), env=env, stdout=asyncio.subprocess.DEVNULL
        )
        await _logged(waiting, b'"lock_waiting"')  # B waits for A's lock
        first.send_signal(signal.SIGCONT)
        assert await _drain(first) == 0
        assert await _drain(waiting) == 0
        assert sorted(c.name for c in emu.store.connections()) == names
        report = load_report(tmp_path / "b" / "r.json")
        assert {r.status for r in report.results} == {Outcome.EXISTING}, "B created nothing"


async def test_sigkill_on_host_a_then_host_b_leaves_no_duplicate(
    tmp_path: Path, pg_db: PgDatabase
) -> None:
    names = [f"kill-{i:03d}" for i in range(120)]
    host_a, host_b = _hosts(tmp_path, names)
    async with running_emulator(FaultPlan(latency_ms=5)) as emu:
        env = cli_env(emu, PROVISIONER_STATE=pg_db.url, DB_PASSWORD=CANARY)
        first = await start_cli(*_args(host_a), env=env, stdout=asyncio.subprocess.DEVNULL)
        await _started(first, 40)
        first.send_signal(signal.SIGKILL)
        assert await first.wait() == -signal.SIGKILL
        again = await run_cli(*_args(host_b), env=env)  # the lock died with A's session
        assert again.code == 0, again.stderr
        stored = emu.store.connections()
        assert sorted(c.name for c in stored) == names, "one connection per entry"
        with PgState.open(pg_db.url) as state:
            rows = state.entries(f"{emu.base_url}|{CLI_ORG_ID}|prod")
        assert len(rows) == len(names)
        assert all(row.created_by_us for row in rows.values())
        assert {row.connection_id for row in rows.values()} == {c.id for c in stored}
    dump = pg_db.dump()
    assert "kill-000" in dump, "the dump holds the state's rows"
    assert CANARY not in dump
