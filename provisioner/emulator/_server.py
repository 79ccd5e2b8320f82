"""Running the emulator on a real socket: in-process for tests and ``apply --emulator``,
or until cancelled for ``provisioner emulator``.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Final

import structlog
from aiohttp import web

from provisioner.emulator._app import FLOW_PREFIX, IMS_TOKEN_PATH, create_app
from provisioner.emulator._faults import DEFAULT_HOST, FaultPlan
from provisioner.emulator._runtime import EMULATOR_STATE, EmulatorState, EmulatorStats
from provisioner.emulator._store import Store

__all__ = ["DEFAULT_HOST", "RunningEmulator", "running_emulator", "serve"]

_BACKLOG: Final = 1024  # benchmarks open dozens of connections at once
_SHUTDOWN_TIMEOUT: Final = 5.0

log = structlog.get_logger()


@dataclass(frozen=True, slots=True, kw_only=True)
class RunningEmulator:
    """A started emulator. Use ``base_url`` as both AEP_PLATFORM_URL and AEP_IMS_URL."""

    base_url: str
    app: web.Application

    @property
    def flow_url(self) -> str:
        """``{base_url}/data/foundation/flowservice``."""
        return self.base_url + FLOW_PREFIX

    @property
    def ims_url(self) -> str:
        """The token endpoint, ``{base_url}/ims/token/v3``."""
        return self.base_url + IMS_TOKEN_PATH

    @property
    def state(self) -> EmulatorState:
        """Runtime controls: ``revoke_tokens()``, ``mark_in_use(id)``, the plan, the clock."""
        return self.app[EMULATOR_STATE]

    @property
    def stats(self) -> EmulatorStats:
        """Request counters."""
        return self.state.stats

    @property
    def store(self) -> Store:
        """The connections as stored."""
        return self.state.store


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


@asynccontextmanager
async def running_emulator(
    plan: FaultPlan | None = None,
    db_path: str | os.PathLike[str] = ":memory:",
    *,
    host: str = DEFAULT_HOST,
    port: int = 0,
    clock: Callable[[], float] = time.monotonic,
) -> AsyncIterator[RunningEmulator]:
    """Serve the emulator on ``host:port`` (port 0: a free one) for the duration of the block.

    Args:
        plan: faults to inject (default: none).
        db_path: SQLite file for the connections, or ``:memory:``.
        host, port: where to listen.
        clock: monotonic seconds for token expiry and the rate limit.
    """
    app = create_app(plan, db_path=db_path, clock=clock)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, backlog=_BACKLOG)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        yield RunningEmulator(base_url=_url(str(bound_host), int(bound_port)), app=app)
    finally:
        await runner.cleanup()


async def serve(
    host: str = DEFAULT_HOST,
    port: int = 0,
    plan: FaultPlan | None = None,
    db_path: str | os.PathLike[str] = ":memory:",
) -> None:
    """Serve the emulator until cancelled (Ctrl-C); logs ``emulator_started`` with its URL."""
    async with running_emulator(plan, db_path, host=host, port=port) as emulator:
        log.info("emulator_started", url=emulator.base_url, db=os.fspath(db_path))
        try:
            await asyncio.Event().wait()
        finally:
            log.info("emulator_stopped", url=emulator.base_url)
