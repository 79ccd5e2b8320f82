"""The decision rule on plain facts (no state row, no client), and the entry key."""

from __future__ import annotations

import dataclasses

import pytest

from provisioner.aep import Connection
from provisioner.engine import Action, EntryKey, Job, JobKind, Remembered, decide
from provisioner.engine._domain import work_for
from provisioner.reports import Outcome, Result


def _found(*ids: str) -> tuple[Connection, ...]:
    return tuple(Connection(id=i, name="db") for i in ids)


def test_nothing_found_is_created() -> None:
    assert decide(()).action is Action.CREATE


def test_two_found_are_ambiguous_listing_sorted_ids() -> None:
    decision = decide(_found("c-2", "c-1"))
    assert (decision.action, decision.ids, decision.connection_id) == (
        Action.AMBIGUOUS,
        ("c-1", "c-2"),
        None,
    )


@pytest.mark.parametrize(
    ("remembered", "wanted", "action"),
    [
        (None, "fp-new", Action.EXISTS),  # not ours to update
        (Remembered(connection_id="c-1", fingerprint="fp-old"), "fp-new", Action.UPDATE),
        (Remembered(connection_id="c-1", fingerprint="fp-new"), "fp-new", Action.EXISTS),
        (Remembered(connection_id="c-9", fingerprint="fp-old"), "fp-new", Action.EXISTS),
        (Remembered(connection_id="c-1", fingerprint=None), "fp-new", Action.EXISTS),
        (Remembered(connection_id="c-1", fingerprint="fp-old"), None, Action.EXISTS),
    ],
)
def test_one_found_is_updated_only_when_ours_and_changed_since(
    remembered: Remembered | None, wanted: str | None, action: Action
) -> None:
    decision = decide(_found("c-1"), wanted=wanted, remembered=remembered)
    assert (decision.action, decision.connection_id) == (action, "c-1")


def test_work_for_a_decision() -> None:
    job = Job(name="db", sandbox="prod")
    assert work_for(job, decide(())) == job
    update = work_for(
        job,
        decide(
            _found("c-1"), wanted="b", remembered=Remembered(connection_id="c-1", fingerprint="a")
        ),
    )
    assert update is not None
    assert (update.kind, update.connection_id) == (JobKind.UPDATE, "c-1")
    assert work_for(job, decide(_found("c-1"))) is None
    assert work_for(job, decide(_found("c-1", "c-2"))) is None


def test_one_key_for_a_job_and_its_result() -> None:
    job = Job(name="db", sandbox="hr")
    result = Result(name="db", sandbox="hr", status=Outcome.CREATED)
    assert job.key == EntryKey.of(result) == EntryKey("hr", "db")
    assert EntryKey("prod", "db") != job.key  # one name in two sandboxes: two entries


def test_a_replaced_job_has_the_key_of_its_new_name_and_sandbox() -> None:
    job = Job(name="db", sandbox="prod")
    moved = dataclasses.replace(job, sandbox="dev", kind=JobKind.UPDATE)
    assert moved.key == EntryKey("dev", "db") != job.key
