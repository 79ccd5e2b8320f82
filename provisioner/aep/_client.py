"""FlowClient: one aiohttp session to the Flow Service (and IMS for tokens).

This is the only module that catches aiohttp exceptions; they leave it as ours
(RetryableError / PermanentError / AuthError), raised ``from`` the original.
"""

from __future__ import annotations

import functools
import itertools
import json as jsonlib
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Final, Protocol, Self
from urllib.parse import urlsplit

import aiohttp
import structlog

from provisioner.aep._apierror import parse_error_body
from provisioner.aep._auth import (
    ImsTokenCache,
    StaticToken,
    TokenGrant,
    TokenProvider,
    request_headers,
)
from provisioner.aep._pacing import Retrier, parse_retry_after
from provisioner.errors import AuthError, PermanentError, RetryableError
from provisioner.secrets import Secret
from provisioner.settings import Settings

__all__ = ["Connection", "Created", "FlowClient", "Pacer", "Response"]

log = structlog.get_logger(__name__)

_THROTTLED: Final = frozenset({429, 503})
_USER_AGENT: Final = "provisioner/0.1"


class Pacer(Protocol):
    """The run's shared pace: every request waits for a slot and reports how it went."""

    async def acquire(self) -> float: ...

    def on_success(self) -> None: ...

    def on_throttle(self, retry_after: float | None, started: float | None = None) -> bool: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Connection:
    id: str
    name: str
    etag: str | None = None
    state: str | None = None
    description: str | None = None
    created_client: str | None = None  # the client id that created it (Platform's createdClient)
    created_at: int | None = None  # epoch ms (Platform's createdAt)


@dataclass(frozen=True, slots=True, kw_only=True)
class Created:
    id: str
    etag: str | None
    status: int
    request_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class _Call:
    kind: str
    method: str
    url: str
    sandbox: str
    json: object
    params: Sequence[tuple[str, str]] | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Response:
    status: int
    body: object
    headers: Mapping[str, str]  # only those the client reads, lower-case names
    started: float | None = None  # the pacer's clock when the request started


