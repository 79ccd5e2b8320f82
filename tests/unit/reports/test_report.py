"""Report types and the JSON form: round trips, validation messages, file writing."""

from __future__ import annotations

import io
import json
import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from provisioner.errors import ConfigError
from provisioner.reports._io import (
    load_report,
    report_from_dict,
    report_to_dict,
    write_json,
    write_report_file,
)
from provisioner.reports._model import Outcome, Report, Result, Summary

START = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)


def _every_kind() -> tuple[Result, ...]:
    return (
        Result(
            name="finance-eu",
            sandbox="prod",
            status=Outcome.CREATED,
            connection_id="c-1",
            attempts=1,
            http_status=201,
            duration_ms=84,
            verified=True,
        ),
        Result(
            name="hr",
            sandbox="hr-dev",
            status=Outcome.EXISTING,
            connection_id="c-2",
            attempts=0,
            verified=False,
        ),
        Result(name="ops", sandbox="prod", status=Outcome.UPDATED, connection_id="c-3"),
        Result(
            name="billing ünïcode",
            sandbox="prod",
            status=Outcome.FAILED,
            attempts=5,
            http_status=403,
            error='manage is denied on "Enterprise Source", | and ; too\nsecond line',
            error_code="FLOW-2120-403",
            duration_ms=1500,
        ),
        Result(name="late", sandbox="prod", status=Outcome.SKIPPED, error=""),
    )


def _report(**changes: object) -> Report:
    fields: dict[str, object] = {
        "run_id": "20240501-120000-ab12",
        "manifest": "configs/example.yaml",
        "started_at": START,
        "finished_at": START + timedelta(seconds=3, milliseconds=250),
        "results": _every_kind(),
    }
    fields.update(changes)
    return Report(**fields)  # type: ignore[arg-type]


def _data(**changes: object) -> dict[str, object]:
    data = report_to_dict(_report())
    data.update(changes)
    return data


def _result_data(index: int = 0, **changes: object) -> dict[str, object]:
    data = _data()
    results = data["results"]
    assert isinstance(results, list)
    results[index].update(changes)
    return data


def test_summary_counts_every_outcome() -> None:
    summary = Summary.of(_every_kind())
    assert summary == Summary(total=5, created=1, existing=1, updated=1, failed=1, skipped=1)
    assert list(summary.as_dict()) == [
        "total",
        "created",
        "existing",
        "updated",
        "failed",
        "skipped",
        "not_selected",
        "removed_duplicates",
    ]


def test_report_is_ok_only_when_every_entry_is() -> None:
    ok = _report(results=_every_kind()[:3])
    assert ok.ok
    assert not _report().ok
    assert [r.ok for r in _every_kind()] == [True, True, True, False, False]


def test_report_to_dict_has_the_contract_shape() -> None:
    data = report_to_dict(_report())
    assert list(data) == ["run_id", "manifest", "started_at", "finished_at", "summary", "results"]
    assert data["started_at"] == "2024-05-01T12:00:00.123456+00:00"
    assert data["summary"] == {
        "total": 5,
        "created": 1,
        "existing": 1,
        "updated": 1,
        "failed": 1,
        "skipped": 1,
        "not_selected": 0,
        "removed_duplicates": 0,
    }
    results = data["results"]
    assert isinstance(results, list)
    assert results[0] == {
        "name": "finance-eu",
        "sandbox": "prod",
        "status": "created",
        "connection_id": "c-1",
        "attempts": 1,
        "http_status": 201,
        "error": None,
        "duration_ms": 84,
        "error_code": None,
        "verified": True,
        "request_id": None,
        "removed_duplicates": [],
    }


@pytest.mark.parametrize(
    "report",
    [
        _report(),
        _report(results=()),
        _report(
            started_at=datetime(2024, 1, 1, 8, 0),
            finished_at=datetime(2024, 1, 1, 8, 1),
        ),
        _report(
            started_at=datetime(2024, 1, 1, 8, 0, tzinfo=timezone(timedelta(hours=2))),
            finished_at=datetime(2024, 1, 1, 9, 0, tzinfo=timezone(timedelta(hours=-5))),
        ),
    ],
    ids=["every-field", "no-results", "naive-times", "offsets"],
)
def test_report_round_trips_through_json(report: Report) -> None:
    out = io.StringIO()
    write_json(report, out)
    assert out.getvalue().endswith("}\n")
    back = report_from_dict(json.loads(out.getvalue()), source="r.json")
    assert back == report
    assert back.started_at.utcoffset() == report.started_at.utcoffset()


