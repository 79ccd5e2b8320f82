"""What the API gateway does before Flow Service sees a request.

Header checks in the order Platform applies them (token, api key, org, sandbox, content type),
then the per-org rate limit and the injected server errors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from aiohttp import web

from provisioner.emulator._responses import (
    INTERNAL_ERROR,
    SANDBOX_MISSING,
    THROTTLED,
    UNAVAILABLE,
    Refused,
    content_type_error,
    flow_error,
    gateway_error,
)
from provisioner.emulator._runtime import EmulatorState

__all__ = ["CALLER", "Caller", "admit"]

_JSON_TYPES: Final = frozenset({"application/json", "application/json-patch+json"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Caller:
    """Who sent a Flow request, once the gateway let it through."""

    client_id: str
    org: str
    sandbox: str


CALLER: Final = web.RequestKey("caller", Caller)


def _bearer(header: str) -> str:
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _authenticate(request: web.Request, state: EmulatorState) -> Caller:
    headers = request.headers
    authorization = headers.get("Authorization")
    if not authorization:
        raise Refused(gateway_error(403, "403010", "Oauth token is missing."))
    issued = state.tokens.lookup(_bearer(authorization))
    if issued is None:
        raise Refused(gateway_error(401, "401013", "Oauth token is not valid"))
    api_key = headers.get("x-api-key")
    if not api_key:
        raise Refused(gateway_error(403, "403000", "Api Key is required"))
    if api_key != issued.client_id:
        raise Refused(gateway_error(403, "403003", "Api Key is invalid"))
    org = headers.get("x-gw-ims-org-id")
    if not org:
        raise Refused(gateway_error(400, "400003", "Missing header"))
    if state.plan.org is not None and org != state.plan.org:
        raise Refused(gateway_error(403, "403025", "Profile is not valid"))
    sandbox = headers.get("x-sandbox-name")
    if not sandbox:
        message = "The header x-sandbox-name is missing in the request"
        raise Refused(flow_error(request, SANDBOX_MISSING, message))
    return Caller(client_id=issued.client_id, org=org, sandbox=sandbox)


def _throttle(request: web.Request, state: EmulatorState, org: str) -> None:
    if state.limiter is None:
        return
    wait = state.limiter.acquire(org)
    if wait <= 0.0:
        return
    headers = {"Retry-After": str(max(1, math.ceil(wait)))} if state.plan.retry_after else None
    message = "Too many requests for this organization; retry later"
    raise Refused(flow_error(request, THROTTLED, message, headers=headers))


def _inject_error(request: web.Request, state: EmulatorState) -> None:
    status = state.dice.server_error(state.plan.error_rate)
    if status is None:
        return
    state.stats.injected_errors += 1
    code = INTERNAL_ERROR if status == 500 else UNAVAILABLE
    raise Refused(flow_error(request, code, code.title))


def admit(request: web.Request, state: EmulatorState) -> Caller:
    """Run the gateway's checks and faults on a Flow request.

    Returns:
        The caller, also stored as ``request[CALLER]``.

    Raises:
        Refused: with the answer the gateway (or an injected fault) gives instead.
    """
    caller = _authenticate(request, state)
    if request.method in ("POST", "PATCH", "PUT") and request.content_type not in _JSON_TYPES:
        raise Refused(content_type_error())
    _throttle(request, state, caller.org)
    _inject_error(request, state)
    request[CALLER] = caller
    return caller
