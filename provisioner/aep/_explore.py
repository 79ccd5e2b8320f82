"""Explore: the tables a base connection's database shows, and one table's columns.

``GET /connections/{id}/explore?objectType=root`` answers ``[{"type": "table", "name", "path",
"canPreview", "canFetchSchema"}]``; ``objectType=table&object=PATH`` answers ``{"format":
"flat", "schema": {"columns": [{"name", "type", "xdm": {"type", ...}}]}}``. Both are reads,
retried as the listing is (429, 5xx, no answer). Answers are parsed defensively: an item that is
not a table with a string path is skipped; an answer of the wrong shape is a PermanentError.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib.parse import quote

from provisioner.aep._client import FlowClient
from provisioner.errors import PermanentError

__all__ = ["ExploredColumn", "ExploredTable", "explore_columns", "explore_tables"]

_KIND: Final = "explore"


@dataclass(frozen=True, slots=True, kw_only=True)
class ExploredTable:
    """One table as explore lists it; ``path`` is what ``objectType=table`` takes."""

    name: str
    path: str
    can_fetch_schema: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class ExploredColumn:
    """One column of a table's flat schema; ``xdm_type`` is its XDM type (None if not given)."""

    name: str
    type: str
    xdm_type: str | None = None


def _path(connection_id: str) -> str:
    return f"/connections/{quote(connection_id, safe='')}/explore"


def _table(item: object) -> ExploredTable | None:
    if not isinstance(item, dict) or item.get("type", "table") != "table":
        return None
    path = item.get("path")
    if not isinstance(path, str) or not path:
        return None
    name = item.get("name")
    return ExploredTable(
        name=name if isinstance(name, str) and name else path,
        path=path,
        can_fetch_schema=item.get("canFetchSchema") is not False,
    )


def _column(item: object) -> ExploredColumn | None:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        return None
    kind = item.get("type")
    xdm = item.get("xdm")
    xdm_type = xdm.get("type") if isinstance(xdm, dict) else None
    return ExploredColumn(
        name=item["name"],
        type=kind if isinstance(kind, str) else "",
        xdm_type=xdm_type if isinstance(xdm_type, str) else None,
    )


async def explore_tables(
    client: FlowClient, connection_id: str, *, sandbox: str
) -> tuple[ExploredTable, ...]:
    """The tables of the connection's database, in the order Platform lists them."""
    resp = await client.read(
        _KIND, _path(connection_id), sandbox=sandbox, params=[("objectType", "root")]
    )
    if not isinstance(resp.body, list):
        raise PermanentError("explore answered without a list of tables", status=resp.status)
    return tuple(t for t in map(_table, resp.body) if t is not None)


async def explore_columns(
    client: FlowClient, connection_id: str, *, sandbox: str, path: str
) -> tuple[ExploredColumn, ...]:
    """The columns of the table at ``path``."""
    params = [("objectType", "table"), ("object", path)]
    resp = await client.read(_KIND, _path(connection_id), sandbox=sandbox, params=params)
    body = resp.body if isinstance(resp.body, dict) else {}
    schema = body.get("schema")
    found = schema.get("columns") if isinstance(schema, dict) else None
    if not isinstance(found, list):
        raise PermanentError("explore answered without a schema's columns", status=resp.status)
    return tuple(c for c in map(_column, found) if c is not None)
