"""Credentials -> request headers; the IMS token cache with single-flight refresh.

The cache knows nothing of HTTP: it is handed a ``fetch`` coroutine, so that it can be tested
with a fake. ``fetch_ims_token`` is the real one: it posts the client-credentials form to IMS.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, Protocol

import aiohttp
import structlog

from provisioner.aep._apierror import parse_error_body
from provisioner.aep._wire import json_or_text, transport_error
from provisioner.errors import AuthError, ProvisionerError, RetryableError
from provisioner.secrets import Secret
from provisioner.settings import Credentials

__all__ = [
    "FetchToken",
    "ImsTokenCache",
    "StaticToken",
    "TokenGrant",
    "TokenProvider",
    "fetch_ims_token",
    "request_headers",
]

log = structlog.get_logger(__name__)

_MAX_MARGIN: Final = 300.0  # refresh at most this many seconds before expiry...
_MARGIN_SHARE: Final = 0.1  # ...or this share of the lifetime, whichever is shorter


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenGrant:
    token: Secret
    expires_in: float  # seconds


FetchToken = Callable[[], Awaitable[TokenGrant]]


class TokenProvider(Protocol):
    async def token(self) -> Secret: ...

    def invalidate(self, token: Secret) -> None: ...


class StaticToken:
    """``AEP_ACCESS_TOKEN`` as is: never refreshed."""

    def __init__(self, token: Secret) -> None:
        self._token = token

    async def token(self) -> Secret:
        return self._token

    def invalidate(self, token: Secret) -> None:
        """A ready token cannot be refreshed; the next 401 fails the request."""


class ImsTokenCache:
    """Caches the IMS token and refreshes it before it runs out.

    However many requests wait, one refresh is in flight at a time (single flight): the
    first caller fetches under a lock, the others find the fresh token when they get it.
    """

    def __init__(self, fetch: FetchToken, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch
        self._clock = clock
        self._lock = asyncio.Lock()
        self._token: Secret | None = None
        self._refresh_at = 0.0
        self._tries = 0
        self._failure: ProvisionerError | None = None
        self.fetches = 0

    def _current(self) -> Secret | None:
        if self._token is not None and self._clock() < self._refresh_at:
            return self._token
        return None

    async def token(self) -> Secret:
        current = self._current()
        if current is not None:
            return current
        if isinstance(self._failure, AuthError):
            raise self._failure  # refused credentials do not mend themselves within a run
        tried_before = self._tries
        async with self._lock:
            current = self._current()
            if current is not None:
                return current
            if self._tries > tried_before and self._failure is not None:
                raise self._failure  # a fetch failed while we waited: share it, don't repeat
            try:
                grant = await self._fetch()
            except ProvisionerError as exc:
                self._failure = exc
                self._tries += 1  # counted when it ended: callers that waited share the failure
                raise
            self._failure = None
            self._tries += 1
            self.fetches += 1
            margin = min(_MAX_MARGIN, grant.expires_in * _MARGIN_SHARE)
            self._token = grant.token
            self._refresh_at = self._clock() + grant.expires_in - margin
            log.debug("token_issued", expires_in=grant.expires_in)
            return grant.token

    def invalidate(self, token: Secret) -> None:
        """Forget ``token`` (after a 401), unless a newer one already replaced it."""
        if self._token is not None and self._token == token:
            self._token = None


def request_headers(credentials: Credentials, token: Secret, sandbox: str) -> dict[str, str]:
    """The headers every Flow Service call carries."""
    return {
        "Authorization": f"Bearer {token.reveal()}",
        "x-api-key": credentials.client_id,
        "x-gw-ims-org-id": credentials.org_id,
        "x-sandbox-name": sandbox,
        "Accept": "application/json",
    }


async def fetch_ims_token(
    session: aiohttp.ClientSession, token_url: str, credentials: Credentials
) -> TokenGrant:
    """A fresh token from IMS for the client-credentials grant. An unavailable IMS is
    RetryableError; refused credentials are AuthError (the secret never in the message)."""
    secret = credentials.client_secret
    form = {
        "grant_type": "client_credentials",
        "client_id": credentials.client_id,
        "client_secret": secret.reveal() if secret else "",
        "scope": ",".join(credentials.scopes),
    }
    try:
        async with session.post(token_url, data=form) as resp:
            text = await resp.text()
            status = resp.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise transport_error(exc, kind="IMS token") from exc
    if status >= 500 or status == 429:
        raise RetryableError(f"IMS answered {status}", status=status)
    if status != 200:
        raise AuthError(f"IMS refused the credentials: {parse_error_body(status, text)}")
    return _grant(text)


def _grant(text: str) -> TokenGrant:
    body = json_or_text(text)
    if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
        raise AuthError("IMS answered without an access_token")
    expires = body.get("expires_in")
    expires_in = float(expires) if isinstance(expires, int | float) else 86399.0
    return TokenGrant(token=Secret(body["access_token"]), expires_in=expires_in)
