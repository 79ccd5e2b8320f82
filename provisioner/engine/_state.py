"""SQLite state per target: what this tool created, fingerprints, last outcomes; the run lock.
The state's backend is picked here (``open_state``/``run_lock``): this SQLite file, or a
PostgreSQL database (``_pgstate``) when ``--state`` is a ``postgresql://`` URL.

An outcome row is recorded as each entry finishes and committed at most ``COMMIT_EVERY``
seconds later (group commit, WAL mode). Each commit has a fixed cost (about half a millisecond
of CPU in a run, where the caches are cold between commits), so a group spans half a second.
Intent rows for every create of a run are committed before the first is sent, so a create whose
answer dies with the process is known as ours on the next run. A ``kill -9`` thus loses at most
half a second of outcome rows: connections created or found in it are found again by the next
run's listing (and adopted through their intents); failures recorded in it are lost, so
``--retry-failed`` does not see them (a plain ``apply`` retries them).

No row holds a secret: the fingerprint is an HMAC-SHA256 under a random key kept in this
database, so it shows that an entry changed without revealing what it holds. (Like any
verifier, whoever holds the file can test a guessed password against it: keep it private.)
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from provisioner.engine._lockwait import wait_for_lock
from provisioner.engine._statebase import (
    COMMIT_EVERY,
    SCHEMA_VERSION,
    BufferedState,
    Dump,
    Row,
    State,
    StateEntry,
    check_version,
    is_postgres_url,
    now_text,
    resolved_keys,
)
from provisioner.errors import ConfigError, LockedError
from provisioner.settings import Settings

__all__ = [
    "COMMIT_EVERY",
    "RunLock",
    "State",
    "StateEntry",
    "StateStore",
    "is_postgres_url",
    "open_state",
    "open_state_at",
    "run_lock",
]

_V1: Final = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    target        TEXT NOT NULL,
    name          TEXT NOT NULL,
    connection_id TEXT,
    outcome       TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    http_status   INTEGER,
    last_error    TEXT,
    fingerprint   TEXT,
    created_by_us INTEGER NOT NULL DEFAULT 0,
    run_id        TEXT,
    first_seen    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (target, name)
);
CREATE TABLE IF NOT EXISTS intents (
    target      TEXT NOT NULL,
    name        TEXT NOT NULL,
    fingerprint TEXT,
    run_id      TEXT,
    at          TEXT NOT NULL,
    PRIMARY KEY (target, name)
);
CREATE TRIGGER IF NOT EXISTS intent_resolved_on_insert AFTER INSERT ON entries
WHEN NEW.outcome IN ('created', 'existing', 'updated')
BEGIN DELETE FROM intents WHERE target = NEW.target AND name = NEW.name; END;
CREATE TRIGGER IF NOT EXISTS intent_resolved_on_update AFTER UPDATE ON entries
WHEN NEW.outcome IN ('created', 'existing', 'updated')
BEGIN DELETE FROM intents WHERE target = NEW.target AND name = NEW.name; END;
"""
# Version 2: an outcome's row and the deletion of the intent it resolves are written by the
# tool in one transaction (as on PostgreSQL), no longer by triggers (which doubled the cost of
# writing an outcome row).
_V2: Final = """
DROP TRIGGER IF EXISTS intent_resolved_on_insert;
DROP TRIGGER IF EXISTS intent_resolved_on_update;
"""
# Each version's step from the one before. A database made before versions were recorded
# has version 1's tables and gets its version written on first open.
_UPGRADES: Final = {1: _V1, 2: _V2}
assert set(_UPGRADES) == set(range(1, SCHEMA_VERSION + 1))

_COLUMNS: Final = "name, connection_id, outcome, attempts, last_error, fingerprint, created_by_us"
_ALL: Final = (
    "target, name, connection_id, outcome, attempts, http_status, last_error, fingerprint,"
    " created_by_us, run_id, first_seen, updated_at"
)

