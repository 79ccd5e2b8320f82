"""The emulator's endpoints for one connection: get, patch, delete, test; connection specs."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from typing import Any

import pytest

from provisioner.emulator import (
    ORACLE_SPEC_ID,
    RunningEmulator,
    add_emulator_arguments,
    plan_from_args,
)
from tests.emulator_caller import EmulatorCaller, Reply, oracle_body, serving
from tests.helpers import js

CONNECTIONS = "/connections"


@pytest.fixture
async def served() -> AsyncIterator[tuple[RunningEmulator, EmulatorCaller]]:
    async with serving() as pair:
        yield pair


def js_auth(body: dict[str, object]) -> Any:
    return body["auth"]


def flow_code(reply: Reply) -> str:
    return reply.flow_code or ""


async def create(caller: EmulatorCaller, token: str, name: str, **kwargs: Any) -> Reply:
    return await caller.create(oracle_body(name, **kwargs), token=token)


async def test_get_returns_items_wrapper_with_masked_secret(caller: EmulatorCaller) -> None:
    token = await caller.access_token()
    created = await create(caller, token, "hr", password="canary-pw-123")
    reply = await caller.flow("GET", f"{CONNECTIONS}/{created.field('id')}", token=token)
    assert reply.status == 200
    (item,) = js(reply)["items"]
    assert item["name"] == "hr"
    assert item["etag"] == item["version"] == created.field("etag")
    assert item["connectionSpec"] == {"id": ORACLE_SPEC_ID, "version": "1.0"}
    assert item["state"] == "enabled"
    assert item["auth"] == {
        "specName": "ConnectionString",
        "params": {"connectionString": "********"},
    }
    assert item["createdClient"] == caller.client_id
    assert (item["imsOrgId"], item["sandboxName"]) == (caller.org, "prod")
    assert "canary-pw-123" not in str(reply.body)


async def test_get_absent_or_in_other_sandbox_is_404(caller: EmulatorCaller) -> None:
    token = await caller.access_token()
    created = await create(caller, token, "hr")
    path = f"{CONNECTIONS}/{created.field('id')}"
    other = await caller.flow("GET", path, token=token, headers={"x-sandbox-name": "dev"})
    assert (other.status, flow_code(other)) == (404, "FLOW-1101-404")
    absent = await caller.flow("GET", f"{CONNECTIONS}/nope", token=token)
    assert absent.status == 404


async def test_patch_needs_if_match_and_rejects_stale_etags(
    emu: RunningEmulator, caller: EmulatorCaller
) -> None:
    token = await caller.access_token()
    created = await create(caller, token, "old")
    path = f"{CONNECTIONS}/{created.field('id')}/"
    ops = [{"op": "replace", "path": "/name", "value": "new"}]
    missing = await caller.flow("PATCH", path, token=token, json=ops)
    assert (missing.status, flow_code(missing)) == (400, "FLOW-1403-400")
    etag = str(created.field("etag"))
    ok = await caller.flow("PATCH", path, token=token, json=ops, headers={"If-Match": etag})
    assert ok.status == 200
    assert ok.field("id") == created.field("id")
    assert ok.field("etag") != etag
    stale = await caller.flow("PATCH", path, token=token, json=ops, headers={"If-Match": etag})
    assert (stale.status, flow_code(stale)) == (412, "FLOW-1404-412")
    assert emu.store.connections()[0].name == "new"


async def test_patch_rotates_credentials_and_validates_ops(
    emu: RunningEmulator, caller: EmulatorCaller
) -> None:
    token = await caller.access_token()
    created = await create(caller, token, "rot", password="one")
    path = f"{CONNECTIONS}/{created.field('id')}"
    before = emu.store.connections()[0].auth.fingerprint
    new_params = oracle_body("rot", password="two")["auth"]
    assert isinstance(new_params, dict)
    ops = [
        {"op": "replace", "path": "/auth/params", "value": new_params["params"]},
        {"op": "add", "path": "/description", "value": "rotated"},
    ]
    etag = str(created.field("etag")).strip('"')
    reply = await caller.flow("PATCH", path, token=token, json=ops, headers={"If-Match": etag})
    assert reply.status == 200
    row = emu.store.connections()[0]
    assert row.auth.fingerprint != before
    assert row.description == "rotated"
    bad = [{"op": "REPLACE", "path": "/name", "value": "x"}]
    headers = {"If-Match": str(reply.field("etag"))}
    invalid = await caller.flow("PATCH", path, token=token, json=bad, headers=headers)
    assert (invalid.status, flow_code(invalid)) == (400, "FLOW-1455-400")


async def test_delete_refuses_in_use_then_deletes(
    emu: RunningEmulator, caller: EmulatorCaller
) -> None:
    token = await caller.access_token()
    created = await create(caller, token, "gone")
    connection_id = str(created.field("id"))
    assert emu.state.mark_in_use(connection_id)
    refused = await caller.flow("DELETE", f"{CONNECTIONS}/{connection_id}/", token=token)
    assert (refused.status, flow_code(refused)) == (400, "FLOW-1418-400")
    emu.state.mark_in_use(connection_id, in_use=False)
    deleted = await caller.flow("DELETE", f"{CONNECTIONS}/{connection_id}", token=token)
    assert deleted.status == 204
    again = await caller.flow("DELETE", f"{CONNECTIONS}/{connection_id}", token=token)
    assert again.status == 404
    assert emu.store.connections() == []


async def test_the_in_use_option_makes_a_named_connection_undeletable() -> None:
    """``--in-use NAME``: what a flow using the connection does to a DELETE, for anyone
    rehearsing a rollback against the standalone emulator."""
    parser = argparse.ArgumentParser()
    add_emulator_arguments(parser)
    plan = plan_from_args(parser.parse_args(["--in-use", "busy", "--in-use", "also-busy"]))
    assert plan.in_use_names == {"busy", "also-busy"}
    async with serving(plan) as (emu, caller):
        token = await caller.access_token()
        busy = str((await create(caller, token, "busy")).field("id"))
        free = str((await create(caller, token, "free")).field("id"))
        refused = await caller.flow("DELETE", f"{CONNECTIONS}/{busy}", token=token)
        assert (refused.status, flow_code(refused)) == (400, "FLOW-1418-400")
        deleted = await caller.flow("DELETE", f"{CONNECTIONS}/{free}", token=token)
        assert deleted.status == 204
        assert [c.name for c in emu.store.connections()] == ["busy"]


async def test_connection_test_reports_unreachable_hosts(caller: EmulatorCaller) -> None:
    token = await caller.access_token()
    good = await create(caller, token, "good")
    bad = await create(caller, token, "bad", host="db.unreachable")
    ok = await caller.flow("GET", f"{CONNECTIONS}/{good.field('id')}/test", token=token)
    ko = await caller.flow("GET", f"{CONNECTIONS}/{bad.field('id')}/test", token=token)
    assert (ok.body, ko.body) == ({"result": True}, {"result": False})


async def test_connection_spec_describes_the_connection_string_auth(caller: EmulatorCaller) -> None:
    token = await caller.access_token()
    reply = await caller.flow("GET", f"/connectionSpecs/{ORACLE_SPEC_ID}", token=token)
    assert reply.status == 200
    (auth_spec,) = js(reply)["items"][0]["authSpec"]
    assert auth_spec["name"] == "ConnectionString"
    assert auth_spec["type"] == "connectionStringAuth"
    schema = auth_spec["spec"]
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert schema["required"] == ["connectionString"]
    assert schema["properties"]["connectionString"]["format"] == "password"
    missing = await caller.flow("GET", "/connectionSpecs/unknown", token=token)
    assert missing.status == 404


async def test_patch_paths_and_ops(emu: RunningEmulator, caller: EmulatorCaller) -> None:
    token = await caller.access_token()
    created = await create(caller, token, "p", description="d", password="one")
    path = f"{CONNECTIONS}/{created.field('id')}"
    before = emu.store.connections()[0].auth.fingerprint
    new_string = js_auth(oracle_body("p", password="two"))["params"]["connectionString"]
    ops = [
        {"op": "replace", "path": "/auth/params/connectionString", "value": new_string},
        {"op": "remove", "path": "/description"},
    ]
    reply = await caller.flow("PATCH", path, token=token, json=ops, headers={"If-Match": "*"})
    assert reply.status == 200
    row = emu.store.connections()[0]
    assert row.description is None
    assert row.auth.fingerprint != before
    assert row.updated_at >= row.created_at


@pytest.mark.parametrize(
    "ops",
    [
        [{"op": "remove", "path": "/name"}],
        [{"op": "replace", "path": "/name", "value": ""}],
        [{"op": "replace", "path": "/connectionSpec/id", "value": "x"}],
        [{"op": "add", "path": "/description"}],
        [{"op": "add", "path": "/description", "value": 5}],
        [{"op": "replace", "path": "/auth/params", "value": {"connectionString": "Host=h"}}],
        ["replace"],
        [],
        {"op": "replace", "path": "/name", "value": "x"},
    ],
)
async def test_patch_validation_is_1455(
    emu: RunningEmulator, caller: EmulatorCaller, ops: object
) -> None:
    token = await caller.access_token()
    created = await create(caller, token, "p")
    path = f"{CONNECTIONS}/{created.field('id')}"
    reply = await caller.flow("PATCH", path, token=token, json=ops, headers={"If-Match": "*"})
    assert (reply.status, reply.flow_code) == (400, "FLOW-1455-400")
    assert emu.store.connections()[0].etag == created.field("etag")


async def test_patch_body_and_content_type_checks(caller: EmulatorCaller) -> None:
    token = await caller.access_token()
    created = await create(caller, token, "p")
    path = f"{CONNECTIONS}/{created.field('id')}"
    empty = await caller.flow(
        "PATCH",
        path,
        token=token,
        data=b"",
        headers={"If-Match": "*", "Content-Type": "application/json-patch+json"},
    )
    assert (empty.status, empty.flow_code) == (400, "FLOW-1405-400")
    plain = await caller.flow("PATCH", path, token=token, data="[]", headers={"If-Match": "*"})
    assert (plain.status, plain.field("title")) == (400, "BadRequestError")
    absent = await caller.flow(
        "PATCH", f"{CONNECTIONS}/nope", token=token, json=[], headers={"If-Match": "*"}
    )
    assert (absent.status, absent.flow_code) == (404, "FLOW-1101-404")


async def test_test_of_an_absent_connection_is_404(caller: EmulatorCaller) -> None:
    token = await caller.access_token()
    reply = await caller.flow("GET", f"{CONNECTIONS}/nope/test", token=token)
    assert (reply.status, reply.flow_code) == (404, "FLOW-1101-404")


async def test_connection_spec_list_honours_property_filters(caller: EmulatorCaller) -> None:
    token = await caller.access_token()
    spec_filter = [("property", f"id=={ORACLE_SPEC_ID}")]
    found = await caller.flow("GET", "/connectionSpecs", token=token, params=spec_filter)
    assert [item["id"] for item in js(found)["items"]] == [ORACLE_SPEC_ID]
    other = await caller.flow(
        "GET", "/connectionSpecs", token=token, params=[("property", "name==mysql")]
    )
    assert js(other) == {"items": []}


async def test_unknown_routes_still_carry_a_request_id(caller: EmulatorCaller) -> None:
    token = await caller.access_token()
    reply = await caller.flow("GET", "/flows", token=token)
    assert reply.status == 404
    assert reply.headers["x-request-id"]
