"""``plan``: what ``apply`` would do, read from the API and the state; sends no write."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, TextIO

from provisioner.aep import AuthForm
from provisioner.engine._authform import choose_form, form_conflict, only, wanted_fingerprint
from provisioner.engine._converge import Verdict, foreign_message, judge_copies
from provisioner.engine._discover import list_inventory
from provisioner.engine._domain import Action, Decision, EntryKey, Job, decide
from provisioner.engine._entries import (
    RunOptions,
    fingerprints,
    known_entries,
    orphan_jobs,
    remembered,
    resolve_jobs,
)
from provisioner.engine._run import ReadOnly, Run
from provisioner.engine._state import StateEntry
from provisioner.manifest import Manifest
from provisioner.reports import Outcome
from provisioner.settings import Settings

__all__ = ["PLAN_ACTIONS", "PlanRow", "PlanStrategy", "run_plan", "write_plan"]

PLAN_ACTIONS: Final = ("create", "update", "exists", "converge", "ambiguous", "orphaned", "skip")


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanRow:
    name: str
    sandbox: str
    decision: Decision | None  # None: filtered out by --only / --retry-failed
    auth_form: str | None = None  # the form apply would send (read from the org's spec)
    note: str | None = None  # e.g. the connection has another auth form
    verdict: Verdict | None = None  # several copies of the name: what apply does with them

    @property
    def action(self) -> str:
        if self.verdict is not None and self.verdict.keep is not None:
            return "converge"
        return self.decision.action.value if self.decision else "skip"


class PlanStrategy(ReadOnly):
    """What ``apply`` would do, read from the state (without the run lock) and the API."""

    def __init__(self, manifest: Manifest, options: RunOptions) -> None:
        self.manifest = manifest
        self.options = options
        self._jobs: list[Job] = []
        self._chosen: list[Job] = []
        self._orphans: list[Job] = []
        self._known: dict[EntryKey, StateEntry] = {}
        self._fingerprints: dict[EntryKey, str] = {}
        self._decided: dict[EntryKey, Decision] = {}
        self._notes: dict[EntryKey, str] = {}
        self._form: AuthForm | None = None
        self._verdicts: dict[EntryKey, Verdict] = {}

    def prepare(self, run: Run[list[PlanRow]]) -> Sequence[Job]:
        settings, state = run.settings, run.state
        self._jobs = resolve_jobs(self.manifest, settings.default_sandbox, self.options)
        self._known = known_entries(state, settings, self._jobs)
        self._chosen = [
            j for j in self._jobs if self.options.wants(j.name, _outcome(self._known.get(j.key)))
        ]
        self._orphans = orphan_jobs(state, settings, self._jobs, self.options)
        return [*self._jobs, *self._orphans]

    async def act(self, run: Run[list[PlanRow]]) -> None:
        form = (await choose_form(run.client, run.settings, self.manifest, self._chosen)).form
        self._form = form
        self._fingerprints = fingerprints(run.state, self._chosen, form.value)
        inventory = await list_inventory(run.client, {j.sandbox for j in self._chosen})
        for job in self._chosen:
            found = inventory.named(job.key)
            usual = self._fingerprints.get(job.key)
            self._decided[job.key] = decide(
                found,
                wanted=wanted_fingerprint(run.state, job, found, form, usual),
                remembered=remembered(self._known.get(job.key)),
            )
            conflict = form_conflict(only(found), form)
            if conflict is not None:
                self._notes[job.key] = conflict
        client_id = run.settings.credentials.client_id
        self._verdicts = {
            key: judge_copies(inventory.named(key), client_id=client_id)
            for key, decision in self._decided.items()
            if decision.action is Action.AMBIGUOUS
        }

    def outcome(self, run: Run[list[PlanRow]]) -> list[PlanRow]:
        form = self._form.value if self._form is not None else None
        rows = [
            PlanRow(
                name=j.name,
                sandbox=j.sandbox,
                decision=self._decided.get(j.key),
                auth_form=form,
                note=self._notes.get(j.key),
                verdict=self._verdicts.get(j.key),
            )
            for j in self._jobs
        ]
        rows += [
            PlanRow(
                name=o.name,
                sandbox=o.sandbox,
                decision=Decision(action=Action.ORPHANED, ids=(o.connection_id or "",)),
            )
            for o in self._orphans
        ]
        return rows


def _outcome(row: StateEntry | None) -> Outcome | None:
    return row.outcome if row else None


async def run_plan(manifest: Manifest, settings: Settings, options: RunOptions) -> list[PlanRow]:
    """The plan's rows: one per manifest entry, then one per orphan."""
    run: Run[list[PlanRow]] = Run(PlanStrategy(manifest, options), settings)
    return await run.execute()


def _several(decision: Decision, verdict: Verdict | None) -> str:
    if verdict is None:
        return f"{len(decision.ids)} connections have this name: {', '.join(decision.ids)}"
    if verdict.keep is None:
        return foreign_message(len(decision.ids), verdict.foreign)
    deleted = ", ".join(verdict.delete)
    return f"{len(decision.ids)} copies, all this client's: keeps {verdict.keep}, deletes {deleted}"


def _detail(row: PlanRow) -> str:
    decision = row.decision
    if decision is None:
        return "not selected"
    ids = ", ".join(decision.ids)
    match decision.action:
        case Action.CREATE:
            return "will be created"
        case Action.EXISTS:
            return f"exists ({ids})"
        case Action.UPDATE:
            return f"changed since it was written; will be updated ({ids})"
        case Action.ORPHANED:
            return f"no longer in the manifest; apply --prune deletes it ({ids})"
        case _:
            return _several(decision, row.verdict)


def write_plan(rows: list[PlanRow], out: TextIO) -> None:
    form = next((row.auth_form for row in rows if row.auth_form is not None), None)
    if form is not None:
        out.write(f"Auth form: {form}\n\n")
    width = max((len(r.name) for r in rows), default=4)
    for row in rows:
        note = f"; {row.note}" if row.note else ""
        out.write(f"{row.action:<9}  {row.name:<{width}}  [{row.sandbox}]  {_detail(row)}{note}\n")
    counts = Counter(row.action for row in rows)
    totals = ", ".join(f"{counts[a]} {a}" for a in PLAN_ACTIONS if counts[a] or a == "create")
    out.write(f"\nPlan: {len(rows)} entries: {totals}\n")