_UPSERT: Final = """
INSERT INTO entries (target, name, connection_id, outcome, attempts, http_status, last_error,
                     fingerprint, created_by_us, run_id, first_seen, updated_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)
ON CONFLICT (target, name) DO UPDATE SET
    connection_id = COALESCE(excluded.connection_id, entries.connection_id),
    outcome       = excluded.outcome,
    attempts      = excluded.attempts,
    http_status   = excluded.http_status,
    last_error    = excluded.last_error,
    fingerprint   = COALESCE(excluded.fingerprint, entries.fingerprint),
    created_by_us = MAX(entries.created_by_us, excluded.created_by_us),
    run_id        = excluded.run_id,
    updated_at    = excluded.updated_at
"""


def _upgrade(conn: sqlite3.Connection, where: str) -> None:
    """Create the tables, or bring an older schema to this version (a newer one is refused)."""
    has_meta = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
    ).fetchone()
    found, stamped = 0, False
    if has_meta:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        stamped = row is not None
        found = int(row[0]) if row is not None else 1  # tables from before versions: 1
    check_version(where, found)
    if stamped and found == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    for version in range(found + 1, SCHEMA_VERSION + 1):
        for statement in _statements(_UPGRADES[version]):
            conn.execute(statement)
    conn.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", (SCHEMA_VERSION,)
    )
    conn.execute("COMMIT")


def _statements(script: str) -> list[str]:
    """A script's statements (the triggers' bodies hold a ``;`` of their own)."""
    out: list[str] = []
    current = ""
    for line in script.strip().splitlines():
        current += line + "\n"
        if sqlite3.complete_statement(current):
            out.append(current)
            current = ""
    return out


