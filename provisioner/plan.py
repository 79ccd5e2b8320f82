"""``plan``: what ``apply`` would do, read from the API and the state; sends no write."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TextIO

from provisioner.apply import Selection, ambiguous_message, known_entries, resolve_jobs
from provisioner.backoff import RateController
from provisioner.client import FlowClient
from provisioner.discover import Action, Decision, Inventory, decide, list_inventory
from provisioner.manifest import Manifest
from provisioner.settings import Settings
from provisioner.state import StateStore

__all__ = ["PlanRow", "run_plan", "write_plan"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanRow:
    name: str
    sandbox: str
    decision: Decision | None  # None: filtered out by --only / --retry-failed

    @property
    def action(self) -> str:
        return self.decision.action.value if self.decision else "skip"


async def run_plan(
    manifest: Manifest, settings: Settings, selection: Selection
) -> tuple[list[PlanRow], Inventory]:
    jobs = resolve_jobs(manifest, settings.default_sandbox)
    with StateStore.open(settings.state_path) as state:
        known = known_entries(state, settings, jobs)
    wanted = {j.name for j in jobs if selection.wants(j, known.get(j.name))}
    pacer = RateController(settings.limits.rate)
    async with FlowClient(settings, pacer=pacer) as client:
        await client.authenticate()
        inventory = await list_inventory(client, {j.sandbox for j in jobs if j.name in wanted})
    rows = [
        PlanRow(
            name=j.name,
            sandbox=j.sandbox,
            decision=decide(inventory.named(j.sandbox, j.name)) if j.name in wanted else None,
        )
        for j in jobs
    ]
    return rows, inventory


def _detail(row: PlanRow) -> str:
    decision = row.decision
    if decision is None:
        return "not selected"
    if decision.action is Action.EXISTS:
        return f"exists ({decision.ids[0]})"
    if decision.action is Action.AMBIGUOUS:
        return f"ambiguous: {ambiguous_message(decision)}"
    return "will be created"


def write_plan(rows: list[PlanRow], out: TextIO) -> None:
    width = max((len(r.name) for r in rows), default=4)
    for row in rows:
        out.write(f"{row.action:<9}  {row.name:<{width}}  [{row.sandbox}]  {_detail(row)}\n")
    counts = Counter(row.action for row in rows)
    totals = ", ".join(f"{counts[a]} {a}" for a in ("create", "exists", "ambiguous", "skip"))
    out.write(f"\nPlan: {len(rows)} entries: {totals}\n")
