"""The emulator's listing lag (``--list-lag``): listings behind writes, reads by id not."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from provisioner.emulator import FaultPlan, add_emulator_arguments, plan_from_args
from provisioner.emulator._store import Store
from provisioner.errors import ConfigError
from tests.emulator_caller import EmulatorCaller, FakeClock, oracle_body, serving

CONNECTIONS = "/connections"


async def _listed(caller: EmulatorCaller, token: str) -> list[str]:
    reply = await caller.flow("GET", CONNECTIONS, token=token)
    assert reply.status == 200
    items = reply.field("items")
    assert isinstance(items, list)
    return [str(item["id"]) for item in items]


async def _count(caller: EmulatorCaller, token: str) -> object:
    return (await caller.flow("GET", CONNECTIONS, token=token, params=[("count", "true")])).field(
        "count"
    )


async def test_a_new_connection_is_listed_only_after_the_lag_but_read_by_id_at_once() -> None:
    clock = FakeClock()
    async with serving(FaultPlan(list_lag=3.0), clock=clock) as (_, caller):
        token = await caller.access_token()
        created = await caller.create(oracle_body("lagging"), token=token)
        connection_id = str(created.field("id"))
        assert await _listed(caller, token) == []
        assert await _count(caller, token) == 0
        by_id = await caller.flow("GET", f"{CONNECTIONS}/{connection_id}", token=token)
        assert by_id.status == 200
        clock.advance(2.9)
        assert await _listed(caller, token) == []
        clock.advance(0.1)
        assert await _listed(caller, token) == [connection_id]
        assert await _count(caller, token) == 1


async def test_a_deleted_connection_stays_listed_for_the_lag_but_reads_by_id_404() -> None:
    clock = FakeClock()
    async with serving(FaultPlan(list_lag=2.0), clock=clock) as (emu, caller):
        token = await caller.access_token()
        connection_id = str((await caller.create(oracle_body("gone"), token=token)).field("id"))
        clock.advance(2.0)
        path = f"{CONNECTIONS}/{connection_id}"
        assert (await caller.flow("DELETE", path, token=token)).status == 204
        assert (await caller.flow("GET", path, token=token)).status == 404
        assert (await caller.flow("DELETE", path, token=token)).status == 404
        assert await _listed(caller, token) == [connection_id]
        assert emu.state.connections() == []
        clock.advance(2.0)
        assert await _listed(caller, token) == []
        assert emu.store.connections() == []


async def test_without_a_lag_listings_are_current() -> None:
    async with serving(FaultPlan(), clock=FakeClock()) as (emu, caller):
        token = await caller.access_token()
        connection_id = str((await caller.create(oracle_body("now"), token=token)).field("id"))
        assert await _listed(caller, token) == [connection_id]
        assert (
            await caller.flow("DELETE", f"{CONNECTIONS}/{connection_id}", token=token)
        ).status == 204
        assert await _listed(caller, token) == []
        assert emu.state.listing.lag == 0.0


async def test_a_deleted_row_does_not_outlive_the_server(tmp_path: Path) -> None:
    db = tmp_path / "emu.db"
    async with serving(FaultPlan(list_lag=60.0), db, clock=FakeClock()) as (_, caller):
        token = await caller.access_token()
        connection_id = str((await caller.create(oracle_body("brief"), token=token)).field("id"))
        assert (
            await caller.flow("DELETE", f"{CONNECTIONS}/{connection_id}", token=token)
        ).status == 204
    store = Store(db)
    try:
        assert store.connections() == []
    finally:
        store.close()


async def test_each_connection_records_who_made_it_and_when() -> None:
    clock = FakeClock()
    async with serving(FaultPlan(), clock=clock) as (emu, caller):
        emu.state.wall = lambda: 1_700_000_000.5
        token = await caller.access_token()
        connection_id = str((await caller.create(oracle_body("owned"), token=token)).field("id"))
        item = (await caller.flow("GET", f"{CONNECTIONS}/{connection_id}", token=token)).field(
            "items"
        )
        assert isinstance(item, list)
        assert item[0]["createdClient"] == caller.client_id
        assert item[0]["createdBy"] == f"{caller.client_id}@AdobeID"
        assert item[0]["createdAt"] == 1_700_000_000_500


def test_list_lag_option_and_plan() -> None:
    parser = argparse.ArgumentParser()
    add_emulator_arguments(parser)
    assert plan_from_args(parser.parse_args(["--list-lag", "2.5"])).list_lag == 2.5
    assert plan_from_args(parser.parse_args([])).list_lag == 0.0
    with pytest.raises(SystemExit):
        parser.parse_args(["--list-lag", "-1"])
    with pytest.raises(ConfigError, match="list_lag"):
        FaultPlan(list_lag=-1.0)