def test_json_has_one_result_per_line_whatever_the_texts_hold() -> None:
    tricky = Result(
        name='x}, {"name": "y',
        sandbox="prod",
        status=Outcome.FAILED,
        error='answered [{"name": "a"}, {"name": "b"}] and }, {"name": z',
        removed_duplicates=("c-8", "c-9"),
    )
    report = _report(results=(*_every_kind(), tricky))
    out = io.StringIO()
    write_json(report, out)
    lines = out.getvalue().splitlines()
    first = lines.index('  "results": [') + 1
    result_lines = lines[first : first + len(report.results)]
    assert lines[first + len(report.results) :] == ["  ]", "}"]
    expected = report_to_dict(report)["results"]
    assert isinstance(expected, list)
    for line, wanted in zip(result_lines, expected, strict=True):
        assert line.startswith("    {")
        assert line.endswith(("},", "}"))
        assert json.loads(line.strip().rstrip(",")) == wanted
    assert '"status": "failed"' in result_lines[-1]  # the spacing greps rely on
    assert report_from_dict(json.loads(out.getvalue()), source="r.json") == report


def test_report_file_round_trips_and_creates_directories(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "reports" / "run.json"
    write_report_file(_report(), path)
    assert load_report(path) == _report()
    assert os.listdir(path.parent) == ["run.json"]


def test_report_file_is_replaced_whole(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    path.write_text("old", encoding="utf-8")
    write_report_file(_report(results=()), path)
    assert load_report(path).results == ()
    assert os.listdir(tmp_path) == ["run.json"]


def test_failed_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "run.json"
    path.write_text("old", encoding="utf-8")

    def refuse(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="No space left"):
        write_report_file(_report(), path)
    assert path.read_text(encoding="utf-8") == "old"
    assert os.listdir(tmp_path) == ["run.json"]


def test_contract_example_loads() -> None:
    """The contract's example has no "updated", "error_code" nor "verified": all optional."""
    data = {
        "run_id": "r1",
        "manifest": "m.yaml",
        "started_at": "2024-05-01T12:00:00Z",
        "finished_at": "2024-05-01T12:00:01Z",
        "summary": {"total": 1, "created": 1, "existing": 0, "failed": 0, "skipped": 0},
        "results": [
            {
                "name": "finance-eu",
                "sandbox": "prod",
                "status": "created",
                "connection_id": "c",
                "attempts": 1,
                "http_status": 201,
                "error": None,
                "duration_ms": 84,
                "from_a_newer_version": "ignored",
            }
        ],
    }
    report = report_from_dict(data, source="r.json")
    assert report.started_at == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert report.results == (
        Result(
            name="finance-eu",
            sandbox="prod",
            status=Outcome.CREATED,
            connection_id="c",
            attempts=1,
            http_status=201,
            duration_ms=84,
        ),
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "r.json: report: expected an object, got an array"),
        (_data(run_id=""), "r.json: run_id: expected a non-empty string, got ''"),
        (_data(manifest=None), "r.json: manifest: expected a non-empty string, got null"),
        (_data(started_at="yesterday"), "r.json: started_at: expected an ISO-8601 date"),
        (_data(finished_at=17), "r.json: finished_at: expected an ISO-8601 date and time, got 17"),
        (_data(results={}), "r.json: results: expected an array, got an object"),
        (_data(results=[3]), "r.json: results[0]: expected an object, got 3"),
        (_data(summary=[]), "r.json: summary: expected an object, got an array"),
        (
            _result_data(3, status="done"),
            "r.json: results[3].status: expected one of created, existing, updated, deleted, "
            "failed, skipped, got 'done'",
        ),
        (_result_data(1, name=""), "r.json: results[1].name: expected a non-empty string"),
        (_result_data(0, sandbox=5), "r.json: results[0].sandbox: expected a non-empty string"),
        (_result_data(0, attempts=True), "r.json: results[0].attempts: expected a whole number"),
        (_result_data(0, attempts=-1), "results[0].attempts: expected a whole number >= 0, got -1"),
        (_result_data(0, duration_ms=1.5), "results[0].duration_ms: expected a whole number"),
        (_result_data(0, http_status=42), "results[0].http_status: expected an HTTP status"),
        (_result_data(0, connection_id=7), "results[0].connection_id: expected a string, got 7"),
        (_result_data(0, error=["x"]), "results[0].error: expected a string, got an array"),
        (_result_data(0, error_code=1), "results[0].error_code: expected a string, got 1"),
        (_result_data(0, verified="yes"), "results[0].verified: expected true, false or null"),
        (
            _data(summary={"total": 5, "created": 2, "existing": 1, "failed": 1, "skipped": 1}),
            "r.json: summary.created: says 2 but the results hold 1",
        ),
        (
            _data(summary={"total": 5, "created": 1, "existing": 1, "failed": 1}),
            "r.json: summary.skipped: expected a whole number >= 0, got null",
        ),
        (
            _data(finished_at="2024-05-01T12:00:00"),
            "r.json: finished_at: one time has a time zone and the other not",
        ),
    ],
)
def test_bad_report_is_refused_with_file_and_field(data: object, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        report_from_dict(data, source="r.json")
    assert message in str(info.value)


def test_every_problem_is_reported_at_once() -> None:
    data = _result_data(0, status="nope")
    results = data["results"]
    assert isinstance(results, list)
    results[2]["attempts"] = "three"
    data["run_id"] = 1
    with pytest.raises(ConfigError) as info:
        report_from_dict(data, source="r.json")
    lines = str(info.value).splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("r.json: run_id:")
    assert lines[1].startswith("r.json: results[0].status:")
    assert lines[2].startswith("r.json: results[2].attempts:")


def test_many_problems_are_cut_short() -> None:
    data = _data(results=[{"name": i} for i in range(30)])
    with pytest.raises(ConfigError) as info:
        report_from_dict(data, source="r.json")
    lines = str(info.value).splitlines()
    assert len(lines) == 21
    assert lines[-1].startswith("r.json: … and ")


def test_long_values_are_shortened_in_messages() -> None:
    with pytest.raises(ConfigError) as info:
        report_from_dict(_data(started_at="x" * 500), source="r.json")
    assert len(str(info.value)) < 120


def test_load_report_names_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    with pytest.raises(ConfigError, match=r"nope\.json: cannot read the report: No such file"):
        load_report(path)


def test_load_report_names_where_json_breaks(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n  "run_id": ,\n}', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken\.json:2:13: not valid JSON"):
        load_report(path)


def test_load_report_refuses_a_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "bin.json"
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match=r"bin\.json: cannot read the report"):
        load_report(path)


