"""Error bodies as Platform writes them: gateway, Flow Service (``FLOW-NNNN-HTTP``) and OAuth.

Codes marked "emulator's choice" are not documented for this case; the rest come from
Adobe's troubleshooting guide and Flow Service error catalog (see docs/platform-api.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from aiohttp import web

__all__ = [
    "AUTH_SPEC_INVALID",
    "BAD_QUERY",
    "EMPTY_BODY",
    "ETAG_STALE",
    "IF_MATCH_MISSING",
    "INTERNAL_ERROR",
    "IN_USE",
    "LIMIT_WITH_COUNT",
    "NOT_FOUND",
    "REQUEST_ID",
    "SANDBOX_MISSING",
    "SPEC_INVALID",
    "THROTTLED",
    "UNAVAILABLE",
    "UNREACHABLE_SOURCE",
    "VALIDATION_FAILED",
    "FlowCode",
    "Refused",
    "content_type_error",
    "flow_error",
    "gateway_error",
    "oauth_error",
]

FLOW_ERROR_TYPE: Final = "https://ns.adobe.com/aep/errors/"
REQUEST_ID: Final = web.RequestKey("request_id", str)


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowCode:
    """One entry of the Flow Service error catalog."""

    number: int
    status: int
    title: str

    @property
    def code(self) -> str:
        """``FLOW-1413-400``."""
        return f"FLOW-{self.number}-{self.status}"


NOT_FOUND: Final = FlowCode(number=1101, status=404, title="Resource not found")
INTERNAL_ERROR: Final = FlowCode(
    number=1102, status=500, title="Internal server error. Please try again."
)
UNAVAILABLE: Final = FlowCode(
    number=1103, status=503, title="Service is temporarily unavailable. Please try again."
)
LIMIT_WITH_COUNT: Final = FlowCode(
    number=1401, status=400, title="Query parameters limit and count cannot be used together"
)
# Emulator's choice: a malformed list query (property, orderby, limit, continuationToken).
BAD_QUERY: Final = FlowCode(number=1402, status=400, title="Invalid query parameter")
IF_MATCH_MISSING: Final = FlowCode(number=1403, status=400, title="If-Match header is missing")
ETAG_STALE: Final = FlowCode(
    number=1404, status=412, title="Supplied version does not match the current version"
)
EMPTY_BODY: Final = FlowCode(number=1405, status=400, title="Request body is empty or invalid")
SPEC_INVALID: Final = FlowCode(number=1413, status=400, title="Invalid connection spec ID")
AUTH_SPEC_INVALID: Final = FlowCode(
    number=1415, status=400, title="Auth spec could not be found for the connection spec ID"
)
IN_USE: Final = FlowCode(number=1418, status=400, title="Connection is in use by one or more flows")
# D6 documents 1455-400 for PATCH validation; the emulator also uses it for a create whose
# name or auth params do not validate against the Oracle connection spec (emulator's choice).
VALIDATION_FAILED: Final = FlowCode(number=1455, status=400, title="Validation failed")
SANDBOX_MISSING: Final = FlowCode(
    number=2105, status=400, title="The header x-sandbox-name is missing in the request"
)
# Emulator's choice: Platform documents no 429 for Flow Service.
THROTTLED: Final = FlowCode(number=1429, status=429, title="Too many requests")
# Emulator's choice: what explore answers when the connection cannot reach its database.
# A 400 (the request is fine; the connection's target is not), so clients do not retry it.
UNREACHABLE_SOURCE: Final = FlowCode(
    number=1420, status=400, title="Unable to connect to the source database"
)


class Refused(Exception):
    """Raised by a check or a handler to answer with ``response`` at once."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


def flow_error(
    request: web.Request,
    code: FlowCode,
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """A Flow Service error body (D7 shape) for ``code``."""
    body = {
        "type": FLOW_ERROR_TYPE + code.code,
        "title": code.title,
        "status": code.status,
        "report": {
            "detailed-message": message,
            "request-id": request.get(REQUEST_ID, ""),
        },
        "errorMessage": message,
        "errorDetails": message,
    }
    return web.json_response(body, status=code.status, headers=headers)


def gateway_error(status: int, error_code: str, message: str) -> web.Response:
    """An API gateway error body: ``{"error_code", "message"}``."""
    return web.json_response({"error_code": error_code, "message": message}, status=status)


def content_type_error() -> web.Response:
    """What the gateway answers to a POST/PATCH without a JSON content type."""
    body = {
        "type": "/placeholder/type/uri",
        "status": 400,
        "title": "BadRequestError",
        "detail": "A valid content-type must be specified",
    }
    return web.json_response(body, status=400)


def oauth_error(status: int, error: str, description: str) -> web.Response:
    """An IMS (OAuth 2.0) error body."""
    return web.json_response({"error": error, "error_description": description}, status=status)
