"""Lagging listings and duplicates around an ``apply`` run.

At the start: creates of an earlier run whose outcome was never recorded are given the settle
window before they are sent again; a connection the state knows but the listing does not show
is read by id; names with several copies are converged. Before the end, the read-back confirms
that each name the run created has one connection: counts of up to 100 names each (ORed in
one filter, ``count=true``), side by side, so that it costs no more requests than one listing
pass, about one round trip of time, and no items to read unless a count is off.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import structlog

from provisioner.aep import AuthForm, Connection, FlowClient, Sleep
from provisioner.engine._converge import Converged, Converger
from provisioner.engine._discover import Inventory, duplicated_names, list_inventory
from provisioner.engine._domain import Action, Decision, EntryKey, Job, decide, work_for
from provisioner.engine._entries import remembered
from provisioner.engine._provision import ConnectionProvisioner
from provisioner.engine._state import StateEntry
from provisioner.errors import EntryError
from provisioner.reports import Outcome, Result
from provisioner.settings import Settings

__all__ = ["Planned", "Reconciler", "Settled", "converged_result", "decide_jobs"]

log = structlog.get_logger(__name__)

Key = EntryKey


class Planned(NamedTuple):
    """An entry with what the listing says it needs, and the copies the listing shows (a
    tuple: one per entry, made cheaply)."""

    job: Job
    decision: Decision
    copies: tuple[Connection, ...] = ()  # the connections the listing shows under its name


@dataclass(frozen=True, slots=True, kw_only=True)
class Settled:
    """The start of a run, decided: the jobs to send and the entries already ended."""

    work: list[Job]
    ended: list[Result]


def decide_jobs(
    jobs: Sequence[Job],
    inventory: Inventory,
    known: Mapping[Key, StateEntry],
    fingerprints: Mapping[Key, str],
    *,
    wanted: Callable[[Job, Sequence[Connection]], str | None] | None = None,
) -> list[Planned]:
    """Each job with what it needs: create, update (drifted), nothing (exists), or several
    copies to converge. ``wanted`` gives an entry's fingerprint from what the listing shows
    (a connection of another auth form is judged in its own form); else ``fingerprints``."""
    planned = []
    for job in jobs:
        copies = inventory.named(job.key)
        want = wanted(job, copies) if wanted is not None else fingerprints.get(job.key)
        decision = decide(copies, wanted=want, remembered=remembered(known.get(job.key)))
        planned.append(Planned(job=job, decision=decision, copies=copies))
    return planned


def converged_result(result: Result, done: Converged) -> Result:
    """The entry's result once its name was converged: it points at the copy kept, lists the
    copies this run deleted, and fails when copies are left that are not to be deleted.

    A connection this run created and then deleted as the younger copy leaves the entry
    ``existing`` (an older copy was adopted)."""
    status = result.status
    if done.keep is not None and done.keep != result.connection_id and status is Outcome.CREATED:
        status = Outcome.EXISTING
    if done.error is not None:
        status = Outcome.FAILED
    return result._replace(
        status=status,
        connection_id=done.keep or result.connection_id,
        removed_duplicates=(*result.removed_duplicates, *done.removed),
        error=done.error if done.error is not None else result.error,
    )


def _existing(job: Job, connection_id: str | None) -> Result:
    return Result(
        name=job.name, sandbox=job.sandbox, status=Outcome.EXISTING, connection_id=connection_id
    )


def _known_id(known: StateEntry | None) -> str | None:
    """The connection id of an entry the state knows as done."""
    done = (Outcome.CREATED, Outcome.EXISTING, Outcome.UPDATED)
    return known.connection_id if known is not None and known.outcome in done else None


class Reconciler:
    """The steps of an ``apply`` run that keep one connection per name."""

    def __init__(
        self,
        client: FlowClient,
        converger: Converger,
        provisioner: ConnectionProvisioner,
        *,
        settle: float,
        concurrency: int,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._client = client
        self._converger = converger
        self.provisioner = provisioner  # the pool's: it knows which creates are uncertain
        self._settle = settle
        self._slots = asyncio.Semaphore(max(1, concurrency))
        self._sleep = sleep

    @classmethod
    def for_run(
        cls,
        client: FlowClient,
        settings: Settings,
        *,
        verify: bool = False,
        auth_form: AuthForm = AuthForm.CONNECTION_STRING,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> Reconciler:
        """The reconciler of an ``apply`` run, with the provisioner its pool drives."""
        client_id = settings.credentials.client_id
        provisioner = ConnectionProvisioner(
            client,
            verify=verify,
            auth_form=auth_form,
            client_id=client_id,
            settle=settings.timeouts.settle,
            sleep=sleep,
            clock=clock,
        )
        converger = Converger(
            client,
            client_id=client_id,
            backoff=settings.backoff,
            concurrency=settings.limits.concurrency,
            sleep=sleep,
            rng=rng,
        )
        return cls(
            client,
            converger,
            provisioner,
            settle=settings.timeouts.settle,
            concurrency=settings.limits.concurrency,
            sleep=sleep,
        )

    async def wait_for_unrecorded(
        self,
        planned: list[Planned],
        unrecorded: Iterable[Key],
        known: Mapping[Key, StateEntry],
        fingerprints: Mapping[Key, str],
        *,
        wanted: Callable[[Job, Sequence[Connection]], str | None] | None = None,
        stopping: Callable[[], bool] = lambda: False,
    ) -> list[Planned]:
        """Creates of an earlier run whose outcome was never recorded (its process died) and
        whose names the listing does not show may have landed seconds ago: wait the settle
        window once, then list again (one pass per sandbox) before deciding to send them."""
        pending = set(unrecorded)
        unseen = [
            p.job for p in planned if p.decision.action is Action.CREATE and p.job.key in pending
        ]
        if not unseen or self._settle <= 0:
            return planned
        log.info("settling_unrecorded_creates", entries=len(unseen), wait_s=self._settle)
        waited = 0.0
        while waited < self._settle:  # in steps of a second at most: a stop ends the wait
            if stopping():
                return planned
            step = min(1.0, self._settle - waited)
            await self._sleep(step)
            waited += step
        try:
            inventory = await list_inventory(self._client, {j.sandbox for j in unseen})
        except EntryError as exc:  # cannot tell: each looks again before its create
            log.warning("listing_failed", error=exc.message, http_status=exc.status)
            for job in unseen:
                self.provisioner.uncertain(job.sandbox, job.name)
            return planned
        decided = decide_jobs(unseen, inventory, known, fingerprints, wanted=wanted)
        again = {p.job.key: p for p in decided}
        return [again.get(p.job.key, p) for p in planned]

    async def settle(self, planned: list[Planned], known: Mapping[Key, StateEntry]) -> Settled:
        """Entries already there end ``existing``; names with several copies are converged
        (or fail, naming the copies that are not to be deleted); a known connection the
        listing does not show is read by id. Returns the jobs left to send."""
        work: list[Job] = []
        ended: list[Result] = []
        unlisted: list[tuple[Job, str]] = []
        several: list[tuple[str, str, Sequence[Connection]]] = []
        for item in planned:
            job, decision = item.job, item.decision
            known_id = _known_id(known.get(job.key))
            todo = work_for(job, decision)
            if decision.action is Action.CREATE and known_id is not None:
                unlisted.append((job, known_id))
            elif todo is not None:
                work.append(todo)
            elif decision.action is Action.EXISTS:
                ended.append(_existing(job, decision.connection_id))
            else:
                several.append((job.sandbox, job.name, item.copies))
        for job, found in await self._read_by_id(unlisted):
            if found is None:
                work.append(job)
            else:
                ended.append(_existing(job, found))
        if several:
            log.info("duplicates_found", names=len(several))
            done = await self._converger.converge_all(several)
            for sandbox, name, _ in several:
                adopted = Result(name=name, sandbox=sandbox, status=Outcome.EXISTING)
                ended.append(converged_result(adopted, done[sandbox, name]))
        return Settled(work=work, ended=ended)

    async def _read_by_id(self, unlisted: list[tuple[Job, str]]) -> list[tuple[Job, str | None]]:
        """Connections the state knows but the listing does not show, read by id (a lagging
        listing does not fool a read by id): the id when it is there, None when it is gone."""
        found: list[tuple[Job, str | None]] = []

        async def one(job: Job, connection_id: str) -> None:
            async with self._slots:
                try:
                    there = await self._client.get_connection(connection_id, sandbox=job.sandbox)
                except EntryError as exc:  # no better than the listing: create, as before
                    log.warning("read_by_id_failed", entry=job.name, error=exc.message)
                    there = None
            if there is not None and there.name != job.name:
                there = None  # renamed meanwhile: no longer this entry's connection
            if there is not None:
                log.info("listing_lags", entry=job.name, connection_id=there.id)
            found.append((job, there.id if there is not None else None))

        async with asyncio.TaskGroup() as tg:
            for job, connection_id in unlisted:
                tg.create_task(one(job, connection_id))
        return found

    async def read_back(
        self, results: Mapping[Key, Result], created: Sequence[Key]
    ) -> list[Result]:
        """Confirm that each name this run created has one connection (counts of up to 100
        names ORed in one filter, side by side; a batch is listed only when its count is off;
        one listing pass where a name is unsafe in a filter); converge those that have more.
        Returns the results that changed."""
        by_sandbox: dict[str, list[str]] = {}
        for key in created:
            by_sandbox.setdefault(key.sandbox, []).append(key.name)
        several: list[tuple[str, str, Sequence[Connection]]] = []
        for sandbox, names in sorted(by_sandbox.items()):
            found = await duplicated_names(
                self._client, sandbox=sandbox, names=names, slots=self._slots
            )
            several += [(sandbox, name, copies) for name, copies in sorted(found.items())]
        if not several:
            return []
        log.info("duplicates_found", names=len(several))
        done = await self._converger.converge_all(several)
        return [converged_result(results[EntryKey(*key)], outcome) for key, outcome in done.items()]
