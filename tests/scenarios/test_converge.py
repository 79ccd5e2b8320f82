"""One connection per name when listings lag and runs meet: lag-aware lookups after lost
create answers, duplicates converged (oldest copy kept), other clients' copies never touched,
a copy in use reported. The emulator's listing lag runs on a fake clock that the run's
injected sleep moves forward, so nothing here waits in real time."""

from __future__ import annotations

import asyncio
import dataclasses
import io
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp

from provisioner.emulator._faults import FaultPlan, RequestKind
from provisioner.emulator._server import RunningEmulator, running_emulator
from provisioner.engine import NullObserver
from provisioner.engine._apply import ApplyRun
from provisioner.engine._entries import RunOptions
from provisioner.engine._plan import run_plan, write_plan
from provisioner.engine._state import StateStore
from provisioner.manifest._load import DatabaseSpec
from provisioner.reports._io import load_report
from provisioner.reports._model import Outcome, Report, Result
from provisioner.settings import Timeouts
from tests.cliproc import cli_env, run_cli
from tests.conftest import EMULATOR_ORG, make_settings
from tests.emulator_caller import EmulatorCaller, FakeClock, oracle_body
from tests.helpers import manifest, many, spec, write_manifest

LAG = 3.0


class _Time:
    """The emulator's clock and the run's clock and sleep, as one fake: sleeping moves it.
    ``wall`` gives every connection its own ``createdAt`` (a millisecond apart, in order)."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.stamps = 0

    async def sleep(self, seconds: float) -> None:
        self.clock.advance(seconds)
        await asyncio.sleep(0)

    def wall(self) -> float:
        self.stamps += 1
        return 1_800_000_000 + self.stamps / 1000


@asynccontextmanager
async def _serving(plan: FaultPlan, time: _Time) -> AsyncIterator[RunningEmulator]:
    async with running_emulator(plan, clock=time.clock) as emu:
        emu.state.wall = time.wall
        yield emu


def _copies(emu: RunningEmulator) -> Counter[str]:
    return Counter(record.name for record in emu.state.connections())


async def _apply(
    emu: RunningEmulator,
    tmp_path: Path,
    specs: list[DatabaseSpec],
    time: _Time,
    *,
    settle: float,
    state: str = "state.db",
    observer: NullObserver | None = None,
) -> Report:
    settings = dataclasses.replace(
        make_settings(emu, tmp_path, timeouts=Timeouts(request=5.0, settle=settle)),
        state_path=tmp_path / state,
    )
    run = ApplyRun(
        manifest(tmp_path, specs),
        settings,
        RunOptions(),
        sleep=time.sleep,
        clock=time.clock,
        observer=observer,
    )
    return await run.execute()


async def _made_by(emu: RunningEmulator, name: str, client_id: str) -> str:
    """A connection made directly, as the given client (ours is "test-client")."""
    async with aiohttp.ClientSession() as session:
        caller = EmulatorCaller(
            session=session, base_url=emu.base_url, org=EMULATOR_ORG, client_id=client_id
        )
        reply = await caller.create(oracle_body(name), token=await caller.access_token())
    assert reply.status == 201
    return str(reply.field("id"))


async def test_lost_answers_under_a_lagging_listing_leave_one_connection_per_name(
    tmp_path: Path,
) -> None:
    time = _Time()
    plan = FaultPlan(list_lag=LAG, reset_rate=0.3, seed=14)
    async with _serving(plan, time) as emu:
        report = await _apply(emu, tmp_path, many(40), time, settle=10.0)
        assert emu.stats.resets > 0  # some create answers were lost
        assert report.ok
        assert report.summary.created == 40
        assert set(_copies(emu).values()) == {1}
        assert report.summary.removed_duplicates == 0
        stored = {record.name: record.id for record in emu.state.connections()}
        assert {r.name: r.connection_id for r in report.results} == stored


async def test_without_a_settle_window_the_next_run_converges_what_the_lag_doubled(
    tmp_path: Path,
) -> None:
    """``--settle 0`` trusts one look: lost answers are sent again while the listing lags,
    doubling those names; the next run keeps the oldest copy and says what it removed."""
    time = _Time()
    plan = FaultPlan(list_lag=LAG, reset_rate=0.3, seed=14)
    async with _serving(plan, time) as emu:
        await _apply(emu, tmp_path, many(40), time, settle=0.0)
        before = _copies(emu)
        doubled = {name for name, n in before.items() if n > 1}
        assert doubled  # the failure this issue is about
        oldest = {r.name: r.id for r in reversed(emu.state.connections())}  # first wins
        time.clock.advance(LAG)
        second = await _apply(emu, tmp_path, many(40), time, settle=0.0)
        assert second.ok
        assert set(_copies(emu).values()) == {1}
        removed = {r.name for r in second.results if r.removed_duplicates}
        assert removed == doubled
        assert second.summary.removed_duplicates == sum(n - 1 for n in before.values())
        assert {r.name: r.connection_id for r in second.results} == {
            name: oldest[name] for name in oldest
        }


async def test_two_runs_at_once_with_their_own_states_end_with_one_copy_per_name(
    tmp_path: Path,
) -> None:
    """Both list, both see nothing, both create: every name doubled, and the listing hides
    it (it lags the whole time here). Once it catches up, one more run each converges, and
    both keep the same copy."""
    time = _Time()
    specs = many(30)
    async with _serving(FaultPlan(list_lag=LAG), time) as emu:
        first = await asyncio.gather(
            _apply(emu, tmp_path, specs, time, settle=0.0, state="a.db"),
            _apply(emu, tmp_path, specs, time, settle=0.0, state="b.db"),
        )
        assert all(report.ok for report in first)
        assert set(_copies(emu).values()) == {2}
        time.clock.advance(LAG)
        second = await asyncio.gather(
            _apply(emu, tmp_path, specs, time, settle=0.0, state="a.db"),
            _apply(emu, tmp_path, specs, time, settle=0.0, state="b.db"),
        )
        assert all(report.ok for report in second)
        assert set(_copies(emu).values()) == {1}
        kept = {record.name: record.id for record in emu.state.connections()}
        for report in second:
            assert {r.name: r.connection_id for r in report.results} == kept
        removed = [cid for report in second for r in report.results for cid in r.removed_duplicates]
        assert len(removed) == len(set(removed)) == 30  # each extra copy deleted, and said once
        for state in ("a.db", "b.db"):
            with StateStore.open(tmp_path / state) as store:
                rows = store.entries(f"{emu.base_url}|{EMULATOR_ORG}|prod")
            assert {name: row.connection_id for name, row in rows.items()} == kept


async def test_two_runs_at_once_without_lag_converge_in_their_read_back(tmp_path: Path) -> None:
    time = _Time()
    specs = many(60)
    async with _serving(FaultPlan(), time) as emu:
        runs = await asyncio.gather(
            _apply(emu, tmp_path, specs, time, settle=0.0, state="a.db"),
            _apply(emu, tmp_path, specs, time, settle=0.0, state="b.db"),
        )
        for _ in range(2):
            if set(_copies(emu).values()) == {1}:
                break
            runs = await asyncio.gather(
                _apply(emu, tmp_path, specs, time, settle=0.0, state="a.db"),
                _apply(emu, tmp_path, specs, time, settle=0.0, state="b.db"),
            )
        assert set(_copies(emu).values()) == {1}
        assert all(report.ok for report in runs)


class _OlderCopyAppears(NullObserver):
    """When ``name`` is created, another run of this tool's client has made it earlier."""

    def __init__(self, emu: RunningEmulator, name: str) -> None:
        self.emu, self.name, self.older = emu, name, ""

    def entry_finished(self, result: Result) -> None:
        if result.name != self.name or result.status is not Outcome.CREATED:
            return
        store = self.emu.store
        (ours,) = [r for r in store.connections() if r.name == self.name]
        older = dataclasses.replace(ours, id="0-older-copy", created_at=ours.created_at - 1000)
        self.older = store.insert(older).id


