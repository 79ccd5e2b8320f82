"""The Platform API as the tool sees it: FlowClient, IMS auth, request bodies, error bodies.

Also the pacing and retry policy every request goes through (rate controller, Retry-After,
backoff), since the client applies it to each request it sends.
"""

from __future__ import annotations

from provisioner.aep._bodies import connection_body, patch_ops
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
    "ClientConfig",
    "Connection",
    "ExploredColumn",
    "ExploredTable",
    "FlowClient",
    "RateController",
    "Retrier",
    "RetryBudget",
    "Sleep",
    "connection_body",
    "explore_columns",
    "explore_tables",
    "oracle_connection_string",
    "patch_ops",
]
