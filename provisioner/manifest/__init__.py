"""The manifest: YAML text -> frozen, checked Manifest / DatabaseSpec with locations.

Fields table, YAML nodes, description templates, ``${VAR}`` references and the JSON Schema
for editors live behind this package; nothing here touches the network.
"""

from __future__ import annotations

from provisioner.manifest._fields import PORT_MAX, PORT_MIN, SUPPORTED_VERSION, host_problem
from provisioner.manifest._load import (
    DatabaseSpec,
    Manifest,
    describe_manifest,
    effective_sandbox,
    load_manifest,
    manifest_schema,
)

__all__ = [
    "PORT_MAX",
    "PORT_MIN",
    "SUPPORTED_VERSION",
    "DatabaseSpec",
    "Manifest",
    "describe_manifest",
    "effective_sandbox",
    "host_problem",
    "load_manifest",
    "manifest_schema",
]
