"""``apply`` as a strategy of the run skeleton: manifest + state + listing -> decisions ->
the pool creates and updates (and, with ``--prune``, deletes orphans) -> report."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType

import structlog

from provisioner.aep import AuthForm, Connection, Sleep
from provisioner.engine._authform import (
    choose_form,
    form_conflict,
    only,
    wanted_fingerprint,
    warn_other_forms,
)
from provisioner.engine._discover import list_inventory
from provisioner.engine._domain import Action, EntryKey, Job, JobKind
from provisioner.engine._entries import (
    RunOptions,
    fingerprints,
    known_entries,
    orphan_jobs,
    resolve_jobs,
)
from provisioner.engine._observer import RunObserver
from provisioner.engine._reconcile import Planned, Reconciler, decide_jobs
from provisioner.engine._run import Run, StateUse
from provisioner.engine._state import StateEntry
from provisioner.errors import EntryError
from provisioner.manifest import Manifest
from provisioner.reports import Outcome, Report, Result
from provisioner.settings import Settings

__all__ = ["ApplyRun", "ApplyStrategy"]

log = structlog.get_logger(__name__)


class ApplyStrategy:
    """Create what is missing, update what drifted, leave what exists; with ``--prune``
    delete the connections this tool made whose entries left the manifest."""

    state_use = StateUse.WRITE
    log_context: Mapping[str, str] = MappingProxyType({})

    def __init__(
        self,
        manifest: Manifest,
        options: RunOptions,
        *,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.manifest = manifest
        self.options = options
        self._sleep = sleep
        self._clock = clock
        self._rng = rng
        self._chosen: list[Job] = []
        self.not_selected = 0  # entries --only / --retry-failed leave out of the run
        self._orphans: list[Job] = []
        self._known: dict[EntryKey, StateEntry] = {}
        self._fingerprints: dict[EntryKey, str] = {}
        self._intents: dict[EntryKey, str | None] = {}  # creates sent earlier, outcome unrecorded
        self._form: AuthForm | None = None  # read from the org's spec in act

    def prepare(self, run: Run[Report]) -> Sequence[Job]:
        """The jobs, the orphans (``--prune``), and which jobs the options select, read from
        the state once."""
        jobs = resolve_jobs(self.manifest, run.settings.default_sandbox, self.options)
        if self.options.prune:
            self._orphans = orphan_jobs(run.state, run.settings, jobs, self.options)
        self._known = known_entries(run.state, run.settings, jobs)
        for job in jobs:
            row = self._known.get(job.key)
            if self.options.wants(job.name, row.outcome if row else None):
                self._chosen.append(job)
            else:
                self.not_selected += 1
        for sandbox in {j.sandbox for j in self._chosen}:
            for name, fp in run.state.intents(run.settings.target(sandbox)).items():
                self._intents[EntryKey(sandbox, name)] = fp
        return [*self._chosen, *self._orphans]

    async def act(self, run: Run[Report]) -> None:
        try:  # the auth form first: a spec or an entry that does not fit stops the run here
            checked = await choose_form(run.client, run.settings, self.manifest, self._chosen)
        except EntryError as exc:
            self._not_listed(run, exc, what="the Oracle connection spec", event="spec_failed")
            return
        self._form = checked.form
        self._fingerprints = fingerprints(run.state, self._chosen, self._form.value)
        try:
            inventory = await list_inventory(run.client, {j.sandbox for j in self._chosen})
        except EntryError as exc:
            self._not_listed(run, exc)
            return
        warn_other_forms([c for j in self._chosen for c in inventory.named(j.key)], self._form)
        reconciler = Reconciler.for_run(
            run.client,
            run.settings,
            verify=self.options.verify,
            auth_form=self._form,
            sleep=self._sleep,
            clock=self._clock,
            rng=self._rng,
        )
        wanted = self._wanted(run)
        planned = decide_jobs(
            self._chosen, inventory, self._known, self._fingerprints, wanted=wanted
        )
        work = await self._start(run, reconciler, planned, wanted)
        if run.interrupted:
            return
        reconciler.provisioner.encode_creates(work, checked.params)
        del checked  # its params (with passwords) are in the bodies now: not held any longer
        self._intend(run, work)
        log.info(
            "work_started",
            create=sum(j.kind is JobKind.CREATE for j in work),
            update=sum(j.kind is JobKind.UPDATE for j in work),
            delete=len(self._orphans),
            done_already=len(run.results),
        )
        try:
            await run.send([*work, *self._orphans], reconciler.provisioner)
        finally:
            self._drop_unmade_intents(run, work)
        await self._read_back(run, reconciler, work)

    def unreachable(self, run: Run[Report], exc: EntryError) -> None:
        self._not_listed(run, exc, what="the API (authentication)", event="api_unreachable")

    def outcome(self, run: Run[Report]) -> Report:
        report = run.report(str(self.manifest.path))
        form = self._form.value if self._form is not None else None
        return dataclasses.replace(report, not_selected=self.not_selected, auth_form=form)

    def _wanted(self, run: Run[Report]) -> Callable[[Job, Sequence[Connection]], str | None]:
        """An entry's wanted fingerprint: in this run's form, or in its connection's own form
        when that is another one (an unchanged entry of the other form stays ``existing``)."""
        form = self._form or AuthForm.CONNECTION_STRING

        def wanted(job: Job, found: Sequence[Connection]) -> str | None:
            usual = self._fingerprints.get(job.key)
            return wanted_fingerprint(run.state, job, found, form, usual)

        return wanted

    def _refuse_other_forms(self, run: Run[Report], planned: list[Planned]) -> list[Planned]:
        """An update of a connection of another auth form fails, naming it: it is never
        rewritten into this run's form."""
        form = self._form or AuthForm.CONNECTION_STRING
        kept: list[Planned] = []
        for item in planned:
            conflict = form_conflict(only(item.copies), form)
            if item.decision.action is Action.UPDATE and conflict is not None:
                run.record(_failed(item.job, conflict))
            else:
                kept.append(item)
        return kept

    async def _start(
        self,
        run: Run[Report],
        reconciler: Reconciler,
        planned: list[Planned],
        wanted: Callable[[Job, Sequence[Connection]], str | None],
    ) -> list[Job]:
        """What the listing (and the settle window, reads by id, convergence) leaves to send;
        entries already there are recorded."""
        planned = await reconciler.wait_for_unrecorded(
            planned,
            self._intents,
            self._known,
            self._fingerprints,
            wanted=wanted,
            stopping=lambda: run.interrupted,
        )
        planned = self._refuse_other_forms(run, planned)
        for item in planned:
            if item.decision.action is Action.EXISTS:
                self._check_intent(run, item.job, item.copies)
        settled = await reconciler.settle(planned, self._known)
        for result in settled.ended:
            run.record(result)
        return settled.work

    async def _read_back(self, run: Run[Report], reconciler: Reconciler, work: list[Job]) -> None:
        """Before the run ends: each name this run created has one connection; extra copies
        are converged."""
        if run.interrupted:
            return
        created = [
            job.key
            for job in work
            if (r := run.results.get(job.key)) is not None and r.status is Outcome.CREATED
        ]
        try:
            changed = await reconciler.read_back(run.results, created)
        except EntryError as exc:
            log.warning("read_back_failed", error=exc.message, http_status=exc.status)
            return
        for result in changed:
            run.results[EntryKey.of(result)] = result
            self.remember(run, result)
            log.info(
                "entry_converged",
                entry=result.name,
                status=result.status.value,
                connection_id=result.connection_id,
                removed_duplicates=list(result.removed_duplicates),
                error=result.error,
            )

    def _not_listed(
        self,
        run: Run[Report],
        exc: EntryError,
        *,
        what: str = "the existing connections",
        event: str = "listing_failed",
    ) -> None:
        """An outage before anything was sent: say so per entry (orphans of ``--prune``
        included), naming what could not be read."""
        log.error(event, error=exc.message, http_status=exc.status)
        for job in [*self._chosen, *self._orphans]:
            run.record(_not_listed(job, exc, what))

    def _check_intent(self, run: Run[Report], job: Job, copies: tuple[Connection, ...]) -> None:
        """An intent makes a found connection ours only if our client created it (when the
        API says who did): a name another tool took meanwhile is never pruned as ours."""
        if job.key not in self._intents or not copies:
            return
        creator = copies[0].created_client
        if creator is not None and creator != run.settings.credentials.client_id:
            del self._intents[job.key]

    def _intend(self, run: Run[Report], work: list[Job]) -> None:
        run.state.intend(
            (
                (run.settings.target(job.sandbox), job.name, self._fingerprints.get(job.key))
                for job in work
                if job.kind is JobKind.CREATE
            ),
            run_id=run.run_id,
        )

    def _drop_unmade_intents(self, run: Run[Report], work: list[Job]) -> None:
        """Intents of creates that were never sent, or that the API refused outright."""
        ended = (run.results.get(job.key) for job in work if job.kind is JobKind.CREATE)
        run.state.drop_intents(
            (run.settings.target(result.sandbox), result.name)
            for result in ended
            if result is not None and _surely_not_created(result)
        )

    def remember(self, run: Run[Report], result: Result) -> None:
        if result.status is Outcome.SKIPPED:
            return
        key = EntryKey.of(result)
        target = run.settings.target(result.sandbox)
        if result.status is Outcome.DELETED:
            run.state.forget(target, result.name)
            return
        fingerprint = None
        ours = result.status is Outcome.EXISTING and key in self._intents
        if result.status in (Outcome.CREATED, Outcome.UPDATED):
            fingerprint = self._fingerprints.get(key)
        elif ours:  # an earlier run's create, whose answer was lost with its process
            fingerprint = self._intents[key]
        run.state.record(target, result, run_id=run.run_id, fingerprint=fingerprint, ours=ours)


