"""client.py: FlowClient against faked HTTP (aioresponses), plus one check on the wire."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Iterator, Mapping
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
import structlog
from aiohttp import web
from aiohttp.client_reqrep import ConnectionKey
from aiohttp.test_utils import TestServer
from aioresponses import aioresponses
from aioresponses.compat import normalize_url
from structlog.testing import capture_logs
from yarl import URL

from provisioner.aep._client import ClientConfig, Connection, Created, FlowClient
from provisioner.aep._retry import Retrier
from provisioner.aep._wire import encode_json, json_or_text
from provisioner.errors import AuthError, PermanentError, RetryableError
from provisioner.secrets import Secret
from provisioner.settings import DEFAULT_SCOPES, Backoff, Credentials

PLATFORM = "https://platform.test"
FLOW = PLATFORM + "/data/foundation/flowservice"
IMS_TOKEN = "https://ims.test/ims/token/v3"
CONNECTIONS = FLOW + "/connections"
ORG = "ORG1@AdobeOrg"
CLIENT_SECRET = "client-secret-canary-5e1f"
BODY: dict[str, object] = {
    "name": "finance-eu",
    "auth": {"specName": "ConnectionString", "params": {"connectionString": "Host=h;Port=1"}},
    "connectionSpec": {"id": "d6b52d86-f0f8-475f-89d4-ce54c8527328", "version": "1.0"},
}
FLOW_1413 = {
    "type": "https://ns.adobe.com/aep/errors/FLOW-1413-400",
    "title": "Invalid connection spec ID",
    "status": 400,
    "report": {
        "detailed-message": "invalid connection spec id 26d738e0-8963-47ea-aadf-c60de735468a",
        "request-id": "req-1413",
    },
}


class CompatResponse(aiohttp.ClientResponse):
    """aioresponses 0.7.9 does not pass ``stream_writer``, which aiohttp 3.14 requires
    (pnuckowski/aioresponses#289); a sent request only needs its ``output_size``."""

    def __init__(self, method: str, url: URL, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", SimpleNamespace(output_size=0))
        super().__init__(method, url, **kwargs)


class FakeHttp(aioresponses):
    """aioresponses whose canned answers work with aiohttp 3.14."""

    def add(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("response_class", CompatResponse)
        super().add(*args, **kwargs)


class FakePacer:
    rate = 5.0

    def __init__(self) -> None:
        self.acquired = 0
        self.successes = 0
        self.throttles: list[float | None] = []
        self.throttled_starts: list[float | None] = []

    async def acquire(self) -> float:
        self.acquired += 1
        return float(self.acquired)  # the "start time" of this request

    def on_success(self, started: float | None = None) -> None:
        self.successes += 1

    def on_throttle(
        self, retry_after: float | None, started: float | None = None, *, status: int = 429
    ) -> bool:
        self.throttles.append(retry_after)
        self.throttled_starts.append(started)
        return True


class FakeTokens:
    """Hands out ``t1``; after ``invalidate`` hands out the next one."""

    def __init__(self) -> None:
        self.issued = 1
        self.invalidated: list[str] = []

    async def token(self) -> Secret:
        return Secret(f"t{self.issued}")

    def invalidate(self, token: Secret) -> None:
        self.invalidated.append(token.reveal())
        self.issued += 1


class RecordingSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def make_config(
    *,
    platform_url: str = PLATFORM,
    ims_url: str = "https://ims.test",
    access_token: str | None = None,
    retry_after_cap: float = 60.0,
) -> ClientConfig:
    """The client's config alone: no state path, no other setting of the tool."""
    return ClientConfig(
        flow_url=f"{platform_url}/data/foundation/flowservice",
        token_url=f"{ims_url}/ims/token/v3",
        credentials=Credentials(
            client_id="client-1",
            client_secret=Secret(CLIENT_SECRET),
            org_id=ORG,
            access_token=Secret(access_token) if access_token else None,
        ),
        backoff=Backoff(base=0.0, cap=0.0, max_attempts=3, retry_after_cap=retry_after_cap),
    )


def calls(mocked: aioresponses, method: str, url: str) -> list[Any]:
    return list(mocked.requests.get((method, normalize_url(url)), []))


@pytest.fixture
def pacer() -> FakePacer:
    return FakePacer()


@pytest.fixture
def tokens() -> FakeTokens:
    return FakeTokens()


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def http() -> Iterator[FakeHttp]:
    mocked = FakeHttp()
    with mocked:
        yield mocked


@pytest.fixture
async def client(pacer, tokens, sleep) -> AsyncIterator[FlowClient]:
    settings = make_config()
    reads = Retrier(settings.backoff, sleep=sleep)
    async with FlowClient(settings, pacer=pacer, tokens=tokens, reads=reads) as flow:
        yield flow


# --- headers and create ----------------------------------------------------------------------


async def test_create_sends_platform_headers_and_json_body(
    client: FlowClient, http: FakeHttp
) -> None:
    http.post(CONNECTIONS, status=201, payload={"id": "c-1", "etag": '"e-1"'})
    await client.create_connection(BODY, sandbox="hr-dev")
    (call,) = calls(http, "POST", CONNECTIONS)
    headers = call.kwargs["headers"]
    assert headers["Authorization"] == "Bearer t1"
    assert headers["x-api-key"] == "client-1"
    assert headers["x-gw-ims-org-id"] == ORG
    assert headers["x-sandbox-name"] == "hr-dev"
    assert headers["Accept"] == "application/json"
    assert re.fullmatch(r"[0-9a-f]{16}-\d+", headers["x-request-id"])  # client id + count
    assert headers["Content-Type"] == "application/json"
    assert json.loads(call.kwargs["data"]) == BODY  # the JSON bytes on the wire


async def test_a_body_encoded_beforehand_is_sent_byte_for_byte(
    client: FlowClient, http: FakeHttp
) -> None:
    """A create's body is encoded once before the run; every attempt sends those bytes."""
    encoded = encode_json(BODY)
    http.post(CONNECTIONS, status=503, body="busy")
    http.post(CONNECTIONS, status=201, payload={"id": "c-1"})
    with pytest.raises(RetryableError):
        await client.create_connection(encoded, sandbox="prod")
    await client.create_connection(encoded, sandbox="prod")
    sent = [c.kwargs["data"] for c in calls(http, "POST", CONNECTIONS)]
    assert sent == [encoded.data, encoded.data]
    assert json.loads(encoded.data) == BODY


def test_an_encoded_body_shows_only_its_size() -> None:
    canary = "canary-pw-7f3a9"
    encoded = encode_json({"auth": {"params": {"password": canary}}})
    assert canary.encode() in encoded.data
    assert canary not in repr(encoded)
    assert repr(encoded) == f"<JsonBody: {len(encoded.data)} bytes>"
    assert encode_json(encoded) is encoded  # not encoded twice


async def test_events_follow_the_logging_configured_before_the_client_is_opened(
    pacer: FakePacer, tokens: FakeTokens, http: FakeHttp
) -> None:
    """The client binds its logger when opened, not when built: configuring logging in
    between (as the CLI does) is honoured."""
    flow = FlowClient(make_config(), pacer=pacer, tokens=tokens)
    http.post(CONNECTIONS, status=201, payload={"id": "c-1"})
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))
    with capture_logs() as logs:
        async with flow:
            await flow.create_connection(BODY, sandbox="prod")
    assert [e["event"] for e in logs] == ["http_request"]
    assert logs[0]["http_status"] == 201


async def test_each_request_gets_its_own_request_id(client: FlowClient, http: FakeHttp) -> None:
    http.post(CONNECTIONS, status=201, payload={"id": "c-1"}, repeat=True)
    await client.create_connection(BODY, sandbox="prod")
    await client.create_connection(BODY, sandbox="prod")
    ids = {c.kwargs["headers"]["x-request-id"] for c in calls(http, "POST", CONNECTIONS)}
    assert len(ids) == 2


async def test_create_201_returns_id_and_etag_exactly_as_sent(
    client: FlowClient, http: FakeHttp, pacer: FakePacer
) -> None:
    etag = '"6802064a-0000-0200-0000-6387c6b90000"'
    http.post(
        CONNECTIONS,
        status=201,
        payload={"id": "c-42", "etag": etag},
        headers={"Location": CONNECTIONS + "/c-42"},
    )
    created = await client.create_connection(BODY, sandbox="prod")
    assert created == Created(id="c-42", etag=etag, status=201)
    assert pacer.acquired == 1
    assert pacer.successes == 1
    assert client.requests == {"create": 1}
    assert client.statuses == {201: 1}


async def test_create_success_without_an_id_is_permanent_error(
    client: FlowClient, http: FakeHttp
) -> None:
    http.post(CONNECTIONS, status=201, payload={"etag": '"e"'})
    with pytest.raises(PermanentError, match="without a connection id"):
        await client.create_connection(BODY, sandbox="prod")


async def test_create_success_with_an_empty_body_is_permanent_error(
    client: FlowClient, http: FakeHttp
) -> None:
    http.post(CONNECTIONS, status=201, body="")
    with pytest.raises(PermanentError):
        await client.create_connection(BODY, sandbox="prod")


# --- error answers ---------------------------------------------------------------------------


async def test_429_with_retry_after_is_throttled_retryable_and_slows_the_pacer(
    client: FlowClient, http: FakeHttp, pacer: FakePacer
) -> None:
    http.post(
        CONNECTIONS,
        status=429,
        payload={"error_code": "429050", "message": "Too many requests"},
        headers={"Retry-After": "3"},
    )
    with pytest.raises(RetryableError) as info:
        await client.create_connection(BODY, sandbox="prod")
    error = info.value
    assert error.status == 429
    assert error.retry_after == 3.0
    assert error.throttled
    assert error.code == "429050"
    assert pacer.throttles == [3.0]
    assert pacer.throttled_starts == [1.0], "the answer is tied to its request's start slot"
    assert pacer.successes == 0


async def test_429_without_retry_after_still_slows_the_pacer(
    client: FlowClient, http: FakeHttp, pacer: FakePacer
) -> None:
    http.post(CONNECTIONS, status=429, body="")
    with pytest.raises(RetryableError) as info:
        await client.create_connection(BODY, sandbox="prod")
    assert info.value.retry_after is None
    assert pacer.throttles == [None]


async def test_retry_after_is_capped_by_the_backoff_policy(
    client: FlowClient, http: FakeHttp, pacer: FakePacer
) -> None:
    http.post(CONNECTIONS, status=503, body="", headers={"Retry-After": "3600"})
    with pytest.raises(RetryableError) as info:
        await client.create_connection(BODY, sandbox="prod")
    assert info.value.retry_after == 60.0
    assert pacer.throttles == [60.0]


async def test_response_headers_are_read_case_insensitively(
    client: FlowClient, http: FakeHttp, pacer: FakePacer
) -> None:
    """HTTP/2 front ends send lower-case names; other servers capitalise them."""
    http.post(CONNECTIONS, status=429, body="", headers={"retry-after": "4", "X-Request-Id": "r-9"})
    with pytest.raises(RetryableError) as info:
        await client.create_connection(BODY, sandbox="prod")
    assert info.value.retry_after == 4.0
    assert info.value.request_id == "r-9"
    assert pacer.throttles == [4.0]


async def test_garbage_retry_after_is_ignored(
    client: FlowClient, http: FakeHttp, pacer: FakePacer
) -> None:
    http.post(CONNECTIONS, status=429, body="", headers={"Retry-After": "soon"})
    with pytest.raises(RetryableError) as info:
        await client.create_connection(BODY, sandbox="prod")
    assert info.value.retry_after is None
    assert pacer.throttles == [None]


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_server_errors_are_retryable_but_do_not_throttle(
    client: FlowClient, http: FakeHttp, pacer: FakePacer, status: int
) -> None:
    body = {
        "type": f"https://ns.adobe.com/aep/errors/FLOW-1102-{status}",
        "title": "Internal server error. Please try again.",
        "status": status,
    }
    http.post(CONNECTIONS, status=status, payload=body)
    with pytest.raises(RetryableError) as info:
        await client.create_connection(BODY, sandbox="prod")
    assert info.value.status == status
    assert info.value.code == f"FLOW-1102-{status}"
    assert info.value.sent is True
    assert not info.value.throttled
    assert pacer.throttles == []


async def test_503_is_throttled(client: FlowClient, http: FakeHttp, pacer: FakePacer) -> None:
    http.post(CONNECTIONS, status=503, body="Service Unavailable")
    with pytest.raises(RetryableError) as info:
        await client.create_connection(BODY, sandbox="prod")
    assert info.value.throttled
    assert pacer.throttles == [None]


async def test_flow_400_is_permanent_with_code_and_detailed_message(
    client: FlowClient, http: FakeHttp
) -> None:
    http.post(CONNECTIONS, status=400, payload=FLOW_1413)
    with pytest.raises(PermanentError) as info:
        await client.create_connection(BODY, sandbox="prod")
    error = info.value
    assert str(error) == (
        "FLOW-1413-400: invalid connection spec id 26d738e0-8963-47ea-aadf-c60de735468a"
    )
    assert error.message == str(error)
    assert error.code == "FLOW-1413-400"
    assert error.status == 400
    assert error.request_id == "req-1413"


async def test_gateway_error_body_is_permanent_with_its_code(
    client: FlowClient, http: FakeHttp
) -> None:
    http.post(
        CONNECTIONS,
        status=403,
        payload={"error_code": "403003", "message": "Api Key is invalid"},
        headers={"x-request-id": "gw-req-9"},
    )
    with pytest.raises(PermanentError) as info:
        await client.create_connection(BODY, sandbox="prod")
    assert str(info.value) == "403003: Api Key is invalid"
    assert info.value.code == "403003"
    assert info.value.request_id == "gw-req-9"


async def test_non_json_4xx_body_is_permanent_with_the_text(
    client: FlowClient, http: FakeHttp
) -> None:
    http.post(CONNECTIONS, status=400, body="<html><body>Bad  request</body></html>")
    with pytest.raises(PermanentError) as info:
        await client.create_connection(BODY, sandbox="prod")
    assert str(info.value) == "HTTP 400: <html><body>Bad request</body></html>"
    assert info.value.code is None


async def test_a_json_answer_in_a_declared_charset_is_read_in_it(
    client: FlowClient, http: FakeHttp
) -> None:
    body = '{"id": "c-1", "etag": "\u00e9t\u00e9"}'.encode("iso-8859-1")  # not UTF-8
    http.post(
        CONNECTIONS, status=201, body=body, content_type='application/json; Charset="ISO-8859-1"'
    )
    created = await client.create_connection(BODY, sandbox="prod")
    assert (created.id, created.etag) == ("c-1", "\u00e9t\u00e9")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"id": "c-1", "n": 3}', {"id": "c-1", "n": 3}),  # UTF-8: the usual answer
        ('{"id": "\u00e9"}'.encode("utf-16"), {"id": "\u00e9"}),  # JSON's own detection
        ('{"id": "c-1"}'.encode("utf-32-le"), {"id": "c-1"}),
        (b'\xef\xbb\xbf{"id": "c-1"}', {"id": "c-1"}),  # a UTF-8 BOM
        (b"<html>oops</html>", "<html>oops</html>"),  # not JSON: the text
        (b"", None),
    ],
)
def test_an_answer_reads_as_json_loads_read_it(raw: bytes, expected: object) -> None:
    """orjson reads what it can; anything else ``json.loads`` accepts reads as it always did."""
    assert json_or_text(raw) == expected


