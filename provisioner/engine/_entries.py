"""What a run acts on: the manifest's entries as jobs, the options that select them, the
state's rows for them, and the orphans (connections this tool made whose entries left)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from provisioner.engine._domain import EntryKey, Job, JobKind, Remembered
from provisioner.engine._state import State, StateEntry
from provisioner.errors import ConfigError
from provisioner.manifest import Manifest, effective_sandbox
from provisioner.reports import Outcome
from provisioner.settings import Settings

__all__ = [
    "RunOptions",
    "fingerprints",
    "known_entries",
    "orphan_jobs",
    "remembered",
    "resolve_jobs",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOptions:
    """Which entries to act on (``--only``, ``--retry-failed``) and the extras (``--prune``,
    ``--verify``)."""

    only: tuple[str, ...] = ()
    retry_failed: bool = False
    prune: bool = False
    verify: bool = False

    def wants(self, name: str, last: Outcome | None) -> bool:
        """Whether the entry ``name`` is part of this run, given its outcome in the state (if
        any). ``--retry-failed`` takes every entry not yet known to be done: last outcome
        failed or skipped, or never attempted (no row: e.g. a ``kill -9`` came before its
        outcome was committed)."""
        if self.only and name not in self.only:
            return False
        if self.retry_failed:
            return last is None or last in (Outcome.FAILED, Outcome.SKIPPED)
        return True


def resolve_jobs(
    manifest: Manifest, default_sandbox: str, options: RunOptions | None = None
) -> list[Job]:
    """The manifest's entries as jobs, each in its sandbox; ConfigError for an ``--only`` name
    the manifest does not have (a typo must not silently act on nothing)."""
    jobs = [
        Job.of(spec, effective_sandbox(spec, manifest, default_sandbox))
        for spec in manifest.databases
    ]
    unknown = sorted(set(options.only) - {job.name for job in jobs}) if options else []
    if unknown:
        names = ", ".join(repr(name) for name in unknown)
        raise ConfigError(f"--only: no entry named {names} in {manifest.path}")
    return jobs


def known_entries(
    state: State, settings: Settings, jobs: Sequence[Job]
) -> dict[EntryKey, StateEntry]:
    """State rows for the jobs (each in its own sandbox's target)."""
    known: dict[EntryKey, StateEntry] = {}
    for sandbox in {job.sandbox for job in jobs}:
        rows = state.entries(settings.target(sandbox))
        known.update((EntryKey(sandbox, name), row) for name, row in rows.items())
    return known


def remembered(row: StateEntry | None) -> Remembered | None:
    """The facts ``decide`` needs from a state row."""
    if row is None:
        return None
    return Remembered(connection_id=row.connection_id, fingerprint=row.fingerprint)


def fingerprints(state: State, jobs: Sequence[Job], form: str | None = None) -> dict[EntryKey, str]:
    """Each job's fingerprint under the state's key, for the auth form sent (for drift:
    ``plan`` shows ``update``)."""
    return {j.key: state.fingerprint(j.spec, form) for j in jobs if j.spec is not None}


def orphan_jobs(
    state: State, settings: Settings, jobs: Sequence[Job], options: RunOptions
) -> list[Job]:
    """Connections this tool created whose entries left the manifest: delete jobs."""
    if options.retry_failed:
        return []
    keep = {(settings.target(j.sandbox), j.name) for j in jobs}
    return [
        Job(
            name=entry.name,
            sandbox=target.rsplit("|", 1)[1],
            kind=JobKind.DELETE,
            connection_id=entry.connection_id,
        )
        for target, entry in state.orphans(settings.target_base, keep)
        if not options.only or entry.name in options.only
    ]
