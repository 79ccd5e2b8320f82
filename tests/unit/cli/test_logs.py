"""logs: JSON lines on the chosen stream, level filtering, masking of secret fields, and the
console's short lines for a person."""

from __future__ import annotations

import io
import json

import pytest
import structlog
from structlog.contextvars import bound_contextvars

from provisioner.cli._logs import configure_logging, default_log_format
from provisioner.secrets import MASK, Secret


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_json_format_writes_one_parsable_object_per_event() -> None:
    out = io.StringIO()
    configure_logging(fmt="json", stream=out)
    log = structlog.get_logger("test")
    log.info("entry_created", entry="finance-eu", attempts=2)
    log.warning("retry_budget_exhausted", attempt=3)
    first, second = lines(out)
    assert first["event"] == "entry_created"
    assert first["entry"] == "finance-eu"
    assert first["attempts"] == 2
    assert first["level"] == "info"
    assert isinstance(first["timestamp"], str)
    assert str(first["timestamp"]).endswith("Z")
    assert second["level"] == "warning"


def test_level_filters_lower_events() -> None:
    out = io.StringIO()
    configure_logging(fmt="json", level="warning", stream=out)
    log = structlog.get_logger("test")
    log.debug("noise")
    log.info("also_noise")
    log.error("entry_failed", entry="hr")
    assert [e["event"] for e in lines(out)] == ["entry_failed"]


def test_debug_level_keeps_debug_events() -> None:
    out = io.StringIO()
    configure_logging(fmt="json", level="debug", stream=out)
    structlog.get_logger("test").debug("http_request", http_status=201)
    assert [e["event"] for e in lines(out)] == ["http_request"]


def test_bound_context_is_merged_into_events() -> None:
    out = io.StringIO()
    configure_logging(fmt="json", stream=out)
    with bound_contextvars(entry="hr", sandbox="hr-dev"):
        structlog.get_logger("test").info("retry_scheduled", attempt=1)
    (event,) = lines(out)
    assert (event["entry"], event["sandbox"], event["attempt"]) == ("hr", "hr-dev", 1)


@pytest.mark.parametrize(
    "field",
    [
        "password",
        "db_password",
        "client_secret",
        "clientSecret",
        "access_token",
        "token",
        "connectionString",
        "connection_string",
        "Authorization",
    ],
)
def test_secret_named_fields_are_masked(field: str) -> None:
    out = io.StringIO()
    configure_logging(fmt="json", stream=out)
    canary = "canary-value-5c2e"
    structlog.get_logger("test").info("something_happened", entry="hr", **{field: canary})
    assert canary not in out.getvalue()
    (event,) = lines(out)
    assert event[field] == MASK
    assert event["entry"] == "hr"


def test_masking_also_applies_to_bound_context() -> None:
    out = io.StringIO()
    configure_logging(fmt="json", stream=out)
    with bound_contextvars(password="canary-bound-77"):
        structlog.get_logger("test").info("event_with_context")
    assert "canary-bound-77" not in out.getvalue()


def test_secret_values_render_masked_in_any_field() -> None:
    out = io.StringIO()
    configure_logging(fmt="json", stream=out)
    structlog.get_logger("test").info("oops", value=Secret("canary-secret-88"))
    assert "canary-secret-88" not in out.getvalue()
    assert lines(out)[0]["event"] == "oops"


def test_console_format_masks_secrets_too() -> None:
    out = io.StringIO()
    configure_logging(fmt="console", stream=out)
    structlog.get_logger("test").warning("entry_created", entry="hr", password="canary-console-9")
    text = out.getvalue()
    assert "entry_created" in text
    assert "canary-console-9" not in text


def test_default_stream_is_stderr_at_the_time_of_logging(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(fmt="json")
    structlog.get_logger("test").info("to_stderr", entry="x")
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert json.loads(line)["event"] == "to_stderr"


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_default_format_is_console_on_a_tty_and_json_otherwise() -> None:
    assert default_log_format(FakeTty()) == "console"
    assert default_log_format(io.StringIO()) == "json"


def test_secret_named_keys_inside_a_dict_field_are_masked_too() -> None:
    out = io.StringIO()
    configure_logging(fmt="json", stream=out)
    structlog.get_logger().info("sent", headers={"Authorization": "Bearer x", "x-api-key": "k"})
    event = json.loads(out.getvalue())
    assert event["headers"] == {"Authorization": MASK, "x-api-key": "k"}


def _finished(log: structlog.typing.FilteringBoundLogger, entry: str, status: str) -> None:
    """The engine's per-entry event, with its fields as the engine logs them."""
    error = "HTTP 400 FLOW-1413-400: bad host" if status == "failed" else None
    log.info(
        "entry_finished",
        entry=entry,
        status=status,
        connection_id=None if error else "c-1",
        attempts=1,
        http_status=400 if error else 201,
        duration_ms=12,
        error=error,
        verified=False,
        request_id="req-1",
    )


def test_console_for_a_person_shows_failures_retries_and_warnings_not_each_entry() -> None:
    out = io.StringIO()
    configure_logging(fmt="console", stream=out)
    log = structlog.get_logger("test")
    log.info("work_started", entries=3)
    with bound_contextvars(entry="ok-db", sandbox="prod"):
        _finished(log, "ok-db", "created")
        log.info("etag_stale", connection_id="c-1")
    with bound_contextvars(entry="bad-db", sandbox="prod"):
        log.info("retry_scheduled", attempt=1, reason="HTTP 503", delay_s=0.5)
        _finished(log, "bad-db", "failed")
    log.warning("grace_expired", cancelled=1)
    shown = out.getvalue().splitlines()
    assert len(shown) == 4, shown
    started, retry, failed, warning = shown
    assert "work_started entries=3" in started
    assert "[info] retry_scheduled" in retry
    assert "entry=bad-db" in retry
    assert "[error] entry_finished" in failed  # a failure stands out as one
    assert "error='HTTP 400 FLOW-1413-400: bad host'" in failed
    assert "request_id" not in failed  # bookkeeping stays in the JSON logs
    assert "connection_id" not in failed  # and so does what is empty
    assert "[warning] grace_expired cancelled=1" in warning


def test_console_at_debug_shows_every_entry_event_in_full() -> None:
    out = io.StringIO()
    configure_logging(fmt="console", level="debug", stream=out)
    log = structlog.get_logger("test")
    with bound_contextvars(entry="ok-db", sandbox="prod"):
        _finished(log, "ok-db", "created")
    (line,) = out.getvalue().splitlines()
    assert "[info] entry_finished" in line
    assert "request_id=req-1" in line
    assert "sandbox=prod" in line


def test_json_logs_keep_every_entry_finished_at_info() -> None:
    out = io.StringIO()
    configure_logging(fmt="json", stream=out)
    log = structlog.get_logger("test")
    _finished(log, "ok-db", "created")
    _finished(log, "bad-db", "failed")
    events = lines(out)
    assert [(e["entry"], e["level"]) for e in events] == [("ok-db", "info"), ("bad-db", "info")]
    assert events[0]["request_id"] == "req-1"


def test_console_colours_on_a_terminal_unless_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    coloured, plain = FakeTty(), FakeTty()
    configure_logging(fmt="console", stream=coloured)
    structlog.get_logger("test").warning("grace_expired")
    monkeypatch.setenv("NO_COLOR", "1")
    configure_logging(fmt="console", stream=plain)
    structlog.get_logger("test").warning("grace_expired")
    assert "\x1b[" in coloured.getvalue()
    assert "\x1b[" not in plain.getvalue()
    assert "grace_expired" in plain.getvalue()
