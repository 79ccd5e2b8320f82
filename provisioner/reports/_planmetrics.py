"""Prometheus metrics of a ``plan`` run, for a plan run on a schedule as a drift check.

The gauges have names of their own (``provisioner_plan_*``) and go to a Pushgateway group of
their own (job ``provisioner``, ``manifest`` and ``command="plan"``), so a plan never replaces
or changes the gauges of ``apply``. The sinks, their checks and their failure rules are
apply's (``publish_to``). A plan has no success time: it changes nothing, so "when did it last
work" is its ``provisioner_plan_last_run_timestamp_seconds`` with exit code 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, Protocol

from provisioner.reports._metrics import (
    PUSH_TIMEOUT,
    MetricsSinks,
    RunMetrics,
    http_responses,
    manifest_gauge,
    new_registry,
    publish_to,
    push_registry,
    single_gauge,
    write_registry,
)

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = [
    "PLAN_GROUP",
    "Planned",
    "plan_entries",
    "plan_registry",
    "publish_plan_metrics",
]

PLAN_GROUP: Final = MappingProxyType({"command": "plan"})  # beside ``manifest`` on the gateway


class Planned(Protocol):
    """One row of a plan, as the gauges see it."""

    @property
    def sandbox(self) -> str: ...

    @property
    def action(self) -> str: ...


def plan_entries(rows: Iterable[Planned], actions: Sequence[str]) -> dict[tuple[str, str], int]:
    """The rows by (sandbox, action): each of ``actions`` for every sandbox that has a row (0
    included, so that a dashboard shows the zero), and any other action a row carries."""
    counts = Counter((row.sandbox, row.action) for row in rows)
    for sandbox in {sandbox for sandbox, _ in counts}:
        for action in actions:
            counts.setdefault((sandbox, action), 0)
    return dict(counts)


def plan_registry(plan: RunMetrics) -> CollectorRegistry:
    """A registry holding the plan run's gauges."""
    registry = new_registry()
    name = plan.manifest
    finished = plan.finished_at.timestamp()
    duration = max(0.0, (plan.finished_at - plan.started_at).total_seconds())
    single_gauge(registry, "plan_last_run_timestamp_seconds", "When the last plan ended.", name,
            finished)  # fmt: skip
    single_gauge(
        registry, "plan_run_duration_seconds", "How long the last plan took.", name, duration
    )
    single_gauge(registry, "plan_run_exit_code", "The last plan's exit code.", name, plan.exit_code)
    entries = manifest_gauge(registry, "plan_entries", "The last plan's rows by action.", "sandbox",
                     "action")  # fmt: skip
    for (sandbox, action), count in sorted(plan.entries.items()):
        entries.labels(name, sandbox, action).set(count)
    http_responses(registry, "plan_http_responses", name, plan.http_statuses)
    return registry


def publish_plan_metrics(
    plan: RunMetrics, sinks: MetricsSinks, *, timeout: float = PUSH_TIMEOUT
) -> None:
    """Write the plan's gauges to each sink: the textfile is replaced atomically, the
    Pushgateway's plan group (job, ``manifest``, ``command="plan"``) is replaced. A failing
    sink is a warning (as for apply); nothing is raised."""
    publish_to(
        sinks,
        write=lambda path: write_registry(path, plan_registry(plan)),
        push=lambda url: push_registry(
            url, plan_registry(plan), {"manifest": plan.manifest, **PLAN_GROUP}, timeout=timeout
        ),
    )
