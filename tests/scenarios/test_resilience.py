"""What goes wrong around a run, not inside one entry: credentials refused mid-run, a second
signal, a signal to a rollback, an outage before anything is sent, a report that cannot be
written, odd numbers."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import sqlite3
from pathlib import Path

import pytest

from provisioner.aep._auth import ImsTokenCache, TokenGrant
from provisioner.cli._main import main
from provisioner.emulator._faults import FaultPlan, RequestKind
from provisioner.emulator._server import RunningEmulator, running_emulator
from provisioner.emulator._store import Store
from provisioner.engine import ApplyRun, NullObserver, RunOptions
from provisioner.engine._state import COMMIT_EVERY, StateStore
from provisioner.errors import RetryableError
from provisioner.reports._io import load_report
from provisioner.reports._model import Outcome, Result
from provisioner.secrets import Secret
from tests.cliproc import cli_env, run_cli, start_cli
from tests.conftest import EmulatorFactory, make_settings
from tests.helpers import manifest, many, write_manifest


class _RotateSecretAfter(NullObserver):
    """After ``count`` results, the credential's secret is rotated and every token revoked."""

    def __init__(self, emu: RunningEmulator, count: int) -> None:
        self.emu, self.count, self.seen = emu, count, 0

    def entry_finished(self, result: Result) -> None:
        self.seen += 1
        if self.seen == self.count:
            state = self.emu.state
            state.plan = dataclasses.replace(state.plan, client_secret="rotated-elsewhere")
            state.revoke_tokens()


async def test_credentials_refused_mid_run_fail_the_rest_and_the_report_is_whole(
    start_emulator: EmulatorFactory, tmp_path: Path
) -> None:
    plan = FaultPlan(client_secret="test-secret", latency={"create": 5.0})
    async with start_emulator(plan) as emu:
        settings = make_settings(emu, tmp_path, concurrency=2)
        observer = _RotateSecretAfter(emu, 5)
        run = ApplyRun(manifest(tmp_path, many(20)), settings, RunOptions(), observer=observer)
        report = await run.execute()
        assert report.summary.total == 20
        assert report.summary.created >= 5
        failed = [r for r in report.results if r.status is Outcome.FAILED]
        assert failed
        assert all("IMS refused the credentials" in (r.error or "") for r in failed)
        assert emu.stats.tokens_issued == 1  # a refused secret is not asked again per entry
        assert len(emu.store.connections()) == report.summary.created


