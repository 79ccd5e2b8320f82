"""Shared fixtures: a clean environment and structlog config, an emulator on a free port,
settings aimed at it, and the log events of a test (``info_logs``: every level, with the
context variables merged in)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest
import structlog
from structlog.testing import capture_logs
from structlog.typing import EventDict

from provisioner.emulator._faults import FaultPlan
from provisioner.emulator._server import RunningEmulator, running_emulator
from provisioner.secrets import Secret
from provisioner.settings import Backoff, Credentials, Limits, Settings, Timeouts
from tests.emulator_caller import EmulatorCaller

pytest_plugins = ["tests.services.postgres", "tests.services.pushgateway"]

EMULATOR_ORG = "TESTORG0000000000000000@AdobeOrg"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    import os

    for name in list(os.environ):
        if name.startswith("AEP_"):
            monkeypatch.delenv(name)
    structlog.reset_defaults()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    yield
    structlog.reset_defaults()


EmulatorFactory = Callable[..., AbstractAsyncContextManager[RunningEmulator]]


@pytest.fixture
def start_emulator() -> EmulatorFactory:
    """``async with start_emulator(plan=FaultPlan(...)) as emu:`` on a free loopback port."""
    return running_emulator


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    async with running_emulator(FaultPlan()) as emu:
        yield emu


def make_settings(
    emu: RunningEmulator,
    tmp_path: Path,
    *,
    concurrency: int = 8,
    rate: float = 10_000.0,
    backoff: Backoff | None = None,
    timeouts: Timeouts | None = None,
) -> Settings:
    """Settings aimed at ``emu``, with fast backoff unless told otherwise."""
    return Settings(
        platform_url=emu.base_url,
        ims_url=emu.base_url,
        credentials=Credentials(
            client_id="test-client", client_secret=Secret("test-secret"), org_id=EMULATOR_ORG
        ),
        limits=Limits(concurrency=concurrency, rate=rate),
        backoff=backoff or Backoff(base=0.0, cap=0.0, retry_after_cap=0.0),
        timeouts=timeouts or Timeouts(request=5.0),
        state_path=tmp_path / "state.db",
        report_path=tmp_path / "report.json",
    )


@pytest.fixture
def emu(served: tuple[RunningEmulator, EmulatorCaller]) -> RunningEmulator:
    """The emulator of a module's ``served`` fixture (emulator tests define ``served``)."""
    return served[0]


@pytest.fixture
def caller(served: tuple[RunningEmulator, EmulatorCaller]) -> EmulatorCaller:
    """The caller of a module's ``served`` fixture."""
    return served[1]


@pytest.fixture
def info_logs() -> Iterator[list[EventDict]]:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        yield logs
