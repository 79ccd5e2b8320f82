"""FlowClient: one aiohttp session to the Flow Service (and IMS for tokens).

It takes a narrow :class:`ClientConfig` (URLs, credentials, timeouts, concurrency, backoff),
not the tool's whole Settings, and optionally a ready ``aiohttp.ClientSession`` (a test's, or
one with another connector), which it then leaves open. aiohttp's exceptions are caught
here and in ``_wire``/``_auth``; they leave the package as ours (RetryableError /
PermanentError / AuthError), raised ``from`` the original.
"""

from __future__ import annotations

import functools
import itertools
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Final, NamedTuple, Self
from urllib.parse import urlsplit

import aiohttp
import structlog

from provisioner.aep._apierror import parse_error_body
from provisioner.aep._auth import (
    ImsTokenCache,
    StaticToken,
    TokenProvider,
    fetch_ims_token,
    request_headers,
)
from provisioner.aep._connections import Connection, Created, connection_of, page_of
from provisioner.aep._pacing import Pacer
from provisioner.aep._retry import Retrier, parse_retry_after
from provisioner.aep._wire import (
    JsonBody,
    Response,
    declared,
    dumps,
    encode_json,
    json_or_text,
    kept_headers,
    transport_error,
)
from provisioner.errors import AuthError, PermanentError, RetryableError
from provisioner.secrets import Secret
from provisioner.settings import DEFAULT_CONCURRENCY, Backoff, Credentials, Settings, Timeouts

__all__ = ["ClientConfig", "Connection", "Created", "FlowClient", "Response"]

log = structlog.get_logger(__name__)

_THROTTLED: Final = frozenset({429, 503})
_USER_AGENT: Final = "provisioner/0.1"


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientConfig:
    """What a FlowClient needs to know, and nothing else."""

    flow_url: str
    token_url: str
    credentials: Credentials
    timeouts: Timeouts = field(default_factory=Timeouts)
    concurrency: int = DEFAULT_CONCURRENCY  # the pool's workers; the connector allows 2 more
    backoff: Backoff = field(default_factory=Backoff)  # retried reads; the Retry-After cap

    @classmethod
    def of(cls, settings: Settings) -> ClientConfig:
        """The client's part of the tool's settings."""
        return cls(
            flow_url=settings.flow_url,
            token_url=settings.token_url,
            credentials=settings.credentials,
            timeouts=settings.timeouts,
            concurrency=settings.limits.concurrency,
            backoff=settings.backoff,
        )

    def new_session(self) -> aiohttp.ClientSession:
        """The session a client opens when it is given none."""
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self.concurrency + 2),
            # sock_connect, not connect: no extra timer per pooled request
            timeout=aiohttp.ClientTimeout(
                total=self.timeouts.request, sock_connect=self.timeouts.connect
            ),
            headers={"User-Agent": _USER_AGENT},
            raise_for_status=False,
        )


class _Call(NamedTuple):
    """One request, as sent again after a 401 (a tuple: made per request, cheaply)."""

    kind: str
    method: str
    url: str
    sandbox: str
    json: object
    params: Sequence[tuple[str, str]] | None


