"""ExploreRun: where each entry's connection comes from, what ends an entry, --columns."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import aiohttp

from provisioner.emulator._catalog import columns as columns_of
from provisioner.emulator._catalog import tables
from provisioner.emulator._faults import FaultPlan, RequestKind
from provisioner.emulator._server import RunningEmulator
from provisioner.engine import ApplyRun, ExploreOptions, ExploreRun, NullObserver, RunOptions
from provisioner.reports import Exploration, ExploreStatus, Result
from provisioner.settings import Backoff
from tests.conftest import EMULATOR_ORG, EmulatorFactory, make_settings
from tests.emulator_caller import EmulatorCaller, oracle_body
from tests.helpers import manifest, spec

SMALL = "ops.example.com"  # 45 tables


async def _apply(emu: RunningEmulator, tmp_path: Path, *names: str, host: str = SMALL) -> None:
    specs = [spec(n, host=host) for n in names]
    report = await ApplyRun(
        manifest(tmp_path, specs), make_settings(emu, tmp_path), RunOptions()
    ).execute()
    assert report.summary.created == len(names)


async def _explore(
    emu: RunningEmulator, tmp_path: Path, *names: str, host: str = SMALL, columns: bool = False
) -> list[Exploration]:
    specs = [spec(n, host=host) for n in names]
    settings = make_settings(emu, tmp_path, concurrency=3)
    run = ExploreRun(manifest(tmp_path, specs), settings, ExploreOptions(columns=columns))
    return await run.execute()


async def _create_directly(emu: RunningEmulator, name: str, host: str = SMALL) -> str:
    async with aiohttp.ClientSession() as session:
        caller = EmulatorCaller(session=session, base_url=emu.base_url, org=EMULATOR_ORG)
        reply = await caller.create(oracle_body(name, host=host), token=await caller.access_token())
    assert reply.status == 201
    return str(reply.field("id"))


async def test_connections_come_from_the_state_else_from_the_listing(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    await _apply(emulator, tmp_path, "ours")
    made_elsewhere = await _create_directly(emulator, "theirs")
    emulator.stats.clear()
    found = await _explore(emulator, tmp_path, "ours", "theirs", "nowhere")
    ours, theirs, nowhere = found
    assert ours.status is theirs.status is ExploreStatus.EXPLORED
    assert theirs.connection_id == made_elsewhere
    assert [t.path for t in ours.tables] == [t.path for t in tables(SMALL)]
    assert nowhere.status is ExploreStatus.NO_CONNECTION
    assert nowhere.error is not None
    assert "no connection" in nowhere.error
    assert emulator.stats.requests[RequestKind.LIST] == 1  # one listing, for the two unknown
    assert emulator.stats.requests[RequestKind.EXPLORE] == 2
    assert emulator.stats.requests[RequestKind.CREATE] == 0  # sends no write


async def test_a_recorded_connection_that_is_gone_is_found_again_by_name(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    await _apply(emulator, tmp_path, "moved", "deleted")
    for conn in emulator.store.connections():
        emulator.store.delete(conn.org, conn.sandbox, conn.id)
    replacement = await _create_directly(emulator, "moved")
    moved, deleted = await _explore(emulator, tmp_path, "moved", "deleted")
    assert (moved.status, moved.connection_id) == (ExploreStatus.EXPLORED, replacement)
    assert len(moved.tables) == len(tables(SMALL))
    assert deleted.status is ExploreStatus.NO_CONNECTION
    assert deleted.error is not None
    assert "is gone" in deleted.error
    assert deleted.error_code == "FLOW-1101-404"


async def test_several_connections_with_the_name_fail_the_entry(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    ids = {await _create_directly(emulator, "twin") for _ in range(2)}
    (twin,) = await _explore(emulator, tmp_path, "twin")
    assert twin.status is ExploreStatus.FAILED
    assert twin.error is not None
    assert all(i in twin.error for i in ids)


async def test_a_listing_outage_fails_every_unknown_entry_and_says_so(
    start_emulator: EmulatorFactory, tmp_path: Path
) -> None:
    async with start_emulator(FaultPlan(error_rate=1.0, seed=1)) as emu:
        (entry,) = await _explore(emu, tmp_path, "any")
    assert entry.status is ExploreStatus.FAILED
    assert entry.error is not None
    assert entry.error.startswith("could not read the existing connections")


async def test_an_error_that_is_not_unreachability_is_a_plain_failure(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    """The explore answers an error, yet ``/test`` says the database is reachable."""
    await _apply(emulator, tmp_path, "odd")
    state = emulator.state
    explore_ms, test_ms = 0.001, 0.002

    async def flip(delay: float) -> None:  # unreachable for explore, reachable for /test
        hosts = frozenset({SMALL}) if delay == explore_ms / 1000 else frozenset()
        state.plan = dataclasses.replace(state.plan, unreachable_hosts=hosts)

    state.plan = dataclasses.replace(state.plan, latency={"explore": explore_ms, "test": test_ms})
    state.sleep = flip
    (entry,) = await _explore(emulator, tmp_path, "odd")
    assert entry.status is ExploreStatus.FAILED
    assert entry.error is not None
    assert entry.error.startswith("FLOW-1420-400")
    assert emulator.stats.requests[RequestKind.TEST] == 1


async def test_an_unreachable_database_is_told_by_the_test_verify_uses(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    await _apply(emulator, tmp_path, "down", host="db.unreachable")
    (entry,) = await _explore(emulator, tmp_path, "down", host="db.unreachable")
    assert entry.status is ExploreStatus.UNREACHABLE
    assert entry.error_code == "FLOW-1420-400"
    assert emulator.stats.requests[RequestKind.TEST] == 1


async def test_columns_are_read_for_every_table_at_most_concurrency_at_a_time(
    start_emulator: EmulatorFactory, tmp_path: Path
) -> None:
    async with start_emulator(FaultPlan(latency={"explore": 1.0})) as emu:
        in_flight, most = 0, 0
        overlapped = asyncio.Event()  # the first explore waits for a second one to arrive

        async def counting_sleep(delay: float) -> None:
            nonlocal in_flight, most
            in_flight += 1
            most = max(most, in_flight)
            if in_flight > 1:
                overlapped.set()
            await overlapped.wait()
            await asyncio.sleep(0)
            in_flight -= 1

        emu.state.sleep = counting_sleep
        await _apply(emu, tmp_path, "a", "b")
        (a, b) = await _explore(emu, tmp_path, "a", "b", columns=True)
    assert a.status is b.status is ExploreStatus.EXPLORED
    for table in a.tables:
        expected = columns_of(SMALL, table.path)
        assert expected is not None
        assert table.columns is not None
        assert [c.name for c in table.columns] == [c.name for c in expected]
    assert 1 < most <= 3  # --concurrency 3 (make_settings above)


async def test_unreadable_columns_fail_the_entry_but_keep_its_tables(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    await _apply(emulator, tmp_path, "half")
    listed = 0

    async def unreachable_after_listing(delay: float) -> None:
        nonlocal listed
        listed += 1
        if listed == 2:  # the listing of tables is answered; the columns are not
            plan = emulator.state.plan
            emulator.state.plan = dataclasses.replace(plan, unreachable_hosts=frozenset({SMALL}))

    emulator.state.plan = dataclasses.replace(emulator.state.plan, latency={"explore": 0.001})
    emulator.state.sleep = unreachable_after_listing
    (entry,) = await _explore(emulator, tmp_path, "half", columns=True)
    assert entry.status is ExploreStatus.FAILED
    assert len(entry.tables) == len(tables(SMALL))
    assert all(t.error is not None and "FLOW-1420-400" in t.error for t in entry.tables)
    assert entry.error == f"the columns of {len(entry.tables)} table(s) could not be read"


async def test_a_run_stopped_before_it_starts_reports_every_entry_interrupted(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    run = ExploreRun(
        manifest(tmp_path, [spec("a"), spec("b")]),
        make_settings(emulator, tmp_path),
        ExploreOptions(only=("b",)),
    )
    run.stop()
    assert not run.started_sending
    (entry,) = await run.execute()
    assert (entry.name, entry.status, entry.error) == ("b", ExploreStatus.FAILED, "interrupted")
    assert emulator.stats.requests[RequestKind.EXPLORE] == 0


async def test_an_entry_retried_by_the_pool_keeps_what_it_already_read(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    """Explore requests 5 to 8 answer 5xx: some table's columns fail twice (the client's two
    tries), so the pool tries the entry again, which asks only for what is still unread."""
    await _apply(emulator, tmp_path, "flaky")
    state, seen = emulator.state, 0

    async def window(delay: float) -> None:
        nonlocal seen
        seen += 1
        state.plan = dataclasses.replace(state.plan, error_rate=1.0 if 5 <= seen <= 8 else 0.0)

    state.plan = dataclasses.replace(state.plan, latency={"explore": 0.001})
    state.sleep = window
    emulator.stats.clear()
    specs = [spec("flaky", host=SMALL)]
    backoff = Backoff(base=0.0, cap=0.0, retry_after_cap=0.0, max_attempts=2)
    settings = make_settings(emulator, tmp_path, concurrency=3, backoff=backoff)
    run = ExploreRun(manifest(tmp_path, specs), settings, ExploreOptions(columns=True))
    (entry,) = await run.execute()
    assert entry.status is ExploreStatus.EXPLORED
    assert all(t.columns is not None for t in entry.tables)
    assert emulator.stats.injected_errors == 4
    assert emulator.stats.requests[RequestKind.EXPLORE] == 1 + len(tables(SMALL)) + 4


class _StopAfterFirst(NullObserver):
    def __init__(self) -> None:
        self.run: ExploreRun | None = None

    def entry_finished(self, result: Result) -> None:
        if self.run is not None:
            self.run.stop()


async def test_a_stop_mid_run_reports_the_rest_interrupted(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    await _apply(emulator, tmp_path, "a", "b", "c")
    observer = _StopAfterFirst()
    specs = [spec(n, host=SMALL) for n in ("a", "b", "c")]
    run = ExploreRun(
        manifest(tmp_path, specs),
        make_settings(emulator, tmp_path, concurrency=1),
        ExploreOptions(),
        observer=observer,
    )
    observer.run = run
    found = await run.execute()
    assert run.interrupted
    assert run.started_sending
    assert found[0].status is ExploreStatus.EXPLORED
    assert [(e.status, e.error) for e in found[1:]] == [(ExploreStatus.FAILED, "interrupted")] * 2
