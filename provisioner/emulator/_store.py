"""The emulator's connections in SQLite (WAL), scoped per (org, sandbox).

No password and no connection string is ever written: only the non-secret parts of the
auth params (of either auth form) and a sha256 of them. Calls are synchronous: each is one
short statement on a local file, cheaper than a hop to a thread, and the event loop makes
them atomic.
"""

from __future__ import annotations

import dataclasses
import os
import sqlite3
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields
from enum import StrEnum
from pathlib import Path
from typing import Final

from provisioner.emulator._spec import OracleTarget

__all__ = [
    "FILTER_FIELDS",
    "ConnectionRecord",
    "Cursor",
    "Filter",
    "Order",
    "Store",
    "new_etag",
]

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS connections (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    org TEXT NOT NULL,
    sandbox TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    spec_id TEXT NOT NULL,
    spec_version TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    created_client TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_client TEXT NOT NULL,
    etag TEXT NOT NULL,
    in_use INTEGER NOT NULL DEFAULT 0,
    host TEXT NOT NULL,
    port INTEGER NOT NULL,
    sid TEXT,
    service_name TEXT,
    user_id TEXT NOT NULL,
    auth_sha256 TEXT NOT NULL,
    auth_form TEXT NOT NULL DEFAULT 'ConnectionString',
    database_name TEXT,
    db_schema TEXT,
    ssl_mode INTEGER
);
CREATE INDEX IF NOT EXISTS connections_scope ON connections (org, sandbox);
CREATE INDEX IF NOT EXISTS connections_name ON connections (org, sandbox, name);
"""

_COLUMNS: Final = (
    "seq, id, org, sandbox, name, description, spec_id, spec_version, state, created_at, "
    "updated_at, created_by, created_client, updated_by, updated_client, etag, in_use, "
    "host, port, sid, service_name, user_id, auth_sha256, auth_form, database_name, db_schema, "
    "ssl_mode"
)

FILTER_FIELDS: Final = {
    "id": "id",
    "name": "name",
    "description": "COALESCE(description, '')",
    "connectionSpec.id": "spec_id",
    "state": "state",
}


class Order(StrEnum):
    """Listing orders; the sequence number breaks ties so that paging is stable."""

    CREATED = "createdAt"
    CREATED_DESC = "-createdAt"
    NAME = "name"
    NAME_DESC = "-name"


_ORDER_SQL: Final = {
    Order.CREATED: ("seq > ?", "seq ASC"),
    Order.CREATED_DESC: ("seq < ?", "seq DESC"),
    Order.NAME: ("(name, seq) > (?, ?)", "name ASC, seq ASC"),
    Order.NAME_DESC: ("(name, seq) < (?, ?)", "name DESC, seq DESC"),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Filter:
    """``field==v1,v2`` (any of the values) or ``field!=v1,v2`` (none of them)."""

    field: str
    values: tuple[str, ...]
    negate: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Cursor:
    """Where the previous page ended (keyset paging: robust to inserts and deletes)."""

    seq: int
    name: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionRecord:
    """One stored connection."""

    seq: int
    id: str
    org: str
    sandbox: str
    name: str
    description: str | None
    spec_id: str
    spec_version: str
    state: str
    created_at: int
    updated_at: int
    created_by: str
    created_client: str
    updated_by: str
    updated_client: str
    etag: str
    in_use: bool
    auth: OracleTarget


def new_etag() -> str:
    """A fresh etag, quotes included, shaped like Platform's."""
    raw = uuid.uuid4().hex
    return f'"{raw[:8]}-0000-0200-0000-{raw[8:20]}"'


def _record(row: sqlite3.Row) -> ConnectionRecord:
    auth = OracleTarget(
        host=row["host"],
        port=row["port"],
        sid=row["sid"],
        service_name=row["service_name"],
        user=row["user_id"],
        fingerprint=row["auth_sha256"],
        form=row["auth_form"],
        database=row["database_name"],
        schema=row["db_schema"],
        ssl_mode=None if row["ssl_mode"] is None else bool(row["ssl_mode"]),
    )
    values = {f.name: row[f.name] for f in fields(ConnectionRecord) if f.name != "auth"}
    values["in_use"] = bool(values["in_use"])
    return ConnectionRecord(auth=auth, **values)


def _auth_values(auth: OracleTarget) -> tuple[object, ...]:
    ssl_mode = None if auth.ssl_mode is None else int(auth.ssl_mode)
    return (
        *(auth.host, auth.port, auth.sid, auth.service_name, auth.user, auth.fingerprint),
        *(auth.form, auth.database, auth.schema, ssl_mode),
    )


def _where(org: str, sandbox: str, filters: tuple[Filter, ...]) -> tuple[str, list[object]]:
    clauses = ["org = ?", "sandbox = ?"]
    args: list[object] = [org, sandbox]
    for item in filters:
        column = FILTER_FIELDS[item.field]
        marks = ", ".join("?" * len(item.values))
        clauses.append(f"{column} {'NOT IN' if item.negate else 'IN'} ({marks})")
        args.extend(item.values)
    return " AND ".join(clauses), args


