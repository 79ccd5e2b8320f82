"""Undo a run: delete the connections a report says that run created, and nothing else.
A strategy of the run skeleton, so it stops as gracefully as ``apply`` does."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from provisioner.engine._domain import Job, JobKind
from provisioner.engine._observer import RunObserver
from provisioner.engine._provision import ConnectionProvisioner
from provisioner.engine._run import Run, StateUse
from provisioner.errors import EntryError
from provisioner.reports import Outcome, Report, Result
from provisioner.settings import Settings

__all__ = ["RollbackStrategy", "rollback_jobs", "rollback_run", "run_rollback"]


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


class RollbackStrategy:
    """Delete what ``report`` created. A connection in use by a dataflow (FLOW-1418-400)
    fails its entry with the API's message: it is reported, never forced."""

    state_use = StateUse.WRITE

    def __init__(self, report: Report) -> None:
        self.undone = report
        self.log_context: Mapping[str, str] = {"rollback_of": report.run_id}

    def prepare(self, run: Run[Report]) -> Sequence[Job]:
        return rollback_jobs(self.undone)

    async def act(self, run: Run[Report]) -> None:
        await run.send(run.entries, ConnectionProvisioner(run.client))

    def unreachable(self, run: Run[Report], exc: EntryError) -> None:
        raise exc

    def remember(self, run: Run[Report], result: Result) -> None:
        if result.status is Outcome.DELETED:
            run.state.forget(run.settings.target(result.sandbox), result.name)

    def outcome(self, run: Run[Report]) -> Report:
        return run.report(self.undone.manifest)


def rollback_run(
    report: Report, settings: Settings, *, observer: RunObserver | None = None
) -> Run[Report]:
    """A rollback of ``report``, ready to ``execute()``; ``stop()`` ends it gracefully."""
    return Run(RollbackStrategy(report), settings, observer=observer)


async def run_rollback(
    report: Report, settings: Settings, *, observer: RunObserver | None = None
) -> Report:
    """Delete what ``report`` created; the rollback's own report."""
    return await rollback_run(report, settings, observer=observer).execute()
