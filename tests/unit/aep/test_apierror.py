"""apierror.py: every error body shape Platform, the gateway and IMS answer with."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provisioner.aep._apierror import ApiError, parse_error_body


def parse(status: int, body: object, *, request_id: str | None = None) -> ApiError:
    return parse_error_body(status, json.dumps(body), request_id=request_id)


def test_flow_body_gives_code_detailed_message_and_request_id() -> None:
    error = parse(
        400,
        {
            "type": "https://ns.adobe.com/aep/errors/FLOW-1413-400",
            "title": "Invalid connection spec ID",
            "status": 400,
            "report": {
                "detailed-message": "invalid connection spec id 26d738e0",
                "request-id": "req-1",
            },
            "errorMessage": "less useful",
        },
    )
    assert error == ApiError(
        status=400,
        code="FLOW-1413-400",
        message="invalid connection spec id 26d738e0",
        request_id="req-1",
    )
    assert str(error) == "FLOW-1413-400: invalid connection spec id 26d738e0"


def test_flow_body_without_report_falls_back_to_error_message() -> None:
    error = parse(
        412,
        {
            "type": "https://ns.adobe.com/aep/errors/FLOW-1404-412",
            "title": "Stale",
            "errorMessage": "Supplied version does not match",
        },
    )
    assert error.code == "FLOW-1404-412"
    assert error.message == "Supplied version does not match"


def test_flow_body_with_only_a_title_uses_the_title() -> None:
    error = parse(
        404,
        {"type": "https://ns.adobe.com/aep/errors/FLOW-1101-404", "title": "Resource not found"},
    )
    assert str(error) == "FLOW-1101-404: Resource not found"


def test_flow_body_with_no_text_at_all_still_has_a_message() -> None:
    error = parse(503, {"type": "https://ns.adobe.com/aep/errors/FLOW-1103-503"})
    assert error.code == "FLOW-1103-503"
    assert error.message == "no message"


def test_flow_body_with_malformed_report_is_tolerated() -> None:
    error = parse(
        400,
        {
            "type": "https://ns.adobe.com/aep/errors/FLOW-1405-400",
            "report": "not an object",
            "errorMessage": "Request body is empty",
        },
    )
    assert (error.code, error.message, error.request_id) == (
        "FLOW-1405-400",
        "Request body is empty",
        None,
    )


def test_flow_report_with_non_text_fields_falls_back() -> None:
    error = parse(
        400,
        {
            "type": "https://ns.adobe.com/aep/errors/FLOW-1455-400",
            "report": {"detailed-message": 42, "request-id": ["x"]},
            "title": "Validation failed",
        },
    )
    assert error.message == "Validation failed"
    assert error.request_id is None


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({"error_code": "401013", "message": "Oauth token is not valid"}, "401013", None),
        ({"error_code": "403010", "message": "Oauth token is missing."}, "403010", None),
        ({"error_code": 403003, "message": "Api Key is invalid"}, "403003", None),
        ({"error_code": "400003"}, "400003", "400003"),
    ],
)
def test_gateway_body_gives_error_code_and_message(
    body: dict[str, object], code: str, message: str | None
) -> None:
    error = parse(401, body)
    assert error.code == code
    assert error.message == (message or body["message"])


def test_ims_oauth_body_gives_error_and_description() -> None:
    error = parse(400, {"error": "invalid_scope", "error_description": "scope is not allowed"})
    assert str(error) == "invalid_scope: scope is not allowed"


def test_ims_oauth_body_without_description_uses_the_error() -> None:
    error = parse(401, {"error": "invalid_client"})
    assert (error.code, error.message) == ("invalid_client", "invalid_client")


def test_problem_json_body_gives_title_and_detail() -> None:
    error = parse(
        400,
        {
            "type": "/placeholder/type/uri",
            "status": 400,
            "title": "BadRequestError",
            "detail": "A valid content-type must be specified",
        },
    )
    assert error.code == "BadRequestError"
    assert error.message == "A valid content-type must be specified"


def test_problem_json_with_only_a_detail_has_no_code() -> None:
    error = parse(400, {"detail": "something is wrong"})
    assert error.code is None
    assert str(error) == "HTTP 400: something is wrong"


def test_bare_error_message_body_from_the_etag_refresh_error() -> None:
    error = parse(
        412,
        {"errorMessage": "Supplied version=[x] does not match the current version on entity=[y]"},
    )
    assert error.code is None
    assert str(error) == (
        "HTTP 412: Supplied version=[x] does not match the current version on entity=[y]"
    )


def test_bare_message_body() -> None:
    assert parse(500, {"message": "Internal error"}).message == "Internal error"


def test_non_json_body_keeps_its_text_with_white_space_collapsed() -> None:
    error = parse_error_body(502, "<html>\n  <body>Bad   Gateway</body>\n</html>")
    assert error.code is None
    assert error.message == "<html> <body>Bad Gateway</body> </html>"
    assert str(error) == "HTTP 502: <html> <body>Bad Gateway</body> </html>"


def test_long_non_json_body_is_truncated() -> None:
    error = parse_error_body(500, "x" * 5000)
    assert error.message == "x" * 300


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_empty_body_says_so(text: str) -> None:
    error = parse_error_body(503, text)
    assert error.message == "no body"
    assert str(error) == "HTTP 503: no body"


@pytest.mark.parametrize("text", ["[1, 2]", '"just a string"', "42", "{}"])
def test_json_without_known_fields_keeps_the_raw_text(text: str) -> None:
    error = parse_error_body(400, text)
    assert error.code is None
    assert error.message == text


def test_header_request_id_is_used_when_the_body_has_none() -> None:
    error = parse(403, {"error_code": "403025", "message": "Profile is not valid"}, request_id="h1")
    assert error.request_id == "h1"


def test_body_request_id_wins_over_the_header() -> None:
    body = {
        "type": "https://ns.adobe.com/aep/errors/FLOW-2118-403",
        "report": {"request-id": "from-body"},
    }
    assert parse(403, body, request_id="from-header").request_id == "from-body"


def test_header_request_id_applies_to_non_json_bodies() -> None:
    assert parse_error_body(502, "Bad Gateway", request_id="h2").request_id == "h2"


@given(status=st.integers(min_value=400, max_value=599), text=st.text(max_size=200))
def test_any_text_gives_a_non_empty_message(status: int, text: str) -> None:
    error = parse_error_body(status, text)
    assert error.status == status
    assert error.message
    assert str(error)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=10,
)


@given(
    body=st.dictionaries(
        st.sampled_from(["type", "title", "detail", "report", "errorMessage", "message"]),
        json_values,
    )
)
def test_any_flow_or_problem_shaped_object_gives_a_non_empty_message(
    body: dict[str, object],
) -> None:
    error = parse(400, body)
    assert error.message
    assert str(error)


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({"error": ""}, None, '{"error": ""}'),
        ({"error_code": None, "message": "Missing header"}, None, "Missing header"),
        ({"error": None, "error_description": "bad scope"}, None, "bad scope"),
        ({"error": {"code": "x"}, "error_description": "nested"}, None, "nested"),
        ({"error_code": 403003, "message": "Api Key is invalid"}, "403003", "Api Key is invalid"),
    ],
)
def test_empty_or_odd_codes_never_become_none_or_reprs(
    body: dict[str, object], code: str | None, message: str
) -> None:
    error = parse_error_body(400, json.dumps(body))
    assert error.code == code
    assert error.message == message
    assert "None" not in str(error)
