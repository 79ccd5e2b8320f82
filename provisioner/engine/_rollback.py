"""Undo a run: delete the connections a report says that run created, and nothing else."""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from structlog.contextvars import bound_contextvars

from provisioner.aep import FlowClient, RateController, RetryBudget
from provisioner.engine._apply import new_run_id, pool_config
from provisioner.engine._observer import NullObserver, RunObserver
from provisioner.engine._pool import Job, JobKind, Pool
from provisioner.engine._provision import ConnectionProvisioner
from provisioner.engine._state import RunLock, StateStore
from provisioner.reports import Outcome, Report, Result
from provisioner.settings import Settings

__all__ = ["rollback_jobs", "run_rollback"]

log = structlog.get_logger(__name__)


def rollback_jobs(report: Report) -> list[Job]:
    """One delete per result the report marks ``created``; ``existing`` ones are left alone."""
    return [
        Job(
            name=r.name,
            sandbox=r.sandbox,
            kind=JobKind.DELETE,
            connection_id=r.connection_id,
        )
        for r in report.results
        if r.status is Outcome.CREATED and r.connection_id
    ]


async def run_rollback(
    report: Report, settings: Settings, *, observer: RunObserver | None = None
) -> Report:
    """Delete what ``report`` created. A connection in use by a dataflow (FLOW-1418-400)
    fails its entry with the API's message: it is reported, never forced."""
    run_id = new_run_id()
    jobs = rollback_jobs(report)
    watcher = observer or NullObserver()
    results: list[Result] = []
    statuses: dict[int, int] = {}
    started = datetime.now(UTC)
    with (
        bound_contextvars(run_id=run_id, rollback_of=report.run_id),
        RunLock(settings.state_path),
        StateStore.open(settings.state_path) as state,
    ):

        def record(result: Result) -> None:
            results.append(result)
            if result.status is Outcome.DELETED:
                state.forget(settings.target(result.sandbox), result.name)
            log.info(
                "entry_finished",
                entry=result.name,
                status=result.status.value,
                connection_id=result.connection_id,
                error=result.error,
            )
            watcher.entry_finished(result)

        watcher.start(len(jobs))
        pacer = RateController(settings.limits.rate)
        try:
            async with FlowClient(settings, pacer=pacer) as client:
                statuses = client.statuses
                await client.authenticate()
                pool = Pool(
                    ConnectionProvisioner(client),
                    pool_config(settings),
                    on_result=record,
                    budget=RetryBudget(),
                )
                await pool.run(jobs)
        finally:
            watcher.close()
    order = {(j.sandbox, j.name): i for i, j in enumerate(jobs)}
    return Report(
        run_id=run_id,
        manifest=report.manifest,
        started_at=started,
        finished_at=datetime.now(UTC),
        results=tuple(sorted(results, key=lambda r: order[(r.sandbox, r.name)])),
        http_statuses=dict(statuses),
    )
