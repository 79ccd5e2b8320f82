"""Flow Service handlers for one connection: create, get, patch, delete, test; connection specs."""

from __future__ import annotations

import dataclasses
import json
import uuid
from typing import Final

from aiohttp import web

from provisioner.emulator._faults import Region
from provisioner.emulator._gateway import CALLER
from provisioner.emulator._patching import apply_patch, etag_matches
from provisioner.emulator._responses import (
    AUTH_SPEC_INVALID,
    EMPTY_BODY,
    ETAG_STALE,
    IF_MATCH_MISSING,
    IN_USE,
    NOT_FOUND,
    SPEC_INVALID,
    VALIDATION_FAILED,
    Refused,
    flow_error,
)
from provisioner.emulator._runtime import EMULATOR_STATE
from provisioner.emulator._spec import (
    BASIC_SPEC_NAME,
    ORACLE_SPEC_ID,
    ORACLE_SPEC_VERSION,
    AuthParamsError,
    OracleTarget,
    offered_forms,
    oracle_spec,
    parse_auth_params,
)
from provisioner.emulator._store import ConnectionRecord, new_etag
from provisioner.secrets import MASK

__all__ = [
    "FLOW_PREFIX",
    "ConnectionDropped",
    "create_connection",
    "delete_connection",
    "get_connection",
    "get_connection_spec",
    "list_connection_specs",
    "patch_connection",
    "read_json",
    "render_item",
    "test_connection",
]

FLOW_PREFIX: Final = "/data/foundation/flowservice"


class ConnectionDropped(Exception):
    """Raised after a create was committed: answer by dropping the TCP connection."""


def _masked_params(auth: OracleTarget) -> dict[str, object]:
    """The auth params as Platform shows them: secrets masked, the rest as stored."""
    if auth.form != BASIC_SPEC_NAME:
        return {"connectionString": MASK}
    params: dict[str, object] = {
        "server": auth.host,
        "port": auth.port,
        "database": auth.database,
        "username": auth.user,
        "password": MASK,
    }
    if auth.schema is not None:
        params["schema"] = auth.schema
    if auth.ssl_mode is not None:
        params["sslMode"] = auth.ssl_mode
    return params


def render_item(record: ConnectionRecord) -> dict[str, object]:
    """A ConnectionItemDTO; secret auth params are masked."""
    item: dict[str, object] = {
        "id": record.id,
        "createdAt": record.created_at,
        "updatedAt": record.updated_at,
        "createdBy": record.created_by,
        "updatedBy": record.updated_by,
        "createdClient": record.created_client,
        "updatedClient": record.updated_client,
        "sandboxId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{record.org}/{record.sandbox}")),
        "sandboxName": record.sandbox,
        "imsOrgId": record.org,
        "name": record.name,
        "connectionSpec": {"id": record.spec_id, "version": record.spec_version},
        "state": record.state,
        "auth": {"specName": record.auth.form, "params": _masked_params(record.auth)},
        "version": record.etag,
        "etag": record.etag,
    }
    if record.description is not None:
        item["description"] = record.description
    return item


async def read_json(request: web.Request) -> object:
    """The request's JSON body; an empty or malformed body is FLOW-1405-400."""
    text = await request.text()
    if not text.strip():
        raise Refused(flow_error(request, EMPTY_BODY, "Request body is empty"))
    try:
        return json.loads(text)
    except ValueError:
        raise Refused(flow_error(request, EMPTY_BODY, "Request body is not valid JSON")) from None


def _invalid(request: web.Request, message: str) -> Refused:
    return Refused(flow_error(request, VALIDATION_FAILED, message))


def _spec_version(request: web.Request, body: dict[str, object]) -> str:
    spec = body.get("connectionSpec")
    if not isinstance(spec, dict):
        spec = {}
    spec_id = spec.get("id")
    if spec_id != ORACLE_SPEC_ID:
        message = f"invalid connection spec id {spec_id}"
        raise Refused(flow_error(request, SPEC_INVALID, message))
    version = spec.get("version", ORACLE_SPEC_VERSION)
    if version != ORACLE_SPEC_VERSION:
        message = f"invalid connection spec version {version} for id {spec_id}"
        raise Refused(flow_error(request, SPEC_INVALID, message))
    return ORACLE_SPEC_VERSION


def _auth_target(request: web.Request, body: dict[str, object]) -> OracleTarget:
    auth = body.get("auth")
    if not isinstance(auth, dict):
        auth = {}
    spec_name = auth.get("specName")
    if not isinstance(spec_name, str) or spec_name not in offered_forms(_region(request)):
        message = f"auth spec {spec_name} could not be found for the connection spec ID"
        raise Refused(flow_error(request, AUTH_SPEC_INVALID, f"{message} {ORACLE_SPEC_ID}"))
    try:
        return parse_auth_params(auth.get("params"), spec_name)
    except AuthParamsError as exc:
        raise _invalid(request, str(exc)) from None


def _name_description(request: web.Request, body: dict[str, object]) -> tuple[str, str | None]:
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _invalid(request, "name: expected a non-empty string")
    description = body.get("description")
    if description is not None and not isinstance(description, str):
        raise _invalid(request, "description: expected a string")
    return name, description