def test_the_one_difference_an_integer_beyond_64_bits_reads_as_a_float() -> None:
    """No field of the API is one; orjson reads it as a float where ``json`` kept an int."""
    assert json_or_text(b'{"big": 123456789012345678901234567890}') == {
        "big": 1.2345678901234568e29
    }


def test_a_lone_surrogate_is_escaped_as_json_escaped_it() -> None:
    """orjson refuses a lone surrogate (a variable that is not UTF-8 decodes to one):
    the body is encoded by ``json`` instead, as aiohttp did before."""
    body = {"description": "caf\udce9"}
    assert encode_json(body).data == json.dumps(body).encode()
    assert json.loads(encode_json(body).data) == body


def test_an_answer_with_nan_reads_as_json_loads_read_it() -> None:
    got = json_or_text(b'{"n": NaN}')
    assert isinstance(got, dict)
    assert got["n"] != got["n"]  # NaN, which orjson refuses


async def test_an_unknown_declared_charset_falls_back_to_json_detection(
    client: FlowClient, http: FakeHttp
) -> None:
    body = b'{"id": "c-2"}'
    http.post(CONNECTIONS, status=201, body=body, content_type="application/json; charset=x-nope")
    assert (await client.create_connection(BODY, sandbox="prod")).id == "c-2"