@pytest.mark.slow
async def test_second_signal_cancels_in_flight_at_once_and_still_writes_the_report(
    tmp_path: Path,
) -> None:
    path = write_manifest(tmp_path / "slow.yaml", [f"slow-{i}" for i in range(8)])
    report = tmp_path / "r.json"
    async with running_emulator(FaultPlan(latency={"create": 30_000.0})) as emu:
        proc = await start_cli(
            "apply", str(path), "--concurrency", "4", "--rate", "1000",
            "--log-format", "json", "--report", str(report),
            env=cli_env(emu), stdout=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        assert proc.stderr is not None
        signals = 0
        while line := await proc.stderr.readline():
            if signals == 0 and b'"work_started"' in line:
                proc.send_signal(signal.SIGINT)
                signals = 1
            elif signals == 1 and b'"stop_requested"' in line:
                proc.send_signal(signal.SIGINT)  # the second one: do not wait 30 s for answers
                signals = 2
        await proc.wait()
    assert proc.returncode == 130
    result = load_report(report)
    assert result.summary.skipped == 8
    assert {r.error for r in result.results} == {"interrupted"}


async def test_sigterm_stops_a_rollback_gracefully_and_still_writes_its_report(
    tmp_path: Path,
) -> None:
    """Rollback runs in the same skeleton as apply: a signal lets the delete in flight
    finish, starts no other, exits 130 and writes the report (in-flight deletes take 0.5 s)."""
    path = write_manifest(tmp_path / "undo.yaml", [f"undo-{i}" for i in range(8)])
    applied, undone = tmp_path / "apply.json", tmp_path / "rollback.json"
    async with running_emulator(FaultPlan(latency={"delete": 500.0})) as emu:
        env = cli_env(emu)
        made = await run_cli(
            "apply", str(path), "--rate", "1000", "--report", str(applied), env=env
        )
        assert made.code == 0, made.stderr[-2000:]
        proc = await start_cli(
            "rollback", str(applied), "--yes", "--concurrency", "1", "--rate", "1000",
            "--log-format", "json", "--report", str(undone),
            env=env, stdout=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        assert proc.stderr is not None
        signalled = False
        while line := await proc.stderr.readline():
            if not signalled and b'"entry_finished"' in line:
                proc.send_signal(signal.SIGTERM)  # the next delete is in flight by now
                signalled = True
        await proc.wait()
        left = {c.name for c in emu.store.connections()}
    assert proc.returncode == 130
    report = load_report(undone)
    assert len(report.results) == 8
    deleted = {r.name for r in report.results if r.status is Outcome.DELETED}
    skipped = [r for r in report.results if r.status is Outcome.SKIPPED]
    assert len(deleted) >= 2  # the first, and the one in flight when the signal came
    assert skipped
    assert {r.error for r in skipped} == {"interrupted"}
    assert len(deleted) + len(skipped) == 8
    assert left == {r.name for r in skipped}  # nothing deleted that the report calls skipped


async def test_an_outage_before_any_create_fails_every_entry_with_a_report(
    start_emulator: EmulatorFactory, tmp_path: Path
) -> None:
    async with start_emulator(FaultPlan(error_rate=1.0, seed=3)) as emu:
        settings = make_settings(emu, tmp_path)
        report = await ApplyRun(manifest(tmp_path, many(3)), settings, RunOptions()).execute()
        assert {r.status for r in report.results} == {Outcome.FAILED}
        assert all("nothing was sent" in (r.error or "") for r in report.results)
        assert emu.stats.requests[RequestKind.CREATE] == 0


def test_an_unwritable_report_path_is_refused_before_anything_is_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DB_PASSWORD", "pw")
    path = write_manifest(tmp_path / "m.yaml", ["one", "two"])
    (tmp_path / "notadir").write_text("a file")
    code = main(
        ["apply", str(path), "--emulator", "--report", str(tmp_path / "notadir" / "r.json")]
    )
    assert code == 2
    assert "cannot write the report" in capsys.readouterr().err
    store = Store(tmp_path / ".provisioner" / "emulator.db")
    try:
        assert store.connections() == []
    finally:
        store.close()


@pytest.mark.parametrize(
    "flags", [["--timeout", "nan"], ["--timeout", "inf"], ["--entry-deadline", "nan"],
              ["--backoff-cap", "nan"], ["--rate", "inf"]],
)  # fmt: skip
def test_non_finite_numbers_are_usage_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flags: list[str]
) -> None:
    monkeypatch.setenv("DB_PASSWORD", "pw")
    path = write_manifest(tmp_path / "m.yaml", ["one"])
    assert main(["apply", str(path), "--emulator", *flags]) == 2
    assert not (tmp_path / "reports").exists()


async def test_outcome_rows_are_committed_by_a_timer_even_when_no_other_row_follows(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.db"
    with StateStore.open(path) as state:
        state.intend([("t", "a", None)], run_id="r")
        state.record("t", Result(name="a", sandbox="s", status=Outcome.CREATED), run_id="r")
        timer = state._timer
        assert timer is not None
        assert timer.when() - asyncio.get_running_loop().time() <= COMMIT_EVERY
        reader = sqlite3.connect(path)
        assert reader.execute("SELECT count(*) FROM entries").fetchone() == (0,)
        timer._run()  # what the loop does at most COMMIT_EVERY later
        assert reader.execute("SELECT count(*) FROM entries").fetchone() == (1,)
        assert reader.execute("SELECT count(*) FROM intents").fetchone() == (0,)
        reader.close()


async def test_a_cancelled_refresh_does_not_hand_waiters_an_earlier_failure() -> None:
    calls = 0
    entered = asyncio.Event()

    async def fetch() -> TokenGrant:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RetryableError("IMS answered 503", status=503)
        if calls == 2:
            entered.set()
            await asyncio.Event().wait()  # hangs until cancelled
        return TokenGrant(token=Secret("fresh"), expires_in=3600.0)

    cache = ImsTokenCache(fetch)
    with pytest.raises(RetryableError):
        await cache.token()
    hanging = asyncio.create_task(cache.token())
    await entered.wait()
    waiting = asyncio.create_task(cache.token())
    hanging.cancel()
    with pytest.raises(asyncio.CancelledError):
        await hanging
    assert (await waiting).reveal() == "fresh"
