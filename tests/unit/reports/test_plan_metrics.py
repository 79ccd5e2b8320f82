"""Plan's gauges (``provisioner_plan_*``): their names, labels and counts; the textfile check
that keeps apply's gauges safe; the sinks' failure rules, shared with apply's; the
Pushgateway group of its own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from structlog.testing import capture_logs

from provisioner.errors import ConfigError
from provisioner.reports import (
    MetricsSinks,
    RunMetrics,
    check_metrics_file,
    plan_entries,
    publish_plan_metrics,
)
from provisioner.reports._planmetrics import plan_registry
from tests.services.pushgateway import free_port, pushed_groups

START = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
END = START + timedelta(seconds=12.5)
ACTIONS = ("create", "update", "exists")


@dataclass(frozen=True, slots=True)
class Row:
    sandbox: str
    action: str


def _plan(exit_code: int = 0, manifest: str = "nightly") -> RunMetrics:
    rows = [Row("prod", "create"), Row("prod", "create"), Row("dev", "exists")]
    return RunMetrics(
        manifest=manifest,
        exit_code=exit_code,
        started_at=START,
        finished_at=END,
        entries=plan_entries(rows, ACTIONS),
        http_statuses={200: 4, 404: 1},
    )


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_rows_are_counted_per_sandbox_and_action_zeros_included() -> None:
    rows = [Row("prod", "create"), Row("prod", "create"), Row("dev", "orphaned")]
    assert plan_entries(rows, ACTIONS) == {
        ("prod", "create"): 2,
        ("prod", "update"): 0,
        ("prod", "exists"): 0,
        ("dev", "create"): 0,
        ("dev", "update"): 0,
        ("dev", "exists"): 0,
        ("dev", "orphaned"): 1,  # an action outside the list is still counted
    }
    assert plan_entries([], ACTIONS) == {}


def test_the_plan_gauges_have_their_own_names_and_labels() -> None:
    samples = _samples(generate_latest(plan_registry(_plan(exit_code=1))).decode())
    one = (("manifest", "nightly"),)
    assert samples["provisioner_plan_last_run_timestamp_seconds", one] == END.timestamp()
    assert samples["provisioner_plan_run_duration_seconds", one] == 12.5
    assert samples["provisioner_plan_run_exit_code", one] == 1
    entry = (("action", "create"), ("manifest", "nightly"), ("sandbox", "prod"))
    assert samples["provisioner_plan_entries", entry] == 2
    http = (("code", "404"), ("manifest", "nightly"))
    assert samples["provisioner_plan_http_responses", http] == 1
    assert all(name.startswith("provisioner_plan_") for name, _ in samples)
    assert len([n for n, _ in samples if n == "provisioner_plan_entries"]) == 6


def test_a_textfile_of_other_gauges_is_refused_and_a_plans_own_is_not(tmp_path: Path) -> None:
    check_metrics_file(tmp_path / "none-yet.prom", command="plan")
    garbage = tmp_path / "garbage.prom"
    garbage.write_text("this is { not the format\n", encoding="utf-8")
    check_metrics_file(garbage, command="plan")  # replaced, as apply replaces one
    own = tmp_path / "plan.prom"
    publish_plan_metrics(_plan(), MetricsSinks(file=own))
    check_metrics_file(own, command="plan")
    applys = tmp_path / "apply.prom"
    applys.write_text(
        "# TYPE provisioner_last_success_timestamp_seconds gauge\n"
        'provisioner_last_success_timestamp_seconds{manifest="nightly"} 1.7e9\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="holds provisioner_last_success_timestamp_seconds"):
        check_metrics_file(applys, command="plan")


def test_a_failing_sink_is_a_warning_as_for_apply(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    dead = f"http://127.0.0.1:{free_port()}"
    sinks = MetricsSinks(file=blocker / "plan.prom", pushgateway=dead)
    with capture_logs() as logs:
        publish_plan_metrics(_plan(), sinks, timeout=5.0)
    assert [(e["event"], e["log_level"]) for e in logs] == [
        ("metrics_file_failed", "warning"),
        ("metrics_push_failed", "warning"),
    ]


def test_the_plan_pushes_to_a_group_of_its_own(pushgateway: str) -> None:
    stem = f"plan-unit-{free_port()}"
    with capture_logs() as logs:
        publish_plan_metrics(_plan(manifest=stem), MetricsSinks(pushgateway=pushgateway))
    assert [e for e in logs if e["log_level"] == "warning"] == []
    (group,) = [g for g in pushed_groups(pushgateway) if g["labels"].get("manifest") == stem]
    assert group["labels"] == {"job": "provisioner", "manifest": stem, "command": "plan"}
    assert "provisioner_plan_entries" in group