async def test_an_error_page_that_is_not_utf8_is_read_not_crashed_on(
    client: FlowClient, http: FakeHttp
) -> None:
    http.post(CONNECTIONS, status=400, body=b"<html>caf\xe9</html>", content_type="text/html")
    with pytest.raises(PermanentError) as info:
        await client.create_connection(BODY, sandbox="prod")
    assert str(info.value) == "HTTP 400: <html>caf\ufffd</html>"


async def test_non_json_5xx_body_is_retryable_and_names_the_call(
    client: FlowClient, http: FakeHttp
) -> None:
    http.post(CONNECTIONS, status=502, body="<html>Bad Gateway</html>")
    with pytest.raises(RetryableError) as info:
        await client.create_connection(BODY, sandbox="prod")
    assert info.value.message == "create: HTTP 502: <html>Bad Gateway</html>"


async def test_error_messages_never_echo_the_request_body(
    client: FlowClient, http: FakeHttp
) -> None:
    http.post(CONNECTIONS, status=400, payload=FLOW_1413)
    with pytest.raises(PermanentError) as info:
        await client.create_connection(BODY, sandbox="prod")
    assert "Host=h" not in str(info.value)
    assert CLIENT_SECRET not in str(info.value)


# --- 401 and tokens --------------------------------------------------------------------------


