"""A local Flow Service + IMS emulator: a real aiohttp server for tests, benchmarks and demos.

``running_emulator(plan, db_path)`` serves it on a free loopback port; ``create_app(plan)`` gives
the bare application (for aiohttp's ``TestServer``); ``FaultPlan`` scripts its misbehaviour.
"""

from __future__ import annotations

from provisioner.emulator.app import FLOW_PREFIX, IMS_TOKEN_PATH, create_app
from provisioner.emulator.faults import DEFAULT_TOKEN_TTL, FaultPlan, RequestKind
from provisioner.emulator.listing import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from provisioner.emulator.options import (
    DEFAULT_PORT,
    add_emulator_arguments,
    plan_from_args,
    serve_from_args,
)
from provisioner.emulator.runtime import EMULATOR_STATE, EmulatorState, EmulatorStats
from provisioner.emulator.server import DEFAULT_HOST, RunningEmulator, running_emulator, serve
from provisioner.emulator.spec import AUTH_SPEC_NAME, ORACLE_SPEC_ID, ORACLE_SPEC_VERSION
from provisioner.emulator.store import ConnectionRecord, Store

__all__ = [
    "AUTH_SPEC_NAME",
    "DEFAULT_HOST",
    "DEFAULT_PAGE_SIZE",
    "DEFAULT_PORT",
    "DEFAULT_TOKEN_TTL",
    "EMULATOR_STATE",
    "FLOW_PREFIX",
    "IMS_TOKEN_PATH",
    "MAX_PAGE_SIZE",
    "ORACLE_SPEC_ID",
    "ORACLE_SPEC_VERSION",
    "ConnectionRecord",
    "EmulatorState",
    "EmulatorStats",
    "FaultPlan",
    "RequestKind",
    "RunningEmulator",
    "Store",
    "add_emulator_arguments",
    "create_app",
    "plan_from_args",
    "running_emulator",
    "serve",
    "serve_from_args",
]
