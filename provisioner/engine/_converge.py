"""One connection per name: which copy of a duplicated name to keep, and deleting the rest.

The rule, the same in every run and on every host, so that two runs that meet agree: only when
every copy was created by this tool's client (``createdClient``) are copies deleted; the oldest
(``createdAt``, then id) is kept. A copy anyone else made is never touched. A delete that finds
the copy gone is fine (another run got there first); one that Platform refuses because a
dataflow uses the copy (FLOW-1418-400) is reported, not forced.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass

import structlog

from provisioner.aep import Attempts, Connection, FlowClient, Retrier, Sleep
from provisioner.errors import PermanentError, RetryableError
from provisioner.settings import Backoff

__all__ = ["Converged", "Converger", "Verdict", "judge_copies"]

log = structlog.get_logger(__name__)

_IN_USE = "1418"  # FLOW-1418-400: a flow uses the connection; Platform will not delete it


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """What to do with the copies of one name: keep one and delete some, or touch nothing
    because some copy is someone else's (``foreign``)."""

    keep: str | None
    delete: tuple[str, ...] = ()
    foreign: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Converged:
    """How convergence of one name ended: the copy kept, the copies this run deleted, and
    why the name still has several copies (None when it has one)."""

    keep: str | None
    removed: tuple[str, ...] = ()
    error: str | None = None


def _age(copy: Connection) -> tuple[bool, int, str]:
    """Oldest first; a copy without ``createdAt`` after every dated one, then by id."""
    return (copy.created_at is None, copy.created_at or 0, copy.id)


def judge_copies(copies: Sequence[Connection], *, client_id: str) -> Verdict:
    """The verdict on the copies of one name (several copies of one connection id count once)."""
    unique = {c.id: c for c in copies}
    ordered = sorted(unique.values(), key=_age)
    if len(ordered) <= 1:
        return Verdict(keep=ordered[0].id if ordered else None)
    foreign = tuple(c.id for c in ordered if c.created_client != client_id)
    if foreign:
        return Verdict(keep=None, foreign=foreign)
    return Verdict(keep=ordered[0].id, delete=tuple(c.id for c in ordered[1:]))


def foreign_message(count: int, foreign: Sequence[str]) -> str:
    return (
        f"{count} connections have this name and {len(foreign)} of them were made by another "
        f"client ({', '.join(foreign)}): none is deleted; remove the extra copies by hand"
    )


class Converger:
    """Deletes the extra copies of duplicated names, a few names at a time, retrying a delete
    that gets no answer or a retryable one."""

    def __init__(
        self,
        client: FlowClient,
        *,
        client_id: str,
        backoff: Backoff,
        concurrency: int,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._client = client
        self._client_id = client_id
        self._slots = asyncio.Semaphore(max(1, concurrency))
        self._retrier = Retrier(backoff, sleep=sleep, rng=rng or random.Random())

    async def converge(self, sandbox: str, copies: Sequence[Connection]) -> Converged:
        """Apply the rule to the copies of one name."""
        verdict = judge_copies(copies, client_id=self._client_id)
        if verdict.foreign:
            count = len({c.id for c in copies})
            return Converged(keep=None, error=foreign_message(count, verdict.foreign))
        removed: list[str] = []
        refused: list[str] = []
        errors: list[str] = []
        for connection_id in verdict.delete:
            try:
                if await self._delete(sandbox, connection_id):
                    removed.append(connection_id)
            except PermanentError as exc:
                if _IN_USE in (exc.code or ""):
                    refused.append(connection_id)
                else:
                    errors.append(f"{connection_id}: {exc.message}")
        if removed:
            log.info("duplicates_removed", kept=verdict.keep, removed=removed)
        return Converged(
            keep=verdict.keep, removed=tuple(removed), error=_leftover(verdict, refused, errors)
        )

    async def converge_all(
        self, named: Sequence[tuple[str, str, Sequence[Connection]]]
    ) -> dict[tuple[str, str], Converged]:
        """Converge each (sandbox, name, copies), at most ``concurrency`` names at a time."""
        done: dict[tuple[str, str], Converged] = {}

        async def one(sandbox: str, name: str, copies: Sequence[Connection]) -> None:
            async with self._slots:
                done[sandbox, name] = await self.converge(sandbox, copies)

        async with asyncio.TaskGroup() as tg:
            for sandbox, name, copies in named:
                tg.create_task(one(sandbox, name, copies))
        return done

    async def _delete(self, sandbox: str, connection_id: str) -> bool:
        """True when this call deleted it; False when it was gone already."""
        tries = Attempts()

        async def delete(_attempt: int) -> bool:
            return await self._client.delete_connection(connection_id, sandbox=sandbox)

        try:
            return await self._retrier.run(delete, tries, connection_id=connection_id)
        except RetryableError as exc:
            raise PermanentError(
                tries.refused or exc.message,
                status=exc.status,
                code=exc.code,
                request_id=exc.request_id,
            ) from exc


def _leftover(verdict: Verdict, refused: Sequence[str], errors: Sequence[str]) -> str | None:
    parts = []
    if refused:
        parts.append(
            f"Platform refuses to delete the duplicate {', '.join(refused)}: a dataflow uses it "
            "(FLOW-1418-400)"
        )
    if errors:
        parts.append(f"could not delete the duplicate {'; '.join(errors)}")
    if not parts:
        return None
    return f"kept {verdict.keep}; " + "; ".join(parts)
