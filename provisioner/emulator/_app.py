"""The emulator's aiohttp application: routes, the request pipeline and its lifecycle.

Pipeline of every request: request id -> count -> latency -> (Flow only) gateway checks,
rate limit, injected 5xx -> handler. Every response carries ``x-request-id``.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web

from provisioner.emulator._connections import (
    FLOW_PREFIX,
    ConnectionDropped,
    create_connection,
    delete_connection,
    get_connection,
    get_connection_spec,
    list_connection_specs,
    patch_connection,
    test_connection,
)
from provisioner.emulator._explore import explore_connection
from provisioner.emulator._faults import FaultPlan, RequestKind
from provisioner.emulator._gateway import admit
from provisioner.emulator._ims import IMS_TOKEN_PATH, issue_token
from provisioner.emulator._listing import list_connections
from provisioner.emulator._responses import REQUEST_ID, Refused
from provisioner.emulator._runtime import EMULATOR_STATE, EmulatorState
from provisioner.emulator._store import Store

__all__ = ["FLOW_PREFIX", "IMS_TOKEN_PATH", "ROUTE_KINDS", "create_app"]

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ROUTE_KINDS: Final = web.AppKey("emulator_route_kinds", dict[web.AbstractRoute, RequestKind])

_CONNECTION: Final = FLOW_PREFIX + "/connections/{id}"
_ROUTES: Final[tuple[tuple[str, str, _Handler, RequestKind], ...]] = (
    ("POST", IMS_TOKEN_PATH, issue_token, RequestKind.TOKEN),
    ("POST", FLOW_PREFIX + "/connections", create_connection, RequestKind.CREATE),
    ("GET", FLOW_PREFIX + "/connections", list_connections, RequestKind.LIST),
    ("GET", _CONNECTION, get_connection, RequestKind.GET),
    ("GET", _CONNECTION + "/", get_connection, RequestKind.GET),
    ("PATCH", _CONNECTION, patch_connection, RequestKind.PATCH),
    ("PATCH", _CONNECTION + "/", patch_connection, RequestKind.PATCH),
    ("DELETE", _CONNECTION, delete_connection, RequestKind.DELETE),
    ("DELETE", _CONNECTION + "/", delete_connection, RequestKind.DELETE),
    ("GET", _CONNECTION + "/test", test_connection, RequestKind.TEST),
    ("GET", _CONNECTION + "/explore", explore_connection, RequestKind.EXPLORE),
    ("GET", FLOW_PREFIX + "/connectionSpecs", list_connection_specs, RequestKind.SPEC),
    ("GET", FLOW_PREFIX + "/connectionSpecs/{id}", get_connection_spec, RequestKind.SPEC),
)


def _kind(request: web.Request) -> RequestKind | None:
    return request.app[ROUTE_KINDS].get(request.match_info.route)


def _drop(request: web.Request, state: EmulatorState) -> web.Response:
    """Close the TCP connection without answering (the create was committed)."""
    state.stats.resets += 1
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=500)  # never reaches the client: the transport is gone


async def _run(
    request: web.Request, handler: _Handler, state: EmulatorState, kind: RequestKind | None
) -> web.StreamResponse:
    delay = state.plan.delay_for(kind)
    if delay > 0:
        await state.sleep(delay)
    if kind is not None and kind is not RequestKind.TOKEN:
        admit(request, state)
    return await handler(request)


@web.middleware
async def _pipeline(request: web.Request, handler: _Handler) -> web.StreamResponse:
    state = request.app[EMULATOR_STATE]
    request[REQUEST_ID] = request.headers.get("x-request-id") or str(uuid.uuid4())
    kind = _kind(request)
    if kind is not None:
        state.stats.requests[kind] += 1
    try:
        response = await _run(request, handler, state, kind)
    except Refused as refused:
        response = refused.response
    except ConnectionDropped:
        return _drop(request, state)
    except web.HTTPException as exc:
        state.stats.record(kind, exc.status)
        raise
    state.stats.record(kind, response.status)
    return response


async def _add_request_id(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["x-request-id"] = request.get(REQUEST_ID) or str(uuid.uuid4())


def create_app(
    plan: FaultPlan | None = None,
    *,
    db_path: str | os.PathLike[str] = ":memory:",
    clock: Callable[[], float] = time.monotonic,
) -> web.Application:
    """A Flow Service + IMS emulator application.

    Args:
        plan: the faults to inject; the default plan is a well-behaved, lenient service.
        db_path: SQLite file for the connections (created if missing), or ``:memory:``.
        clock: monotonic seconds, for token expiry and the rate limit (inject a fake in tests).

    Returns:
        The application; its state is ``app[EMULATOR_STATE]``. The store is closed on cleanup.
    """
    state = EmulatorState(plan=plan or FaultPlan(), store=Store(db_path), clock=clock)
    app = web.Application(middlewares=[_pipeline])
    app[EMULATOR_STATE] = state
    kinds: dict[web.AbstractRoute, RequestKind] = {}
    for method, path, handler, kind in _ROUTES:
        kinds[app.router.add_route(method, path, handler)] = kind
    app[ROUTE_KINDS] = kinds
    app.on_response_prepare.append(_add_request_id)

    async def close_store(_: web.Application) -> None:
        state.listing.flush()
        state.store.close()

    app.on_cleanup.append(close_store)
    return app
