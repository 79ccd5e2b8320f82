"""structlog set-up: console lines on a TTY, JSON lines otherwise; always on stderr.

``configure_logging`` is called only from the command line's ``main``. A processor masks any
field whose name says it holds a secret, as a second line of defence behind ``Secret``'s own
masking.

The console format is for a person watching: one short line per event that needs them
(warnings, errors, retries, failed entries, the run's own milestones). Below ``debug`` it leaves
out the routine events about single entries (``entry_finished`` of an entry that did not fail,
``etag_stale`` ...) and empty or bookkeeping fields; the JSON format keeps everything, and
``--log-level debug`` shows everything on the console too. While a progress bar is drawn, console
lines go to it (``divert_lines``), which prints them above itself.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, MutableMapping
from typing import Final, TextIO

import structlog

from provisioner.secrets import MASK, names_a_secret
from provisioner.settings import LogFormat

__all__ = ["LEVELS", "configure_logging", "default_log_format", "divert_lines"]

LEVELS: Final = ("debug", "info", "warning", "error")
_SHOWN_PER_ENTRY: Final = frozenset({"retry_scheduled"})  # info events about one entry, shown
_DETAIL_FIELDS: Final = frozenset({"request_id", "duration_ms", "verified", "sandbox"})


def _mask_secrets(
    _logger: object, _name: str, event: MutableMapping[str, object]
) -> MutableMapping[str, object]:
    for key, value in list(event.items()):
        if names_a_secret(key):
            event[key] = MASK
        elif isinstance(value, dict):
            event[key] = {k: MASK if names_a_secret(str(k)) else v for k, v in value.items()}
    return event


def _for_a_person(
    _logger: object, _name: str, event: MutableMapping[str, object]
) -> MutableMapping[str, object]:
    """The console below ``debug``: drop routine per-entry events, keep each line short."""
    if event.get("level") == "info" and "entry" in event:
        failed = event.get("event") == "entry_finished" and event.get("status") == "failed"
        if not failed and event.get("event") not in _SHOWN_PER_ENTRY:
            raise structlog.DropEvent
        if failed:  # a failure is what the person is here for: it stands out as one
            event["level"] = "error"
    for key in [k for k, v in event.items() if v is None or k in _DETAIL_FIELDS]:
        del event[key]
    return event


def _to_stderr(line: str) -> None:
    """Writes to whatever ``sys.stderr`` is at the time (pytest's capture swaps it)."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


_write_line: Callable[[str], None] = _to_stderr


def divert_lines(write: Callable[[str], None] | None) -> None:
    """Send the log lines meant for stderr to ``write`` (a progress bar, which prints them above
    itself) until called again with None."""
    global _write_line  # one process, one terminal: one writer at a time
    _write_line = write if write is not None else _to_stderr


class _StderrLogger:
    """Hands each line to the current writer: stderr, or the progress bar while it is drawn."""

    def msg(self, message: str) -> None:
        _write_line(message)

    log = debug = info = warning = warn = error = critical = exception = fatal = msg


def _stderr_logger(*_args: object) -> _StderrLogger:
    return _StderrLogger()


def default_log_format(stream: TextIO) -> LogFormat:
    """``console`` for a person at a terminal, ``json`` for everything else (cron, files)."""
    return "console" if stream.isatty() else "json"


def configure_logging(*, fmt: LogFormat, level: str = "info", stream: TextIO | None = None) -> None:
    """Log ``level`` and above to ``stream`` (stderr at the time of each event by default),
    as JSON lines or as short console lines (see the module docstring)."""
    out = stream or sys.stderr
    factory = structlog.PrintLoggerFactory(stream) if stream is not None else _stderr_logger
    shaping: list[structlog.typing.Processor] = []
    renderer: structlog.typing.Processor
    if fmt == "json":
        stamp = structlog.processors.TimeStamper(fmt="iso", utc=True)
        renderer = structlog.processors.JSONRenderer()
    else:
        stamp = structlog.processors.TimeStamper(fmt="%H:%M:%S", utc=True)
        colours = out.isatty() and "NO_COLOR" not in os.environ
        renderer = structlog.dev.ConsoleRenderer(colors=colours, pad_event_to=0, pad_level=False)
        if level != "debug":
            shaping.append(_for_a_person)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            stamp,
            *shaping,
            _mask_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=factory,
        cache_logger_on_first_use=False,
    )
