"""apply end to end against the real emulator on a free port."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from provisioner.emulator._faults import FaultPlan, RequestKind
from provisioner.engine import ApplyRun, RunOptions
from provisioner.reports._model import Outcome
from tests.conftest import EmulatorFactory, make_settings
from tests.helpers import manifest, many, spec


@pytest.mark.slow
async def test_apply_creates_each_entry_once_under_errors_and_rate_limit(
    start_emulator: EmulatorFactory, tmp_path: Path
) -> None:
    plan = FaultPlan(error_rate=0.2, rate_limit=50, seed=7)
    async with start_emulator(plan) as emu:
        settings = make_settings(emu, tmp_path, concurrency=16)
        run = ApplyRun(manifest(tmp_path, many(200)), settings, RunOptions())
        report = await run.execute()
        assert report.summary.created == 200, [r.error for r in report.results if not r.ok][:5]
        stored = emu.store.connections()
        names = [c.name for c in stored]
        assert len(names) == 200
        assert len(set(names)) == 200
        assert {r.connection_id for r in report.results} == {c.id for c in stored}
        assert emu.stats.injected_errors > 0


async def test_second_apply_sends_no_create_and_reports_existing(
    start_emulator: EmulatorFactory, tmp_path: Path
) -> None:
    async with start_emulator(FaultPlan()) as emu:
        settings = make_settings(emu, tmp_path)
        entries = many(30)
        first = await ApplyRun(manifest(tmp_path, entries), settings, RunOptions()).execute()
        assert first.summary.created == 30
        emu.stats.clear()
        second = await ApplyRun(manifest(tmp_path, entries), settings, RunOptions()).execute()
        assert second.summary.existing == 30
        assert {r.connection_id for r in second.results} == {r.connection_id for r in first.results}
        assert emu.stats.requests[RequestKind.CREATE] == 0


async def test_non_retryable_rejection_fails_at_once_with_the_api_message(
    emulator, tmp_path: Path
) -> None:
    bad = spec("bad-port", port=1521, sid=None, service_name=None)
    # build a body the emulator rejects: no Sid/ServiceName is impossible through the manifest,
    # so send through a spec whose connection string lacks the target
    bad = bad._replace(sid="")
    settings = make_settings(emulator, tmp_path)
    report = await ApplyRun(manifest(tmp_path, [bad]), settings, RunOptions()).execute()
    result = report.results[0]
    assert result.status is Outcome.FAILED
    assert result.attempts == 1
    assert result.http_status == 400
    assert result.error is not None
    assert "FLOW-" in result.error


async def test_report_lists_created_ids_and_state_records_them(emulator, tmp_path: Path) -> None:
    settings = make_settings(emulator, tmp_path)
    report = await ApplyRun(manifest(tmp_path, many(3)), settings, RunOptions()).execute()
    data = json.dumps([r.connection_id for r in report.results])
    assert all(r.connection_id for r in report.results), data


async def test_each_result_carries_the_request_id_of_its_last_answer(
    emulator, tmp_path: Path
) -> None:
    """What Adobe support asks for: the report keeps each entry's last request id."""
    bad = spec("rejected")
    bad = bad._replace(sid="")
    settings = make_settings(emulator, tmp_path)
    report = await ApplyRun(
        manifest(tmp_path, [spec("fine"), bad]), settings, RunOptions()
    ).execute()
    assert all(r.request_id for r in report.results)
    assert report.results[0].request_id != report.results[1].request_id
