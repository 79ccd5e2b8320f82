"""Run metrics: the gauges of a run, the textfile and the Pushgateway (a real one), the
success time that moves only on exit 0, and sinks that fail without raising."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from structlog.testing import capture_logs

from provisioner.errors import ConfigError
from provisioner.reports import (
    MetricsSinks,
    Outcome,
    Report,
    Result,
    RunMetrics,
    check_metrics_file,
    check_writable,
    publish_metrics,
)
from provisioner.reports._io import load_report, write_report_file
from provisioner.reports._metrics import _group_value, metrics_registry, push_metrics
from provisioner.settings import PUSHGATEWAY_ENV, pushgateway_url
from tests.services.pushgateway import free_port, pushed_groups

START = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)
END = START + timedelta(seconds=42.5)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _report(*statuses: tuple[str, Outcome], manifest: str = "/etc/nightly.yaml") -> Report:
    results = tuple(
        Result(name=f"db-{i}", sandbox=sandbox, status=status)
        for i, (sandbox, status) in enumerate(statuses)
    )
    return Report(
        run_id="r1",
        manifest=manifest,
        started_at=START,
        finished_at=END,
        results=results,
        http_statuses={201: 3, 400: 1, 429: 2, 503: 1},
    )


def _samples(text: str, *, drop: tuple[str, ...] = ()) -> Samples:
    return {
        (s.name, tuple(sorted((k, v) for k, v in s.labels.items() if k not in drop))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _metrics(exit_code: int) -> RunMetrics:
    report = _report(("prod", Outcome.CREATED), ("prod", Outcome.FAILED), ("dev", Outcome.EXISTING))
    return RunMetrics.of(report, exit_code=exit_code)


def _success(samples: Samples, manifest: str = "nightly") -> float:
    return samples["provisioner_last_success_timestamp_seconds", (("manifest", manifest),)]


def test_the_gauges_of_a_run_carry_the_contracts_names_labels_and_counts() -> None:
    text = generate_latest(metrics_registry(_metrics(1), last_success=None)).decode()
    got = _samples(text)
    m = ("manifest", "nightly")
    assert got["provisioner_last_run_timestamp_seconds", (m,)] == END.timestamp()
    assert got["provisioner_last_success_timestamp_seconds", (m,)] == 0.0  # never yet
    assert got["provisioner_run_duration_seconds", (m,)] == 42.5
    assert got["provisioner_run_exit_code", (m,)] == 1
    assert got["provisioner_throttled_responses", (m,)] == 3  # 429 and 503
    codes = {dict(k[1])["code"]: v for k, v in got.items() if k[0] == "provisioner_http_responses"}
    assert codes == {"201": 3, "400": 1, "429": 2, "503": 1}
    entries = {
        (dict(k[1])["sandbox"], dict(k[1])["status"]): v
        for k, v in got.items()
        if k[0] == "provisioner_entries"
    }
    assert entries[("prod", "created")] == 1
    assert entries[("prod", "failed")] == 1
    assert entries[("dev", "existing")] == 1
    assert entries[("dev", "failed")] == 0  # every outcome of each sandbox, zeros included
    assert len(entries) == 2 * len(Outcome)
    labels = {k for _, pairs in got for k, _ in pairs}
    assert labels == {"manifest", "sandbox", "status", "code"}


def test_the_success_time_moves_only_on_exit_0() -> None:
    ok = _samples(generate_latest(metrics_registry(_metrics(0), last_success=5.0)).decode())
    kept = _samples(generate_latest(metrics_registry(_metrics(130), last_success=5.0)).decode())
    assert _success(ok) == END.timestamp()
    assert _success(kept) == 5.0


def test_http_counts_stay_out_of_the_reports_json_and_equality(tmp_path: Path) -> None:
    report = _report(("prod", Outcome.CREATED))
    write_report_file(report, tmp_path / "r.json")
    loaded = load_report(tmp_path / "r.json")
    assert loaded == report
    assert dict(loaded.http_statuses) == {}
    assert "429" not in (tmp_path / "r.json").read_text()


def test_the_textfile_keeps_the_last_success_across_failed_runs(tmp_path: Path) -> None:
    path = tmp_path / "textfile" / "provisioner.prom"
    path.parent.mkdir()
    sinks = MetricsSinks(file=path)
    publish_metrics(_metrics(1), sinks)
    assert _success(_samples(path.read_text())) == 0.0
    publish_metrics(_metrics(0), sinks)
    assert _success(_samples(path.read_text())) == END.timestamp()
    later = _report(("prod", Outcome.FAILED))
    failed = RunMetrics.of(
        Report(
            run_id="r2",
            manifest=later.manifest,
            started_at=END + timedelta(days=1),
            finished_at=END + timedelta(days=1, seconds=3),
            results=later.results,
        ),
        exit_code=1,
    )
    publish_metrics(failed, sinks)
    samples = _samples(path.read_text())
    assert _success(samples) == END.timestamp()
    last_run = samples["provisioner_last_run_timestamp_seconds", (("manifest", "nightly"),)]
    assert last_run == (END + timedelta(days=1, seconds=3)).timestamp()
    assert sorted(p.name for p in path.parent.iterdir()) == ["provisioner.prom"]  # no temp left


def _check(path: Path, command: str = "apply") -> None:
    check_metrics_file(path, command=command)


@pytest.mark.parametrize(
    ("held", "why"),
    [
        (
            "# TYPE provisioner_plan_run_exit_code gauge\nprovisioner_plan_run_exit_code 0\n",
            "holds provisioner_plan_run_exit_code, a plan gauge",
        ),
        ("# TYPE node_load1 gauge\nnode_load1 0.5\n", "holds node_load1, another exporter's"),
        ("node_load1 1\nbroken {\n", "holds node_load1, another exporter's"),  # read so far
    ],
    ids=["plans", "another_exporters", "then_unparsable"],
)
def test_a_textfile_holding_what_apply_would_wipe_out_is_refused(
    tmp_path: Path, held: str, why: str
) -> None:
    """apply (and rollback) replace the whole file: plan's gauges or another exporter's would
    be lost, so such a file is refused before the run."""
    path = tmp_path / "shared.prom"
    path.write_text(held, encoding="utf-8")
    with pytest.raises(ConfigError, match="^" + re.escape(f"{path}: {why}")):
        _check(path)
    with pytest.raises(ConfigError, match="give rollback's --metrics-file a file of its own"):
        _check(path, "rollback")


@pytest.mark.parametrize(
    "held",
    [
        "",
        "# HELP provisioner_run_exit_code The last run's exit code.\n",
        'provisioner_run_exit_code{manifest="nightly"} 0\n',
        'provisioner_run_exit_code{manifest="weekly"} 0\n',  # one file per manifest: replaced
    ],
    ids=["empty", "help_only", "its_own", "another_manifests"],
)
def test_apply_takes_its_own_file_an_empty_one_or_none(tmp_path: Path, held: str) -> None:
    _check(tmp_path / "none-yet.prom")
    path = tmp_path / "own.prom"
    path.write_text(held, encoding="utf-8")
    with capture_logs() as logs:
        _check(path)
    assert logs == []
    publish_metrics(_metrics(0), MetricsSinks(file=path))  # as written by a run of its own
    _check(path)


def test_a_textfile_that_does_not_parse_is_replaced_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "provisioner.prom"
    path.write_text("this is { not the exposition format\n", encoding="utf-8")
    with capture_logs() as logs:
        _check(path)  # before the run: the warning
        _check(path, "plan")
        publish_metrics(_metrics(1), MetricsSinks(file=path))  # after it: replaced
    assert [(e["event"], e["log_level"]) for e in logs] == [
        ("metrics_file_unparsable", "warning")
    ] * 2
    assert _success(_samples(path.read_text())) == 0.0


def test_an_unwritable_textfile_is_a_warning_not_an_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    path = blocker / "provisioner.prom"  # its "folder" is a file
    with capture_logs() as logs:
        publish_metrics(_metrics(0), MetricsSinks(file=path))
    assert [(e["event"], e["log_level"]) for e in logs] == [("metrics_file_failed", "warning")]
    assert logs[0]["path"] == str(path)
    assert logs[0]["error"]


def test_a_metrics_path_that_cannot_be_written_is_refused_naming_its_option(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigError, match="is a folder; --metrics-file takes a file path"):
        check_writable(tmp_path, what="the metrics", option="--metrics-file")
    (tmp_path / "f").write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot write the metrics there"):
        check_writable(tmp_path / "f" / "x.prom", what="the metrics", option="--metrics-file")


def test_a_dead_pushgateway_is_a_warning_not_an_error(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with capture_logs() as logs:
        publish_metrics(_metrics(0), MetricsSinks(pushgateway=url), timeout=5.0)
    assert [(e["event"], e["log_level"]) for e in logs] == [("metrics_push_failed", "warning")]
    assert logs[0]["pushgateway"] == url
    assert "refused" in logs[0]["error"].lower()


def _group(url: str, manifest: str) -> dict[str, object]:
    wanted = {"job": "provisioner", "manifest": manifest}
    return next(g for g in pushed_groups(url) if g["labels"] == wanted)


def _pushed(group: dict[str, object], name: str) -> float:
    family = group[name]
    assert isinstance(family, dict)
    return float(family["metrics"][0]["value"])


def test_the_pushgateway_group_keeps_the_last_success_across_failed_runs(
    pushgateway: str,
) -> None:
    stem = "unit-keeps-success"
    report = _report(("prod", Outcome.CREATED), manifest=f"/srv/{stem}.yaml")
    publish_metrics(RunMetrics.of(report, exit_code=1), MetricsSinks(pushgateway=pushgateway))
    assert _pushed(_group(pushgateway, stem), "provisioner_last_success_timestamp_seconds") == 0
    push_metrics(RunMetrics.of(report, exit_code=0), pushgateway)
    later = RunMetrics.of(
        Report(
            run_id="r3",
            manifest=report.manifest,
            started_at=END + timedelta(hours=1),
            finished_at=END + timedelta(hours=2),
            results=report.results,
        ),
        exit_code=130,
    )
    push_metrics(later, pushgateway)
    group = _group(pushgateway, stem)
    assert _pushed(group, "provisioner_last_success_timestamp_seconds") == END.timestamp()
    assert _pushed(group, "provisioner_run_exit_code") == 130
    assert _pushed(group, "provisioner_run_duration_seconds") == 3600


def test_a_manifest_stem_with_a_space_is_its_own_group(pushgateway: str) -> None:
    report = _report(("prod", Outcome.CREATED), manifest="/srv/with space.yaml")
    push_metrics(RunMetrics.of(report, exit_code=0), pushgateway)
    group = _group(pushgateway, "with space")
    assert _pushed(group, "provisioner_run_exit_code") == 0


@pytest.mark.parametrize(
    "group",
    [
        None,
        {"labels": {"job": "other", "manifest": "m"}},
        {"labels": {"job": "provisioner", "manifest": "m"}},
        {
            "labels": {"job": "provisioner", "manifest": "m"},
            "provisioner_last_success_timestamp_seconds": {"metrics": []},
        },
        {
            "labels": {"job": "provisioner", "manifest": "m"},
            "provisioner_last_success_timestamp_seconds": "x",
        },
    ],
)
def test_a_group_without_the_success_gauge_gives_none(group: object) -> None:
    assert _group_value(group, "m") is None


def test_the_pushgateway_comes_from_the_option_over_the_variable() -> None:
    env = {PUSHGATEWAY_ENV: "http://env-gw:9091/"}
    assert pushgateway_url(None, env) == "http://env-gw:9091"
    assert pushgateway_url("https://arg-gw", env) == "https://arg-gw"
    assert pushgateway_url(None, {}) is None
    assert pushgateway_url(None, {PUSHGATEWAY_ENV: "  "}) is None
    assert pushgateway_url("", env) is None  # a one-off run publishes nowhere


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("gw:9091", "--pushgateway: expected an http(s) URL"),
        ("ftp://gw", "--pushgateway: expected an http(s) URL"),
        ("http://user:pw@gw:9091", "--pushgateway: credentials in the URL are not supported"),
        ("http://gw:9091/?a=1", "--pushgateway: expected no query or fragment"),
    ],
)
def test_an_unusable_pushgateway_url_is_refused(value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")) as err:
        pushgateway_url(value, {})
    assert "pw@" not in str(err.value)


def test_a_bad_variable_is_named_in_the_error() -> None:
    with pytest.raises(ConfigError, match=PUSHGATEWAY_ENV):
        pushgateway_url(None, {PUSHGATEWAY_ENV: "not a url"})
