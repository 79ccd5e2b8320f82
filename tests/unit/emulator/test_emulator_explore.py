"""The emulator's explore endpoint and the made-up catalog behind it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from provisioner.emulator import FaultPlan, RequestKind, RunningEmulator
from provisioner.emulator._catalog import columns, table_count, tables
from tests.emulator_caller import EmulatorCaller, Reply, oracle_body, serving
from tests.helpers import js

ODD_CHARACTERS = (" ", '"', ",", "'", "ü", "顧", "\t")


@pytest.fixture
async def served() -> AsyncIterator[tuple[RunningEmulator, EmulatorCaller]]:
    async with serving(FaultPlan(unreachable_hosts=frozenset({"down.example.com"}))) as pair:
        yield pair


async def created_id(caller: EmulatorCaller, token: str, name: str, host: str) -> str:
    reply = await caller.create(oracle_body(name, host=host), token=token)
    assert reply.status == 201, reply.body
    value = reply.field("id")
    assert isinstance(value, str)
    return value


async def explore(caller: EmulatorCaller, token: str, conn_id: str, **query: str) -> Reply:
    params = [("objectType", query.pop("object_type", "root")), *query.items()]
    return await caller.flow("GET", f"/connections/{conn_id}/explore", token=token, params=params)


def test_catalog_is_a_fixed_function_of_the_host() -> None:
    first = tables("db1.example.com")
    assert tables.__wrapped__("DB1.Example.com ") == first  # same host, uncached, any case
    assert tables("db2.example.com") != first
    assert len({t.path for t in first}) == len(first) == table_count("db1.example.com")
    assert all(t.name == t.path and "." in t.path for t in first)


def test_large_hosts_show_thousands_of_tables_with_odd_names() -> None:
    large = tables("erp.large.example.com")
    assert 1000 <= len(large) < 5000
    names = "".join(t.name for t in large)
    assert all(char in names for char in ODD_CHARACTERS)
    assert {t.name.split(".", 1)[1][0] for t in large} >= {"=", "+", "-", "@"}
    counts = [table_count(f"db{i}.example.com") for i in range(320)]
    assert all(8 <= c < 48 or 1000 <= c < 5000 for c in counts)
    assert 5 <= sum(c >= 1000 for c in counts) <= 40  # about one host in 16


def test_columns_are_stable_and_only_for_known_tables() -> None:
    path = tables("db1.example.com")[3].path
    found = columns("db1.example.com", path)
    assert found is not None
    assert found == columns("DB1.EXAMPLE.COM", path)
    assert found[0].item() == {"name": "ID", "type": "long", "xdm": {"type": "integer"}}
    assert 2 <= len(found) <= 12
    assert len({c.name for c in found}) == len(found)
    assert columns("db1.example.com", "NO.SUCH_TABLE") is None


async def test_root_lists_the_hosts_tables(served: tuple[RunningEmulator, EmulatorCaller]) -> None:
    emu, caller = served
    token = await caller.access_token()
    conn_id = await created_id(caller, token, "erp", "erp.large.example.com")
    reply = await explore(caller, token, conn_id)
    assert reply.status == 200
    items: list[Any] = js(reply)
    assert items == [t.item() for t in tables("erp.large.example.com")]
    assert items[0].keys() == {"type", "name", "path", "canPreview", "canFetchSchema"}
    upper = await explore(caller, token, conn_id, object_type="ROOT")
    assert upper.body == items
    assert emu.state.stats.requests[RequestKind.EXPLORE] == 2


async def test_table_answers_a_flat_schema(served: tuple[RunningEmulator, EmulatorCaller]) -> None:
    _, caller = served
    token = await caller.access_token()
    conn_id = await created_id(caller, token, "hr", "hr.example.com")
    odd = next(t for t in tables("hr.example.com") if any(c in t.path for c in ODD_CHARACTERS))
    reply = await explore(caller, token, conn_id, object_type="table", object=odd.path)
    assert reply.status == 200
    body: Any = js(reply)
    assert body["format"] == "flat"
    found = columns("hr.example.com", odd.path)
    assert found is not None
    assert body["schema"]["columns"] == [c.item() for c in found]
    missing = await explore(caller, token, conn_id, object_type="table", object="NO.SUCH")
    assert (missing.status, missing.flow_code) == (404, "FLOW-1101-404")


@pytest.mark.parametrize("host", ["down.example.com", "DB9.UNREACHABLE"])
async def test_unreachable_database_answers_a_flow_error(
    served: tuple[RunningEmulator, EmulatorCaller], host: str
) -> None:
    _, caller = served
    token = await caller.access_token()
    conn_id = await created_id(caller, token, "down", host)
    for query in ({}, {"object_type": "table", "object": "APP.ORDERS_1"}):
        reply = await explore(caller, token, conn_id, **query)
        assert (reply.status, reply.flow_code) == (400, "FLOW-1420-400")
        assert conn_id in str(reply.field("errorMessage"))
    test = await caller.flow("GET", f"/connections/{conn_id}/test", token=token)
    assert test.field("result") is False  # /test and explore agree on reachability


async def test_bad_queries_and_unknown_ids(served: tuple[RunningEmulator, EmulatorCaller]) -> None:
    _, caller = served
    token = await caller.access_token()
    conn_id = await created_id(caller, token, "hr", "hr.example.com")
    for query in ({"object_type": "folder"}, {"object_type": ""}, {"object_type": "table"}):
        reply = await explore(caller, token, conn_id, **query)
        assert (reply.status, reply.flow_code) == (400, "FLOW-1402-400"), query
    unknown = await explore(caller, token, "no-such-id")
    assert (unknown.status, unknown.flow_code) == (404, "FLOW-1101-404")


async def test_explore_goes_through_the_gateway(
    served: tuple[RunningEmulator, EmulatorCaller],
) -> None:
    _, caller = served
    token = await caller.access_token()
    conn_id = await created_id(caller, token, "hr", "hr.example.com")
    path = f"/connections/{conn_id}/explore"
    no_token = await caller.flow(
        "GET", path, token=token, params=[("objectType", "root")], headers={"Authorization": None}
    )
    assert (no_token.status, no_token.field("error_code")) == (403, "403010")
    other_sandbox = await caller.flow(
        "GET", path, token=token, params=[("objectType", "root")], headers={"x-sandbox-name": "dev"}
    )
    assert other_sandbox.status == 404  # connections are scoped per sandbox


async def test_injected_server_errors_reach_explore() -> None:
    async with serving(FaultPlan(error_rate=1.0, seed=1)) as (emu, caller):
        token = await caller.access_token()
        reply = await explore(caller, token, "any-id")
        assert reply.status in (500, 503)
        assert emu.state.stats.responses[RequestKind.EXPLORE, reply.status] == 1
