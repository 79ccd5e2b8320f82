"""IMS ``POST /ims/token/v3``: OAuth server-to-server (client_credentials) token issue."""

from __future__ import annotations

import hmac
from typing import Final

from aiohttp import web

from provisioner.emulator._responses import Refused, oauth_error
from provisioner.emulator._runtime import EMULATOR_STATE, EmulatorState

__all__ = ["IMS_TOKEN_PATH", "issue_token"]

IMS_TOKEN_PATH: Final = "/ims/token/v3"


async def _params(request: web.Request) -> dict[str, str]:
    # I1: the parameters may come in the query string or the form body; the body wins.
    params = {key: value for key, value in request.query.items()}
    form = await request.post()
    params.update((key, value) for key, value in form.items() if isinstance(value, str))
    return params


def _check_grant(params: dict[str, str]) -> None:
    grant = params.get("grant_type")
    if not grant:
        raise Refused(oauth_error(400, "invalid_request", "missing grant_type parameter"))
    if grant != "client_credentials":
        raise Refused(oauth_error(400, "unsupported_grant_type", "unsupported grant_type"))


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _check_client(params: dict[str, str], state: EmulatorState) -> str:
    client_id = params.get("client_id", "")
    secret = params.get("client_secret", "")
    if not client_id:
        raise Refused(oauth_error(400, "invalid_request", "missing client_id parameter"))
    if not secret:
        raise Refused(oauth_error(400, "invalid_request", "missing client_secret parameter"))
    plan = state.plan
    if plan.client_id is not None and not _same(client_id, plan.client_id):
        raise Refused(oauth_error(400, "invalid_client", "invalid client_id parameter"))
    if plan.client_secret is not None and not _same(secret, plan.client_secret):
        raise Refused(oauth_error(401, "invalid_client", "invalid client_secret parameter"))
    if not params.get("scope"):
        raise Refused(oauth_error(400, "invalid_scope", "missing scope parameter"))
    return client_id


async def issue_token(request: web.Request) -> web.Response:
    """Issue a bearer token bound to the client id, valid for the plan's ``token_ttl``."""
    state = request.app[EMULATOR_STATE]
    params = await _params(request)
    _check_grant(params)
    client_id = _check_client(params, state)
    token = state.tokens.issue(client_id)
    state.stats.tokens_issued += 1
    body = {"access_token": token, "token_type": "bearer", "expires_in": state.plan.token_ttl}
    return web.json_response(body)
