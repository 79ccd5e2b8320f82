"""The manifest's keys in one table: what each field holds, how a host is checked, the JSON Schema.

``_load`` validates by this table and :func:`manifest_schema` is derived from it, so
the two cannot drift apart.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "ENTRY_FIELDS",
    "PORT_MAX",
    "PORT_MIN",
    "SUPPORTED_VERSION",
    "TEMPLATE_FIELDS",
    "TOP_LEVEL_KEYS",
    "FieldSpec",
    "host_problem",
    "manifest_schema",
]

FieldKind = Literal["text", "host", "port", "secret", "template", "flag"]

SUPPORTED_VERSION: Final = 1
PORT_MIN: Final = 1
PORT_MAX: Final = 65535
TOP_LEVEL_KEYS: Final = ("version", "sandbox", "defaults", "databases")


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldSpec:
    """One key of a database entry (and of ``defaults``, except ``name``)."""

    name: str
    kind: FieldKind
    summary: str


ENTRY_FIELDS: Final[dict[str, FieldSpec]] = {
    spec.name: spec
    for spec in (
        FieldSpec(
            name="name",
            kind="text",
            summary="The connection's name in Platform; unique in the manifest.",
        ),
        FieldSpec(name="host", kind="host", summary="Hostname (RFC 1123), IPv4 or IPv6 address."),
        FieldSpec(name="port", kind="port", summary="Listener port, an integer 1-65535."),
        FieldSpec(name="user", kind="text", summary="Database user."),
        FieldSpec(
            name="password",
            kind="secret",
            summary="Password; write ${VAR} or ${file:PATH} rather than the value itself.",
        ),
        FieldSpec(name="sid", kind="text", summary="Oracle SID (exclusive with service_name)."),
        FieldSpec(
            name="service_name",
            kind="text",
            summary="Oracle service name, sent as ServiceName= (exclusive with sid).",
        ),
        FieldSpec(
            name="description",
            kind="template",
            summary="Connection description; may use {name}, {host}, {port}, {user}, "
            "{sid}, {service_name}, {sandbox}; {{ and }} for literal braces.",
        ),
        FieldSpec(
            name="sandbox",
            kind="text",
            summary="Sandbox for this entry; else the manifest's, else AEP_SANDBOX.",
        ),
        FieldSpec(
            name="tls",
            kind="flag",
            summary="Encrypt the database link (true/false, default false); sent as sslMode in "
            "the Basic Authentication form; the connection-string form has no keyword for it.",
        ),
        FieldSpec(
            name="schema",
            kind="text",
            summary="Oracle schema; sent only in the Basic Authentication form.",
        ),
    )
}
#: Fields a description may name as ``{field}`` (never the password).
TEMPLATE_FIELDS: Final = ("name", "host", "port", "user", "sid", "service_name", "sandbox")

_LABEL: Final = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME_BODY: Final = rf"(?:{_LABEL}\.)*{_LABEL}\.?"
_HOSTNAME: Final = re.compile(_HOSTNAME_BODY + r"\Z")
_DOTTED_NUMBERS: Final = re.compile(r"[0-9.]+\Z")
_OCTET: Final = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4: Final = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}\Z")
_HOST_WITH_PORT: Final = re.compile(r"[^:\[\]]+:[0-9]+\Z")
_HOSTNAME_MAX: Final = 253
_REFERENCE_PATTERN: Final = r"\$\{"
_HOST_EXPECTED: Final = "expected a hostname (RFC 1123), an IPv4 or an IPv6 address"
_GOT: Final = _HOST_EXPECTED + ", got {got}"


def host_problem(host: str) -> str | None:
    """Why ``host`` is not an RFC 1123 hostname, an IPv4 or an IPv6 address; None when it is.

    The answer is a :meth:`str.format` template: ``{got}`` stands for the value as shown.
    """
    if _HOSTNAME.match(host) and not _DOTTED_NUMBERS.match(host):
        if len(host.rstrip(".")) <= _HOSTNAME_MAX:
            return None
        return f"{_HOST_EXPECTED}, got a name longer than {_HOSTNAME_MAX} characters"
    if ":" in host:
        if _HOST_WITH_PORT.match(host):
            return f"{_GOT} (put the port under port:, not in host)"
        if host.startswith("["):
            return f"{_GOT} (write an IPv6 address without brackets)"
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return f"{_GOT} (not a valid IPv6 address)"
        return None
    if _DOTTED_NUMBERS.match(host):
        return None if _IPV4.match(host) else f"{_GOT} (not a valid IPv4 address)"
    return _GOT


def _field_schema(spec: FieldSpec) -> dict[str, object]:
    string: dict[str, object] = {"type": "string", "minLength": 1}
    by_reference = {"type": "string", "pattern": _REFERENCE_PATTERN}
    if spec.kind == "flag":
        return {"description": spec.summary, "type": "boolean"}
    if spec.kind == "port":
        number = {"type": "integer", "minimum": PORT_MIN, "maximum": PORT_MAX}
        return {"description": spec.summary, "oneOf": [number, by_reference]}
    if spec.kind == "host":
        forms: list[object] = [
            {"pattern": f"^{_HOSTNAME_BODY}$"},
            {"format": "ipv4"},
            {"format": "ipv6"},
            {"pattern": _REFERENCE_PATTERN},
        ]
        return {"description": spec.summary, **string, "anyOf": forms}
    return {"description": spec.summary, **string}


def _entry_schema(*, with_name: bool) -> dict[str, object]:
    properties = {
        name: _field_schema(spec)
        for name, spec in ENTRY_FIELDS.items()
        if with_name or name != "name"
    }
    schema: dict[str, object] = {
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
        "not": {"required": ["sid", "service_name"]},
    }
    if with_name:
        schema["required"] = ["name"]
    return schema


def manifest_schema() -> dict[str, object]:
    """The JSON Schema (draft-07) of a manifest, for editors (yaml-language-server) and tools.

    It cannot say everything ``load_manifest`` checks: required fields may come from
    ``defaults``, names must be unique, and ``${VAR}`` must be set.
    """
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "provisioner manifest",
        "description": "Oracle databases to onboard into Adobe Experience Platform.",
        "type": "object",
        "additionalProperties": False,
        "required": ["version", "databases"],
        "properties": {
            "version": {"description": "Manifest format version.", "const": SUPPORTED_VERSION},
            "sandbox": {
                "description": "Sandbox for every entry that names none; else AEP_SANDBOX.",
                "type": "string",
                "minLength": 1,
            },
            "defaults": {
                "description": "Values for every entry that does not set them.",
                "$ref": "#/definitions/defaults",
            },
            "databases": {
                "description": "The databases to onboard, one connection each.",
                "type": "array",
                "minItems": 1,
                "items": {"$ref": "#/definitions/database"},
            },
        },
        "definitions": {
            "defaults": _entry_schema(with_name=False),
            "database": _entry_schema(with_name=True),
        },
    }