async def test_read_back_keeps_the_oldest_copy_and_the_entry_points_at_it(
    tmp_path: Path,
) -> None:
    time = _Time()
    async with _serving(FaultPlan(), time) as emu:
        watcher = _OlderCopyAppears(emu, "db-0002")
        report = await _apply(emu, tmp_path, many(5), time, settle=0.0, observer=watcher)
        assert set(_copies(emu).values()) == {1}
        entry = next(r for r in report.results if r.name == "db-0002")
        assert entry.status is Outcome.EXISTING  # an older copy was adopted
        assert entry.connection_id == watcher.older
        assert len(entry.removed_duplicates) == 1
        assert report.summary.removed_duplicates == 1
        list_calls = emu.stats.requests[RequestKind.LIST]
        assert list_calls == 3  # the start's listing; a count of the 5 names, off by one: listed


async def test_a_clean_run_reads_back_in_one_pass_and_stays_within_budget(
    tmp_path: Path,
) -> None:
    time = _Time()
    async with _serving(FaultPlan(), time) as emu:
        report = await _apply(emu, tmp_path, many(250), time, settle=30.0)
        assert report.summary.created == 250
        stats = emu.stats
        assert stats.requests[RequestKind.LIST] == 1 + 3  # empty listing, 3 counts of 100 names
        assert stats.responses[RequestKind.LIST, 200] == 4
        assert stats.total / 250 <= 1.05


