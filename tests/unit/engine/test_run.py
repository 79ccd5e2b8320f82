"""The run skeleton with a strategy of the test's own: the seam a new command plugs into."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from pathlib import Path

import aiohttp
import pytest

from provisioner.emulator._faults import FaultPlan, RequestKind
from provisioner.emulator._server import RunningEmulator
from provisioner.engine import ApplyRun, ReadOnly, Run, RunOptions, StateUse, run_plan
from provisioner.engine._discover import list_inventory
from provisioner.engine._domain import Job
from provisioner.engine._state import RunLock
from provisioner.errors import AuthError, LockedError
from tests.conftest import EMULATOR_ORG, EmulatorFactory, make_settings
from tests.emulator_caller import EmulatorCaller, oracle_body
from tests.helpers import manifest, spec


class _Count(ReadOnly):
    """A read-only command that needs no state: it counts the connections of a sandbox."""

    state_use = StateUse.NONE

    def __init__(self) -> None:
        self.found = -1
        self.state_refused = False

    def prepare(self, run: Run[int]) -> Sequence[Job]:
        try:
            _ = run.state
        except RuntimeError:
            self.state_refused = True
        return []

    async def act(self, run: Run[int]) -> None:
        inventory = await list_inventory(run.client, ["prod"])
        self.found = sum(len(c) for c in inventory.by_sandbox["prod"].values())

    def outcome(self, run: Run[int]) -> int:
        return self.found


async def test_a_read_only_strategy_without_state_lists_and_touches_no_file(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    async with aiohttp.ClientSession() as session:
        caller = EmulatorCaller(session=session, base_url=emulator.base_url, org=EMULATOR_ORG)
        token = await caller.access_token()
        for name in ("one", "two"):
            assert (await caller.create(oracle_body(name), token=token)).status == 201
    settings = make_settings(emulator, tmp_path)
    strategy = _Count()
    run: Run[int] = Run(strategy, settings)
    assert await run.execute() == 2
    assert strategy.state_refused
    assert not settings.state_path.exists()
    assert run.requests == {"list": 1}
    with pytest.raises(RuntimeError, match="client is not open"):
        _ = run.client


async def test_plan_with_refused_credentials_stops_before_any_listing(
    start_emulator: EmulatorFactory, tmp_path: Path
) -> None:
    async with start_emulator(FaultPlan(client_secret="only-this-one")) as emu:
        settings = make_settings(emu, tmp_path)
        with pytest.raises(AuthError, match="IMS refused the credentials"):
            await run_plan(manifest(tmp_path, [spec("a")]), settings, RunOptions())
        assert emu.stats.requests[RequestKind.LIST] == 0


async def test_a_stop_ends_a_wait_for_the_lock_and_the_loop_stays_free(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    """--wait-lock waits in a worker thread: the loop still takes the stop (a signal's
    handler), and the wait ends at its next try, with nothing sent."""
    settings = dataclasses.replace(make_settings(emulator, tmp_path), lock_wait=600.0)
    run = ApplyRun(manifest(tmp_path, [spec("one")]), settings, RunOptions())
    with RunLock(settings.state_path):  # another run holds it
        task = asyncio.create_task(run.execute())
        await asyncio.sleep(0)  # the run starts and hands the wait to its thread
        run.stop()  # from the loop, as a signal handler would
        with pytest.raises(LockedError, match="stopped while waiting"):
            await task
    assert emulator.stats.requests.get(RequestKind.CREATE, 0) == 0
