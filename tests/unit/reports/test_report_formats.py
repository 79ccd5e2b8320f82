"""Text, CSV and Markdown writers and the format dispatcher: each carries the same facts."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from provisioner.errors import ConfigError
from provisioner.reports._formats import (
    CSV_HEADER,
    FORMATS,
    write_csv,
    write_markdown,
    write_report,
)
from provisioner.reports._model import Outcome, Report, Result
from provisioner.reports._text import TEXT_TABLE_LIMIT, cause_of, group_by_cause, write_text

START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
DENIED = "manage is denied on resource Enterprise Source"
CANARY = "canary-s3cr3t-7f1d"
X = "\u00d7"  # the multiplication sign the text writer puts before each cause


def _denied(name: str) -> Result:
    return Result(
        name=name,
        sandbox="prod",
        status=Outcome.FAILED,
        attempts=1,
        http_status=403,
        error=DENIED,
        error_code="FLOW-2120-403",
    )


def _results() -> tuple[Result, ...]:
    return (
        Result(
            name="finance-eu",
            sandbox="prod",
            status=Outcome.CREATED,
            connection_id="c-1",
            attempts=1,
            http_status=201,
            duration_ms=84,
        ),
        Result(name="hr", sandbox="hr-dev", status=Outcome.EXISTING, connection_id="c-2"),
        _denied("billing"),
        Result(
            name="odd|name",
            sandbox="prod",
            status=Outcome.FAILED,
            attempts=5,
            http_status=503,
            error='gave up after 5 attempts: "busy", <retry>\nlater | maybe',
        ),
        Result(name="late", sandbox="prod", status=Outcome.SKIPPED, error="interrupted"),
    )


def _report(results: tuple[Result, ...] | None = None, manifest: str = "configs/x.yaml") -> Report:
    return Report(
        run_id="run-1",
        manifest=manifest,
        started_at=START,
        finished_at=START + timedelta(seconds=2.5),
        results=_results() if results is None else results,
    )


def _render(fmt: str, report: Report | None = None) -> str:
    out = io.StringIO()
    write_report(report or _report(), out, fmt)
    return out.getvalue()


def test_csv_header_is_exactly_the_contract() -> None:
    text = _render("csv")
    assert text.splitlines()[0] == "name,sandbox,status,connection_id,attempts,http_status,error"
    assert ",".join(CSV_HEADER) == text.splitlines()[0]


def test_csv_parses_back_to_the_results() -> None:
    rows = list(csv.DictReader(io.StringIO(_render("csv"))))
    assert len(rows) == len(_results())
    for row, result in zip(rows, _results(), strict=True):
        assert row == {
            "name": result.name,
            "sandbox": result.sandbox,
            "status": result.status.value,
            "connection_id": result.connection_id or "",
            "attempts": str(result.attempts),
            "http_status": "" if result.http_status is None else str(result.http_status),
            "error": result.error or "",
        }


def test_csv_of_an_empty_run_is_the_header_alone() -> None:
    assert _render("csv", _report(results=())) == ",".join(CSV_HEADER) + "\n"


def _md_cells(line: str) -> list[str]:
    inner = line.strip()[1:-1]
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", inner)]


def _md_table(text: str, heading: str) -> list[list[str]]:
    """The rows of the table under ``## heading``, separator line left out."""
    lines = text.split(f"## {heading}\n\n", 1)[1].splitlines()
    table = []
    for line in lines:
        if not line.startswith("|"):
            break
        if not line.startswith("|---"):
            table.append(_md_cells(line))
    return table


def test_markdown_has_summary_and_one_row_per_entry() -> None:
    text = _render("md")
    assert text.startswith("# Provisioner report run-1\n")
    assert "- manifest: configs/x.yaml" in text
    summary = _md_table(text, "Summary")
    assert summary == [
        [
            *("total", "created", "existing", "updated", "failed", "skipped"),
            *("not_selected", "removed_duplicates"),
        ],
        ["5", "1", "1", "0", "2", "1", "0", "0"],
    ]
    results = _md_table(text, "Results")
    assert results[0][:3] == ["name", "sandbox", "status"]
    rows = results[1:]
    assert len(rows) == len(_results())
    assert all(len(row) == len(results[0]) for row in rows)
    assert [row[2] for row in rows] == [r.status.value for r in _results()]