async def test_a_copy_another_client_made_is_never_deleted(tmp_path: Path) -> None:
    time = _Time()
    async with _serving(FaultPlan(), time) as emu:
        ours = await _made_by(emu, "shared", "test-client")
        theirs = await _made_by(emu, "shared", "someone-else")
        report = await _apply(emu, tmp_path, [spec("shared")], time, settle=0.0)
        (entry,) = report.results
        assert entry.status is Outcome.FAILED
        assert entry.error is not None
        assert theirs in entry.error
        assert "another client" in entry.error
        assert entry.removed_duplicates == ()
        assert {r.id for r in emu.state.connections()} == {ours, theirs}
        assert emu.stats.requests[RequestKind.DELETE] == 0


async def test_a_copy_in_use_is_reported_not_forced(tmp_path: Path) -> None:
    time = _Time()
    async with _serving(FaultPlan(), time) as emu:
        oldest = await _made_by(emu, "busy", "test-client")
        in_use = await _made_by(emu, "busy", "test-client")
        spare = await _made_by(emu, "busy", "test-client")
        assert emu.state.mark_in_use(in_use)
        report = await _apply(emu, tmp_path, [spec("busy")], time, settle=0.0)
        (entry,) = report.results
        assert entry.status is Outcome.FAILED
        assert entry.connection_id == oldest
        assert entry.error is not None
        assert in_use in entry.error
        assert "FLOW-1418-400" in entry.error
        assert entry.removed_duplicates == (spare,)
        assert {r.id for r in emu.state.connections()} == {oldest, in_use}


async def test_plan_shows_which_copies_apply_would_delete_and_writes_nothing(
    tmp_path: Path,
) -> None:
    time = _Time()
    async with _serving(FaultPlan(), time) as emu:
        keep = await _made_by(emu, "twice", "test-client")
        extra = await _made_by(emu, "twice", "test-client")
        await _made_by(emu, "mixed", "test-client")
        foreign = await _made_by(emu, "mixed", "someone-else")
        settings = make_settings(emu, tmp_path)
        specs = [spec("twice"), spec("mixed"), spec("new")]
        rows = await run_plan(manifest(tmp_path, specs), settings, RunOptions())
        out = io.StringIO()
        write_plan(rows, out)
        text = out.getvalue()
        assert [row.action for row in rows] == ["converge", "ambiguous", "create"]
        assert f"keeps {keep}, deletes {extra}" in text
        assert f"another client ({foreign})" in text
        assert "1 converge" in text
        assert len(emu.state.connections()) == 4
        assert emu.stats.requests[RequestKind.DELETE] == 0
        with StateStore.open(settings.state_path) as store:
            assert store.entries(settings.target("prod")) == {}


async def test_two_apply_processes_at_once_then_one_more_run_each_leave_one_copy_per_name(
    tmp_path: Path,
) -> None:
    """The CLI as two real processes started together on one manifest, each with its own
    state file; the emulator's listing lags until the test moves its clock."""
    names = [f"host-{i:02d}" for i in range(20)]
    path = write_manifest(tmp_path / "shared.yaml", names)
    clock = FakeClock()

    def args(host: str, round_: int) -> list[str]:
        return [
            "apply", str(path), "--state", str(tmp_path / f"{host}.db"),
            "--report", str(tmp_path / f"{host}-{round_}.json"), "--no-progress",
        ]  # fmt: skip

    async with running_emulator(FaultPlan(list_lag=LAG), clock=clock) as emu:
        env = cli_env(emu)
        first = await asyncio.gather(*(run_cli(*args(h, 1), env=env) for h in ("a", "b")))
        assert [done.code for done in first] == [0, 0], first[0].stderr[-2000:]
        assert set(_copies(emu).values()) == {2}  # both listed, saw nothing, created
        clock.advance(LAG)
        second = await asyncio.gather(*(run_cli(*args(h, 2), env=env) for h in ("a", "b")))
        assert [done.code for done in second] == [0, 0], second[0].stderr[-2000:]
        assert set(_copies(emu).values()) == {1}
        kept = {record.name: record.id for record in emu.state.connections()}
        reports = [load_report(tmp_path / f"{h}-2.json") for h in ("a", "b")]
        for report in reports:
            assert {r.name: r.connection_id for r in report.results} == kept
        removed = [
            cid for report in reports for r in report.results for cid in r.removed_duplicates
        ]
        assert sorted(removed) == sorted(set(removed))
        assert len(removed) == len(names)
        assert sum(report.summary.removed_duplicates for report in reports) == len(names)