async def test_401_invalidates_the_token_and_retries_once_with_a_new_one(
    client: FlowClient, http: FakeHttp, tokens: FakeTokens, pacer: FakePacer
) -> None:
    http.post(
        CONNECTIONS,
        status=401,
        payload={"error_code": "401013", "message": "Oauth token is not valid"},
    )
    http.post(CONNECTIONS, status=201, payload={"id": "c-1"})
    created = await client.create_connection(BODY, sandbox="prod")
    assert created.id == "c-1"
    assert tokens.invalidated == ["t1"]
    sent = calls(http, "POST", CONNECTIONS)
    assert [c.kwargs["headers"]["Authorization"] for c in sent] == ["Bearer t1", "Bearer t2"]
    assert pacer.acquired == 2


async def test_second_401_is_permanent_and_not_retried_again(
    client: FlowClient, http: FakeHttp, tokens: FakeTokens
) -> None:
    body = {"error_code": "401013", "message": "Oauth token is not valid"}
    http.post(CONNECTIONS, status=401, payload=body, repeat=True)
    with pytest.raises(PermanentError) as info:
        await client.create_connection(BODY, sandbox="prod")
    assert info.value.status == 401
    assert info.value.code == "401013"
    assert len(calls(http, "POST", CONNECTIONS)) == 2
    assert tokens.invalidated == ["t1"]


