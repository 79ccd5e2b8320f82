"""Where a command's metrics go: the sinks, checked before anything is sent, and the gauges
published at the end of a run (``apply``, ``rollback``: the run's; ``plan``: its own). Part
of the command-line layer."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime

from provisioner import engine, reports  # plan's names: imported on first use
from provisioner.cli._exits import EXIT_FAILED, EXIT_OK
from provisioner.engine import Run
from provisioner.manifest import Manifest
from provisioner.reports import (
    MetricsSinks,
    Report,
    RunMetrics,
    check_metrics_file,
    check_writable,
    publish_metrics,
)
from provisioner.settings import pushgateway_url

__all__ = ["metrics_sinks", "publish_plan", "publish_run"]


def metrics_sinks(
    args: argparse.Namespace, env: Mapping[str, str], *, command: str
) -> MetricsSinks:
    """``--metrics-file`` and ``--pushgateway`` (or its variable) of ``command``, checked
    before anything is sent: an unusable path or URL, or a file holding what the run would
    wipe out (``check_metrics_file``), is a ConfigError."""
    if args.metrics_file is not None:
        check_writable(args.metrics_file, what="the metrics", option="--metrics-file")
        check_metrics_file(args.metrics_file, command=command)
    return MetricsSinks(file=args.metrics_file, pushgateway=pushgateway_url(args.pushgateway, env))


async def publish_run(report: Report, code: int, sinks: MetricsSinks) -> int:
    """The run's metrics to each sink (a failing one is a warning); returns ``code`` as is."""
    if sinks.file is not None or sinks.pushgateway is not None:
        metrics = RunMetrics.of(report, exit_code=code)
        await asyncio.to_thread(publish_metrics, metrics, sinks)  # blocking file and HTTP I/O
    return code


async def publish_plan(
    manifest: Manifest,
    run: Run[list[engine.PlanRow]],
    rows: list[engine.PlanRow] | None,
    sinks: MetricsSinks,
) -> None:
    """Plan's own gauges to each sink (a failing one is a warning). ``rows`` is None when no
    plan was made (the API failed outside any entry: exit 1), so no row is counted."""
    if sinks.file is None and sinks.pushgateway is None:
        return
    metrics = RunMetrics(
        manifest=manifest.path.stem,
        exit_code=EXIT_OK if rows is not None else EXIT_FAILED,
        started_at=run.started_at,
        finished_at=run.finished_at if rows is not None else datetime.now(UTC),
        entries=reports.plan_entries(rows or (), engine.PLAN_ACTIONS),
        http_statuses=run.statuses,
    )
    # blocking file and HTTP I/O
    await asyncio.to_thread(reports.publish_plan_metrics, metrics, sinks)
