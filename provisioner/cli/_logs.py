"""structlog set-up: console lines on a TTY, JSON lines otherwise; always on stderr.

``configure_logging`` is called only from ``cli.py``. A last processor masks any field whose
name says it holds a secret, as a second line of defence behind ``Secret``'s own masking.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Final, TextIO

import structlog

from provisioner.secrets import MASK
from provisioner.settings import LogFormat

__all__ = ["LEVELS", "configure_logging", "default_log_format"]

LEVELS: Final = ("debug", "info", "warning", "error")
_SECRET_WORDS: Final = ("password", "secret", "token", "connectionstring", "authorization")


def _mask_secrets(
    _logger: object, _name: str, event: MutableMapping[str, object]
) -> MutableMapping[str, object]:
    for key, value in list(event.items()):
        if _secret_name(key):
            event[key] = MASK
        elif isinstance(value, dict):
            event[key] = {k: MASK if _secret_name(str(k)) else v for k, v in value.items()}
    return event


def _secret_name(key: str) -> bool:
    lowered = key.lower().replace("_", "").replace("-", "")
    return any(word in lowered for word in _SECRET_WORDS)


class _StderrLogger:
    """Writes to whatever ``sys.stderr`` is at the time (the progress bar swaps it)."""

    def msg(self, message: str) -> None:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()

    log = debug = info = warning = warn = error = critical = exception = fatal = msg


def _stderr_logger(*_args: object) -> _StderrLogger:
    return _StderrLogger()


def default_log_format(stream: TextIO) -> LogFormat:
    return "console" if stream.isatty() else "json"


def configure_logging(*, fmt: LogFormat, level: str = "info", stream: TextIO | None = None) -> None:
    out = stream or sys.stderr
    factory = structlog.PrintLoggerFactory(stream) if stream is not None else _stderr_logger
    renderer: structlog.typing.Processor
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=out.isatty())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _mask_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=factory,
        cache_logger_on_first_use=False,
    )