def test_load_report_names_the_file_in_field_errors(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps(_result_data(0, status="done")), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"r\.json: results\[0\]\.status"):
        load_report(path)


def test_write_report_file_honours_the_umask(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    write_report_file(_report(), path)
    assert path.stat().st_mode & 0o777 == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# --- auth form (second edition: additive) -----------------------------------------------------


def test_auth_form_is_written_read_back_and_absent_when_unknown() -> None:
    report = _report(auth_form="Basic Authentication")
    data = report_to_dict(report)
    assert list(data)[:5] == ["run_id", "manifest", "started_at", "finished_at", "auth_form"]
    back = report_from_dict(json.loads(json.dumps(data)), source="r.json")
    assert back.auth_form == "Basic Authentication"
    assert "auth_form" not in report_to_dict(_report())  # a report of the first edition
    assert report_from_dict(_data(), source="r.json").auth_form is None


def test_auth_form_must_be_a_non_empty_string() -> None:
    with pytest.raises(ConfigError, match=r"r\.json: auth_form: expected a non-empty string"):
        report_from_dict(_data(auth_form=""), source="r.json")


def test_text_and_markdown_say_the_auth_form() -> None:
    from provisioner.reports._formats import write_markdown
    from provisioner.reports._text import write_text

    text, md = io.StringIO(), io.StringIO()
    write_text(_report(auth_form="ConnectionString"), text)
    write_markdown(_report(auth_form="ConnectionString"), md)
    assert text.getvalue().splitlines()[1] == "Auth form: ConnectionString"
    assert "- auth form: ConnectionString\n" in md.getvalue()
    plain = io.StringIO()
    write_text(_report(), plain)
    assert "Auth form" not in plain.getvalue()
