"""The state in PostgreSQL (``--state postgresql://...``): same rows and guarantees as the SQLite
file, shared by every host that names the same database; the run lock is an advisory lock.

Tables are ``provisioner_meta``, ``provisioner_entries`` and ``provisioner_intents`` in the
connection's search path; every row is keyed by its target (platform, org, sandbox), so several
manifests and targets share one database without touching each other's rows.

The interface is synchronous, like SQLite's: the runs call it from the event loop. A call is one
round trip on a loopback or LAN server (reads at the start of a run, the intents once before the
first create, outcome rows in groups at most ``COMMIT_EVERY`` seconds apart), so it blocks the
loop for about as long as the SQLite file's fsync would.

The run lock (``_pglock``) is a session-level advisory lock on a connection of its own.

The URL's password is held as a Secret; errors name the host, port and database only.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Final
from urllib.parse import unquote, urlsplit

import psycopg

from provisioner.engine._statebase import (
    SCHEMA_VERSION,
    BufferedState,
    Dump,
    Row,
    check_version,
    describe_url,
    now_text,
    resolved_keys,
)
from provisioner.errors import ConfigError
from provisioner.secrets import Secret

__all__ = ["PgState", "connect"]

CONNECT_TIMEOUT: Final = 10  # seconds
_SCHEMA_LOCK: Final = 0x70726F76_0000_0001  # advisory lock held while the schema is set up

_V1: Final = (
    "CREATE TABLE IF NOT EXISTS provisioner_meta (key TEXT PRIMARY KEY, value BYTEA NOT NULL)",
    """CREATE TABLE IF NOT EXISTS provisioner_entries (
        target        TEXT NOT NULL,
        name          TEXT NOT NULL,
        connection_id TEXT,
        outcome       TEXT NOT NULL,
        attempts      INTEGER NOT NULL DEFAULT 0,
        http_status   INTEGER,
        last_error    TEXT,
        fingerprint   TEXT,
        created_by_us BOOLEAN NOT NULL DEFAULT FALSE,
        run_id        TEXT,
        first_seen    TIMESTAMPTZ NOT NULL,
        updated_at    TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (target, name))""",
    """CREATE TABLE IF NOT EXISTS provisioner_intents (
        target      TEXT NOT NULL,
        name        TEXT NOT NULL,
        fingerprint TEXT,
        run_id      TEXT,
        at          TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (target, name))""",
)
# each version's step from the one before (2 changed the SQLite state's triggers only)
_UPGRADES: Final = {1: _V1, 2: ()}

_COLUMNS: Final = "name, connection_id, outcome, attempts, last_error, fingerprint, created_by_us"
_ALL: Final = (
    "target, name, connection_id, outcome, attempts, http_status, last_error, fingerprint,"
    " created_by_us, run_id, first_seen, updated_at"
)
_ON_CONFLICT: Final = """
ON CONFLICT (target, name) DO UPDATE SET
    connection_id = COALESCE(EXCLUDED.connection_id, provisioner_entries.connection_id),
    outcome       = EXCLUDED.outcome,
    attempts      = EXCLUDED.attempts,
    http_status   = EXCLUDED.http_status,
    last_error    = EXCLUDED.last_error,
    fingerprint   = COALESCE(EXCLUDED.fingerprint, provisioner_entries.fingerprint),
    created_by_us = provisioner_entries.created_by_us OR EXCLUDED.created_by_us,
    run_id        = EXCLUDED.run_id,
    updated_at    = EXCLUDED.updated_at
"""
# A group of rows in one statement (one round trip), when no key repeats in the group.
_UPSERT_MANY: Final = f"""
INSERT INTO provisioner_entries ({_ALL})
SELECT t.*, %s::timestamptz, %s::timestamptz FROM unnest(
    %s::text[], %s::text[], %s::text[], %s::text[], %s::int[], %s::int[], %s::text[],
    %s::text[], %s::bool[], %s::text[]) AS t
{_ON_CONFLICT}"""
_UPSERT_ONE: Final = f"""
INSERT INTO provisioner_entries ({_ALL})
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
{_ON_CONFLICT}"""
_RESOLVE: Final = """
DELETE FROM provisioner_intents AS i USING unnest(%s::text[], %s::text[]) AS r(target, name)
WHERE i.target = r.target AND i.name = r.name"""
_INTEND: Final = """
INSERT INTO provisioner_intents (target, name, fingerprint, run_id, at)
VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (target, name) DO UPDATE SET
    fingerprint = EXCLUDED.fingerprint, run_id = EXCLUDED.run_id, at = EXCLUDED.at"""


def _scrub(text: str, url: str) -> str:
    """A driver message without the URL's password (in any spelling it could appear in)."""
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    first = text.strip().splitlines()[0] if text.strip() else "unknown error"
    for spelling in filter(None, {password, unquote(password or "")}):
        first = first.replace(spelling, "********")
    return first