class ApplyRun(Run[Report]):
    """The main job: ``apply`` in the run skeleton. ``stop()`` ends it gracefully."""

    def __init__(
        self,
        manifest: Manifest,
        settings: Settings,
        options: RunOptions,
        *,
        observer: RunObserver | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        strategy = ApplyStrategy(manifest, options, sleep=sleep, clock=clock, rng=rng)
        super().__init__(strategy, settings, observer=observer, sleep=sleep, rng=rng)
        self.manifest = manifest
        self.options = options

    @property
    def report_path(self) -> Path:
        default = self.manifest.path.parent / "reports" / f"{self.run_id}.json"
        return self.settings.report_path or default


def _surely_not_created(result: Result) -> bool:
    """Never sent, or refused with a definite 4xx (not 408/429): no connection was made."""
    if result.status not in (Outcome.FAILED, Outcome.SKIPPED):
        return False
    status = result.http_status
    return result.attempts == 0 or (
        status is not None and 400 <= status < 500 and status not in (408, 429)
    )


def _failed(job: Job, error: str) -> Result:
    return Result(name=job.name, sandbox=job.sandbox, status=Outcome.FAILED, error=error)


def _not_listed(job: Job, exc: EntryError, what: str) -> Result:
    return Result(
        name=job.name,
        sandbox=job.sandbox,
        status=Outcome.FAILED,
        http_status=exc.status,
        error=f"could not read {what}, so nothing was sent: {exc.message}",
        error_code=exc.code,
        request_id=exc.request_id,
    )
