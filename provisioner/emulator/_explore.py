"""``GET /connections/{id}/explore``: the tables of a connection's database, and their columns.

``objectType=root`` answers the list of tables; ``objectType=table&object=PATH`` one table's
flat schema (the made-up catalog of ``_catalog``). A database the fault plan deems unreachable
(``--unreachable-host``, or a host ending in ``.unreachable``; the same rule ``/test`` uses)
answers a Flow Service error, as Platform does for a connection that cannot reach its database.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web

from provisioner.emulator._catalog import columns, tables
from provisioner.emulator._gateway import CALLER
from provisioner.emulator._responses import (
    BAD_QUERY,
    NOT_FOUND,
    UNREACHABLE_SOURCE,
    Refused,
    flow_error,
)
from provisioner.emulator._runtime import EMULATOR_STATE
from provisioner.emulator._store import ConnectionRecord

__all__ = ["explore_connection"]

_OBJECT_TYPES: Final = ("root", "table")  # of the spec's enum, those a database source answers


def _record(request: web.Request) -> ConnectionRecord:
    caller = request[CALLER]
    connection_id = request.match_info["id"]
    record = request.app[EMULATOR_STATE].store.get(caller.org, caller.sandbox, connection_id)
    if record is None:
        message = f"Connection with id {connection_id} not found"
        raise Refused(flow_error(request, NOT_FOUND, message))
    return record


def _object_type(request: web.Request) -> str:
    object_type = request.query.get("objectType", "").lower()  # the spec's enum is upper-case
    if object_type not in _OBJECT_TYPES:
        message = f"objectType must be one of root, table; got {object_type!r}"
        raise Refused(flow_error(request, BAD_QUERY, message))
    return object_type


async def explore_connection(request: web.Request) -> web.Response:
    """The tables (``objectType=root``) or one table's columns (``objectType=table``)."""
    record = _record(request)
    object_type = _object_type(request)
    path = request.query.get("object", "")
    if object_type == "table" and not path:
        raise Refused(flow_error(request, BAD_QUERY, "objectType=table needs object=PATH"))
    host = record.auth.host
    if request.app[EMULATOR_STATE].plan.is_unreachable(host):
        message = f"Unable to connect to the database of connection {record.id}"
        raise Refused(flow_error(request, UNREACHABLE_SOURCE, message))
    if object_type == "root":
        return web.json_response([table.item() for table in tables(host)])
    found = columns(host, path)
    if found is None:
        raise Refused(flow_error(request, NOT_FOUND, f"Table {path} not found"))
    schema = {"columns": [column.item() for column in found]}
    return web.json_response({"format": "flat", "schema": schema})