def test_markdown_escapes_pipes_and_html_and_keeps_one_line() -> None:
    rows = _md_table(_render("md"), "Results")[1:]
    odd = rows[3]
    assert odd[0] == "odd\\|name"
    assert odd[7] == 'gave up after 5 attempts: "busy", &lt;retry&gt; later \\| maybe'
    assert rows[2][6:8] == ["FLOW-2120-403", DENIED]


def test_text_lists_every_entry_of_a_small_run() -> None:
    text = _render("text")
    assert text.startswith("Run run-1 on configs/x.yaml: 5 entries in 2.5 s\n")
    header = next(line for line in text.splitlines() if line.startswith("NAME"))
    assert header.split() == ["NAME", "SANDBOX", "STATUS", "CONNECTION", "ID", "ATTEMPTS", "ERROR"]
    assert re.search(r"^finance-eu +prod +created +c-1 +1$", text, re.M)
    assert re.search(r"^hr +hr-dev +existing +c-2 +0$", text, re.M)
    assert re.search(rf"^billing +prod +failed +- +1 +FLOW-2120-403 {DENIED}$", text, re.M)
    assert "Totals: 1 created, 1 existing, 2 failed, 1 skipped (5 entries)" in text


def test_text_shows_updated_only_when_there_are_some() -> None:
    report = _report(results=(Result(name="a", sandbox="p", status=Outcome.UPDATED),))
    assert "Totals: 0 created, 0 existing, 1 updated, 0 failed, 0 skipped" in _render(
        "text", report
    )
    assert "updated" not in _render("text").split("Totals:")[1].splitlines()[0]


def test_text_groups_failures_by_cause() -> None:
    failed = tuple(_denied(f"db-{i:02}") for i in range(12))
    other = Result(name="x", sandbox="p", status=Outcome.FAILED, error="timed out")
    text = _render("text", _report(results=(*failed, other)))
    section = text.split("Failed, by cause:\n", 1)[1]
    lines = section.splitlines()
    assert lines[0] == f"  12 {X} FLOW-2120-403 {DENIED}"
    assert lines[1] == "      db-00, db-01, db-02 and 9 more"
    assert lines[2] == f"  1 {X} timed out"
    assert lines[3] == "      x"


def test_text_groups_skipped_entries_by_reason() -> None:
    text = _render("text")
    assert f"Skipped, by reason:\n  1 {X} interrupted\n      late\n" in text


def test_text_suggests_retry_failed_only_when_some_failed() -> None:
    failed = _render("text", _report(results=(_denied("a"),)))
    assert "provisioner apply configs/x.yaml --retry-failed\n" in failed
    assert "Next:" in failed
    ok = _render("text", _report(results=_results()[:2]))
    assert "--retry-failed" not in ok
    assert "Next:" not in ok
    assert "Failed, by cause" not in ok


def test_text_suggests_a_plain_rerun_for_skipped_entries() -> None:
    skipped = _report(results=(Result(name="a", sandbox="p", status=Outcome.SKIPPED),))
    text = _render("text", skipped)
    assert "--retry-failed" not in text
    assert text.endswith("    provisioner apply configs/x.yaml\n")
    assert f"1 {X} (no error message)" in text


def test_text_uses_the_manifest_hint_and_quotes_it() -> None:
    out = io.StringIO()
    write_report(_report(), out, "text", manifest_hint="my dir/m.yaml")
    assert "provisioner apply 'my dir/m.yaml' --retry-failed" in out.getvalue()
    out = io.StringIO()
    write_text(_report(manifest="/abs/m.yaml"), out)
    assert "provisioner apply /abs/m.yaml --retry-failed" in out.getvalue()


def test_text_of_a_big_run_lists_only_entries_not_ok() -> None:
    ok = tuple(
        Result(name=f"ok-{i}", sandbox="p", status=Outcome.CREATED, connection_id=f"c{i}")
        for i in range(TEXT_TABLE_LIMIT)
    )
    text = _render("text", _report(results=(*ok, _denied("bad"))))
    assert f"Entries that did not end ok (1 of {TEXT_TABLE_LIMIT + 1}):" in text
    assert re.search(r"^bad +prod +failed", text, re.M)
    assert "ok-0" not in text
    assert f"{TEXT_TABLE_LIMIT} entries ended ok and are not listed" in text


