"""``python -m provisioner.emulator [options]``: serve the emulator until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

import structlog

from provisioner.emulator._options import add_emulator_arguments, plan_from_args, serve_from_args
from provisioner.errors import ConfigError

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Parse options, serve until interrupted; exit code 0, 2 (usage) or 130 (interrupted)."""
    parser = argparse.ArgumentParser(
        prog="python -m provisioner.emulator",
        description="Serve a local Flow Service + IMS emulator.",
    )
    add_emulator_arguments(parser)
    ns = parser.parse_args(argv)
    try:
        plan_from_args(ns)
    except ConfigError as exc:
        parser.error(str(exc))
    # This is an entry point of its own (the cli package is not in the way): log to stderr.
    structlog.configure(
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
    )
    try:
        asyncio.run(serve_from_args(ns))
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