class Store:
    """Connections of every (org, sandbox) in one SQLite database (a file or ``:memory:``)."""

    def __init__(self, path: str | os.PathLike[str] = ":memory:") -> None:
        target = os.fspath(path)
        if target != ":memory:":
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        # A benchmark may serve from another thread while its harness reads the store.
        self._lock = threading.Lock()
        self._db = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database; the store is unusable afterwards."""
        with self._lock:
            self._db.close()

    def _rows(self, sql: str, args: Sequence[object]) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _write(self, sql: str, args: Sequence[object]) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, args)

    def insert(self, record: ConnectionRecord) -> ConnectionRecord:
        """Store a new connection (its ``seq`` is assigned here) and return it as stored."""
        auth = record.auth
        cursor = self._write(
            f"INSERT INTO connections ({_COLUMNS.removeprefix('seq, ')}) "
            f"VALUES ({', '.join('?' * 26)})",
            (
                *(record.id, record.org, record.sandbox, record.name, record.description),
                *(record.spec_id, record.spec_version, record.state),
                *(record.created_at, record.updated_at, record.created_by, record.created_client),
                *(record.updated_by, record.updated_client, record.etag, int(record.in_use)),
                *_auth_values(auth),
            ),
        )
        return dataclasses.replace(record, seq=int(cursor.lastrowid or 0))

    def replace(self, record: ConnectionRecord) -> None:
        """Write back the mutable fields of a connection read earlier."""
        auth = record.auth
        self._write(
            "UPDATE connections SET name = ?, description = ?, state = ?, updated_at = ?, "
            "updated_by = ?, updated_client = ?, etag = ?, in_use = ?, host = ?, port = ?, "
            "sid = ?, service_name = ?, user_id = ?, auth_sha256 = ?, auth_form = ?, "
            "database_name = ?, db_schema = ?, ssl_mode = ? WHERE id = ?",
            (
                *(record.name, record.description, record.state, record.updated_at),
                *(record.updated_by, record.updated_client, record.etag, int(record.in_use)),
                *_auth_values(auth),
                record.id,
            ),
        )

    def get(self, org: str, sandbox: str, connection_id: str) -> ConnectionRecord | None:
        """The connection with this id in this (org, sandbox), or None."""
        return self._one("org = ? AND sandbox = ? AND id = ?", [org, sandbox, connection_id])

    def delete(self, org: str, sandbox: str, connection_id: str) -> bool:
        """Delete a connection; False when there was none."""
        cursor = self._write(
            "DELETE FROM connections WHERE org = ? AND sandbox = ? AND id = ?",
            (org, sandbox, connection_id),
        )
        return cursor.rowcount > 0

    def page(
        self,
        org: str,
        sandbox: str,
        *,
        filters: tuple[Filter, ...] = (),
        order: Order = Order.CREATED,
        after: Cursor | None = None,
        limit: int = 100,
    ) -> list[ConnectionRecord]:
        """Up to ``limit`` matching connections, in ``order``, after ``after``."""
        where, args = _where(org, sandbox, filters)
        keyset, order_by = _ORDER_SQL[order]
        if after is not None:
            where += f" AND {keyset}"
            name_orders = (Order.NAME, Order.NAME_DESC)
            args.extend([after.name, after.seq] if order in name_orders else [after.seq])
        rows = self._rows(
            f"SELECT {_COLUMNS} FROM connections WHERE {where} ORDER BY {order_by} LIMIT ?",
            [*args, limit],
        )
        return [_record(row) for row in rows]

    def count(self, org: str, sandbox: str, *, filters: tuple[Filter, ...] = ()) -> int:
        """How many connections match the filters."""
        where, args = _where(org, sandbox, filters)
        (row,) = self._rows(f"SELECT COUNT(*) FROM connections WHERE {where}", args)
        return int(row[0])

    def set_in_use(self, connection_id: str, in_use: bool = True) -> bool:
        """Mark a connection as used by a flow (DELETE is then refused); False if absent."""
        cursor = self._write(
            "UPDATE connections SET in_use = ? WHERE id = ?", (int(in_use), connection_id)
        )
        return cursor.rowcount > 0

    def connections(
        self, org: str | None = None, sandbox: str | None = None
    ) -> list[ConnectionRecord]:
        """Every connection (optionally of one org and/or sandbox), oldest first. For tests."""
        where, args = self._scope(org, sandbox)
        rows = self._rows(f"SELECT {_COLUMNS} FROM connections WHERE {where} ORDER BY seq", args)
        return [_record(row) for row in rows]

    def count_by_name(self, name: str, org: str | None = None, sandbox: str | None = None) -> int:
        """How many connections carry this exact name. For tests (duplicates)."""
        where, args = self._scope(org, sandbox)
        (row,) = self._rows(
            f"SELECT COUNT(*) FROM connections WHERE {where} AND name = ?", [*args, name]
        )
        return int(row[0])

    @staticmethod
    def _scope(org: str | None, sandbox: str | None) -> tuple[str, list[object]]:
        clauses = ["1 = 1"]
        args: list[object] = []
        if org is not None:
            clauses.append("org = ?")
            args.append(org)
        if sandbox is not None:
            clauses.append("sandbox = ?")
            args.append(sandbox)
        return " AND ".join(clauses), args

    def _one(self, where: str, args: list[object]) -> ConnectionRecord | None:
        rows = self._rows(f"SELECT {_COLUMNS} FROM connections WHERE {where}", args)
        return _record(rows[0]) if rows else None
