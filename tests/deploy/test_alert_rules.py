"""deploy/prometheus: the alert rules pass Prometheus' own checks, each alert has cases in
alerts_test.yaml, and the rules read only the gauges the tool writes."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import yaml
from prometheus_client import generate_latest

from provisioner.reports import Report, RunMetrics
from provisioner.reports._metrics import metrics_registry
from provisioner.reports._planmetrics import plan_registry
from tests.services.programs import require_program

RULES: Final = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
ALERTS: Final = ("ProvisionerNoRecentSuccess", "ProvisionerEntriesFailed",
                 "ProvisionerRunStopped", "ProvisionerThrottled", "ProvisionerDrift",
                 "ProvisionerDriftCheckDown")  # fmt: skip


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    promtool = require_program("promtool")
    return subprocess.run(
        [promtool, *args], cwd=RULES, capture_output=True, text=True, timeout=60, check=False
    )


def _rules() -> list[dict[str, object]]:
    data = yaml.safe_load((RULES / "alerts.yaml").read_text(encoding="utf-8"))
    return [rule for group in data["groups"] for rule in group["rules"]]


def test_promtool_checks_the_rules() -> None:
    done = _promtool("check", "rules", "alerts.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in done.stdout


def test_promtool_runs_the_rule_tests() -> None:
    done = _promtool("test", "rules", "alerts_test.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_every_alert_has_a_firing_case_in_the_rule_tests() -> None:
    assert tuple(rule["alert"] for rule in _rules()) == ALERTS
    cases = yaml.safe_load((RULES / "alerts_test.yaml").read_text(encoding="utf-8"))
    firing = {
        case["alertname"]
        for test in cases["tests"]
        for case in test["alert_rule_test"]
        if case["exp_alerts"]
    }
    assert firing == set(ALERTS)


def test_the_rules_read_only_gauges_the_tool_writes() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    report = Report(run_id="r", manifest="m.yaml", started_at=now, finished_at=now, results=())
    registry = metrics_registry(RunMetrics.of(report, exit_code=0), last_success=None)
    plan = RunMetrics(manifest="m", exit_code=0, started_at=now, finished_at=now)
    text = generate_latest(registry).decode() + generate_latest(plan_registry(plan)).decode()
    written = set(re.findall(r"^# TYPE (provisioner_\w+) gauge$", text, re.M))
    assert len(written) == 7 + 5  # apply's, plan's
    used = {name for rule in _rules() for name in re.findall(r"provisioner_\w+", str(rule["expr"]))}
    assert used
    assert used <= written