async def test_ready_access_token_is_sent_and_ims_is_never_called(http: FakeHttp) -> None:
    settings = make_config(access_token="ready-token")
    http.post(CONNECTIONS, status=201, payload={"id": "c-1"})
    async with FlowClient(settings, pacer=FakePacer()) as flow:
        await flow.authenticate()
        await flow.create_connection(BODY, sandbox="prod")
    (call,) = calls(http, "POST", CONNECTIONS)
    assert call.kwargs["headers"]["Authorization"] == "Bearer ready-token"
    assert calls(http, "POST", IMS_TOKEN) == []


async def test_ims_token_is_fetched_with_the_client_credentials_form(http: FakeHttp) -> None:
    http.post(
        IMS_TOKEN, payload={"access_token": "ims-tok", "token_type": "bearer", "expires_in": 86399}
    )
    http.post(CONNECTIONS, status=201, payload={"id": "c-1"}, repeat=True)
    async with FlowClient(make_config(), pacer=FakePacer()) as flow:
        await flow.create_connection(BODY, sandbox="prod")
        await flow.create_connection(BODY, sandbox="prod")
    (ims,) = calls(http, "POST", IMS_TOKEN)
    assert ims.kwargs["data"] == {
        "grant_type": "client_credentials",
        "client_id": "client-1",
        "client_secret": CLIENT_SECRET,
        "scope": DEFAULT_SCOPES,
    }
    assert "params" not in ims.kwargs or not ims.kwargs["params"]
    auth = [c.kwargs["headers"]["Authorization"] for c in calls(http, "POST", CONNECTIONS)]
    assert auth == ["Bearer ims-tok", "Bearer ims-tok"]


@pytest.mark.parametrize("status", [400, 401])
async def test_ims_refusal_is_auth_error_with_the_oauth_reason(http: FakeHttp, status: int) -> None:
    http.post(
        IMS_TOKEN,
        status=status,
        payload={"error": "invalid_client", "error_description": "invalid client_secret"},
    )
    async with FlowClient(make_config(), pacer=FakePacer()) as flow:
        with pytest.raises(AuthError) as info:
            await flow.authenticate()
    assert "invalid_client" in str(info.value)
    assert "invalid client_secret" in str(info.value)
    assert CLIENT_SECRET not in str(info.value)


async def test_ims_server_error_is_retried_then_given_up_as_retryable(
    http: FakeHttp, sleep: RecordingSleep
) -> None:
    http.post(IMS_TOKEN, status=503, body="", repeat=True)
    settings = make_config()
    reads = Retrier(settings.backoff, sleep=sleep)
    async with FlowClient(settings, pacer=FakePacer(), reads=reads) as flow:
        with pytest.raises(RetryableError) as info:
            await flow.authenticate()
    assert info.value.status == 503
    assert len(sleep.delays) == settings.backoff.max_attempts - 1


async def test_ims_unavailable_once_is_retried_before_the_run_starts(
    http: FakeHttp, sleep: RecordingSleep
) -> None:
    http.post(IMS_TOKEN, status=503, body="")
    http.post(IMS_TOKEN, payload={"access_token": "tok", "expires_in": 3600})
    settings = make_config()
    reads = Retrier(settings.backoff, sleep=sleep)
    async with FlowClient(settings, pacer=FakePacer(), reads=reads) as flow:
        await flow.authenticate()
    assert len(sleep.delays) == 1


async def test_ims_answer_without_access_token_is_auth_error(http: FakeHttp) -> None:
    http.post(IMS_TOKEN, payload={"token_type": "bearer"})
    async with FlowClient(make_config(), pacer=FakePacer()) as flow:
        with pytest.raises(AuthError, match="access_token"):
            await flow.authenticate()