def connect(url: str) -> psycopg.Connection[tuple[object, ...]]:
    """A connection in autocommit mode, or ConfigError naming the server (never the password)."""
    where = describe_url(url)
    scheme, sep, rest = url.partition("://")
    url = scheme.lower() + sep + rest  # libpq knows the scheme in lower case only
    try:
        psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        raise ConfigError(
            f"state database {where}: not a valid PostgreSQL URL"
            " (postgresql://USER:PASSWORD@HOST:PORT/DATABASE)"
        ) from None
    try:
        return psycopg.connect(
            url,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT,
            keepalives=1,  # the lock's idle session must outlive NATs and firewalls
            keepalives_idle=30,
            keepalives_interval=10,
            keepalives_count=3,
            application_name=f"provisioner pid {os.getpid()} on {socket.gethostname()}",
        )
    except psycopg.Error as exc:
        reason = _scrub(str(exc), url)
        raise ConfigError(f"state database {where}: cannot connect: {reason}") from None


def _upgrade(conn: psycopg.Connection[tuple[object, ...]], where: str) -> None:
    """Create the tables or bring them to this version, under a lock (two hosts starting at
    once); a newer version is refused before anything is changed."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        found = 0
        if conn.execute("SELECT to_regclass('provisioner_meta')").fetchone() != (None,):
            row = conn.execute(
                "SELECT value FROM provisioner_meta WHERE key = 'schema_version'"
            ).fetchone()
            found = int(_bytes(row[0]).decode()) if row is not None else 0
        check_version(where, found)
        for version in range(found + 1, SCHEMA_VERSION + 1):
            for statement in _UPGRADES[version]:
                conn.execute(statement)
        if found != SCHEMA_VERSION:
            conn.execute(
                "INSERT INTO provisioner_meta (key, value) VALUES ('schema_version', %s)"
                " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                (str(SCHEMA_VERSION).encode(),),
            )
        conn.execute(
            "INSERT INTO provisioner_meta (key, value) VALUES ('fingerprint_key', %s)"
            " ON CONFLICT (key) DO NOTHING",
            (secrets.token_bytes(32),),
        )


def _bytes(value: object) -> bytes:
    assert isinstance(value, bytes | memoryview), type(value)
    return bytes(value)


def _iso(value: object) -> object:
    return value.isoformat(timespec="milliseconds") if isinstance(value, datetime) else value


class PgState(BufferedState):
    """The PostgreSQL state. Open with ``PgState.open(url)`` and use as a context manager."""

    def __init__(self, conn: psycopg.Connection[tuple[object, ...]], url: Secret) -> None:
        self._conn = conn
        self._url = url
        self.where = describe_url(url.reveal())
        row = conn.execute("SELECT value FROM provisioner_meta WHERE key = 'fingerprint_key'")
        found = row.fetchone()
        assert found is not None  # written by _upgrade
        super().__init__(_bytes(found[0]))

    def __repr__(self) -> str:
        return f"PgState({self.where!r})"

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """A driver error (the server went away, a failover) as a ConfigError naming the
        server, never the password."""
        try:
            yield
        except psycopg.Error as exc:
            reason = _scrub(str(exc), self._url.reveal())
            raise ConfigError(f"state database {self.where}: {reason}") from None

    @classmethod
    def open(cls, url: str) -> PgState:
        conn = connect(url)
        try:
            _upgrade(conn, f"state database {describe_url(url)}")
        except psycopg.Error as exc:
            conn.close()
            reason = _scrub(str(exc), url)
            raise ConfigError(f"state database {describe_url(url)}: {reason}") from None
        except BaseException:
            conn.close()
            raise
        return cls(conn, Secret(url))

    def _write_outcomes(self, rows: list[Row], now: str) -> None:
        keys = [(row[0], row[1]) for row in rows]
        with self._errors(), self._conn.transaction():
            if len(set(keys)) == len(keys):
                columns = [list(column) for column in zip(*rows, strict=True)]
                self._conn.execute(_UPSERT_MANY, (now, now, *columns))
            else:  # one key twice in a group: row by row, in order
                with self._conn.cursor() as cur:
                    cur.executemany(_UPSERT_ONE, [(*row, now, now) for row in rows])
            self._delete_intents(resolved_keys(rows))  # in this transaction

    def _end_transaction(self) -> None:
        """Nothing: each primitive commits its own transaction (autocommit connection)."""

    def _disconnect(self) -> None:
        self._conn.close()

    def _select_entries(self, target: str) -> Iterable[Sequence[object]]:
        with self._errors():
            return self._conn.execute(
                f"SELECT {_COLUMNS} FROM provisioner_entries WHERE target = %s", (target,)
            ).fetchall()

    def _select_orphans(self, base: str) -> Iterable[Sequence[object]]:
        with self._errors():
            return self._conn.execute(
                f"SELECT target, {_COLUMNS} FROM provisioner_entries"
                " WHERE left(target, %s) = %s AND created_by_us AND connection_id IS NOT NULL"
                " ORDER BY target, name",
                (len(base) + 1, base + "|"),
            ).fetchall()

    def _write_intents(self, rows: list[tuple[str, str, str | None]], run_id: str) -> None:
        now = now_text()
        with self._errors(), self._conn.transaction(), self._conn.cursor() as cur:
            cur.executemany(_INTEND, [(t, n, fp, run_id, now) for t, n, fp in rows])

    def _delete_intents(self, rows: list[tuple[str, str]]) -> None:
        if rows:
            targets, names = zip(*rows, strict=True)
            with self._errors():
                self._conn.execute(_RESOLVE, (list(targets), list(names)))

    def _select_intents(self, target: str) -> Iterable[Sequence[object]]:
        with self._errors():
            return self._conn.execute(
                "SELECT name, fingerprint FROM provisioner_intents WHERE target = %s", (target,)
            ).fetchall()

    def _delete_entry(self, target: str, name: str) -> None:
        with self._errors(), self._conn.transaction():
            for table in ("provisioner_entries", "provisioner_intents"):
                self._conn.execute(
                    f"DELETE FROM {table} WHERE target = %s AND name = %s",
                    (target, name),
                )

    def stored_key(self) -> tuple[bytes, bool]:
        used = self._conn.execute(
            "SELECT EXISTS (SELECT 1 FROM provisioner_entries WHERE fingerprint IS NOT NULL)"
            " OR EXISTS (SELECT 1 FROM provisioner_intents WHERE fingerprint IS NOT NULL)"
        ).fetchone()
        return self._key, bool(used and used[0])

    def dump(self) -> Dump:
        self.commit()
        entries = self._conn.execute(
            f"SELECT {_ALL} FROM provisioner_entries ORDER BY target, name"
        ).fetchall()
        intents = self._conn.execute(
            "SELECT target, name, fingerprint, run_id, at FROM provisioner_intents"
            " ORDER BY target, name"
        ).fetchall()
        return Dump(
            key=self._key,
            entries=tuple(tuple(map(_iso, row)) for row in entries),
            intents=tuple(tuple(map(_iso, row)) for row in intents),
        )

    def load(self, dump: Dump) -> None:
        self.commit()
        with self._conn.transaction(), self._conn.cursor() as cur:
            cur.execute(
                "UPDATE provisioner_meta SET value = %s WHERE key = 'fingerprint_key'", (dump.key,)
            )
            cur.executemany(
                f"INSERT INTO provisioner_entries ({_ALL})"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (target, name) DO UPDATE SET"
                " connection_id = EXCLUDED.connection_id, outcome = EXCLUDED.outcome,"
                " attempts = EXCLUDED.attempts, http_status = EXCLUDED.http_status,"
                " last_error = EXCLUDED.last_error, fingerprint = EXCLUDED.fingerprint,"
                " created_by_us = EXCLUDED.created_by_us, run_id = EXCLUDED.run_id,"
                " first_seen = EXCLUDED.first_seen, updated_at = EXCLUDED.updated_at",
                dump.entries,
            )
            self._delete_intents(resolved_keys(dump.entries))  # in this transaction
            cur.executemany(_INTEND, dump.intents)
        self._use_key(dump.key)
