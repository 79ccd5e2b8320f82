"""Knowing what exists: exact names, paging, ambiguity, lost answers (issue 4)."""

from __future__ import annotations

import math
from pathlib import Path

import aiohttp
import pytest

from provisioner.emulator._faults import FaultPlan, RequestKind
from provisioner.emulator._server import RunningEmulator
from provisioner.engine import ApplyRun, RunOptions
from provisioner.reports._model import Outcome
from tests.conftest import EMULATOR_ORG, EmulatorFactory, make_settings
from tests.emulator_caller import EmulatorCaller, oracle_body
from tests.helpers import manifest, many, spec

ODD_NAMES = [
    "a,b",
    "a",
    "b",
    "with space",
    "amp&ersand",
    "plus+sign",
    "per%cent",
    "quote'single",
    'quote"double',
    "équipe-données",
    "名前",
    "name==trick",
]


async def _create_directly(emu: RunningEmulator, name: str) -> str:
    """A connection made by someone else (same org and sandbox, another tool)."""
    async with aiohttp.ClientSession() as session:
        caller = EmulatorCaller(
            session=session, base_url=emu.base_url, org=EMULATOR_ORG, client_id="other-tool"
        )
        reply = await caller.create(oracle_body(name), token=await caller.access_token())
    assert reply.status == 201
    return str(reply.field("id"))


async def test_odd_names_are_matched_exactly_and_never_created_twice(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    settings = make_settings(emulator, tmp_path)
    specs = [spec(n) for n in ODD_NAMES]
    first = await ApplyRun(manifest(tmp_path, specs), settings, RunOptions()).execute()
    assert first.summary.created == len(ODD_NAMES)
    second = await ApplyRun(manifest(tmp_path, specs), settings, RunOptions()).execute()
    assert second.summary.existing == len(ODD_NAMES)
    by_name = {r.name: r.connection_id for r in first.results}
    assert {r.name: r.connection_id for r in second.results} == by_name
    assert sorted(c.name for c in emulator.store.connections()) == sorted(ODD_NAMES)


async def test_rerun_of_finished_manifest_lists_ceil_n_over_page_pages_and_sends_no_create(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    settings = make_settings(emulator, tmp_path)
    entries = many(250)
    await ApplyRun(manifest(tmp_path, entries), settings, RunOptions()).execute()
    emulator.stats.clear()
    report = await ApplyRun(manifest(tmp_path, entries), settings, RunOptions()).execute()
    assert report.summary.existing == 250
    assert emulator.stats.requests[RequestKind.CREATE] == 0
    assert emulator.stats.requests[RequestKind.LIST] <= math.ceil(250 / 100)


async def test_several_connections_with_the_entry_name_fail_the_entry_listing_their_ids(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    ids = {await _create_directly(emulator, "twin") for _ in range(2)}
    settings = make_settings(emulator, tmp_path)
    report = await ApplyRun(
        manifest(tmp_path, [spec("twin"), spec("single")]), settings, RunOptions()
    ).execute()
    twin, single = report.results
    assert twin.status is Outcome.FAILED
    assert twin.error is not None
    assert all(i in twin.error for i in ids)
    assert "made by another client" in twin.error
    assert twin.removed_duplicates == ()
    assert single.status is Outcome.CREATED
    assert emulator.store.count_by_name("twin") == 2


async def test_existing_connection_made_elsewhere_is_adopted_not_created(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    made = await _create_directly(emulator, "already-there")
    settings = make_settings(emulator, tmp_path)
    report = await ApplyRun(
        manifest(tmp_path, [spec("already-there")]), settings, RunOptions()
    ).execute()
    assert report.results[0].status is Outcome.EXISTING
    assert report.results[0].connection_id == made


async def test_lost_create_answers_are_looked_up_not_sent_again(
    start_emulator: EmulatorFactory, tmp_path: Path
) -> None:
    async with start_emulator(FaultPlan(reset_rate=0.3, seed=3)) as emu:
        settings = make_settings(emu, tmp_path)
        report = await ApplyRun(manifest(tmp_path, many(60)), settings, RunOptions()).execute()
        assert report.summary.created == 60
        assert emu.stats.resets > 0
        assert len(emu.store.connections()) == 60
        assert {r.connection_id for r in report.results} == {c.id for c in emu.store.connections()}


@pytest.mark.parametrize("flag", ["only", "retry_failed"])
async def test_filters_act_on_selected_entries_and_leave_the_rest_out(
    emulator: RunningEmulator, tmp_path: Path, flag: str
) -> None:
    settings = make_settings(emulator, tmp_path)
    good, bad = spec("good"), spec("bad")
    bad = bad._replace(sid="")  # the emulator rejects an empty Sid: a failure
    await ApplyRun(manifest(tmp_path, [good, bad]), settings, RunOptions()).execute()
    options = RunOptions(only=("bad",)) if flag == "only" else RunOptions(retry_failed=True)
    bad = bad._replace(sid="FIXED")
    report = await ApplyRun(manifest(tmp_path, [good, bad]), settings, options).execute()
    statuses = {r.name: r.status for r in report.results}
    assert statuses == {"bad": Outcome.CREATED}  # "good" is not part of the run
    assert (report.summary.total, report.summary.not_selected) == (1, 1)
    assert report.ok  # an entry left out never fails the run
    assert emulator.store.count_by_name("good") == 1


async def test_retry_failed_takes_entries_never_attempted(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    """After a kill -9 no outcome row may exist for an entry: it is not known to be done."""
    settings = make_settings(emulator, tmp_path)
    done, bad = spec("done"), spec("bad")
    bad = bad._replace(sid="")
    await ApplyRun(manifest(tmp_path, [done, bad]), settings, RunOptions()).execute()
    bad = bad._replace(sid="FIXED")
    newcomer = spec("newcomer")
    options = RunOptions(retry_failed=True)
    report = await ApplyRun(manifest(tmp_path, [done, bad, newcomer]), settings, options).execute()
    assert {r.name: r.status for r in report.results} == {
        "bad": Outcome.CREATED,
        "newcomer": Outcome.CREATED,
    }
    assert report.summary.not_selected == 1
