"""The HTTP side of the client, below any one API: the answer as the client keeps it,
transport failures as our errors, a request body as JSON bytes, and reading a body (JSON or
text, in its declared charset).

JSON goes through orjson both ways: an answer is parsed in one C call (about 8x faster than
``json.loads`` on a create's answer) and a body is encoded the same way; ``json`` remains the
reader of what orjson refuses (JSON in UTF-16 or UTF-32, a BOM, ``NaN``), so every answer
``json.loads`` read before is still read, except that orjson reads an integer beyond 64 bits
(no field of the API is one) as a float.
"""

from __future__ import annotations

import json as jsonlib
from collections.abc import Mapping
from typing import Final, NamedTuple

import aiohttp
import orjson

from provisioner.errors import PermanentError, RetryableError

__all__ = [
    "JsonBody",
    "Response",
    "declared",
    "dumps",
    "encode_json",
    "json_or_text",
    "kept_headers",
    "transport_error",
]


class JsonBody:
    """A request body already encoded as JSON (UTF-8 bytes), sent as is by every attempt.
    It may carry a password, so its repr shows its size only."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __repr__(self) -> str:
        return f"<JsonBody: {len(self.data)} bytes>"


def encode_json(body: object) -> JsonBody:
    """``body`` as JSON bytes (a JsonBody is already). The bytes are copied to their size:
    orjson returns them in a 4 KiB buffer, which a run's bodies, held until each entry is
    created, would keep (200 MB for 50,000 entries; the copy costs 0.35 us). A string orjson
    refuses (a lone surrogate, which an environment variable that is not UTF-8 decodes to) is
    escaped by ``json``, as before."""
    if isinstance(body, JsonBody):
        return body
    try:
        return JsonBody(memoryview(orjson.dumps(body)).tobytes())
    except orjson.JSONEncodeError:
        return JsonBody(jsonlib.dumps(body).encode())


class Response(NamedTuple):
    """An answer as the client keeps it (a tuple: made once per request, cheaply)."""

    status: int
    body: object
    headers: Mapping[str, str]  # only those the client reads, lower-case names
    started: float | None = None  # the pacer's clock when the request started


def transport_error(exc: BaseException, *, kind: str) -> RetryableError | PermanentError:
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


_KEPT_HEADERS: Final = ("retry-after", "x-request-id", "location")


def kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The answer's headers this client reads, under lower-case names."""
    return {name: value for name in _KEPT_HEADERS if (value := headers.get(name)) is not None}


_UTF8: Final = frozenset({"utf-8", "utf8"})


def declared(raw: bytes, charset: str | None) -> bytes | str:
    """The body as ``json.loads`` should read it: the bytes (JSON's own UTF detection), or
    the text when the answer declares another charset (an error page in latin-1, say)."""
    if charset is None or charset.lower() in _UTF8:
        return raw
    try:
        return raw.decode(charset, errors="replace")
    except LookupError:  # a charset Python does not know
        return raw


def json_or_text(raw: bytes | str) -> object:
    """The parsed JSON body; a body that is not JSON as text (an error page, say)."""
    if not raw:
        return None
    try:
        return orjson.loads(raw)  # UTF-8 JSON, as the API answers
    except orjson.JSONDecodeError:
        pass
    try:
        return jsonlib.loads(raw)  # bytes: JSON's own encoding detection (RFC 8259)
    except ValueError:
        return raw.decode(errors="replace") if isinstance(raw, bytes) else raw


def dumps(body: object) -> str:
    return jsonlib.dumps(body) if body is not None else ""