async def test_unreachable_ims_is_retryable(http: FakeHttp, sleep: RecordingSleep) -> None:
    http.post(IMS_TOKEN, exception=aiohttp.ServerDisconnectedError(), repeat=True)
    settings = make_config()
    reads = Retrier(settings.backoff, sleep=sleep)
    async with FlowClient(settings, pacer=FakePacer(), reads=reads) as flow:
        with pytest.raises(RetryableError, match="IMS token"):
            await flow.authenticate()


# --- transport errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "exc", [TimeoutError(), aiohttp.ServerTimeoutError("read timed out")], ids=repr
)
async def test_timeout_is_retryable_and_may_have_been_sent(
    client: FlowClient, http: FakeHttp, exc: Exception
) -> None:
    http.post(CONNECTIONS, exception=exc)
    with pytest.raises(RetryableError) as info:
        await client.create_connection(BODY, sandbox="prod")
    assert info.value.message == "create request timed out"
    assert info.value.sent is True
    assert info.value.status is None
    assert info.value.__cause__ is exc


async def test_dropped_connection_is_retryable_and_may_have_been_sent(
    client: FlowClient, http: FakeHttp
) -> None:
    exc = aiohttp.ServerDisconnectedError()
    http.post(CONNECTIONS, exception=exc)
    with pytest.raises(RetryableError) as info:
        await client.create_connection(BODY, sandbox="prod")
    assert info.value.message == "create request connection error (ServerDisconnectedError)"
    assert info.value.sent is True
    assert info.value.__cause__ is exc


async def test_refused_connection_is_retryable_and_known_not_sent(
    client: FlowClient, http: FakeHttp
) -> None:
    key = ConnectionKey("platform.test", 443, True, True, None, None, None)
    exc = aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "Connection refused"))
    http.post(CONNECTIONS, exception=exc)
    with pytest.raises(RetryableError) as info:
        await client.create_connection(BODY, sandbox="prod")
    assert info.value.sent is False
    assert info.value.__cause__ is exc


# --- list and get ----------------------------------------------------------------------------


async def test_list_follows_next_links_relative_to_the_service(
    client: FlowClient, http: FakeHttp
) -> None:
    first = CONNECTIONS + "?property=name%3D%3Dfin"
    second = CONNECTIONS + "?continuationToken=page2"
    third = CONNECTIONS + "?continuationToken=page3"
    http.get(
        first,
        payload={
            "items": [{"id": "c1", "name": "fin"}],
            "_links": {"next": {"href": "/connections?continuationToken=page2"}},
        },
    )
    http.get(
        second,
        payload={
            "items": [{"id": "c2", "name": "fin", "etag": '"e2"', "state": "enabled"}],
            "_links": {"next": {"href": "/connections?continuationToken=page3"}},
        },
    )
    http.get(third, payload={"items": [], "_links": {}})
    found = await client.list_connections(sandbox="prod", filters=["name==fin"])
    assert found == [
        Connection(id="c1", name="fin"),
        Connection(id="c2", name="fin", etag='"e2"', state="enabled"),
    ]
    assert [len(calls(http, "GET", u)) for u in (first, second, third)] == [1, 1, 1]
    (page2,) = calls(http, "GET", second)
    assert page2.kwargs["headers"]["x-sandbox-name"] == "prod"


async def test_list_follows_absolute_next_links_as_given(
    client: FlowClient, http: FakeHttp
) -> None:
    nxt = CONNECTIONS + "?continuationToken=abs"
    http.get(CONNECTIONS, payload={"items": [{"id": "c1"}], "_links": {"next": {"href": nxt}}})
    http.get(nxt, payload={"items": [{"id": "c2"}]})
    found = await client.list_connections(sandbox="prod")
    assert [c.id for c in found] == ["c1", "c2"]


async def test_list_sends_every_filter_as_a_property_parameter(
    client: FlowClient, http: FakeHttp
) -> None:
    url = (
        CONNECTIONS + "?property=name%3D%3Da,b"
        "&property=connectionSpec.id%3D%3Dd6b52d86-f0f8-475f-89d4-ce54c8527328"
    )
    http.get(url, payload={"items": []})
    found = await client.list_connections(
        sandbox="prod",
        filters=["name==a,b", "connectionSpec.id==d6b52d86-f0f8-475f-89d4-ce54c8527328"],
    )
    assert found == []
    (call,) = calls(http, "GET", url)
    assert call.kwargs["params"] == [
        ("property", "name==a,b"),
        ("property", "connectionSpec.id==d6b52d86-f0f8-475f-89d4-ce54c8527328"),
    ]


async def test_list_skips_items_without_an_id(client: FlowClient, http: FakeHttp) -> None:
    http.get(CONNECTIONS, payload={"items": [{"name": "no-id"}, "junk", {"id": "c1", "name": 7}]})
    assert await client.list_connections(sandbox="prod") == [Connection(id="c1", name="")]


