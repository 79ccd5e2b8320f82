"""Reports of converged duplicates (``removed_duplicates``) and of entries left out of a run
(``not_selected``): the JSON form, reading it back, the text and Markdown forms."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pytest

from provisioner.errors import ConfigError
from provisioner.reports._formats import write_markdown
from provisioner.reports._io import report_from_dict, report_to_dict
from provisioner.reports._model import Outcome, Report, Result
from provisioner.reports._text import write_text

START = datetime(2026, 11, 29, 4, 0, tzinfo=UTC)


def _report(not_selected: int = 2) -> Report:
    return Report(
        run_id="run-dup",
        manifest="m.yaml",
        started_at=START,
        finished_at=START + timedelta(seconds=1),
        results=(
            Result(
                name="twice",
                sandbox="prod",
                status=Outcome.EXISTING,
                connection_id="keep-1",
                removed_duplicates=("dup-2", "dup-3"),
            ),
            Result(name="once", sandbox="prod", status=Outcome.CREATED, connection_id="c-9"),
        ),
        not_selected=not_selected,
    )


def test_json_carries_removed_ids_per_entry_and_both_counts() -> None:
    data = report_to_dict(_report())
    summary = data["summary"]
    assert isinstance(summary, dict)
    assert (summary["total"], summary["not_selected"], summary["removed_duplicates"]) == (2, 2, 2)
    results = data["results"]
    assert isinstance(results, list)
    assert [r["removed_duplicates"] for r in results] == [["dup-2", "dup-3"], []]


def test_a_report_reads_back_with_its_removed_ids_and_not_selected_count() -> None:
    again = report_from_dict(report_to_dict(_report()), source="r.json")
    assert again == _report()
    assert again.summary.not_selected == 2
    assert again.summary.removed_duplicates == 2


def test_an_older_report_without_the_new_fields_still_reads() -> None:
    data = report_to_dict(_report(not_selected=0))
    summary = data["summary"]
    assert isinstance(summary, dict)
    del summary["not_selected"], summary["removed_duplicates"]
    results = data["results"]
    assert isinstance(results, list)
    for item in results:
        del item["removed_duplicates"]
    again = report_from_dict(data, source="old.json")
    assert again.results[0].removed_duplicates == ()
    assert again.not_selected == 0


@pytest.mark.parametrize(
    ("where", "value", "message"),
    [
        ("result", "dup-2", "results[0].removed_duplicates: expected an array of connection ids"),
        ("result", [""], "results[0].removed_duplicates: expected an array of connection ids"),
        ("summary", 5, "summary.removed_duplicates: says 5 but the results hold 2"),
    ],
)
def test_bad_removed_duplicates_are_named(where: str, value: object, message: str) -> None:
    data = report_to_dict(_report())
    results = data["results"]
    summary = data["summary"]
    assert isinstance(results, list)
    assert isinstance(summary, dict)
    (results[0] if where == "result" else summary)["removed_duplicates"] = value
    with pytest.raises(ConfigError, match=re.escape(message)):
        report_from_dict(data, source="r.json")


def test_text_says_what_was_removed_and_what_was_not_selected() -> None:
    out = io.StringIO()
    write_text(_report(), out)
    text = out.getvalue()
    assert "2 not selected, 2 duplicates removed (2 entries)" in text
    assert "  twice [prod]: dup-2, dup-3 (kept keep-1)\n" in text


def test_text_is_silent_about_duplicates_when_none_were_removed() -> None:
    out = io.StringIO()
    clean = Report(
        run_id="r",
        manifest="m.yaml",
        started_at=START,
        finished_at=START,
        results=(Result(name="a", sandbox="prod", status=Outcome.CREATED),),
    )
    write_text(clean, out)
    assert "duplicates" not in out.getvalue()
    assert "not selected" not in out.getvalue()


def test_markdown_lists_removed_ids_in_their_own_column() -> None:
    out = io.StringIO()
    write_markdown(_report(), out)
    lines = out.getvalue().splitlines()
    header = next(line for line in lines if line.startswith("| name "))
    assert header.rstrip(" |").endswith("removed_duplicates")
    row = next(line for line in lines if line.startswith("| twice "))
    assert row.endswith("| dup-2 dup-3 |")