def _region(request: web.Request) -> Region:
    return request.app[EMULATOR_STATE].plan.region


def _now_ms(request: web.Request) -> int:
    return request.app[EMULATOR_STATE].wall_ms()


async def create_connection(request: web.Request) -> web.Response:
    """POST /connections: validate against the Oracle spec, store, answer 201."""
    state = request.app[EMULATOR_STATE]
    caller = request[CALLER]
    body = await read_json(request)
    if not isinstance(body, dict) or not body:
        raise Refused(flow_error(request, EMPTY_BODY, "Request body must be a non-empty object"))
    version = _spec_version(request, body)
    target = _auth_target(request, body)
    name, description = _name_description(request, body)
    now = _now_ms(request)
    by = f"{caller.client_id}@AdobeID"
    record = state.store.insert(
        ConnectionRecord(
            seq=0,
            id=str(uuid.uuid4()),
            org=caller.org,
            sandbox=caller.sandbox,
            name=name,
            description=description,
            spec_id=ORACLE_SPEC_ID,
            spec_version=version,
            state="enabled",
            created_at=now,
            updated_at=now,
            created_by=by,
            created_client=caller.client_id,
            updated_by=by,
            updated_client=caller.client_id,
            etag=new_etag(),
            in_use=name in state.plan.in_use_names,
            auth=target,
        )
    )
    state.listing.created(record.id)
    if state.dice.reset(state.plan.reset_rate):
        raise ConnectionDropped(record.id)
    location = f"{FLOW_PREFIX}/connections/{record.id}"
    return web.json_response(
        {"id": record.id, "etag": record.etag}, status=201, headers={"Location": location}
    )


def _existing(request: web.Request) -> ConnectionRecord:
    caller = request[CALLER]
    connection_id = request.match_info["id"]
    state = request.app[EMULATOR_STATE]
    record = state.store.get(caller.org, caller.sandbox, connection_id)
    if record is None or state.listing.is_gone(connection_id):
        message = f"Connection with id {connection_id} not found"
        raise Refused(flow_error(request, NOT_FOUND, message))
    return record


async def get_connection(request: web.Request) -> web.Response:
    """GET /connections/{id}: ``{"items": [item]}``."""
    return web.json_response({"items": [render_item(_existing(request))]})


async def patch_connection(request: web.Request) -> web.Response:
    """PATCH /connections/{id}: JSON Patch on name, description or auth params; needs If-Match."""
    if_match = request.headers.get("If-Match")
    if not if_match:
        raise Refused(flow_error(request, IF_MATCH_MISSING, "If-Match header is required"))
    record = _existing(request)
    if not etag_matches(if_match, record.etag):
        message = (
            f"Supplied version=[{if_match}] does not match the current version on "
            f"entity=[{record.etag}]"
        )
        raise Refused(flow_error(request, ETAG_STALE, message))
    body = await read_json(request)
    if record.auth.form not in offered_forms(_region(request)):
        message = f"auth spec {record.auth.form} could not be found for the connection spec ID"
        raise Refused(flow_error(request, AUTH_SPEC_INVALID, f"{message} {ORACLE_SPEC_ID}"))
    try:
        changed = apply_patch(record, body)
    except ValueError as exc:
        raise _invalid(request, str(exc)) from None
    caller = request[CALLER]
    updated = dataclasses.replace(
        changed,
        etag=new_etag(),
        updated_at=_now_ms(request),
        updated_by=f"{caller.client_id}@AdobeID",
        updated_client=caller.client_id,
    )
    request.app[EMULATOR_STATE].store.replace(updated)
    return web.json_response({"id": updated.id, "etag": updated.etag})


async def delete_connection(request: web.Request) -> web.Response:
    """DELETE /connections/{id}: 204, or FLOW-1418-400 while a flow uses it."""
    record = _existing(request)
    if record.in_use:
        message = f"Connection {record.id} cannot be deleted: one or more flows use it"
        raise Refused(flow_error(request, IN_USE, message))
    request.app[EMULATOR_STATE].listing.delete(record.org, record.sandbox, record.id)
    return web.Response(status=204)


async def test_connection(request: web.Request) -> web.Response:
    """GET /connections/{id}/test: ``{"result": bool}``; unreachable hosts answer false."""
    record = _existing(request)
    reachable = not request.app[EMULATOR_STATE].plan.is_unreachable(record.auth.host)
    return web.json_response({"result": reachable})


async def get_connection_spec(request: web.Request) -> web.Response:
    """GET /connectionSpecs/{id}: the Oracle spec of the region, else FLOW-1101-404."""
    spec_id = request.match_info["id"]
    if spec_id != ORACLE_SPEC_ID:
        raise Refused(flow_error(request, NOT_FOUND, f"Connection spec {spec_id} not found"))
    return web.json_response({"items": [oracle_spec(_region(request))]})


async def list_connection_specs(request: web.Request) -> web.Response:
    """GET /connectionSpecs: the emulator knows one spec (``property=id==``/``name==`` work)."""
    spec = oracle_spec(_region(request))
    for prop in request.query.getall("property", []):
        field, sep, values = prop.partition("==")
        if sep and field in ("id", "name") and spec[field] not in values.split(","):
            return web.json_response({"items": []})
    return web.json_response({"items": [spec]})
