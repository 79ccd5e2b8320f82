"""The Oracle connection spec the emulator serves, per hosting region, and validation of auth
params against it (its own draft-07 JSON Schemas, then the connection string's grammar).

Only the non-secret parts of the params ever leave this module (``OracleTarget``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from jsonschema import Draft7Validator

from provisioner.emulator._connstring import ConnectionStringError, parse_connection_string
from provisioner.emulator._faults import Region

__all__ = [
    "AUTH_SPEC_NAME",
    "BASIC_SPEC_NAME",
    "ORACLE_SPEC_ID",
    "ORACLE_SPEC_VERSION",
    "AuthParamsError",
    "OracleTarget",
    "offered_forms",
    "oracle_spec",
    "parse_auth_params",
]

ORACLE_SPEC_ID: Final = "d6b52d86-f0f8-475f-89d4-ce54c8527328"
ORACLE_SPEC_VERSION: Final = "1.0"
AUTH_SPEC_NAME: Final = "ConnectionString"
BASIC_SPEC_NAME: Final = "Basic Authentication"
# Not published; any stable UUID will do for a provider id.
_PROVIDER_ID: Final = "0ed90a81-07f4-4586-8190-b40eccef1c5a"
_DRAFT7: Final = "http://json-schema.org/draft-07/schema#"
# Emulator's choice: Adobe publishes neither schema; these bounds make a spec mismatch testable.
CONNECTION_STRING_MAX: Final = 2048
IDENTIFIER_MAX: Final = 128  # Oracle identifiers (user, schema) since 12.2

_CONNECTION_STRING_SCHEMA: Final[Mapping[str, object]] = {
    "$schema": _DRAFT7,
    "type": "object",
    "description": "Connection string to connect to an Oracle database.",
    "properties": {
        "connectionString": {
            "type": "string",
            "format": "password",
            "minLength": 1,
            "maxLength": CONNECTION_STRING_MAX,
            "description": (
                "Host={HOST};Port={PORT};Sid={SID};User Id={USERNAME};Password={PASSWORD}"
            ),
        }
    },
    "required": ["connectionString"],
    "additionalProperties": False,
}
_TEXT: Final = {"type": "string", "minLength": 1}
_BASIC_SCHEMA: Final[Mapping[str, object]] = {
    "$schema": _DRAFT7,
    "type": "object",
    "description": "Server, port, database, user name and password of an Oracle database.",
    "properties": {
        "server": {**_TEXT, "description": "Host name or IP address of the Oracle server."},
        "port": {"type": "integer", "minimum": 1, "maximum": 65535, "default": 1521},
        "database": {**_TEXT, "description": "Database instance (SID or service name)."},
        "username": {**_TEXT, "maxLength": IDENTIFIER_MAX},
        "password": {**_TEXT, "format": "password"},
        "schema": {**_TEXT, "maxLength": IDENTIFIER_MAX},
        "sslMode": {"type": "boolean", "default": False, "description": "Encrypt the link."},
    },
    "required": ["server", "port", "database", "username", "password"],
    "additionalProperties": False,
}
_FORMS: Final[Mapping[Region, tuple[str, str, Mapping[str, object]]]] = {
    Region.AZURE: (AUTH_SPEC_NAME, "connectionStringAuth", _CONNECTION_STRING_SCHEMA),
    Region.AWS: (BASIC_SPEC_NAME, "basicAuth", _BASIC_SCHEMA),
}
_VALIDATORS: Final = {
    AUTH_SPEC_NAME: Draft7Validator(_CONNECTION_STRING_SCHEMA),
    BASIC_SPEC_NAME: Draft7Validator(_BASIC_SCHEMA),
}


class AuthParamsError(ValueError):
    """Auth params that do not validate; the message never holds a value."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OracleTarget:
    """What the emulator keeps of a connection's auth params: no password, plus a sha256.

    ``form`` is the auth spec name; ``database``, ``schema`` and ``ssl_mode`` belong to the
    Basic Authentication form (``sid``/``service_name`` to the connection string)."""

    host: str
    port: int
    sid: str | None
    service_name: str | None
    user: str
    fingerprint: str  # sha256 hex of the connection string, or of the Basic params' JSON
    form: str = AUTH_SPEC_NAME
    database: str | None = None
    schema: str | None = None
    ssl_mode: bool | None = None


def offered_forms(region: Region) -> tuple[str, ...]:
    """The auth spec names the Oracle spec offers (and the emulator accepts) in a region."""
    return (_FORMS[region][0],)


def oracle_spec(region: Region = Region.AZURE) -> dict[str, object]:
    """A ConnectionSpecItemDTO for Oracle, with the auth form of ``region``."""
    name, kind, schema = _FORMS[region]
    return {
        "id": ORACLE_SPEC_ID,
        "name": "oracle",
        "providerId": _PROVIDER_ID,
        "version": ORACLE_SPEC_VERSION,
        "authSpec": [{"name": name, "type": kind, "spec": json.loads(json.dumps(schema))}],
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


def _check_schema(form: str, params: object) -> None:
    """The first way ``params`` breaks the form's schema, named by field, never by value."""
    error = next(iter(sorted(_VALIDATORS[form].iter_errors(params), key=str)), None)
    if error is None:
        return
    field = ".".join(str(part) for part in error.absolute_path)
    where = f"auth.params.{field}" if field else "auth.params"
    if error.validator in ("required", "additionalProperties"):
        raise AuthParamsError(f"{where}: {error.message}")  # names properties only
    raise AuthParamsError(f"{where}: does not match the spec ({error.validator})")


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


def _connection_string_target(text: str) -> OracleTarget:
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


def _basic_target(params: dict[str, object]) -> OracleTarget:
    canonical = json.dumps(params, sort_keys=True, ensure_ascii=False)
    schema, ssl_mode = params.get("schema"), params.get("sslMode")
    return OracleTarget(
        form=BASIC_SPEC_NAME,
        host=str(params["server"]),
        port=int(str(params["port"])),
        sid=None,
        service_name=None,
        user=str(params["username"]),
        database=str(params["database"]),
        schema=schema if isinstance(schema, str) else None,
        ssl_mode=ssl_mode if isinstance(ssl_mode, bool) else None,
        fingerprint=hashlib.sha256(canonical.encode()).hexdigest(),
    )


def parse_auth_params(params: object, form: str = AUTH_SPEC_NAME) -> OracleTarget:
    """Validate ``auth.params`` of the auth form ``form`` against the Oracle spec.

    Raises:
        AuthParamsError: params break the form's JSON Schema, or (connection-string form) the
            string lacks Host, Port (1-65535), exactly one of Sid/ServiceName, User Id or
            Password.
    """
    if not isinstance(params, dict):
        raise AuthParamsError("auth.params: expected an object")
    _check_schema(form, params)
    if form == BASIC_SPEC_NAME:
        return _basic_target(params)
    return _connection_string_target(str(params["connectionString"]))
