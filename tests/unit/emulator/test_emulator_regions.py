"""The emulator's hosting regions: the Oracle spec's auth form, and bodies checked against it."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from provisioner.emulator import (
    BASIC_SPEC_NAME,
    ORACLE_SPEC_ID,
    ORACLE_SPEC_VERSION,
    FaultPlan,
    Region,
    RequestKind,
    RunningEmulator,
    add_emulator_arguments,
    plan_from_args,
)
from provisioner.errors import ConfigError
from tests.emulator_caller import EmulatorCaller, oracle_body, serving
from tests.helpers import js

CANARY = "canary-\"pw';=\u00e9"


def basic_body(name: str, **params: object) -> dict[str, object]:
    values: dict[str, object] = {
        "server": "db.example.com",
        "port": 1521,
        "database": "ORCLPDB1",
        "username": "reader",
        "password": CANARY,
        **params,
    }
    return {
        "name": name,
        "auth": {"specName": BASIC_SPEC_NAME, "params": {k: v for k, v in values.items() if v}},
        "connectionSpec": {"id": ORACLE_SPEC_ID, "version": ORACLE_SPEC_VERSION},
    }


@pytest.fixture
async def aws(tmp_path: Path) -> AsyncIterator[tuple[RunningEmulator, EmulatorCaller]]:
    async with serving(FaultPlan(region=Region.AWS), tmp_path / "emu.db") as pair:
        yield pair


async def spec_of(caller: EmulatorCaller, token: str) -> Any:
    reply = await caller.flow("GET", f"/connectionSpecs/{ORACLE_SPEC_ID}", token=token)
    assert reply.status == 200
    (item,) = js(reply)["items"]
    return item


async def test_azure_offers_the_connection_string_form() -> None:
    async with serving() as (_, caller):
        spec = await spec_of(caller, await caller.access_token())
    (auth,) = spec["authSpec"]
    assert (auth["name"], auth["type"]) == ("ConnectionString", "connectionStringAuth")
    assert auth["spec"]["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert auth["spec"]["required"] == ["connectionString"]
    assert auth["spec"]["properties"]["connectionString"]["format"] == "password"


async def test_aws_offers_basic_authentication(aws: tuple[RunningEmulator, EmulatorCaller]) -> None:
    _, caller = aws
    spec = await spec_of(caller, await caller.access_token())
    (auth,) = spec["authSpec"]
    assert auth["name"] == "Basic Authentication"
    schema = auth["spec"]
    assert schema["required"] == ["server", "port", "database", "username", "password"]
    assert schema["properties"]["port"]["type"] == "integer"
    assert schema["properties"]["password"]["format"] == "password"
    assert schema["properties"]["sslMode"]["type"] == "boolean"
    listed = await caller.flow(
        "GET",
        "/connectionSpecs",
        token=await caller.access_token(),
        params=[("property", "name==oracle")],
    )
    assert js(listed)["items"][0]["authSpec"] == spec["authSpec"]


async def test_an_unknown_spec_id_is_a_flow_404() -> None:
    async with serving() as (_, caller):
        reply = await caller.flow("GET", "/connectionSpecs/nope", token=await caller.access_token())
    assert (reply.status, reply.flow_code) == (404, "FLOW-1101-404")


async def test_aws_creates_basic_and_keeps_no_secret(
    aws: tuple[RunningEmulator, EmulatorCaller], tmp_path: Path
) -> None:
    emu, caller = aws
    token = await caller.access_token()
    reply = await caller.create(basic_body("hr", schema="HR", sslMode=True), token=token)
    assert reply.status == 201
    (row,) = emu.store.connections()
    assert (row.auth.form, row.auth.host, row.auth.port, row.auth.database) == (
        BASIC_SPEC_NAME,
        "db.example.com",
        1521,
        "ORCLPDB1",
    )
    assert (row.auth.user, row.auth.schema, row.auth.ssl_mode) == ("reader", "HR", True)
    got = await caller.flow("GET", f"/connections/{reply.field('id')}", token=token)
    auth = js(got)["items"][0]["auth"]
    assert auth["specName"] == BASIC_SPEC_NAME
    assert auth["params"]["password"] == "********"
    assert auth["params"]["schema"] == "HR"
    assert auth["params"]["sslMode"] is True
    assert CANARY not in str(got.body)
    with sqlite3.connect(tmp_path / "emu.db") as db:
        dumped = "\n".join(db.iterdump())
    assert CANARY not in dumped
    assert "pw';" not in dumped


async def test_a_form_the_region_lacks_is_flow_1415() -> None:
    async with serving() as (emu, caller):
        reply = await caller.create(basic_body("hr"), token=await caller.access_token())
        assert (reply.status, reply.flow_code) == (400, "FLOW-1415-400")
        assert emu.store.connections() == []
    async with serving(FaultPlan(region=Region.AWS)) as (emu, caller):
        reply = await caller.create(oracle_body("hr"), token=await caller.access_token())
        assert (reply.status, reply.flow_code) == (400, "FLOW-1415-400")
        assert emu.store.connections() == []


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"port": "1521"}, "auth.params.port: does not match the spec (type)"),
        ({"port": 70000}, "auth.params.port: does not match the spec (maximum)"),
        ({"password": None}, "'password' is a required property"),
        ({"sslMode": "true"}, "auth.params.sslMode: does not match the spec (type)"),
        ({"schema": "S" * 129}, "auth.params.schema: does not match the spec (maxLength)"),
        ({"tls": True}, "'tls' was unexpected"),
    ],
)
async def test_basic_params_are_checked_against_the_spec(
    aws: tuple[RunningEmulator, EmulatorCaller], params: dict[str, object], message: str
) -> None:
    emu, caller = aws
    reply = await caller.create(basic_body("hr", **params), token=await caller.access_token())
    assert (reply.status, reply.flow_code) == (400, "FLOW-1455-400")
    assert message in str(reply.field("errorMessage"))
    assert CANARY not in str(reply.body)
    assert emu.store.connections() == []


async def test_a_long_connection_string_breaks_the_azure_spec() -> None:
    async with serving() as (_, caller):
        body = oracle_body("hr", password="p" * 2100)
        reply = await caller.create(body, token=await caller.access_token())
    assert (reply.status, reply.flow_code) == (400, "FLOW-1455-400")
    assert "connectionString: does not match the spec (maxLength)" in str(
        reply.field("errorMessage")
    )


async def test_patch_of_a_basic_connection_sends_basic_params(
    aws: tuple[RunningEmulator, EmulatorCaller],
) -> None:
    emu, caller = aws
    token = await caller.access_token()
    created = await caller.create(basic_body("hr"), token=token)
    before = emu.store.connections()[0].auth.fingerprint
    path = f"/connections/{created.field('id')}"
    etag = {"If-Match": str(created.field("etag"))}
    params = basic_body("hr", password="new-pw")["auth"]["params"]  # type: ignore[index]
    as_string = [{"op": "replace", "path": "/auth/params/connectionString", "value": "x"}]
    refused = await caller.flow("PATCH", path, token=token, json=as_string, headers=etag)
    assert (refused.status, refused.flow_code) == (400, "FLOW-1455-400")
    wrong = [{"op": "replace", "path": "/auth/params", "value": {"connectionString": "x"}}]
    refused = await caller.flow("PATCH", path, token=token, json=wrong, headers=etag)
    assert (refused.status, refused.flow_code) == (400, "FLOW-1455-400")
    ops = [{"op": "replace", "path": "/auth/params", "value": params}]
    reply = await caller.flow("PATCH", path, token=token, json=ops, headers=etag)
    assert reply.status == 200
    (row,) = emu.store.connections()
    assert row.auth.form == BASIC_SPEC_NAME
    assert row.auth.fingerprint != before
    assert emu.state.stats.requests[RequestKind.PATCH] == 3


async def test_a_connection_of_another_form_cannot_be_patched(tmp_path: Path) -> None:
    """The same data file served in the other region: its connections are of a form the spec
    no longer offers (FLOW-1415), as Platform would answer."""
    db = tmp_path / "emu.db"
    async with serving(None, db) as (_, caller):
        created = await caller.create(oracle_body("hr"), token=await caller.access_token())
    async with serving(FaultPlan(region=Region.AWS), db) as (_, caller):
        ops = [{"op": "replace", "path": "/description", "value": "x"}]
        reply = await caller.flow(
            "PATCH",
            f"/connections/{created.field('id')}",
            token=await caller.access_token(),
            json=ops,
            headers={"If-Match": str(created.field("etag"))},
        )
    assert (reply.status, reply.flow_code) == (400, "FLOW-1415-400")


def test_region_option_and_plan() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    add_emulator_arguments(parser)
    assert plan_from_args(parser.parse_args([])).region is Region.AZURE
    assert plan_from_args(parser.parse_args(["--region", "aws"])).region is Region.AWS
    with pytest.raises(SystemExit):
        parser.parse_args(["--region", "gcp"])
    with pytest.raises(ConfigError, match="region: expected one of azure, aws, got 'gcp'"):
        FaultPlan(region="gcp")  # type: ignore[arg-type]
