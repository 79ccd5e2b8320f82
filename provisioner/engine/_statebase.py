"""What every state backend shares: the interface the runs call, the group commit of outcome
rows, the fingerprint, the schema version check, and waiting for the run lock.

A backend (SQLite in ``_state``, PostgreSQL in ``_pgstate``) supplies a few primitives that
read and write rows; this module keeps the guarantees the same for both:

- intent rows are committed before the first create of a run is sent (``intend``);
- outcome rows are written and committed in groups, at most ``COMMIT_EVERY`` seconds late;
- the fingerprint (``_fingerprint``) is an HMAC-SHA256 under a random key kept in the state,
  so no row holds a secret;
- the run lock is tried once, or polled with backoff for up to ``--wait-lock`` seconds.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Final, Protocol, Self
from urllib.parse import urlsplit

import structlog

from provisioner.engine._fingerprint import Fingerprinter
from provisioner.errors import ConfigError
from provisioner.manifest import DatabaseSpec
from provisioner.reports import Outcome, Result

__all__ = [
    "COMMIT_EVERY",
    "SCHEMA_VERSION",
    "BufferedState",
    "Dump",
    "State",
    "StateEntry",
    "check_version",
    "describe_url",
    "is_postgres_url",
    "resolved_keys",
]

log = structlog.get_logger(__name__)

COMMIT_EVERY: Final = 0.5  # seconds an outcome row may wait for its commit
# what a state database that fails (or is gone) raises: ours, and SQLite's own when unwrapped
_STATE_ERRORS: Final = (ConfigError, sqlite3.Error, OSError)
SCHEMA_VERSION: Final = 2  # the state's schema version this code writes and reads
RESOLVED: Final = ("created", "existing", "updated")  # outcomes that resolve an intent

# An outcome row as buffered: target, name, connection_id, outcome, attempts, http_status,
# last_error, fingerprint, created_by_us, run_id (the write time is added at flush).
Row = tuple[str, str, str | None, str, int, int | None, str | None, str | None, bool, str]


@dataclass(frozen=True, slots=True, kw_only=True)
class StateEntry:
    name: str
    connection_id: str | None
    outcome: Outcome
    attempts: int
    last_error: str | None
    fingerprint: str | None
    created_by_us: bool


def resolved_keys(rows: Iterable[Sequence[object]]) -> list[tuple[str, str]]:
    """(target, name) of the rows whose outcome resolves an intent: outcome rows, or a dump's
    entries (a state that loads a dump drops its own intents for them, before the dump's)."""
    return [(str(row[0]), str(row[1])) for row in rows if row[3] in RESOLVED]


@dataclass(frozen=True, slots=True, kw_only=True)
class Dump:
    """A whole state, backend-neutral (``state copy``). Times are ISO 8601 text.

    ``entries``: (target, name, connection_id, outcome, attempts, http_status, last_error,
    fingerprint, created_by_us, run_id, first_seen, updated_at); ``intents``: (target, name,
    fingerprint, run_id, at)."""

    key: bytes
    entries: tuple[tuple[object, ...], ...]
    intents: tuple[tuple[object, ...], ...]


class State(Protocol):
    """The state as the runs use it (both backends)."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def close(self) -> None: ...

    def commit(self) -> None: ...

    def fingerprint(self, spec: DatabaseSpec, form: str | None = None) -> str: ...

    def entries(self, target: str) -> dict[str, StateEntry]: ...

    def orphans(self, base: str, keep: set[tuple[str, str]]) -> list[tuple[str, StateEntry]]: ...

    def intend(self, rows: Iterable[tuple[str, str, str | None]], *, run_id: str) -> None: ...

    def drop_intents(self, rows: Iterable[tuple[str, str]]) -> None: ...

    def intents(self, target: str) -> dict[str, str | None]: ...

    def forget(self, target: str, name: str) -> None: ...

    def record(
        self,
        target: str,
        result: Result,
        *,
        run_id: str,
        fingerprint: str | None = None,
        ours: bool = False,
    ) -> None: ...


def check_version(where: str, found: int) -> None:
    """A state written by a newer provisioner is refused (its rows may mean something else)."""
    if found > SCHEMA_VERSION:
        raise ConfigError(
            f"{where}: the state has schema version {found}; this provisioner knows versions"
            f" up to {SCHEMA_VERSION}: upgrade provisioner (nothing was changed)"
        )


def is_postgres_url(text: str) -> bool:
    """``--state`` names a PostgreSQL database (else it is a SQLite file's path)."""
    return text[:13].lower().startswith(("postgresql://", "postgres://"))


def describe_url(url: str) -> str:
    """``host:port/database`` of a state URL: what errors and logs may show (no password)."""
    try:
        parts = urlsplit(url)
        port = parts.port or 5432
    except ValueError:
        return "postgresql://(unreadable URL)"
    host = parts.hostname or "localhost"
    database = parts.path.lstrip("/") or (parts.username or "")
    return f"{host}:{port}/{database}"


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _entry(row: Sequence[object]) -> StateEntry:
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


class BufferedState(ABC):
    """The state's behaviour over a backend's row primitives (the ``_``-abstract methods)."""

    def __init__(self, key: bytes) -> None:
        self._use_key(key)
        self._last_commit = time.monotonic()
        self._pending: list[Row] = []  # outcome rows waiting for their group's commit
        self._timer: asyncio.TimerHandle | None = None  # commits them COMMIT_EVERY late at most

    def _use_key(self, key: bytes) -> None:
        """The fingerprints' key from now on (a state copy brings its source's)."""
        self._key = key
        self._fingerprinter = Fingerprinter(key)

    # --- the backend's primitives ------------------------------------------------------------

    @abstractmethod
    def _write_outcomes(self, rows: list[Row], now: str) -> None:
        """Upsert outcome rows (and drop the intents they resolve), uncommitted."""

    @abstractmethod
    def _end_transaction(self) -> None:
        """Commit what the primitives wrote."""

    @abstractmethod
    def _disconnect(self) -> None: ...

    @abstractmethod
    def _select_entries(self, target: str) -> Iterable[Sequence[object]]: ...

    @abstractmethod
    def _select_orphans(self, base: str) -> Iterable[Sequence[object]]:
        """(target, *entry columns) of rows under ``base`` made by us with a connection id."""

    @abstractmethod
    def _write_intents(self, rows: list[tuple[str, str, str | None]], run_id: str) -> None: ...

    @abstractmethod
    def _delete_intents(self, rows: list[tuple[str, str]]) -> None: ...

    @abstractmethod
    def _select_intents(self, target: str) -> Iterable[Sequence[object]]: ...

    @abstractmethod
    def _delete_entry(self, target: str, name: str) -> None: ...

    @abstractmethod
    def dump(self) -> Dump:
        """The whole state (every target), for ``state copy``."""

    @abstractmethod
    def load(self, dump: Dump) -> None:
        """Write a dump's rows over this state's (same key), committed."""

    @abstractmethod
    def stored_key(self) -> tuple[bytes, bool]:
        """The fingerprint key and whether any row holds a fingerprint made under it."""

    # --- the interface -----------------------------------------------------------------------

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Commit what is left and disconnect. A state database that is gone by then is an
        error in the log (``state_commit_failed`` with the rows lost), never an exception: the
        run's report must still be written, and the next run finds the connections through
        the listing (intents committed before each create make them this tool's)."""
        try:
            self.commit()
        except _STATE_ERRORS as exc:
            log.error("state_commit_failed", error=str(exc), lost_rows=len(self._pending))
        finally:
            self._disconnect()

    def _tolerated(self, event: str, write: Callable[[], None]) -> None:
        """A write the run can do without (a forgotten row, a dropped intent): a failure is
        logged and the run goes on; the next run sees the API's truth."""
        try:
            write()
        except _STATE_ERRORS as exc:
            log.error(event, error=str(exc))

    def _commit_soon(self) -> None:
        """Commit now if the last commit is ``COMMIT_EVERY`` old; else at most that much later
        (a timer on the running loop; at once when there is no loop). Inside a run a failed
        commit is logged and tried again a period later (its rows wait in memory); ``close``
        raises it if it still fails."""
        if self._timer is not None:  # a commit is set already (the common case in a run)
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.commit()
            return
        if time.monotonic() - self._last_commit >= COMMIT_EVERY:
            self._commit_or_retry()
        else:
            self._timer = loop.call_later(COMMIT_EVERY, self._commit_or_retry)

    def _commit_or_retry(self) -> None:
        if self._timer is not None:
            self._timer.cancel()  # (a no-op when it is the timer that called)
            self._timer = None
        try:
            self.commit()
        except _STATE_ERRORS as exc:
            log.error("state_commit_failed", error=str(exc), waiting_rows=len(self._pending))
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(COMMIT_EVERY, self._commit_or_retry)

    def _write_pending(self) -> None:
        if self._pending:
            self._write_outcomes(self._pending, now_text())  # one time stamp per group
            self._pending = []

    def commit(self) -> None:
        """Make every write so far durable against a crash of this process."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._write_pending()
        self._end_transaction()
        self._last_commit = time.monotonic()

    def fingerprint(self, spec: DatabaseSpec, form: str | None = None) -> str:
        """The entry's fingerprint under this state's key (``Fingerprinter.of``)."""
        return self._fingerprinter.of(spec, form)

    def entries(self, target: str) -> dict[str, StateEntry]:
        self.commit()
        return {entry.name: entry for entry in map(_entry, self._select_entries(target))}

    def orphans(self, base: str, keep: set[tuple[str, str]]) -> list[tuple[str, StateEntry]]:
        """Rows of targets under ``base`` that this tool created and ``keep`` does not name,
        as (target, entry)."""
        self.commit()
        found = [(str(row[0]), _entry(row[1:])) for row in self._select_orphans(base)]
        return [(target, entry) for target, entry in found if (target, entry.name) not in keep]

    def intend(self, rows: Iterable[tuple[str, str, str | None]], *, run_id: str) -> None:
        """Note the creates this run is about to send, as (target, name, fingerprint), in one
        transaction before the first is sent. If a create's answer is lost and the process
        dies, the next run knows the connection it finds under that name is ours."""
        self._write_pending()
        self._write_intents(list(rows), run_id)
        self.commit()

    def drop_intents(self, rows: Iterable[tuple[str, str]]) -> None:
        """Forget intents whose create was surely never made (not sent, or refused). A state
        database gone meanwhile leaves them: the next run looks for those names first."""
        dropped = list(rows)

        def write() -> None:
            self._write_pending()
            self._delete_intents(dropped)
            self.commit()

        self._tolerated("state_intents_not_dropped", write)

    def intents(self, target: str) -> dict[str, str | None]:
        """Creates sent (or about to be) whose outcome was never recorded: name -> fingerprint."""
        self.commit()
        return {
            str(name): fp if isinstance(fp, str) else None
            for name, fp in self._select_intents(target)
        }

    def forget(self, target: str, name: str) -> None:
        """Drop an entry's row (its connection was deleted on purpose). A state database gone
        meanwhile keeps the row: the next run reads the id, finds it gone, and acts on that."""

        def write() -> None:
            self.commit()
            self._delete_entry(target, name)
            self._commit_soon()

        self._tolerated("state_forget_failed", write)

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
        run's create whose answer was lost, found now). Rows are committed in groups."""
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
                ours or result.status is Outcome.CREATED,
                run_id,
            )
        )
        self._commit_soon()
