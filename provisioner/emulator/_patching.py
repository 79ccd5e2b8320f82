"""JSON Patch for a base connection (lowercase ops, as the docs send them) and If-Match.

Pure: raises ``ValueError`` with a message naming the operation, never a secret value.
"""

from __future__ import annotations

import dataclasses
from typing import Final

from provisioner.emulator._spec import AUTH_SPEC_NAME, parse_auth_params
from provisioner.emulator._store import ConnectionRecord

__all__ = ["apply_patch", "etag_matches"]

_OPS: Final = frozenset({"add", "replace", "remove"})
_PATHS: Final = frozenset(
    {"/name", "/description", "/auth/params", "/auth/params/connectionString"}
)
_PARAM_PREFIX: Final = "/auth/params/"


def _bare(etag: str) -> str:
    return etag.strip().removeprefix("W/").strip('"')


def etag_matches(if_match: str, etag: str) -> bool:
    """Whether an If-Match value names the current etag (quoted or not, as D3 and D7 differ)."""
    wanted = [_bare(part) for part in if_match.split(",")]
    return "*" in wanted or _bare(etag) in wanted


def _operation(index: int, item: object) -> tuple[str, str, object]:
    if not isinstance(item, dict):
        raise ValueError(f"patch[{index}]: expected an object")
    op, path = item.get("op"), item.get("path")
    if op not in _OPS:
        raise ValueError(f"patch[{index}].op: expected one of add, replace, remove; got {op!r}")
    if path not in _PATHS:
        raise ValueError(f"patch[{index}].path: cannot patch {path!r}")
    if op != "remove" and "value" not in item:
        raise ValueError(f"patch[{index}].value: required for {op}")
    return str(op), str(path), item.get("value")


def _apply_one(record: ConnectionRecord, index: int, item: object) -> ConnectionRecord:
    op, path, value = _operation(index, item)
    if path == "/description":
        if op == "remove":
            return dataclasses.replace(record, description=None)
        if not isinstance(value, str):
            raise ValueError(f"patch[{index}].value: expected a string for /description")
        return dataclasses.replace(record, description=value)
    if op == "remove":
        raise ValueError(f"patch[{index}]: {path} cannot be removed")
    if path == "/name":
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"patch[{index}].value: expected a non-empty string for /name")
        return dataclasses.replace(record, name=value)
    if path.startswith(_PARAM_PREFIX) and record.auth.form != AUTH_SPEC_NAME:
        raise ValueError(f"patch[{index}].path: cannot patch {path!r} of a {record.auth.form} auth")
    params = {"connectionString": value} if path.startswith(_PARAM_PREFIX) else value
    return dataclasses.replace(record, auth=parse_auth_params(params, record.auth.form))


def apply_patch(record: ConnectionRecord, body: object) -> ConnectionRecord:
    """The record with every operation of ``body`` (a JSON Patch array) applied, or ValueError."""
    if not isinstance(body, list) or not body:
        raise ValueError("patch: expected a non-empty array of operations")
    for index, item in enumerate(body):
        record = _apply_one(record, index, item)
    return record
