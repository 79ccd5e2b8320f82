"""A local Flow Service + IMS emulator: a real aiohttp server for tests, benchmarks and demos.

``running_emulator(plan, db_path)`` serves it on a free loopback port; ``create_app(plan)`` gives
the bare application (for aiohttp's ``TestServer``); ``FaultPlan`` scripts its misbehaviour.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from provisioner._lazy import exports

if TYPE_CHECKING:
    from provisioner.emulator._app import FLOW_PREFIX, IMS_TOKEN_PATH, create_app
    from provisioner.emulator._faults import DEFAULT_TOKEN_TTL, FaultPlan, Region, RequestKind
    from provisioner.emulator._listing import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
    from provisioner.emulator._options import (
        DEFAULT_PORT,
        add_emulator_arguments,
        plan_from_args,
        serve_from_args,
    )
    from provisioner.emulator._runtime import EMULATOR_STATE, EmulatorState, EmulatorStats
    from provisioner.emulator._server import DEFAULT_HOST, RunningEmulator, running_emulator, serve
    from provisioner.emulator._spec import (
        AUTH_SPEC_NAME,
        BASIC_SPEC_NAME,
        ORACLE_SPEC_ID,
        ORACLE_SPEC_VERSION,
    )
    from provisioner.emulator._store import ConnectionRecord, Store

__all__ = [
    "AUTH_SPEC_NAME",
    "BASIC_SPEC_NAME",
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
    "Region",
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

_WHERE: Final[dict[str, str]] = {
    "AUTH_SPEC_NAME": "provisioner.emulator._spec",
    "BASIC_SPEC_NAME": "provisioner.emulator._spec",
    "ConnectionRecord": "provisioner.emulator._store",
    "DEFAULT_HOST": "provisioner.emulator._server",
    "DEFAULT_PAGE_SIZE": "provisioner.emulator._listing",
    "DEFAULT_PORT": "provisioner.emulator._options",
    "DEFAULT_TOKEN_TTL": "provisioner.emulator._faults",
    "EMULATOR_STATE": "provisioner.emulator._runtime",
    "EmulatorState": "provisioner.emulator._runtime",
    "EmulatorStats": "provisioner.emulator._runtime",
    "FLOW_PREFIX": "provisioner.emulator._app",
    "FaultPlan": "provisioner.emulator._faults",
    "IMS_TOKEN_PATH": "provisioner.emulator._app",
    "MAX_PAGE_SIZE": "provisioner.emulator._listing",
    "ORACLE_SPEC_ID": "provisioner.emulator._spec",
    "ORACLE_SPEC_VERSION": "provisioner.emulator._spec",
    "Region": "provisioner.emulator._faults",
    "RequestKind": "provisioner.emulator._faults",
    "RunningEmulator": "provisioner.emulator._server",
    "Store": "provisioner.emulator._store",
    "add_emulator_arguments": "provisioner.emulator._options",
    "create_app": "provisioner.emulator._app",
    "plan_from_args": "provisioner.emulator._options",
    "running_emulator": "provisioner.emulator._server",
    "serve": "provisioner.emulator._server",
    "serve_from_args": "provisioner.emulator._options",
}


# the command line reads the emulator's options without paying for aiohttp.web, which only
# serving needs
__getattr__ = exports(__name__, _WHERE)
