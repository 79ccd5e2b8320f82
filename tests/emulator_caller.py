"""Helpers for tests that talk to the emulator: a fake clock, request bodies and a tiny caller.

The caller is deliberately minimal (raw status, JSON and headers back): tests of the real
client use ``provisioner.aep._client``; these helpers test the emulator itself.
"""

from __future__ import annotations

import json as _json
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Final

import aiohttp
from multidict import CIMultiDictProxy

from provisioner.aep import oracle_connection_string
from provisioner.emulator import (
    AUTH_SPEC_NAME,
    FLOW_PREFIX,
    ORACLE_SPEC_ID,
    ORACLE_SPEC_VERSION,
    FaultPlan,
    RunningEmulator,
    running_emulator,
)

__all__ = [
    "DEFAULT_SCOPES",
    "EmulatorCaller",
    "FakeClock",
    "Reply",
    "oracle_body",
    "serving",
]

DEFAULT_SCOPES: Final = "openid,AdobeID,read_organizations"


class FakeClock:
    """A clock that moves only when told: inject it as ``clock=`` and call ``advance``."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds


def oracle_body(
    name: str,
    *,
    host: str = "db.example.com",
    port: int = 1521,
    sid: str | None = "ORCL",
    service_name: str | None = None,
    user: str = "reader",
    password: str = "pw-secret",
    description: str | None = None,
) -> dict[str, object]:
    """A valid create-connection body for the Oracle spec (as docs/contract.md describes it)."""
    text = oracle_connection_string(
        host=host, port=port, user=user, password=password, sid=sid, service_name=service_name
    )
    body: dict[str, object] = {
        "name": name,
        "auth": {"specName": AUTH_SPEC_NAME, "params": {"connectionString": text}},
        "connectionSpec": {"id": ORACLE_SPEC_ID, "version": ORACLE_SPEC_VERSION},
    }
    if description is not None:
        body["description"] = description
    return body


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """What came back: status, parsed JSON (None when the body is not JSON) and headers."""

    status: int
    body: object
    headers: CIMultiDictProxy[str]

    def field(self, key: str) -> object:
        """``body[key]`` when the body is an object, else None."""
        return self.body.get(key) if isinstance(self.body, dict) else None

    @property
    def flow_code(self) -> str | None:
        """``FLOW-1413-400`` for a Flow Service error body, else None."""
        kind = self.field("type")
        return kind.rsplit("/", 1)[-1] if isinstance(kind, str) and "FLOW-" in kind else None


@dataclass(frozen=True, slots=True, kw_only=True)
class EmulatorCaller:
    """Sends requests to an emulator at ``base_url`` as one client/org/sandbox."""

    session: aiohttp.ClientSession
    base_url: str
    client_id: str = "test-client"
    client_secret: str = "test-secret"
    org: str = "TESTORG@AdobeOrg"
    sandbox: str = "prod"

    async def token(self, **overrides: str) -> Reply:
        """POST the client-credentials form to IMS (fields overridable, "" drops one)."""
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "scope": DEFAULT_SCOPES,
        }
        form.update(overrides)
        data = {k: v for k, v in form.items() if v}
        return await self._send("POST", self.base_url + "/ims/token/v3", data=data)

    async def access_token(self) -> str:
        """A fresh bearer token (fails the test if IMS refuses)."""
        reply = await self.token()
        token = reply.field("access_token")
        if reply.status != 200 or not isinstance(token, str):
            raise AssertionError(f"IMS refused a token: {reply.status} {reply.body}")
        return token

    def headers(self, token: str) -> dict[str, str]:
        """The four headers every Flow call needs."""
        return {
            "Authorization": f"Bearer {token}",
            "x-api-key": self.client_id,
            "x-gw-ims-org-id": self.org,
            "x-sandbox-name": self.sandbox,
        }

    async def flow(
        self,
        method: str,
        path: str,
        *,
        token: str,
        json: object = None,
        data: str | bytes | None = None,
        params: Sequence[tuple[str, str]] | None = None,
        headers: Mapping[str, str | None] | None = None,
    ) -> Reply:
        """A Flow Service call to ``{flow_url}{path}`` (``path`` may be a ``_links`` href).

        ``headers`` adds to the default headers, or removes one when its value is None.
        """
        merged: dict[str, str] = self.headers(token)
        for key, value in (headers or {}).items():
            merged.pop(key, None)
            if value is not None:
                merged[key] = value
        url = self.base_url + FLOW_PREFIX + path
        if json is not None:
            data = _json.dumps(json)
            merged.setdefault("Content-Type", "application/json")
        return await self._send(method, url, data=data, params=params, headers=merged)

    async def create(self, body: Mapping[str, object], *, token: str) -> Reply:
        """POST /connections with this body."""
        return await self.flow("POST", "/connections", token=token, json=body)

    async def _send(
        self,
        method: str,
        url: str,
        *,
        data: object = None,
        params: Sequence[tuple[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        async with self.session.request(
            method, url, data=data, params=params, headers=headers
        ) as response:
            text = await response.text()
            body: object = _json.loads(text) if text and "json" in response.content_type else None
            return Reply(status=response.status, body=body, headers=response.headers)


@asynccontextmanager
async def serving(
    plan: FaultPlan | None = None,
    db_path: str | os.PathLike[str] = ":memory:",
    *,
    clock: Callable[[], float] = time.monotonic,
) -> AsyncIterator[tuple[RunningEmulator, EmulatorCaller]]:
    """A running emulator and a caller (own ClientSession) pointed at it."""
    async with (
        running_emulator(plan, db_path, clock=clock) as emulator,
        aiohttp.ClientSession() as session,
    ):
        yield emulator, EmulatorCaller(session=session, base_url=emulator.base_url)
