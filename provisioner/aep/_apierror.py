"""Platform, gateway and IMS error bodies -> one readable message and code.

Bodies come in several shapes (docs/platform-api.md, "Error bodies"): Flow Service
``{"type": ".../FLOW-1413-400", "report": {"detailed-message"}, ...}``, gateway
``{"error_code", "message"}``, IMS ``{"error", "error_description"}``, problem-JSON
``{"title", "detail"}``, or no JSON at all. Parse defensively.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Final

__all__ = ["ApiError", "parse_error_body"]

_FLOW_CODE: Final = re.compile(r"(FLOW-\d{3,5}-\d{3})")
_MAX_TEXT: Final = 300


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiError:
    status: int
    code: str | None
    message: str
    request_id: str | None = None

    def __str__(self) -> str:
        return (
            f"{self.code}: {self.message}" if self.code else f"HTTP {self.status}: {self.message}"
        )


def _text(value: object) -> str | None:
    if isinstance(value, str) and value.strip():
        return " ".join(value.split())[:_MAX_TEXT]
    return None


def _flow(body: dict[str, object], status: int) -> ApiError | None:
    match = _FLOW_CODE.search(str(body.get("type", "")))
    if match is None:
        return None
    report = body.get("report")
    report = report if isinstance(report, dict) else {}
    message = (
        _text(report.get("detailed-message"))
        or _text(body.get("errorMessage"))
        or _text(body.get("title"))
        or "no message"
    )
    return ApiError(
        status=status,
        code=match.group(1),
        message=message,
        request_id=_text(report.get("request-id")),
    )


def _code(value: object) -> str | None:
    """An error code worth showing: a non-empty string or an integer."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    return _text(value)


def _coded(body: dict[str, object], status: int, code_key: str, text_key: str) -> ApiError | None:
    code, message = _code(body.get(code_key)), _text(body.get(text_key))
    if code is None and message is None:
        return None
    return ApiError(status=status, code=code, message=message or code or "")


def _other(body: dict[str, object], status: int) -> ApiError | None:
    gateway = _coded(body, status, "error_code", "message")  # gateway
    oauth = _coded(body, status, "error", "error_description")  # IMS / OAuth
    if gateway or oauth:
        return gateway or oauth
    title, detail = _text(body.get("title")), _text(body.get("detail"))
    if title or detail:
        return ApiError(status=status, code=title, message=detail or title or "")
    message = _text(body.get("errorMessage"))
    if message:
        return ApiError(status=status, code=None, message=message)
    return None


def parse_error_body(status: int, text: str, *, request_id: str | None = None) -> ApiError:
    """The most useful message an error answer carries."""
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = None
    error: ApiError | None = None
    if isinstance(body, dict):
        error = _flow(body, status) or _other(body, status)
    if error is None:
        error = ApiError(status=status, code=None, message=_text(text) or "no body")
    if error.request_id is None and request_id:
        error = ApiError(
            status=error.status, code=error.code, message=error.message, request_id=request_id
        )
    return error
