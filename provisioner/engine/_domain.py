"""The domain: an entry's key, a job, and the decision rule (create / update / exists /
ambiguous) from plain facts: what the manifest wants, what the state remembers, what the
listing shows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple, Protocol

from provisioner.aep import Connection
from provisioner.manifest import DatabaseSpec

__all__ = [
    "Action",
    "Decision",
    "EntryKey",
    "Job",
    "JobKind",
    "Keyed",
    "Remembered",
    "ambiguous_message",
    "decide",
    "work_for",
]


class Keyed(Protocol):
    """Anything that names an entry: a job, a result, a plan row."""

    @property
    def sandbox(self) -> str: ...

    @property
    def name(self) -> str: ...


class EntryKey(NamedTuple):
    """An entry's identity: names are unique per manifest, and per sandbox on Platform.

    A tuple: every set and dict of entries hashes and compares it in C (a dataclass's
    ``__hash__`` is Python code, run thousands of times per run)."""

    sandbox: str
    name: str

    @classmethod
    def of(cls, item: Keyed) -> EntryKey:
        """The key of a job, a result or anything else with a sandbox and a name."""
        return cls(item.sandbox, item.name)


class JobKind(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    EXPLORE = "explore"  # read a connection's tables (sends no write)


@dataclass(slots=True, kw_only=True)
class Job:
    """One unit of work: an entry to create or update (with its spec), or a connection to delete.

    Not frozen, unlike the engine's other records: a frozen dataclass sets each field through
    ``object.__setattr__``, and a run makes one or two jobs per entry (callgrind: 10,000
    instructions per entry). Nothing changes a job once made; ``dataclasses.replace`` makes
    another."""

    name: str
    sandbox: str
    kind: JobKind = JobKind.CREATE
    spec: DatabaseSpec | None = None
    connection_id: str | None = None
    #: the entry's key, made once (the run looks jobs up by key many times over)
    key: EntryKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.key = EntryKey(self.sandbox, self.name)

    @classmethod
    def of(cls, spec: DatabaseSpec, sandbox: str) -> Job:
        return cls(name=spec.name, sandbox=sandbox, spec=spec)


class Action(StrEnum):
    CREATE = "create"
    EXISTS = "exists"
    UPDATE = "update"  # exists, but the manifest's entry changed since this tool wrote it
    AMBIGUOUS = "ambiguous"
    ORPHANED = "orphaned"  # this tool created it; the manifest no longer has it


class Decision(NamedTuple):
    """What to do with one entry, and the ids of the connections found under its name (a
    tuple: one per entry, made cheaply)."""

    action: Action
    ids: tuple[str, ...] = ()

    @property
    def connection_id(self) -> str | None:
        return self.ids[0] if len(self.ids) == 1 else None


@dataclass(frozen=True, slots=True, kw_only=True)
class Remembered:
    """What the state remembers of an entry: the connection this tool wrote for it, and the
    fingerprint of the manifest's entry then."""

    connection_id: str | None
    fingerprint: str | None


def decide(
    found: Sequence[Connection],
    *,
    wanted: str | None = None,
    remembered: Remembered | None = None,
) -> Decision:
    """What to do with an entry, from the connections the listing shows under its name,
    the fingerprint of what the manifest wants now, and what the state remembers."""
    if not found:
        return Decision(action=Action.CREATE)
    ids = tuple(sorted(c.id for c in found))
    if len(ids) > 1:
        return Decision(action=Action.AMBIGUOUS, ids=ids)
    drifted = (
        remembered is not None
        and remembered.connection_id == ids[0]
        and remembered.fingerprint is not None
        and wanted is not None
        and remembered.fingerprint != wanted
    )
    return Decision(action=Action.UPDATE if drifted else Action.EXISTS, ids=ids)


def work_for(job: Job, decision: Decision) -> Job | None:
    """The job a decision asks for (create, or update of the connection found), or None
    when there is nothing to send (it exists, or the name is ambiguous)."""
    if decision.action is Action.CREATE:
        return job
    if decision.action is Action.UPDATE:
        return dataclasses.replace(job, kind=JobKind.UPDATE, connection_id=decision.ids[0])
    return None


def ambiguous_message(decision: Decision) -> str:
    return f"{len(decision.ids)} connections already have this name: {', '.join(decision.ids)}"
