"""aep explore: tables and columns read through FlowClient from the real emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from provisioner.aep import (
    ClientConfig,
    ExploredColumn,
    ExploredTable,
    FlowClient,
    RateController,
    explore_columns,
    explore_tables,
)
from provisioner.emulator import FLOW_PREFIX, FaultPlan, RequestKind, RunningEmulator
from provisioner.emulator._catalog import columns, tables
from provisioner.errors import PermanentError, RetryableError
from provisioner.secrets import Secret
from provisioner.settings import Backoff, Credentials, Settings
from tests.conftest import EmulatorFactory, make_settings
from tests.emulator_caller import oracle_body

HOST = "erp.example.com"


def _client(settings: Settings) -> FlowClient:
    return FlowClient(ClientConfig.of(settings), pacer=RateController(settings.limits.rate))


async def _created(client: FlowClient, host: str) -> str:
    created = await client.create_connection(oracle_body(f"db-{host}", host=host), sandbox="prod")
    return created.id


async def test_tables_and_columns_come_back_as_the_emulator_shows_them(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    settings = make_settings(emulator, tmp_path)
    async with _client(settings) as client:
        conn_id = await _created(client, HOST)
        found = await explore_tables(client, conn_id, sandbox="prod")
        assert [(t.name, t.path) for t in found] == [(t.name, t.path) for t in tables(HOST)]
        odd = next(t for t in found if "," in t.path or '"' in t.path or " " in t.path)
        cols = await explore_columns(client, conn_id, sandbox="prod", path=odd.path)
    expected = columns(HOST, odd.path)
    assert expected is not None
    assert [(c.name, c.type, c.xdm_type) for c in cols] == [
        (c.name, c.type, dict(c.xdm)["type"]) for c in expected
    ]


async def test_server_errors_are_retried_like_the_listing(
    start_emulator: EmulatorFactory, tmp_path: Path
) -> None:
    async with start_emulator(FaultPlan(error_rate=0.5, seed=7)) as emu:
        settings = make_settings(emu, tmp_path, backoff=Backoff(base=0.0, cap=0.0, max_attempts=30))
        async with _client(settings) as client:
            conn_id = await _retrying_create(client)
            for _ in range(5):
                found = await explore_tables(client, conn_id, sandbox="prod")
                assert len(found) == len(tables(HOST))
        assert emu.stats.injected_errors > 0
        assert emu.stats.requests[RequestKind.EXPLORE] > 5


async def _retrying_create(client: FlowClient) -> str:
    while True:
        try:
            return await _created(client, HOST)
        except RetryableError:
            continue


async def test_unreachable_database_is_a_permanent_error_with_its_code(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    settings = make_settings(emulator, tmp_path)
    async with _client(settings) as client:
        conn_id = await _created(client, "db9.unreachable")
        with pytest.raises(PermanentError) as caught:
            await explore_tables(client, conn_id, sandbox="prod")
        assert (caught.value.status, caught.value.code) == (400, "FLOW-1420-400")
        assert await client.test_connection(conn_id, sandbox="prod") is False
        with pytest.raises(PermanentError) as missing:
            await explore_tables(client, "no-such-id", sandbox="prod")
        assert missing.value.status == 404
    assert emulator.stats.requests[RequestKind.EXPLORE] == 2  # a 4xx is not retried


@pytest.fixture
async def odd_platform(tmp_path: Path) -> AsyncIterator[Settings]:
    """A server answering explore with bodies of the wrong shape, and a few odd items."""

    async def answer(request: web.Request) -> web.Response:
        if request.query["objectType"] == "root":
            items = [
                {"type": "folder", "path": "f"},
                {"type": "table", "path": ""},
                "junk",
                {"type": "table", "path": "APP.T", "canFetchSchema": False},
                {"path": "APP.NAMELESS"},
            ]
            return web.json_response(items if request.match_info["id"] == "ok" else {})
        if request.match_info["id"] == "ok":
            cols = [{"name": "A", "type": "string"}, {"name": "B", "xdm": "x"}, {"type": "t"}]
            return web.json_response({"format": "flat", "schema": {"columns": cols}})
        return web.json_response({"format": "flat"})

    app = web.Application()
    app.router.add_get(FLOW_PREFIX + "/connections/{id}/explore", answer)
    async with TestServer(app, host="127.0.0.1") as server:
        yield Settings(
            platform_url=str(server.make_url("")),
            credentials=Credentials(client_id="c", org_id="o", access_token=Secret("t")),
            state_path=tmp_path / "state.db",
            report_path=tmp_path / "report.json",
        )


async def test_items_are_read_defensively_and_wrong_shapes_are_permanent_errors(
    odd_platform: Settings,
) -> None:
    async with FlowClient(ClientConfig.of(odd_platform), pacer=RateController(100.0)) as client:
        found = await explore_tables(client, "ok", sandbox="prod")
        assert found == (
            ExploredTable(name="APP.T", path="APP.T", can_fetch_schema=False),
            ExploredTable(name="APP.NAMELESS", path="APP.NAMELESS"),
        )
        cols = await explore_columns(client, "ok", sandbox="prod", path="APP.T")
        assert cols == (
            ExploredColumn(name="A", type="string"),
            ExploredColumn(name="B", type="", xdm_type=None),
        )
        with pytest.raises(PermanentError, match="without a list of tables"):
            await explore_tables(client, "bad", sandbox="prod")
        with pytest.raises(PermanentError, match="without a schema"):
            await explore_columns(client, "bad", sandbox="prod", path="APP.T")
