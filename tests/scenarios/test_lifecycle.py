"""Migration and lifecycle (issue 8): credential rotation, orphans and prune, verify, rollback."""

from __future__ import annotations

from pathlib import Path

import pytest

from provisioner.cli._main import main
from provisioner.emulator._faults import FaultPlan, RequestKind
from provisioner.emulator._server import RunningEmulator
from provisioner.engine import ApplyRun, RunOptions, run_plan, run_rollback
from provisioner.manifest._load import DatabaseSpec
from provisioner.reports._model import Outcome, Report
from provisioner.secrets import Secret
from provisioner.settings import Backoff
from tests.conftest import EmulatorFactory, make_settings
from tests.helpers import manifest, many, sent_name, spec, write_manifest


async def _apply(
    emu: RunningEmulator,
    tmp_path: Path,
    specs: list[DatabaseSpec],
    options: RunOptions | None = None,
) -> Report:
    settings = make_settings(emu, tmp_path)
    run = ApplyRun(manifest(tmp_path, specs), settings, options or RunOptions())
    return await run.execute()


async def test_rotating_one_password_among_50_sends_one_patch_and_no_create(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    entries = many(50)
    await _apply(emulator, tmp_path, entries)
    before = {c.name: c.auth.fingerprint for c in emulator.store.connections()}
    rotated = list(entries)
    rotated[17] = entries[17]._replace(password=Secret("new-password"))
    emulator.stats.clear()
    rows = await run_plan(
        manifest(tmp_path, rotated), make_settings(emulator, tmp_path), RunOptions()
    )
    assert [r.name for r in rows if r.action == "update"] == [entries[17].name]
    report = await _apply(emulator, tmp_path, rotated)
    assert emulator.stats.requests[RequestKind.PATCH] == 1
    assert emulator.stats.requests[RequestKind.CREATE] == 0
    statuses = {r.name: r.status for r in report.results}
    assert statuses.pop(entries[17].name) is Outcome.UPDATED
    assert set(statuses.values()) == {Outcome.EXISTING}
    after = {c.name: c.auth.fingerprint for c in emulator.store.connections()}
    assert [n for n in after if after[n] != before[n]] == [entries[17].name]
    again = await _apply(emulator, tmp_path, rotated)
    assert again.summary.existing == 50  # the new fingerprint was recorded


async def test_stale_etag_is_read_again_and_the_patch_retried_once(
    emulator: RunningEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from provisioner.aep._client import FlowClient

    entry = spec("etag-race")
    await _apply(emulator, tmp_path, [entry])
    real_patch = FlowClient.patch_connection
    calls: list[str] = []

    async def stale_first(self, connection_id, *, sandbox, etag, ops):
        calls.append(etag)
        if len(calls) == 1:
            etag = '"stale-etag"'
        return await real_patch(self, connection_id, sandbox=sandbox, etag=etag, ops=ops)

    monkeypatch.setattr(FlowClient, "patch_connection", stale_first)
    changed = entry._replace(password=Secret("rotated"))
    report = await _apply(emulator, tmp_path, [changed])
    assert report.results[0].status is Outcome.UPDATED
    assert len(calls) == 2
    assert emulator.stats.responses[RequestKind.PATCH, 412] == 1


async def test_entries_removed_from_manifest_are_orphans_and_prune_deletes_only_ours(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    entries = many(5)
    await _apply(emulator, tmp_path, entries)
    settings = make_settings(emulator, tmp_path)
    rows = await run_plan(manifest(tmp_path, entries[:3]), settings, RunOptions())
    assert sorted(r.name for r in rows if r.action == "orphaned") == [e.name for e in entries[3:]]
    report = await _apply(emulator, tmp_path, entries[:3], RunOptions(prune=True))
    deleted = sorted(r.name for r in report.results if r.status is Outcome.DELETED)
    assert deleted == [e.name for e in entries[3:]]
    assert sorted(c.name for c in emulator.store.connections()) == [e.name for e in entries[:3]]
    again = await _apply(emulator, tmp_path, entries[:3], RunOptions(prune=True))
    assert again.summary.deleted == 0


async def test_prune_never_deletes_a_connection_the_tool_did_not_create(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    await _apply(emulator, tmp_path, [spec("adopted")])  # created by us...
    settings = make_settings(emulator, tmp_path / "other")  # ...but another state knows nothing
    report = await ApplyRun(
        manifest(tmp_path, [spec("mine")]), settings, RunOptions(prune=True)
    ).execute()
    assert report.summary.deleted == 0
    assert emulator.store.count_by_name("adopted") == 1


async def test_verify_records_whether_platform_reaches_the_database(
    start_emulator: EmulatorFactory, tmp_path: Path
) -> None:
    async with start_emulator(FaultPlan(unreachable_hosts=frozenset({"down.example.com"}))) as emu:
        entries = [spec("up", host="up.example.com"), spec("down", host="down.example.com")]
        report = await _apply(emu, tmp_path, entries, RunOptions(verify=True))
    verified = {r.name: r.verified for r in report.results}
    assert verified == {"up": True, "down": False}
    assert {r.status for r in report.results} == {Outcome.CREATED}


async def test_rollback_deletes_exactly_the_created_ones_and_leaves_existing_alone(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    first = await _apply(emulator, tmp_path, many(3, prefix="old"))
    second = await _apply(emulator, tmp_path, [*many(3, prefix="old"), *many(4, prefix="new")])
    assert second.summary.created == 4
    undone = await run_rollback(second, make_settings(emulator, tmp_path))
    assert sorted(r.name for r in undone.results) == [f"new-{i:04d}" for i in range(4)]
    assert {r.status for r in undone.results} == {Outcome.DELETED}
    remaining = {c.id for c in emulator.store.connections()}
    assert remaining == {r.connection_id for r in first.results}
    third = await _apply(emulator, tmp_path, many(4, prefix="new"))
    assert third.summary.created == 4  # the state forgot them: they are made again


async def test_rollback_reports_a_connection_in_use_and_does_not_force_it(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    report = await _apply(emulator, tmp_path, many(2))
    busy = report.results[0].connection_id
    assert busy is not None
    emulator.state.mark_in_use(busy)
    undone = await run_rollback(report, make_settings(emulator, tmp_path))
    by_id = {r.connection_id: r for r in undone.results}
    assert by_id[busy].status is Outcome.FAILED
    assert "FLOW-1418-400" in (by_id[busy].error or "")
    assert emulator.store.count_by_name(report.results[0].name) == 1


def test_rollback_cli_refuses_without_yes_off_a_terminal_and_deletes_with_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DB_PASSWORD", "pw")
    path = write_manifest(tmp_path / "m.yaml", ["one", "two"])
    report = tmp_path / "r.json"
    assert main(["apply", str(path), "--emulator", "--report", str(report)]) == 0
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main(["rollback", str(report), "--emulator"]) == 2
    out = capsys.readouterr()
    assert "one" in out.out
    assert "--yes" in out.err
    assert main(["rollback", str(report), "--emulator", "--yes"]) == 0
    assert "2 deleted" in capsys.readouterr().out


async def test_intents_outlive_only_creates_whose_outcome_is_unknown(
    emulator: RunningEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused create (400) leaves no intent; one that kept failing with 5xx keeps its
    intent, so a connection found later under that name is adopted as this tool's own."""
    from provisioner.aep._client import FlowClient
    from provisioner.engine._state import StateStore
    from provisioner.errors import RetryableError

    refused, lost = spec("refused"), spec("lost")
    refused = refused._replace(sid="")  # the emulator answers 400
    real_create = FlowClient.create_connection

    async def lose_one(self, body, *, sandbox):
        if sent_name(body) == "lost":
            await real_create(self, body, sandbox=sandbox)  # it lands...
            raise RetryableError("create: HTTP 502", status=502)  # ...the answer does not
        return await real_create(self, body, sandbox=sandbox)

    monkeypatch.setattr(FlowClient, "create_connection", lose_one)
    settings = make_settings(emulator, tmp_path, backoff=Backoff(base=0, cap=0, max_attempts=1))
    report = await ApplyRun(manifest(tmp_path, [refused, lost]), settings, RunOptions()).execute()
    assert [r.http_status for r in report.results] == [400, 502]
    with StateStore.open(settings.state_path) as state:
        assert set(state.intents(settings.target("prod"))) == {"lost"}
    monkeypatch.setattr(FlowClient, "create_connection", real_create)
    again = await ApplyRun(manifest(tmp_path, [lost]), settings, RunOptions()).execute()
    assert again.results[0].status is Outcome.EXISTING
    with StateStore.open(settings.state_path) as state:
        row = state.entries(settings.target("prod"))["lost"]
        assert row.created_by_us
        assert state.intents(settings.target("prod")) == {}