def _connection(item: object) -> Connection | None:
    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        return None
    name = item.get("name")
    return Connection(
        id=item["id"],
        name=name if isinstance(name, str) else "",
        etag=item.get("etag") if isinstance(item.get("etag"), str) else None,
        state=item.get("state") if isinstance(item.get("state"), str) else None,
        description=item.get("description") if isinstance(item.get("description"), str) else None,
        created_client=_text_or_none(item.get("createdClient")),
        created_at=_int_or_none(item.get("createdAt")),
    )


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _transport_error(exc: BaseException, *, kind: str) -> RetryableError | PermanentError:
    """A request that got no answer. Whether the body reached the server is unknown,
    except when the connection could not even be opened."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError):
        return PermanentError(f"{kind} request failed TLS verification", sent=False)
    sent = not isinstance(exc, aiohttp.ClientConnectorError)
    if isinstance(exc, TimeoutError):
        reason = "timed out"
    else:
        reason = f"connection error ({type(exc).__name__})"
    return RetryableError(f"{kind} request {reason}", sent=sent)


class FlowClient:
    """Create, list, get, patch and delete base connections. Use as ``async with``."""

    def __init__(
        self,
        settings: Settings,
        *,
        pacer: Pacer,
        tokens: TokenProvider | None = None,
        reads: Retrier | None = None,
    ) -> None:
        self._settings = settings
        self._pacer = pacer
        self._tokens = tokens
        self._reads = reads or Retrier(settings.backoff)
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self.requests: dict[str, int] = {}
        self._id_prefix = uuid.uuid4().hex[:16]  # x-request-id: unique per client, then a count
        self._ids = itertools.count(1)
        self.statuses: dict[int, int] = {}
        self._log = log

    async def __aenter__(self) -> Self:
        if self._closed or self._session is not None:
            raise RuntimeError("a FlowClient cannot be reopened")
        timeouts = self._settings.timeouts
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._settings.limits.concurrency + 2),
            # sock_connect, not connect: no extra timer per pooled request
            timeout=aiohttp.ClientTimeout(total=timeouts.request, sock_connect=timeouts.connect),
            headers={"User-Agent": _USER_AGENT},
            raise_for_status=False,
        )
        if self._tokens is None:
            token = self._settings.credentials.access_token
            self._tokens = StaticToken(token) if token else ImsTokenCache(self._fetch_token)
        # Bound once: an event per request then costs no logger set-up. Events go through the
        # structlog configuration in force when the client is opened.
        self._log = log.bind()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closed = True
        if self._session is not None:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("FlowClient is not open; use 'async with'")
        return self._session

    @property
    def tokens(self) -> TokenProvider:
        if self._tokens is None:
            raise RuntimeError("FlowClient is not open; use 'async with'")
        return self._tokens

    async def _fetch_token(self) -> TokenGrant:
        creds = self._settings.credentials
        secret = creds.client_secret
        form = {
            "grant_type": "client_credentials",
            "client_id": creds.client_id,
            "client_secret": secret.reveal() if secret else "",
            "scope": ",".join(creds.scopes),
        }
        try:
            async with self.session.post(self._settings.token_url, data=form) as resp:
                text = await resp.text()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _transport_error(exc, kind="IMS token") from exc
        if status >= 500 or status == 429:
            raise RetryableError(f"IMS answered {status}", status=status)
        if status != 200:
            raise AuthError(f"IMS refused the credentials: {parse_error_body(status, text)}")
        return _grant(text)

    async def authenticate(self) -> None:
        """Get a token now (retrying an unavailable IMS), so that bad credentials stop the
        run before anything is sent: AuthError."""
        await self._reads.call(self.tokens.token, kind="token")

    async def _token(self) -> Secret:
        """The token for a request. Credentials refused in the middle of a run (a rotated
        secret) fail the request's entry, not the run."""
        try:
            return await self.tokens.token()
        except AuthError as exc:
            raise PermanentError(str(exc), sent=False) from exc

    def _url(self, path: str) -> str:
        """``path`` under the Flow Service. A link the server gives may be absolute, but never
        to another origin: the token is not sent anywhere else."""
        base = self._settings.flow_url
        if not path.startswith(("http://", "https://")):
            return base + path
        link, ours = urlsplit(path), urlsplit(base)
        if (link.scheme, link.netloc) != (ours.scheme, ours.netloc):
            raise PermanentError(f"refusing to follow a link to another host: {link.netloc}")
        return path

    async def request(
        self,
        kind: str,
        method: str,
        path: str,
        *,
        sandbox: str,
        json: object = None,
        params: Sequence[tuple[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """One Flow Service call: pace, auth (one retry after a 401), map errors."""
        url = self._url(path)
        call = _Call(kind=kind, method=method, url=url, sandbox=sandbox, json=json, params=params)
        for auth_attempt in (1, 2):
            token = await self._token()
            resp = await self._send(call, token, headers)
            if resp.status != 401 or auth_attempt == 2:
                break
            self._log.info("token_rejected", kind=kind)
            self.tokens.invalidate(token)
        return self._check(kind, resp)

    async def _send(
        self, call: _Call, token: Secret, headers: Mapping[str, str] | None
    ) -> Response:
        all_headers = request_headers(self._settings.credentials, token, call.sandbox)
        all_headers["x-request-id"] = f"{self._id_prefix}-{next(self._ids)}"
        if headers:
            all_headers.update(headers)
        slot = await self._pacer.acquire()
        self.requests[call.kind] = self.requests.get(call.kind, 0) + 1
        started = time.monotonic()
        try:
            async with self.session.request(
                call.method, call.url, json=call.json, params=call.params, headers=all_headers
            ) as resp:
                body = _declared(await resp.read(), resp.charset)
                status, resp_headers = resp.status, _kept_headers(resp.headers)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _transport_error(exc, kind=call.kind) from exc
        self.statuses[status] = self.statuses.get(status, 0) + 1
        self._log.debug(
            "http_request",
            kind=call.kind,
            method=call.method,
            http_status=status,
            latency_ms=round((time.monotonic() - started) * 1000, 1),
            request_id=resp_headers.get("x-request-id"),
        )
        return Response(status=status, body=_json_or_text(body), headers=resp_headers, started=slot)

    def _check(self, kind: str, resp: Response) -> Response:
        request_id = resp.headers.get("x-request-id")
        if 200 <= resp.status < 300:
            self._pacer.on_success()
            return resp
        text = resp.body if isinstance(resp.body, str) else _dumps(resp.body)
        error = parse_error_body(resp.status, text, request_id=request_id)
        if resp.status in _THROTTLED or resp.status >= 500:
            retry_after = parse_retry_after(resp.headers.get("retry-after"))
            if retry_after is not None:
                retry_after = min(retry_after, self._settings.backoff.retry_after_cap)
            if resp.status in _THROTTLED:
                self._pacer.on_throttle(retry_after, resp.started)
            raise RetryableError(
                f"{kind}: {error}",
                status=resp.status,
                code=error.code,
                request_id=error.request_id,
                retry_after=retry_after,
            )
        raise PermanentError(
            str(error), status=resp.status, code=error.code, request_id=error.request_id
        )

    async def create_connection(self, body: Mapping[str, object], *, sandbox: str) -> Created:
        resp = await self.request("create", "POST", "/connections", sandbox=sandbox, json=body)
        data = resp.body if isinstance(resp.body, dict) else {}
        conn_id = data.get("id")
        if not isinstance(conn_id, str) or not conn_id:
            raise PermanentError("create answered without a connection id", status=resp.status)
        etag = data.get("etag")
        return Created(
            id=conn_id,
            etag=etag if isinstance(etag, str) else None,
            status=resp.status,
            request_id=resp.headers.get("x-request-id"),
        )

    async def list_connections(
        self, *, sandbox: str, filters: Sequence[str] = ()
    ) -> list[Connection]:
        """Every connection matching ``property`` filters (ANDed), following every page."""
        params: list[tuple[str, str]] | None = [("property", f) for f in filters]
        path = "/connections"
        found: list[Connection] = []
        seen: set[str] = set()
        while True:
            page = functools.partial(
                self.request, "list", "GET", path, sandbox=sandbox, params=params
            )
            resp = await self._reads.call(page, kind="list")
            items, next_href = _page(resp.body)
            found.extend(c for c in map(_connection, items) if c is not None)
            if not next_href:
                return found
            if next_href in seen:
                raise PermanentError(f"listing loops: page link repeats after {len(seen)} pages")
            seen.add(next_href)
            path, params = next_href, None

    async def count_connections(self, *, sandbox: str, filters: Sequence[str] = ()) -> int:
        """How many connections match the ``property`` filters (``count=true``: no items)."""
        params = [*(("property", f) for f in filters), ("count", "true")]
        resp = await self._reads.call(
            functools.partial(
                self.request, "list", "GET", "/connections", sandbox=sandbox, params=params
            ),
            kind="list",
        )
        count = resp.body.get("count") if isinstance(resp.body, dict) else None
        if not isinstance(count, int) or isinstance(count, bool):
            raise PermanentError("count answered without a count")
        return count

    async def get_connection(self, connection_id: str, *, sandbox: str) -> Connection | None:
        try:
            path = f"/connections/{connection_id}"
            resp = await self._reads.call(
                lambda: self.request("get", "GET", path, sandbox=sandbox), kind="get"
            )
        except PermanentError as exc:
            if exc.status == 404:
                return None
            raise
        items, _ = _page(resp.body)
        return _connection(items[0]) if items else None

    async def patch_connection(
        self, connection_id: str, *, sandbox: str, etag: str, ops: Sequence[Mapping[str, object]]
    ) -> str | None:
        """JSON-Patch a connection under ``If-Match: etag``; returns the new etag."""
        resp = await self.request(
            "patch",
            "PATCH",
            f"/connections/{connection_id}",
            sandbox=sandbox,
            json=list(ops),
            headers={"If-Match": etag},
        )
        data = resp.body if isinstance(resp.body, dict) else {}
        new_etag = data.get("etag")
        return new_etag if isinstance(new_etag, str) else None

    async def delete_connection(self, connection_id: str, *, sandbox: str) -> bool:
        """Delete a connection; False when it was already gone (404)."""
        try:
            await self.request("delete", "DELETE", f"/connections/{connection_id}", sandbox=sandbox)
        except PermanentError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def test_connection(self, connection_id: str, *, sandbox: str) -> bool | None:
        """Whether Platform could reach the database (``GET /connections/{id}/test``)."""
        resp = await self.request(
            "test", "GET", f"/connections/{connection_id}/test", sandbox=sandbox
        )
        data = resp.body if isinstance(resp.body, dict) else {}
        result = data.get("result")
        return result if isinstance(result, bool) else None


_KEPT_HEADERS: Final = ("retry-after", "x-request-id", "location")


def _kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The answer's headers this client reads, under lower-case names."""
    return {name: value for name in _KEPT_HEADERS if (value := headers.get(name)) is not None}


def _page(body: object) -> tuple[list[object], str | None]:
    if not isinstance(body, dict):
        raise PermanentError("listing answered without an items list")
    items = body.get("items")
    if not isinstance(items, list):
        raise PermanentError("listing answered without an items list")
    links = body.get("_links")
    nxt = links.get("next") if isinstance(links, dict) else None
    href = nxt.get("href") if isinstance(nxt, dict) else None
    return items, href if isinstance(href, str) and href else None


def _grant(text: str) -> TokenGrant:
    body = _json_or_text(text)
    if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
        raise AuthError("IMS answered without an access_token")
    expires = body.get("expires_in")
    expires_in = float(expires) if isinstance(expires, int | float) else 86399.0
    return TokenGrant(token=Secret(body["access_token"]), expires_in=expires_in)


_UTF8: Final = frozenset({"utf-8", "utf8"})


def _declared(raw: bytes, charset: str | None) -> bytes | str:
    """The body as ``json.loads`` should read it: the bytes (JSON's own UTF detection), or
    the text when the answer declares another charset (an error page in latin-1, say)."""
    if charset is None or charset.lower() in _UTF8:
        return raw
    try:
        return raw.decode(charset, errors="replace")
    except LookupError:  # a charset Python does not know
        return raw


def _json_or_text(raw: bytes | str) -> object:
    """The parsed JSON body; a body that is not JSON as text (an error page, say)."""
    if not raw:
        return None
    try:
        return jsonlib.loads(raw)  # bytes: JSON's own encoding detection (RFC 8259)
    except ValueError:
        return raw.decode(errors="replace") if isinstance(raw, bytes) else raw


def _dumps(body: object) -> str:
    return jsonlib.dumps(body) if body is not None else ""