class StateStore(BufferedState):
    """The SQLite state. Open with ``StateStore.open(path)`` and use as a context manager."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        super().__init__(self._fingerprint_key())

    @classmethod
    def open(cls, path: Path) -> StateStore:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():  # private: it holds fingerprints (see the module docstring)
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
            conn = sqlite3.connect(path, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=5000")
            _upgrade(conn, str(path))
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"{path}: cannot open the state database: {exc}") from exc
        return cls(conn, path)

    def _begin(self) -> None:
        if not self._conn.in_transaction:
            self._conn.execute("BEGIN")

    def _write_outcomes(self, rows: list[Row], now: str) -> None:
        self._begin()
        # created_by_us as an int: sqlite3 binds an exact int directly, a bool through its
        # adapter lookup (about 3,000 instructions a row, callgrind)
        self._conn.executemany(
            _UPSERT,
            [
                (t, n, c, o, a, h, e, f, int(ours), r, now)
                for t, n, c, o, a, h, e, f, ours, r in rows
            ],
        )
        self._delete_intents(resolved_keys(rows))

    def _end_transaction(self) -> None:
        if self._conn.in_transaction:
            self._conn.execute("COMMIT")

    def _disconnect(self) -> None:
        self._conn.close()

    def _fingerprint_key(self) -> bytes:
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'fingerprint_key'").fetchone()
        if row is not None:
            return bytes(row[0])
        key = secrets.token_bytes(32)
        self._conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('fingerprint_key', ?)", (key,)
        )
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'fingerprint_key'").fetchone()
        return bytes(row[0])

    def _select_entries(self, target: str) -> Iterable[Sequence[object]]:
        return self._conn.execute(f"SELECT {_COLUMNS} FROM entries WHERE target = ?", (target,))

    def _select_orphans(self, base: str) -> Iterable[Sequence[object]]:
        return self._conn.execute(
            f"SELECT target, {_COLUMNS} FROM entries WHERE substr(target, 1, ?) = ?"
            " AND created_by_us = 1 AND connection_id IS NOT NULL ORDER BY target, name",
            (len(base) + 1, base + "|"),
        )

    def _write_intents(self, rows: list[tuple[str, str, str | None]], run_id: str) -> None:
        self._begin()
        now = now_text()
        self._conn.executemany(
            "INSERT OR REPLACE INTO intents (target, name, fingerprint, run_id, at)"
            " VALUES (?, ?, ?, ?, ?)",
            ((target, name, fp, run_id, now) for target, name, fp in rows),
        )

    def _delete_intents(self, rows: list[tuple[str, str]]) -> None:
        self._begin()
        self._conn.executemany("DELETE FROM intents WHERE target = ? AND name = ?", rows)

    def _select_intents(self, target: str) -> Iterable[Sequence[object]]:
        return self._conn.execute(
            "SELECT name, fingerprint FROM intents WHERE target = ?", (target,)
        )

    def _delete_entry(self, target: str, name: str) -> None:
        self._begin()
        self._conn.execute("DELETE FROM entries WHERE target = ? AND name = ?", (target, name))
        self._conn.execute("DELETE FROM intents WHERE target = ? AND name = ?", (target, name))

    def stored_key(self) -> tuple[bytes, bool]:
        used = self._conn.execute(
            "SELECT 1 FROM entries WHERE fingerprint IS NOT NULL UNION ALL"
            " SELECT 1 FROM intents WHERE fingerprint IS NOT NULL LIMIT 1"
        ).fetchone()
        return self._key, used is not None

    def dump(self) -> Dump:
        self.commit()
        entries = self._conn.execute(f"SELECT {_ALL} FROM entries ORDER BY target, name")
        intents = self._conn.execute(
            "SELECT target, name, fingerprint, run_id, at FROM intents ORDER BY target, name"
        )
        return Dump(
            key=self._key,
            entries=tuple((*row[:8], bool(row[8]), *row[9:]) for row in entries),
            intents=tuple(tuple(row) for row in intents),
        )

    def load(self, dump: Dump) -> None:
        self.commit()
        self._begin()
        self._conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('fingerprint_key', ?)", (dump.key,)
        )
        self._conn.executemany(
            f"INSERT OR REPLACE INTO entries ({_ALL}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(*row[:8], int(bool(row[8])), *row[9:]) for row in dump.entries],
        )
        self._delete_intents(resolved_keys(dump.entries))
        self._conn.executemany(
            "INSERT OR REPLACE INTO intents (target, name, fingerprint, run_id, at)"
            " VALUES (?, ?, ?, ?, ?)",
            dump.intents,
        )
        self._use_key(dump.key)
        self.commit()


Sleep = Callable[[float], object]


class RunLock:
    """An exclusive lock beside the state database, holding the owner's pid.

    The kernel drops it when the process dies, so a ``kill -9`` never leaves it stuck.
    ``wait``: seconds to keep trying while another run holds it (else LockedError at once).
    """

    def __init__(
        self,
        state_path: Path,
        *,
        wait: float = 0.0,
        sleep: Sleep = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = state_path.with_name(state_path.name + ".lock")
        self._fd: int | None = None
        self._wait = wait
        self._sleep = sleep
        self._clock = clock

    def _try(self) -> int:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise LockedError(
                f"{self.path}: another run (pid {holder}) holds the state lock"
            ) from None
        return fd

    def __enter__(self) -> Self:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = wait_for_lock(self._try, self._wait, sleep=self._sleep, clock=self._clock)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)
            self._fd = None


def open_state_at(location: Path | str) -> BufferedState:
    """The state at a SQLite path or a PostgreSQL URL (``state copy``'s two ends)."""
    if isinstance(location, str) and is_postgres_url(location):
        from provisioner.engine._pgstate import PgState  # psycopg only when asked for

        return PgState.open(location)
    return StateStore.open(Path(location))


def open_state(settings: Settings) -> State:
    """The run's state: PostgreSQL when ``settings.state_url`` is set, else the SQLite file."""
    if settings.state_url is not None:
        from provisioner.engine._pgstate import PgState

        return PgState.open(settings.state_url.reveal())
    return StateStore.open(settings.state_path)


def run_lock(
    settings: Settings, *, sleep: Sleep = time.sleep, clock: Callable[[], float] = time.monotonic
) -> AbstractContextManager[object]:
    """The run lock of the settings' state and target, waiting up to ``settings.lock_wait``."""
    if settings.state_url is not None:
        from provisioner.engine._pglock import PgLock

        return PgLock(
            settings.state_url.reveal(),
            settings.target_base,
            wait=settings.lock_wait,
            sleep=sleep,
            clock=clock,
        )
    return RunLock(settings.state_path, wait=settings.lock_wait, sleep=sleep, clock=clock)
