"""The Platform API as the tool sees it: FlowClient, IMS auth, the Oracle connection spec's
auth forms, request bodies per form, error bodies.

Also the pace every request goes through (the rate controller, ``_pacing``) and what follows
a failed one (backoff or Retry-After, the retry budget and the one retry loop, ``_retry``), since
the client applies them to each request it sends and the engine's worker pool retries with them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from provisioner._lazy import exports
from provisioner.aep._authform import AuthForm
from provisioner.aep._authspec import (
    ChosenAuth,
    OracleSpec,
    check_entries,
    choose_auth,
    parse_oracle_spec,
    read_auth,
)
from provisioner.aep._bodies import auth_params, connection_body, patch_ops
from provisioner.aep._client import ClientConfig, Connection, FlowClient
from provisioner.aep._connstring import oracle_connection_string
from provisioner.aep._pacing import RateController, Sleep
from provisioner.aep._retry import Attempts, Retrier, RetryBudget
from provisioner.aep._wire import JsonBody, encode_json

if TYPE_CHECKING:  # explore's calls, imported on first use (see provisioner._lazy)
    from provisioner.aep._explore import (
        ExploredColumn,
        ExploredTable,
        explore_columns,
        explore_tables,
    )

_ON_USE: Final = dict.fromkeys(
    ("ExploredColumn", "ExploredTable", "explore_columns", "explore_tables"), "._explore"
)
__getattr__ = exports(__name__, _ON_USE)

__all__ = [
    "Attempts",
    "AuthForm",
    "ChosenAuth",
    "ClientConfig",
    "Connection",
    "ExploredColumn",
    "ExploredTable",
    "FlowClient",
    "JsonBody",
    "OracleSpec",
    "RateController",
    "Retrier",
    "RetryBudget",
    "Sleep",
    "auth_params",
    "check_entries",
    "choose_auth",
    "connection_body",
    "encode_json",
    "explore_columns",
    "explore_tables",
    "oracle_connection_string",
    "parse_oracle_spec",
    "patch_ops",
    "read_auth",
]
