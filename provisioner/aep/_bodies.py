"""A job -> the request bodies that carry its connection string. The one place a password is
revealed, and only into a body that goes straight to the HTTP client."""

from __future__ import annotations

from provisioner.aep._connstring import oracle_connection_string
from provisioner.manifest import DatabaseSpec
from provisioner.settings import ORACLE_SPEC_ID, ORACLE_SPEC_VERSION

__all__ = ["AUTH_SPEC_NAME", "auth_params", "connection_body", "patch_ops"]

AUTH_SPEC_NAME = "ConnectionString"


def auth_params(spec: DatabaseSpec) -> dict[str, str]:
    return {
        "connectionString": oracle_connection_string(
            host=spec.host,
            port=spec.port,
            sid=spec.sid,
            service_name=spec.service_name,
            user=spec.user,
            password=spec.password.reveal(),
        )
    }


def connection_body(spec: DatabaseSpec) -> dict[str, object]:
    """``POST /connections`` body for an Oracle base connection."""
    body: dict[str, object] = {"name": spec.name}
    if spec.description is not None:
        body["description"] = spec.description
    body["auth"] = {"specName": AUTH_SPEC_NAME, "params": auth_params(spec)}
    body["connectionSpec"] = {"id": ORACLE_SPEC_ID, "version": ORACLE_SPEC_VERSION}
    return body


def patch_ops(spec: DatabaseSpec) -> list[dict[str, object]]:
    """JSON-Patch (lowercase ops, as the docs send them) replacing the credentials and text."""
    ops: list[dict[str, object]] = [
        {"op": "replace", "path": "/auth/params", "value": auth_params(spec)}
    ]
    if spec.description is not None:
        ops.append({"op": "replace", "path": "/description", "value": spec.description})
    return ops
