"""The Platform API as the tool sees it: FlowClient, IMS auth, the Oracle connection spec's
auth forms, request bodies per form, error bodies.

Also the pacing and retry policy every request goes through (rate controller, Retry-After,
backoff), since the client applies it to each request it sends.
"""

from __future__ import annotations

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
from provisioner.aep._explore import (
    ExploredColumn,
    ExploredTable,
    explore_columns,
    explore_tables,
)
from provisioner.aep._pacing import RateController, Retrier, RetryBudget, Sleep

__all__ = [
    "AuthForm",
    "ChosenAuth",
    "ClientConfig",
    "Connection",
    "ExploredColumn",
    "ExploredTable",
    "FlowClient",
    "OracleSpec",
    "RateController",
    "Retrier",
    "RetryBudget",
    "Sleep",
    "auth_params",
    "check_entries",
    "choose_auth",
    "connection_body",
    "explore_columns",
    "explore_tables",
    "oracle_connection_string",
    "parse_oracle_spec",
    "patch_ops",
    "read_auth",
]