class FlowClient:
    """Create, list, get, patch and delete base connections. Use as ``async with``."""

    def __init__(
        self,
        config: ClientConfig,
        *,
        pacer: Pacer,
        tokens: TokenProvider | None = None,
        reads: Retrier | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._config = config
        self._pacer = pacer
        self._tokens = tokens
        self._reads = reads or Retrier(config.backoff, rate_of=lambda: pacer.rate)
        self._session: aiohttp.ClientSession | None = None
        self._given_session = session  # the caller's: used as is, and left open
        self._opened = False
        self._closed = False
        self.requests: dict[str, int] = {}
        self._id_prefix = uuid.uuid4().hex[:16]  # x-request-id: unique per client, then a count
        self._ids = itertools.count(1)
        self.statuses: dict[int, int] = {}
        self._log = log

    async def __aenter__(self) -> Self:
        if self._closed or self._opened:
            raise RuntimeError("a FlowClient cannot be reopened")
        self._opened = True
        self._session = self._given_session or self._config.new_session()
        if self._tokens is None:
            config, session = self._config, self._session
            token = config.credentials.access_token
            self._tokens = (
                StaticToken(token)
                if token
                else ImsTokenCache(
                    lambda: fetch_ims_token(session, config.token_url, config.credentials)
                )
            )
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
        if self._session is not None and self._given_session is None:
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

    async def authenticate(self) -> None:
        """Get a token now (retrying an unavailable IMS), so that bad credentials stop the
        run before anything is sent: AuthError."""
        await self._reads.call(self.tokens.token, kind="token")

    def _url(self, path: str) -> str:
        """``path`` under the Flow Service. A link the server gives may be absolute, but never
        to another origin: the token is not sent anywhere else."""
        base = self._config.flow_url
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
        """One Flow Service call: pace, auth (one retry after a 401), map errors. Credentials
        refused in the middle of a run (a rotated secret) fail the request's entry, not the
        run."""
        url = self._url(path)
        call = _Call(kind=kind, method=method, url=url, sandbox=sandbox, json=json, params=params)
        for auth_attempt in (1, 2):
            try:
                token = await self.tokens.token()
            except AuthError as exc:
                raise PermanentError(str(exc), sent=False) from exc
            resp = await self._send(call, token, headers)
            if resp.status != 401 or auth_attempt == 2:
                break
            self._log.info("token_rejected", kind=kind)
            self.tokens.invalidate(token)
        return self._check(kind, resp)

    async def _send(
        self, call: _Call, token: Secret, headers: Mapping[str, str] | None
    ) -> Response:
        all_headers = request_headers(self._config.credentials, token, call.sandbox)
        all_headers["x-request-id"] = f"{self._id_prefix}-{next(self._ids)}"
        data = None
        if call.json is not None:
            data = encode_json(call.json).data
            all_headers["Content-Type"] = "application/json"
        if headers:
            all_headers.update(headers)
        slot = await self._pacer.acquire()
        self.requests[call.kind] = self.requests.get(call.kind, 0) + 1
        started = time.monotonic()
        try:
            async with self.session.request(
                call.method, call.url, data=data, params=call.params, headers=all_headers
            ) as resp:
                body = declared(await resp.read(), resp.charset)
                status, resp_headers = resp.status, kept_headers(resp.headers)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise transport_error(exc, kind=call.kind) from exc
        self.statuses[status] = self.statuses.get(status, 0) + 1
        self._log.debug(
            "http_request",
            kind=call.kind,
            method=call.method,
            http_status=status,
            latency_ms=round((time.monotonic() - started) * 1000, 1),
            request_id=resp_headers.get("x-request-id"),
        )
        return Response(status=status, body=json_or_text(body), headers=resp_headers, started=slot)

    def _check(self, kind: str, resp: Response) -> Response:
        request_id = resp.headers.get("x-request-id")
        if 200 <= resp.status < 300:
            self._pacer.on_success(resp.started)
            return resp
        text = resp.body if isinstance(resp.body, str) else dumps(resp.body)
        error = parse_error_body(resp.status, text, request_id=request_id)
        if resp.status in _THROTTLED or resp.status >= 500:
            retry_after = parse_retry_after(resp.headers.get("retry-after"))
            if retry_after is not None:
                retry_after = min(retry_after, self._config.backoff.retry_after_cap)
            if resp.status in _THROTTLED:
                self._pacer.on_throttle(retry_after, resp.started, status=resp.status)
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

    async def create_connection(
        self, body: Mapping[str, object] | JsonBody, *, sandbox: str
    ) -> Created:
        """``POST /connections`` with ``body`` (or its JSON, encoded once for every attempt)
        in ``sandbox``: the new connection's id and etag."""
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
            items, next_href = page_of(resp.body)
            found.extend(c for c in map(connection_of, items) if c is not None)
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

    async def read(
        self, kind: str, path: str, *, sandbox: str, params: Sequence[tuple[str, str]] = ()
    ) -> Response:
        """A GET retried as the listing is (429, 5xx, no answer), with the read backoff."""
        call = functools.partial(
            self.request, kind, "GET", path, sandbox=sandbox, params=list(params) or None
        )
        return await self._reads.call(call, kind=kind)

    async def _read_unless_missing(self, kind: str, path: str, *, sandbox: str) -> object | None:
        """``read``'s body, or None when the API answers 404."""
        try:
            return (await self.read(kind, path, sandbox=sandbox)).body
        except PermanentError as exc:
            if exc.status == 404:
                return None
            raise

    async def get_connection(self, connection_id: str, *, sandbox: str) -> Connection | None:
        """``GET /connections/{id}``, or None when there is no such connection."""
        body = await self._read_unless_missing(
            "get", f"/connections/{connection_id}", sandbox=sandbox
        )
        if body is None:
            return None
        items, _ = page_of(body)
        return connection_of(items[0]) if items else None

    async def get_connection_spec(self, spec_id: str, *, sandbox: str) -> object | None:
        """``GET /connectionSpecs/{id}``'s body (retried like the listing); None on 404."""
        return await self._read_unless_missing(
            "spec", f"/connectionSpecs/{spec_id}", sandbox=sandbox
        )

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
        resp = await self.read("test", f"/connections/{connection_id}/test", sandbox=sandbox)
        data = resp.body if isinstance(resp.body, dict) else {}
        result = data.get("result")
        return result if isinstance(result, bool) else None
