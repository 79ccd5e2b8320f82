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
from provisioner.engine._discover import Action, Decision, list_inventory
from provisioner.engine._provision import ambiguous_message
from provisioner.engine._state import StateStore
from provisioner.manifest import Manifest
from provisioner.settings import Settings

__all__ = ["PlanRow", "run_plan", "write_plan"]

_ACTIONS: Final = ("create", "update", "exists", "ambiguous", "orphaned", "skip")


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanRow:
    name: str
    sandbox: str
    decision: Decision | None  # None: filtered out by --only / --retry-failed

    @property
    def action(self) -> str:
        return self.decision.action.value if self.decision else "skip"


async def run_plan(manifest: Manifest, settings: Settings, options: RunOptions) -> list[PlanRow]:
    """What ``apply`` would do for each selected entry, read from the state and the API; writes
    nothing."""
    jobs = resolve_jobs(manifest, settings.default_sandbox, options)
    with StateStore.open(settings.state_path) as state:
        known = known_entries(state, settings, jobs)
        chosen = [j for j in jobs if options.wants(j.name, known.get((j.sandbox, j.name)))]
        prints = fingerprints(state, chosen)
        orphans = orphan_jobs(state, settings, jobs, options)
    async with FlowClient(settings, pacer=RateController(settings.limits.rate)) as client:
        await client.authenticate()
        inventory = await list_inventory(client, {j.sandbox for j in chosen})
    decided = {
        (p.job.sandbox, p.job.name): p.decision
        for p in decide_jobs(chosen, inventory, known, prints)
    }
    rows = [
        PlanRow(name=j.name, sandbox=j.sandbox, decision=decided.get((j.sandbox, j.name)))
        for j in jobs
    ]
    rows += [
        PlanRow(
            name=o.name,
            sandbox=o.sandbox,
            decision=Decision(action=Action.ORPHANED, ids=(o.connection_id or "",)),
        )
        for o in orphans
    ]
    return rows


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
            return ambiguous_message(decision)


def write_plan(rows: list[PlanRow], out: TextIO) -> None:
    """The plan as text: one line per entry, then the count per action."""
    width = max((len(r.name) for r in rows), default=4)
    for row in rows:
        out.write(f"{row.action:<9}  {row.name:<{width}}  [{row.sandbox}]  {_detail(row)}\n")
    counts = Counter(row.action for row in rows)
    totals = ", ".join(f"{counts[a]} {a}" for a in _ACTIONS if counts[a] or a == "create")
    out.write(f"\nPlan: {len(rows)} entries: {totals}\n")
