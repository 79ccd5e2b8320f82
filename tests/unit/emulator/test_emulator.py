"""The emulator's IMS endpoint, gateway header checks and connection creation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from provisioner.emulator import (
    EMULATOR_STATE,
    ORACLE_SPEC_ID,
    FaultPlan,
    RequestKind,
    RunningEmulator,
    create_app,
)
from tests.emulator_caller import EmulatorCaller, FakeClock, Reply, oracle_body, serving
from tests.helpers import js

CONNECTIONS = "/connections"
MYSQL_SPEC_ID = "26d738e0-8963-47ea-aadf-c60de735468a"
ORACLE_V9 = {"id": ORACLE_SPEC_ID, "version": "9"}
EXTRA = {"connectionString": "Host=h;Port=1;Sid=S;User Id=u;Password=p", "password": "p"}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def served(clock: FakeClock) -> AsyncIterator[tuple[RunningEmulator, EmulatorCaller]]:
    async with serving(FaultPlan(token_ttl=60), clock=clock) as pair:
        yield pair


def flow_code(reply: Reply) -> str:
    kind = reply.field("type")
    assert isinstance(kind, str)
    return kind.rsplit("/", 1)[-1]


async def create(caller: EmulatorCaller, token: str, name: str, **kwargs: Any) -> Reply:
    return await caller.flow("POST", CONNECTIONS, token=token, json=oracle_body(name, **kwargs))


# --- IMS ---------------------------------------------------------------------------------------


async def test_token_is_issued_with_ttl_and_counted(
    emu: RunningEmulator, caller: EmulatorCaller
) -> None:
    reply = await caller.token()
    assert reply.status == 200
    assert reply.field("token_type") == "bearer"
    assert reply.field("expires_in") == 60
    assert isinstance(reply.field("access_token"), str)
    assert emu.stats.tokens_issued == 1
    assert emu.stats.requests[RequestKind.TOKEN] == 1
    assert reply.headers["x-request-id"]


@pytest.mark.parametrize(
    ("overrides", "status", "error"),
    [
        ({"grant_type": ""}, 400, "invalid_request"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"client_id": ""}, 400, "invalid_request"),
        ({"client_secret": ""}, 400, "invalid_request"),
        ({"scope": ""}, 400, "invalid_scope"),
    ],
)
async def test_token_request_errors_are_oauth_shaped(
    caller: EmulatorCaller, overrides: dict[str, str], status: int, error: str
) -> None:
    reply = await caller.token(**overrides)
    assert reply.status == status
    assert reply.field("error") == error
    assert reply.field("error_description")


async def test_token_params_may_come_in_the_query_string(caller: EmulatorCaller) -> None:
    query = "grant_type=client_credentials&client_id=q&client_secret=s&scope=openid"
    async with caller.session.post(caller.base_url + "/ims/token/v3?" + query) as response:
        assert response.status == 200
        assert (await response.json())["token_type"] == "bearer"


async def test_strict_client_credentials_are_enforced() -> None:
    async with serving(FaultPlan(client_id="test-client", client_secret="s3cret")) as (emu, call):
        assert (await call.token()).status == 401
        assert (await call.token(client_id="other", client_secret="s3cret")).status == 400
        assert (await call.token(client_secret="s3cret")).status == 200
        assert emu.stats.tokens_issued == 1
    assert "s3cret" not in repr(FaultPlan(client_secret="s3cret"))


async def test_token_expires_on_the_injected_clock(
    caller: EmulatorCaller, clock: FakeClock
) -> None:
    token = await caller.access_token()
    assert (await caller.flow("GET", CONNECTIONS, token=token)).status == 200
    clock.advance(60)
    reply = await caller.flow("GET", CONNECTIONS, token=token)
    assert reply.status == 401
    assert reply.body == {"error_code": "401013", "message": "Oauth token is not valid"}


async def test_revoked_tokens_are_refused(emu: RunningEmulator, caller: EmulatorCaller) -> None:
    token = await caller.access_token()
    assert emu.state.revoke_tokens() == 1
    assert (await caller.flow("GET", CONNECTIONS, token=token)).status == 401


# --- gateway header checks ---------------------------------------------------------------------


def gw(code: str, message: str) -> dict[str, str]:
    return {"error_code": code, "message": message}


@pytest.mark.parametrize(
    ("headers", "status", "body"),
    [
        ({"Authorization": None}, 403, gw("403010", "Oauth token is missing.")),
        ({"Authorization": "Bearer nope"}, 401, gw("401013", "Oauth token is not valid")),
        ({"Authorization": "Basic dXNlcjpwdw=="}, 401, gw("401013", "Oauth token is not valid")),
        ({"x-api-key": None}, 403, gw("403000", "Api Key is required")),
        ({"x-api-key": "someone-else"}, 403, gw("403003", "Api Key is invalid")),
        ({"x-gw-ims-org-id": None}, 400, gw("400003", "Missing header")),
    ],
)  # fmt: skip
async def test_gateway_header_checks(
    caller: EmulatorCaller, headers: dict[str, str | None], status: int, body: dict[str, str]
) -> None:
    token = await caller.access_token()
    reply = await caller.flow("GET", CONNECTIONS, token=token, headers=headers)
    assert (reply.status, reply.body) == (status, body)
    assert reply.headers["x-request-id"]


async def test_checks_run_in_order_token_before_api_key(caller: EmulatorCaller) -> None:
    reply = await caller.flow(
        "GET", CONNECTIONS, token="bad", headers={"x-api-key": None, "x-gw-ims-org-id": None}
    )
    assert reply.field("error_code") == "401013"


async def test_missing_sandbox_is_a_flow_error(caller: EmulatorCaller) -> None:
    token = await caller.access_token()
    reply = await caller.flow("GET", CONNECTIONS, token=token, headers={"x-sandbox-name": None})
    assert reply.status == 400
    assert flow_code(reply) == "FLOW-2105-400"
    report = reply.field("report")
    assert isinstance(report, dict)
    assert report["request-id"] == reply.headers["x-request-id"]


async def test_strict_org_mismatch_is_403025() -> None:
    async with serving(FaultPlan(org="OTHER@AdobeOrg")) as (_, call):
        token = await call.access_token()
        reply = await call.flow("GET", CONNECTIONS, token=token)
        assert (reply.status, reply.field("error_code")) == (403, "403025")


async def test_post_without_json_content_type_is_refused(caller: EmulatorCaller) -> None:
    token = await caller.access_token()
    reply = await caller.flow("POST", CONNECTIONS, token=token, data=b"{}")
    assert reply.status == 400
    assert reply.body == {
        "type": "/placeholder/type/uri",
        "status": 400,
        "title": "BadRequestError",
        "detail": "A valid content-type must be specified",
    }


async def test_incoming_request_id_is_echoed(caller: EmulatorCaller) -> None:
    token = await caller.access_token()
    reply = await caller.flow("GET", CONNECTIONS, token=token, headers={"x-request-id": "abc-1"})
    assert reply.headers["x-request-id"] == "abc-1"


# --- create ------------------------------------------------------------------------------------


async def test_create_answers_201_location_and_quoted_etag(
    emu: RunningEmulator, caller: EmulatorCaller
) -> None:
    token = await caller.access_token()
    reply = await create(caller, token, "finance-eu", description="Oracle finance")
    assert reply.status == 201
    new_id = reply.field("id")
    etag = reply.field("etag")
    assert isinstance(new_id, str)
    assert isinstance(etag, str)
    assert etag.startswith('"')
    assert etag.endswith('"')
    assert reply.headers["Location"] == f"/data/foundation/flowservice/connections/{new_id}"
    (row,) = emu.store.connections()
    assert (row.id, row.name, row.org, row.sandbox) == (new_id, "finance-eu", caller.org, "prod")
    assert (row.auth.host, row.auth.port, row.auth.sid, row.auth.user) == (
        "db.example.com",
        1521,
        "ORCL",
        "reader",
    )
    assert emu.stats.requests[RequestKind.CREATE] == 1
    assert emu.stats.responses[RequestKind.CREATE, 201] == 1


async def test_duplicate_names_are_allowed(emu: RunningEmulator, caller: EmulatorCaller) -> None:
    token = await caller.access_token()
    first = await create(caller, token, "dup")
    second = await create(caller, token, "dup")
    assert first.status == second.status == 201
    assert first.field("id") != second.field("id")
    assert emu.store.count_by_name("dup") == 2


def _with(body: dict[str, object], **changes: object) -> dict[str, object]:
    return {**body, **changes}


def _params(params: object) -> dict[str, object]:
    return _with(oracle_body("x"), auth={"specName": "ConnectionString", "params": params})


def _cs(text: str) -> dict[str, object]:
    return _with(
        oracle_body("x"),
        auth={"specName": "ConnectionString", "params": {"connectionString": text}},
    )


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (None, "FLOW-1405-400"),
        ({}, "FLOW-1405-400"),
        (_with(oracle_body("x"), connectionSpec={"id": MYSQL_SPEC_ID}), "FLOW-1413-400"),
        (_with(oracle_body("x"), connectionSpec=ORACLE_V9), "FLOW-1413-400"),
        (_with(oracle_body("x"), connectionSpec=None), "FLOW-1413-400"),
        (_with(oracle_body("x"), auth={"specName": "Basic Authentication"}), "FLOW-1415-400"),
        (_with(oracle_body("x"), auth="ConnectionString"), "FLOW-1415-400"),
        (_with(oracle_body("x"), name=""), "FLOW-1455-400"),
        ({k: v for k, v in oracle_body("x").items() if k != "name"}, "FLOW-1455-400"),
        (_with(oracle_body("x"), auth={"specName": "ConnectionString"}), "FLOW-1455-400"),
        (_cs("Host=h;Port=1521;Sid=S;User Id=u;Password=p") | {"description": 5}, "FLOW-1455-400"),
        (_cs('Host=h;Port=1521;Sid=S;User Id=u;Password="canary-xyzzy'), "FLOW-1455-400"),
        (_cs("Port=1521;Sid=S;User Id=u;Password=p"), "FLOW-1455-400"),
        (_cs("Host=h;Port=0;Sid=S;User Id=u;Password=p"), "FLOW-1455-400"),
        (_cs("Host=h;Port=70000;Sid=S;User Id=u;Password=p"), "FLOW-1455-400"),
        (_cs("Host=h;Port=15x;Sid=S;User Id=u;Password=p"), "FLOW-1455-400"),
        (_cs("Host=h;Port=1521;User Id=u;Password=p"), "FLOW-1455-400"),
        (_cs("Host=h;Port=1521;Sid=S;ServiceName=N;User Id=u;Password=p"), "FLOW-1455-400"),
        (_cs("Host=h;Port=1521;Sid=S;Password=p"), "FLOW-1455-400"),
        (_cs("Host=h;Port=1521;Sid=S;User Id=u"), "FLOW-1455-400"),
        (_cs('Host=h;Port=1521;Sid=" ";User Id=u;Password=p'), "FLOW-1455-400"),
        (_params("x"), "FLOW-1455-400"),
        (_params(EXTRA), "FLOW-1455-400"),
        (_params({"connectionString": ""}), "FLOW-1455-400"),
    ],
)  # fmt: skip
async def test_create_validation_codes(
    emu: RunningEmulator, caller: EmulatorCaller, body: object, code: str
) -> None:
    token = await caller.access_token()
    data = b"" if body is None else None
    headers = {"Content-Type": "application/json"}
    reply = await caller.flow(
        "POST", CONNECTIONS, token=token, json=body, data=data, headers=headers
    )
    assert reply.status == 400
    assert flow_code(reply) == code
    assert set(js(reply)) >= {"type", "title", "status", "report", "errorMessage"}
    assert "canary-xyzzy" not in str(reply.body)  # values never echo back
    assert emu.store.connections() == []


async def test_malformed_json_is_1405(caller: EmulatorCaller) -> None:
    token = await caller.access_token()
    headers = {"Content-Type": "application/json"}
    reply = await caller.flow("POST", CONNECTIONS, token=token, data="{nope", headers=headers)
    assert (reply.status, reply.flow_code) == (400, "FLOW-1405-400")


async def test_stats_count_by_kind_and_status_and_clear(
    emu: RunningEmulator, caller: EmulatorCaller
) -> None:
    token = await caller.access_token()
    await create(caller, token, "a")
    await caller.flow("GET", CONNECTIONS, token=token)
    await caller.flow("GET", CONNECTIONS, token="bad")
    stats = emu.stats
    assert stats.total == 4
    assert stats.statuses == {200: 2, 201: 1, 401: 1}
    assert stats.responses[RequestKind.LIST, 401] == 1
    stats.clear()
    assert (stats.total, stats.tokens_issued, sum(stats.statuses.values())) == (0, 0, 0)


def test_running_emulator_urls() -> None:
    emu = RunningEmulator(base_url="http://127.0.0.1:1", app=create_app())
    assert emu.flow_url == "http://127.0.0.1:1/data/foundation/flowservice"
    assert emu.ims_url == "http://127.0.0.1:1/ims/token/v3"
    emu.store.close()


async def test_service_name_is_accepted(emu: RunningEmulator, caller: EmulatorCaller) -> None:
    token = await caller.access_token()
    reply = await create(caller, token, "svc", sid=None, service_name="ORCLPDB1")
    assert reply.status == 201
    assert emu.store.connections()[0].auth.service_name == "ORCLPDB1"


def test_create_app_exposes_state_through_an_app_key() -> None:
    app = create_app(FaultPlan(seed=1))
    state = app[EMULATOR_STATE]
    assert state.plan.seed == 1
    state.store.close()
