"""The Oracle connection spec the emulator serves, and validation of auth params against it.

Only the non-secret parts of a connection string ever leave this module (``OracleTarget``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

from provisioner.emulator._connstring import ConnectionStringError, parse_connection_string

__all__ = [
    "AUTH_SPEC_NAME",
    "ORACLE_SPEC_ID",
    "ORACLE_SPEC_VERSION",
    "AuthParamsError",
    "OracleTarget",
    "oracle_spec",
    "parse_auth_params",
]

ORACLE_SPEC_ID: Final = "d6b52d86-f0f8-475f-89d4-ce54c8527328"
ORACLE_SPEC_VERSION: Final = "1.0"
AUTH_SPEC_NAME: Final = "ConnectionString"
# Not published; any stable UUID will do for a provider id.
_PROVIDER_ID: Final = "0ed90a81-07f4-4586-8190-b40eccef1c5a"


class AuthParamsError(ValueError):
    """Auth params that do not validate; the message never holds a value."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OracleTarget:
    """What the emulator keeps of a connection string: no password, plus its sha256."""

    host: str
    port: int
    sid: str | None
    service_name: str | None
    user: str
    fingerprint: str  # sha256 hex of the whole connection string


def oracle_spec() -> dict[str, object]:
    """A ConnectionSpecItemDTO for Oracle (Azure flavour: one secret connectionString)."""
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "description": "Connection string to connect to an Oracle database.",
        "properties": {
            "connectionString": {
                "type": "string",
                "format": "password",
                "description": (
                    "Host={HOST};Port={PORT};Sid={SID};User Id={USERNAME};Password={PASSWORD}"
                ),
            }
        },
        "required": ["connectionString"],
    }
    return {
        "id": ORACLE_SPEC_ID,
        "name": "oracle",
        "providerId": _PROVIDER_ID,
        "version": ORACLE_SPEC_VERSION,
        "authSpec": [{"name": AUTH_SPEC_NAME, "type": "connectionStringAuth", "spec": schema}],
        "sourceSpec": {"attributes": {"uiAttributes": {"isSource": True, "isBeta": False}}},
        "exploreSpec": {"name": "Table", "type": "Table"},
        "attributes": {
            "category": "Database",
            "connectorName": "Oracle",
            "isSource": True,
            "uiAttributes": {"apiFeatures": {"explorePaginationSupported": False}},
        },
        "permissionsInfo": {"view": [], "manage": []},
    }


def _required(pairs: dict[str, str], key: str, label: str) -> str:
    value = pairs.get(key)
    if value is None or not value.strip():
        raise AuthParamsError(f"connectionString: {label} is required")
    return value


def _port(pairs: dict[str, str]) -> int:
    text = _required(pairs, "port", "Port")
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 65535:
        raise AuthParamsError("connectionString: Port must be an integer between 1 and 65535")
    return int(text)


def _target(pairs: dict[str, str]) -> tuple[str | None, str | None]:
    sid = pairs.get("sid")
    service_name = pairs.get("servicename")
    if (sid is None) == (service_name is None):
        raise AuthParamsError("connectionString: exactly one of Sid and ServiceName is required")
    if not (sid or service_name or "").strip():
        raise AuthParamsError("connectionString: Sid/ServiceName must not be empty")
    return sid, service_name


def parse_auth_params(params: object) -> OracleTarget:
    """Validate ``auth.params`` against the Oracle auth spec.

    Raises:
        AuthParamsError: params are not ``{"connectionString": str}`` or the string lacks
            Host, Port (1-65535), exactly one of Sid/ServiceName, User Id or Password.
    """
    if not isinstance(params, dict):
        raise AuthParamsError("auth.params: expected an object")
    extra = sorted(str(key) for key in params if key != "connectionString")
    if extra:
        raise AuthParamsError(f"auth.params: unknown properties {extra}")
    text = params.get("connectionString")
    if not isinstance(text, str) or not text:
        raise AuthParamsError("auth.params.connectionString: expected a non-empty string")
    try:
        pairs = parse_connection_string(text)
    except ConnectionStringError as exc:
        raise AuthParamsError(f"connectionString: does not parse ({exc})") from None
    host = _required(pairs, "host", "Host")
    port = _port(pairs)
    sid, service_name = _target(pairs)
    user = _required(pairs, "user id", "User Id")
    if not pairs.get("password"):
        raise AuthParamsError("connectionString: Password is required")
    return OracleTarget(
        host=host,
        port=port,
        sid=sid,
        service_name=service_name,
        user=user,
        fingerprint=hashlib.sha256(text.encode()).hexdigest(),
    )