async def test_list_page_is_retried_after_a_server_error(
    client: FlowClient, http: FakeHttp, sleep: RecordingSleep
) -> None:
    http.get(CONNECTIONS, status=503, body="")
    http.get(CONNECTIONS, payload={"items": [{"id": "c1", "name": "a"}]})
    assert await client.list_connections(sandbox="prod") == [Connection(id="c1", name="a")]
    assert len(sleep.delays) == 1


@pytest.mark.parametrize("body", [{"count": 3}, [], "not json"], ids=repr)
async def test_list_answer_without_items_is_permanent_error(
    client: FlowClient, http: FakeHttp, body: object
) -> None:
    if isinstance(body, str):
        http.get(CONNECTIONS, body=body)
    else:
        http.get(CONNECTIONS, payload=body)
    with pytest.raises(PermanentError, match="items"):
        await client.list_connections(sandbox="prod")


async def test_get_connection_reads_the_one_item(client: FlowClient, http: FakeHttp) -> None:
    item = {
        "id": "c1",
        "name": "fin",
        "etag": '"e1"',
        "state": "enabled",
        "description": "Oracle fin",
    }
    http.get(CONNECTIONS + "/c1", payload={"items": [item]})
    found = await client.get_connection("c1", sandbox="prod")
    assert found == Connection(
        id="c1", name="fin", etag='"e1"', state="enabled", description="Oracle fin"
    )


async def test_get_connection_404_is_none(client: FlowClient, http: FakeHttp) -> None:
    http.get(
        CONNECTIONS + "/gone",
        status=404,
        payload={"type": "https://ns.adobe.com/aep/errors/FLOW-1101-404", "status": 404},
    )
    assert await client.get_connection("gone", sandbox="prod") is None


async def test_get_connection_other_4xx_is_raised(client: FlowClient, http: FakeHttp) -> None:
    http.get(CONNECTIONS + "/c1", status=403, payload={"error_code": "403025"})
    with pytest.raises(PermanentError) as info:
        await client.get_connection("c1", sandbox="prod")
    assert info.value.code == "403025"


async def test_get_connection_empty_items_is_none(client: FlowClient, http: FakeHttp) -> None:
    http.get(CONNECTIONS + "/c1", payload={"items": []})
    assert await client.get_connection("c1", sandbox="prod") is None


# --- life cycle ------------------------------------------------------------------------------


async def test_client_cannot_be_reopened_after_close() -> None:
    flow = FlowClient(make_config(), pacer=FakePacer(), tokens=FakeTokens())
    async with flow:
        pass
    with pytest.raises(RuntimeError, match="reopened"):
        async with flow:
            pass


async def test_client_cannot_be_entered_twice() -> None:
    async with FlowClient(make_config(), pacer=FakePacer(), tokens=FakeTokens()) as flow:
        with pytest.raises(RuntimeError, match="reopened"):
            await flow.__aenter__()


def test_client_refuses_requests_before_it_is_opened() -> None:
    flow = FlowClient(make_config(), pacer=FakePacer(), tokens=FakeTokens())
    with pytest.raises(RuntimeError, match="not open"):
        _ = flow.session
    with pytest.raises(RuntimeError, match="not open"):
        _ = FlowClient(make_config(), pacer=FakePacer()).tokens


# --- on the wire -----------------------------------------------------------------------------


async def test_wire_headers_ims_form_and_json_content_type() -> None:
    """A real loopback server sees what aiohttp actually puts on the wire."""
    seen: list[tuple[str, Mapping[str, str], str]] = []

    async def token(request: web.Request) -> web.Response:
        seen.append((request.path, dict(request.headers), await request.text()))
        return web.json_response({"access_token": "wire-tok", "expires_in": 3600})

    async def create(request: web.Request) -> web.Response:
        seen.append((request.path, dict(request.headers), await request.text()))
        return web.json_response({"id": "c-1", "etag": '"e"'}, status=201)

    app = web.Application()
    app.router.add_post("/ims/token/v3", token)
    app.router.add_post("/data/foundation/flowservice/connections", create)
    async with TestServer(app, host="127.0.0.1") as server:
        base = str(server.make_url("")).rstrip("/")
        settings = make_config(platform_url=base, ims_url=base)
        async with FlowClient(settings, pacer=FakePacer()) as flow:
            created = await asyncio.wait_for(
                flow.create_connection(BODY, sandbox="prod"), timeout=5.0
            )
    assert created.id == "c-1"
    (ims_path, ims_headers, ims_body), (flow_path, flow_headers, flow_body) = seen
    assert ims_path == "/ims/token/v3"
    assert ims_headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert "client_secret=" + CLIENT_SECRET in ims_body
    assert "grant_type=client_credentials" in ims_body
    assert flow_path == "/data/foundation/flowservice/connections"
    assert flow_headers["Content-Type"] == "application/json"
    assert flow_headers["Authorization"] == "Bearer wire-tok"
    assert flow_headers["x-api-key"] == "client-1"
    assert flow_headers["x-gw-ims-org-id"] == ORG
    assert flow_headers["x-sandbox-name"] == "prod"
    assert json.loads(flow_body) == BODY


