"""``plan``: what ``apply`` would do, read from the API and the state; sends no write."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Final, TextIO

from provisioner.aep import FlowClient, RateController
from provisioner.engine._apply import (
    RunOptions,
    decide_jobs,
    fingerprints,
    known_entries,
    orphan_jobs,
    resolve_jobs,
)
from provisioner.engine._converge import Verdict, foreign_message, judge_copies
from provisioner.engine._discover import Action, Decision, list_inventory
from provisioner.engine._state import StateStore
from provisioner.manifest import Manifest
from provisioner.settings import Settings

__all__ = ["PlanRow", "run_plan", "write_plan"]

_ACTIONS: Final = ("create", "update", "exists", "converge", "ambiguous", "orphaned", "skip")


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanRow:
    name: str
    sandbox: str
    decision: Decision | None  # None: filtered out by --only / --retry-failed
    verdict: Verdict | None = None  # several copies of the name: what apply does with them

    @property
    def action(self) -> str:
        if self.verdict is not None and self.verdict.keep is not None:
            return "converge"
        return self.decision.action.value if self.decision else "skip"


async def run_plan(manifest: Manifest, settings: Settings, options: RunOptions) -> list[PlanRow]:
    jobs = resolve_jobs(manifest, settings.default_sandbox, options)
    with StateStore.open(settings.state_path) as state:
        known = known_entries(state, settings, jobs)
        chosen = [j for j in jobs if options.wants(j.name, known.get((j.sandbox, j.name)))]
        prints = fingerprints(state, chosen)
        orphans = orphan_jobs(state, settings, jobs, options)
    async with FlowClient(settings, pacer=RateController(settings.limits.rate)) as client:
        await client.authenticate()
        inventory = await list_inventory(client, {j.sandbox for j in chosen})
    client_id = settings.credentials.client_id
    decided = {
        (p.job.sandbox, p.job.name): p for p in decide_jobs(chosen, inventory, known, prints)
    }
    rows = []
    for job in jobs:
        planned = decided.get((job.sandbox, job.name))
        verdict = None
        if planned is not None and planned.decision.action is Action.AMBIGUOUS:
            verdict = judge_copies(planned.copies, client_id=client_id)
        rows.append(
            PlanRow(
                name=job.name,
                sandbox=job.sandbox,
                decision=planned.decision if planned else None,
                verdict=verdict,
            )
        )
    rows += [
        PlanRow(
            name=o.name,
            sandbox=o.sandbox,
            decision=Decision(action=Action.ORPHANED, ids=(o.connection_id or "",)),
        )
        for o in orphans
    ]
    return rows


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
    width = max((len(r.name) for r in rows), default=4)
    for row in rows:
        out.write(f"{row.action:<9}  {row.name:<{width}}  [{row.sandbox}]  {_detail(row)}\n")
    counts = Counter(row.action for row in rows)
    totals = ", ".join(f"{counts[a]} {a}" for a in _ACTIONS if counts[a] or a == "create")
    out.write(f"\nPlan: {len(rows)} entries: {totals}\n")
