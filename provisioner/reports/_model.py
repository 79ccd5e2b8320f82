"""Run results: Outcome, Result, Summary, Report.

The JSON form lives in ``_io``; the text, CSV and Markdown writers in ``_formats``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

__all__ = ["Outcome", "Report", "Result", "Summary"]


class Outcome(StrEnum):
    """How an entry ended a run (see docs/contract.md, "Outcomes")."""

    CREATED = "created"
    EXISTING = "existing"
    UPDATED = "updated"
    DELETED = "deleted"  # removed on purpose (apply --prune, rollback)
    FAILED = "failed"
    SKIPPED = "skipped"


class Result(NamedTuple):
    """How one entry ended this run. ``error`` is a readable message and never holds a secret.

    A tuple, immutable like the frozen dataclasses elsewhere, but made at a third of their
    cost: a run makes one or two per entry (callgrind: about 16,000 instructions per entry
    fewer). Build it by keyword; ``_replace`` makes a changed copy."""

    name: str
    sandbox: str
    status: Outcome
    connection_id: str | None = None
    attempts: int = 0
    http_status: int | None = None
    error: str | None = None
    error_code: str | None = None  # FLOW-1413-400, 401013, … when the API gave one
    duration_ms: int = 0
    verified: bool | None = None
    request_id: str | None = None  # of the last answer: what Adobe support asks for
    removed_duplicates: tuple[str, ...] = ()  # ids of this name's extra copies deleted

    @property
    def ok(self) -> bool:
        return self.status in (Outcome.CREATED, Outcome.EXISTING, Outcome.UPDATED, Outcome.DELETED)


@dataclass(frozen=True, slots=True, kw_only=True)
class Summary:
    """How many entries ended in each outcome; how many the run left out (``--only``,
    ``--retry-failed``) and how many duplicate copies it deleted."""

    total: int
    created: int
    existing: int
    updated: int
    failed: int
    skipped: int
    deleted: int = 0
    not_selected: int = 0
    removed_duplicates: int = 0

    @classmethod
    def of(cls, results: tuple[Result, ...], *, not_selected: int = 0) -> Summary:
        counts = {o: 0 for o in Outcome}
        for r in results:
            counts[r.status] += 1
        return cls(
            not_selected=not_selected,
            removed_duplicates=sum(len(r.removed_duplicates) for r in results),
            total=len(results),
            created=counts[Outcome.CREATED],
            existing=counts[Outcome.EXISTING],
            updated=counts[Outcome.UPDATED],
            failed=counts[Outcome.FAILED],
            skipped=counts[Outcome.SKIPPED],
            deleted=counts[Outcome.DELETED],
        )

    def as_dict(self) -> dict[str, int]:
        """The counts in the report's order: total, created, existing, updated, failed, skipped
        (then deleted, when any entry was), not_selected, removed_duplicates."""
        counts = {
            "total": self.total,
            "created": self.created,
            "existing": self.existing,
            "updated": self.updated,
            "failed": self.failed,
            "skipped": self.skipped,
        }
        if self.deleted:
            counts["deleted"] = self.deleted
        counts["not_selected"] = self.not_selected
        counts["removed_duplicates"] = self.removed_duplicates
        return counts


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    """One run: when, on which manifest, and how each selected entry ended (in manifest
    order). ``not_selected``: entries ``--only``/``--retry-failed`` left out of the run.

    ``http_statuses`` counts the run's HTTP answers by status, for its metrics; it is not part
    of the report's JSON (a report read back has none) nor of its equality.
    """

    run_id: str
    manifest: str
    started_at: datetime
    finished_at: datetime
    results: tuple[Result, ...]
    not_selected: int = 0
    http_statuses: Mapping[int, int] = field(default_factory=dict, compare=False)
    auth_form: str | None = None  # the Oracle auth form sent (specName); None: not read

    @property
    def summary(self) -> Summary:
        return Summary.of(self.results, not_selected=self.not_selected)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)