async def test_list_refuses_a_next_link_to_another_host(client: FlowClient, http: FakeHttp) -> None:
    http.get(
        CONNECTIONS,
        payload={"items": [], "_links": {"next": {"href": "https://evil.example/collect"}}},
    )
    with pytest.raises(PermanentError, match=r"another host: evil\.example"):
        await client.list_connections(sandbox="prod")
    assert all("evil.example" not in str(url) for (_, url) in http.requests)


async def test_list_stops_when_a_page_links_to_itself(client: FlowClient, http: FakeHttp) -> None:
    loop_link = {"items": [], "_links": {"next": {"href": "/connections?continuationToken=same"}}}
    http.get(CONNECTIONS, payload=loop_link)
    http.get(CONNECTIONS + "?continuationToken=same", payload=loop_link, repeat=True)
    with pytest.raises(PermanentError, match="loops"):
        await client.list_connections(sandbox="prod")


async def test_new_write_calls_send_if_match_and_map_404_and_test_result(
    client: FlowClient, http: FakeHttp
) -> None:
    http.patch(CONNECTIONS + "/c1", status=200, payload={"id": "c1", "etag": '"e2"'})
    etag = await client.patch_connection("c1", sandbox="prod", etag='"e1"', ops=[{"op": "x"}])
    assert etag == '"e2"'
    sent = http.requests[("PATCH", URL(CONNECTIONS + "/c1"))][0]
    assert sent.kwargs["headers"]["If-Match"] == '"e1"'
    assert sent.kwargs["headers"]["Content-Type"] == "application/json"
    assert json.loads(sent.kwargs["data"]) == [{"op": "x"}]
    http.delete(CONNECTIONS + "/c1", status=204)
    assert await client.delete_connection("c1", sandbox="prod") is True
    http.delete(CONNECTIONS + "/gone", status=404, payload={"type": "x/FLOW-1101-404"})
    assert await client.delete_connection("gone", sandbox="prod") is False
    http.get(CONNECTIONS + "/c1/test", payload={"result": False})
    assert await client.test_connection("c1", sandbox="prod") is False


async def test_count_connections_reads_the_count_and_refuses_an_answer_without_one(
    client: FlowClient, http: FakeHttp
) -> None:
    http.get(CONNECTIONS + "?count=true&property=name%3D%3Da,b", payload={"count": 7})
    assert await client.count_connections(sandbox="prod", filters=["name==a,b"]) == 7
    http.get(CONNECTIONS + "?count=true", payload={"items": []})
    with pytest.raises(PermanentError, match="without a count"):
        await client.count_connections(sandbox="prod")


async def test_a_connection_carries_who_made_it_and_when(
    client: FlowClient, http: FakeHttp
) -> None:
    item = {"id": "c1", "name": "n", "createdClient": "cid", "createdAt": 1_700_000_000_000}
    http.get(CONNECTIONS, payload={"items": [item, {"id": "c2", "name": "n", "createdAt": True}]})
    first, second = await client.list_connections(sandbox="prod")
    assert (first.created_client, first.created_at) == ("cid", 1_700_000_000_000)
    assert second.created_at is None


async def test_an_injected_session_carries_the_requests_and_is_left_open() -> None:
    """The transport seam: a caller's session (its own headers, connector) is used as is,
    for IMS and Flow alike, and the client does not close what it did not open."""
    agents: list[str] = []

    async def token(request: web.Request) -> web.Response:
        agents.append(request.headers["User-Agent"])
        return web.json_response({"access_token": "seam-tok", "expires_in": 3600})

    async def create(request: web.Request) -> web.Response:
        agents.append(request.headers["User-Agent"])
        return web.json_response({"id": "c-9"}, status=201)

    app = web.Application()
    app.router.add_post("/ims/token/v3", token)
    app.router.add_post("/data/foundation/flowservice/connections", create)
    async with (
        TestServer(app, host="127.0.0.1") as server,
        aiohttp.ClientSession(headers={"User-Agent": "injected/1"}) as session,
    ):
        base = str(server.make_url("")).rstrip("/")
        config = make_config(platform_url=base, ims_url=base)
        async with FlowClient(config, pacer=FakePacer(), session=session) as flow:
            created = await flow.create_connection(BODY, sandbox="prod")
        assert not session.closed
    assert created.id == "c-9"
    assert agents == ["injected/1", "injected/1"]
