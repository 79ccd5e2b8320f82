"""``python -m bench.emulator_proc [emulator options] --stats-out FILE``: the emulator as a
process of its own, which writes its request counters to FILE when it gets SIGTERM/SIGINT.

It takes the options of ``provisioner emulator`` and serves the very same application
(``running_emulator``); the only addition is the counters file, so that the benchmark can
count the requests and the 429s a run caused from the server side, exactly.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path

import structlog

from provisioner.emulator._faults import FaultPlan
from provisioner.emulator._options import add_emulator_arguments, plan_from_args
from provisioner.emulator._runtime import EmulatorStats
from provisioner.emulator._server import running_emulator

__all__ = ["main", "stats_json"]


def stats_json(stats: EmulatorStats) -> dict[str, object]:
    """The counters as JSON: requests by kind, responses by status and by kind:status."""
    return {
        "requests": {str(kind): count for kind, count in sorted(stats.requests.items())},
        "statuses": {str(status): count for status, count in sorted(stats.statuses.items())},
        "responses": {
            f"{kind}:{status}": count for (kind, status), count in sorted(stats.responses.items())
        },
        "tokens_issued": stats.tokens_issued,
        "throttled": stats.throttled,
        "total": stats.total,
    }


async def _serve(ns: argparse.Namespace, plan: FaultPlan) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with running_emulator(plan, ns.db, host=ns.host, port=ns.port) as emulator:
        await stop.wait()
        out: Path = ns.stats_out
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(stats_json(emulator.stats)), encoding="utf-8")
        os.replace(tmp, out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.emulator_proc", description=__doc__)
    add_emulator_arguments(parser)
    parser.add_argument("--stats-out", type=Path, required=True, metavar="FILE")
    ns = parser.parse_args(argv)
    structlog.configure(
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
    )
    asyncio.run(_serve(ns, plan_from_args(ns)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
