"""SQLite state per target: what this tool created, fingerprints, last outcomes; the run lock.

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

import asyncio
import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from provisioner.errors import ConfigError, LockedError
from provisioner.manifest import DatabaseSpec
from provisioner.reports import Outcome, Result

__all__ = ["COMMIT_EVERY", "RunLock", "StateEntry", "StateStore"]

COMMIT_EVERY: Final = 0.5  # seconds an outcome row may wait for its commit

_SCHEMA: Final = """
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

_CONNECTION_STRING_FORM: Final = "ConnectionString"
_COLUMNS: Final = "name, connection_id, outcome, attempts, last_error, fingerprint, created_by_us"

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


@dataclass(frozen=True, slots=True, kw_only=True)
class StateEntry:
    name: str
    connection_id: str | None
    outcome: Outcome
    attempts: int
    last_error: str | None
    fingerprint: str | None
    created_by_us: bool


# the fingerprint's encoder, built once (json.dumps builds one per call)
_FIELDS: Final = json.JSONEncoder(ensure_ascii=False)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class StateStore:
    """The state database. Open with ``StateStore.open(path)`` and use as a context manager."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        self._last_commit = time.monotonic()
        self._pending: list[tuple[object, ...]] = []  # outcome rows (_UPSERT's order, no time)
        self._timer: asyncio.TimerHandle | None = None  # commits them COMMIT_EVERY late at most
        self._key = self._fingerprint_key()

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
            conn.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"{path}: cannot open the state database: {exc}") from exc
        return cls(conn, path)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.commit()
        self._conn.close()

    def _commit_soon(self) -> None:
        """Commit now if the last commit is ``COMMIT_EVERY`` old; else at most that much later
        (a timer on the running loop; at once when there is no loop)."""
        if time.monotonic() - self._last_commit >= COMMIT_EVERY:
            self.commit()
            return
        if self._timer is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.commit()
            return
        self._timer = loop.call_later(COMMIT_EVERY, self.commit)

    def _begin(self) -> None:
        if not self._conn.in_transaction:
            self._conn.execute("BEGIN")

    def _write_pending(self) -> None:
        """Outcome rows waiting in memory go to the database (in the open transaction)."""
        if self._pending:
            self._begin()
            now = _now()  # one time stamp per group: the moment the rows are written
            self._conn.executemany(_UPSERT, [(*row, now) for row in self._pending])
            self._pending.clear()

    def commit(self) -> None:
        """Make every write so far durable against a crash of this process."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._write_pending()
        if self._conn.in_transaction:
            self._conn.execute("COMMIT")
        self._last_commit = time.monotonic()

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

    def fingerprint(self, spec: DatabaseSpec, form: str | None = None) -> str:
        """HMAC of everything that goes into the connection; no secret can be read back.

        ``form`` is the auth form sent (its specName). The connection-string form keeps the
        format of earlier versions; the Basic form adds itself, the schema and tls."""
        fields: list[object] = [
            spec.host,
            spec.port,
            spec.sid,
            spec.service_name,
            spec.user,
            spec.password.reveal(),
            spec.description,
        ]
        if form is not None and form != _CONNECTION_STRING_FORM:
            fields += [form, spec.schema, spec.tls]
        message = _FIELDS.encode(fields).encode()
        return hmac.digest(self._key, message, hashlib.sha256).hex()  # one-shot, in C

    @staticmethod
    def _entry(row: tuple[object, ...]) -> StateEntry:
        name, connection_id, outcome, attempts, last_error, fingerprint, ours = row
        return StateEntry(
            name=str(name),
            connection_id=connection_id if isinstance(connection_id, str) else None,
            outcome=Outcome(str(outcome)),
            attempts=attempts if isinstance(attempts, int) else 0,
            last_error=last_error if isinstance(last_error, str) else None,
            fingerprint=fingerprint if isinstance(fingerprint, str) else None,
            created_by_us=bool(ours),
        )

    def entries(self, target: str) -> dict[str, StateEntry]:
        self.commit()
        rows = self._conn.execute(f"SELECT {_COLUMNS} FROM entries WHERE target = ?", (target,))
        return {entry.name: entry for entry in map(self._entry, rows)}

    def orphans(self, base: str, keep: set[tuple[str, str]]) -> list[tuple[str, StateEntry]]:
        """Rows of targets under ``base`` that this tool created and ``keep`` does not name,
        as (target, entry)."""
        self.commit()
        rows = self._conn.execute(
            f"SELECT target, {_COLUMNS} FROM entries WHERE substr(target, 1, ?) = ?"
            " AND created_by_us = 1 AND connection_id IS NOT NULL ORDER BY target, name",
            (len(base) + 1, base + "|"),
        )
        found = [(str(row[0]), self._entry(row[1:])) for row in rows]
        return [(target, entry) for target, entry in found if (target, entry.name) not in keep]

    def intend(self, rows: Iterable[tuple[str, str, str | None]], *, run_id: str) -> None:
        """Note the creates this run is about to send, as (target, name, fingerprint), in one
        transaction before the first is sent. If a create's answer is lost and the process
        dies, the next run knows the connection it finds under that name is ours."""
        self._write_pending()
        self._begin()
        now = _now()
        self._conn.executemany(
            "INSERT OR REPLACE INTO intents (target, name, fingerprint, run_id, at)"
            " VALUES (?, ?, ?, ?, ?)",
            ((target, name, fp, run_id, now) for target, name, fp in rows),
        )
        self.commit()

    def drop_intents(self, rows: Iterable[tuple[str, str]]) -> None:
        """Forget intents whose create was surely never made (not sent, or refused)."""
        self._write_pending()
        self._begin()
        self._conn.executemany("DELETE FROM intents WHERE target = ? AND name = ?", rows)
        self.commit()

    def intents(self, target: str) -> dict[str, str | None]:
        """Creates sent (or about to be) whose outcome was never recorded: name -> fingerprint."""
        self.commit()
        rows = self._conn.execute(
            "SELECT name, fingerprint FROM intents WHERE target = ?", (target,)
        )
        return {str(name): fp for name, fp in rows}

    def forget(self, target: str, name: str) -> None:
        """Drop an entry's row (its connection was deleted on purpose)."""
        self.commit()
        self._begin()
        self._conn.execute("DELETE FROM entries WHERE target = ? AND name = ?", (target, name))
        self._conn.execute("DELETE FROM intents WHERE target = ? AND name = ?", (target, name))
        self._commit_soon()

    def record(
        self,
        target: str,
        result: Result,
        *,
        run_id: str,
        fingerprint: str | None = None,
        ours: bool = False,
    ) -> None:
        """Write one entry's outcome now. ``ours``: this tool created the connection (an earlier
        run's create whose answer was lost, found now)."""
        # A trigger drops the entry's intent; rows are written and committed in groups
        # (see the module docstring).
        self._pending.append(
            (
                target,
                result.name,
                result.connection_id,
                result.status.value,
                result.attempts,
                result.http_status,
                result.error,
                fingerprint,
                int(ours or result.status is Outcome.CREATED),
                run_id,
            )
        )
        self._commit_soon()


class RunLock:
    """An exclusive lock beside the state database, holding the owner's pid.

    The kernel drops it when the process dies, so a ``kill -9`` never leaves it stuck.
    """

    def __init__(self, state_path: Path) -> None:
        self.path = state_path.with_name(state_path.name + ".lock")
        self._fd: int | None = None

    def __enter__(self) -> Self:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise LockedError(
                f"{self.path}: another run (pid {holder}) holds the state lock"
            ) from None
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
