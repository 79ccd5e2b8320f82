"""The run lock of a PostgreSQL state: a session-level ``pg_try_advisory_lock`` keyed by a hash
of the target, taken on a connection of its own that lives as long as the run. The server drops
it when that session ends, so a ``kill -9`` (or a lost host) never leaves it stuck; two runs of
one target on two hosts never overlap, and runs of other targets are not held up."""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable
from types import TracebackType
from typing import Self

import psycopg
import structlog

from provisioner.engine._lockwait import wait_for_lock
from provisioner.engine._pgstate import connect
from provisioner.engine._statebase import describe_url
from provisioner.errors import LockedError
from provisioner.secrets import Secret

__all__ = ["PgLock", "lock_key"]

log = structlog.get_logger(__name__)


def lock_key(target: str) -> int:
    """The advisory lock's 64-bit key for a target (signed, as PostgreSQL's bigint)."""
    digest = hashlib.sha256(b"provisioner run lock\0" + target.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class PgLock:
    """The run lock of one target in a PostgreSQL state, on a connection of its own."""

    def __init__(
        self,
        url: str,
        target: str,
        *,
        wait: float = 0.0,
        sleep: Callable[[float], object] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = Secret(url)
        self.where = describe_url(url)
        self.target = target
        self.key = lock_key(target)
        self._wait = wait
        self._sleep = sleep
        self._clock = clock
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None

    def __repr__(self) -> str:
        return f"PgLock({self.where!r}, {self.target!r})"

    def _try(self) -> None:
        assert self._conn is not None
        row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
        if row is not None and row[0] is True:
            return
        holder = self._conn.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
            " AND l.classid::bigint = %s AND l.objid::bigint = %s",
            ((self.key >> 32) & 0xFFFFFFFF, self.key & 0xFFFFFFFF),
        ).fetchone()
        who = str(holder[0]) if holder and holder[0] else "another session"
        raise LockedError(
            f"state database {self.where}: another run ({who}) holds the lock of target"
            f" {self.target}"
        )

    def __enter__(self) -> Self:
        self._conn = connect(self._url.reveal())
        try:
            wait_for_lock(self._try, self._wait, sleep=self._sleep, clock=self._clock)
        except BaseException:
            self._conn.close()
            self._conn = None
            raise
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._conn is not None:
            # Released at once for whoever waits (the session's end would too, a little later).
            held: object = False
            with contextlib.suppress(psycopg.Error):
                row = self._conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,)).fetchone()
                held = row[0] if row else False
            if held is not True:  # the session died during the run (a restart, a failover)
                log.warning("run_lock_lost", state=self.where, target=self.target)
            self._conn.close()
            self._conn = None