def test_text_of_a_big_clean_run_has_no_table() -> None:
    ok = tuple(
        Result(name=f"ok-{i}", sandbox="p", status=Outcome.EXISTING)
        for i in range(TEXT_TABLE_LIMIT + 1)
    )
    text = _render("text", _report(results=ok))
    assert "NAME" not in text
    assert f"(0 of {TEXT_TABLE_LIMIT + 1})" in text


def test_text_of_an_empty_run() -> None:
    text = _render("text", _report(results=()))
    assert "0 entries" in text
    assert "No entries." in text
    assert "Next:" not in text


def test_text_clips_long_errors_in_the_table_but_not_in_the_causes() -> None:
    long = Result(name="a", sandbox="p", status=Outcome.FAILED, error="e" * 200)
    text = _render("text", _report(results=(long,)))
    row = next(line for line in text.splitlines() if line.startswith("a "))
    assert row.endswith("…")
    assert len(row) < 120
    assert f"1 {X} {'e' * 200}" in text


def test_text_shows_long_runs_in_minutes() -> None:
    report = _report(results=())
    long = Report(
        run_id="r",
        manifest="m",
        started_at=report.started_at,
        finished_at=report.started_at + timedelta(minutes=3, seconds=7),
        results=(),
    )
    assert _render("text", long).startswith("Run r on m: 0 entries in 3 min 7 s\n")


def test_text_survives_mixed_time_zones() -> None:
    mixed = Report(
        run_id="r", manifest="m", started_at=START, finished_at=datetime(2024, 1, 1), results=()
    )
    assert _render("text", mixed).startswith("Run r on m: 0 entries\n")


def test_cause_is_not_prefixed_twice() -> None:
    already = Result(
        name="a", sandbox="p", status=Outcome.FAILED, error="401013 bad token", error_code="401013"
    )
    assert cause_of(already) == "401013 bad token"
    code_only = Result(name="a", sandbox="p", status=Outcome.FAILED, error_code="FLOW-1-500")
    assert cause_of(code_only) == "FLOW-1-500"


def test_causes_are_ordered_by_count_then_text() -> None:
    results = [
        _denied("a"),
        *(Result(name=n, sandbox="p", status=Outcome.FAILED, error="b") for n in "xy"),
    ]
    assert group_by_cause(results) == [("b", ["x", "y"]), (f"FLOW-2120-403 {DENIED}", ["a"])]


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_format_carries_the_same_facts(fmt: str) -> None:
    text = _render(fmt)
    for result in _results():
        assert result.name.replace("|", "\\|") in text or result.name in text
        assert result.status.value in text
        if result.connection_id:
            assert result.connection_id in text
    assert "FLOW-2120-403" in text or fmt == "csv"  # the CSV has no error_code column
    assert DENIED in text


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_no_format_writes_a_secret_from_the_environment(
    fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AEP_CLIENT_SECRET", CANARY)
    monkeypatch.setenv("AEP_ACCESS_TOKEN", CANARY)
    monkeypatch.setenv("ORACLE_PASSWORD", CANARY)
    assert CANARY not in _render(fmt)


def test_formats_are_the_four_the_cli_offers() -> None:
    assert list(FORMATS) == ["text", "json", "csv", "md"]


def test_json_format_is_the_report_file_form() -> None:
    data = json.loads(_render("json"))
    assert data["summary"]["failed"] == 2
    assert [r["name"] for r in data["results"]] == [r.name for r in _results()]


def test_unknown_format_is_a_config_error() -> None:
    with pytest.raises(
        ConfigError, match="unknown report format 'xml'; expected one of text, json"
    ):
        _render("xml")


def test_writers_can_be_called_directly() -> None:
    out = io.StringIO()
    write_csv(_report(), out)
    write_markdown(_report(), out)
    assert out.getvalue().count("finance-eu") == 2


@pytest.mark.parametrize("fmt", ["text", "md"])
def test_terminal_escapes_from_the_api_are_defused(fmt: str) -> None:
    sneaky = Result(name="a", sandbox="p", status=Outcome.FAILED, error="boom\x1b[2J\x07 done")
    text = _render(fmt, _report(results=(sneaky,)))
    assert "\x1b" not in text
    assert "\x07" not in text
    assert "boom\\x1b[2J\\x07 done" in text
