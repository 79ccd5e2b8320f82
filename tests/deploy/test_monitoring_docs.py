"""The README's "Monitoring" section and docs/metrics.md: the cron line and the CronJob run
commands the tool accepts, and every gauge the tool writes is described."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import pytest
import yaml
from prometheus_client import generate_latest

from provisioner.cli._main import build_parser
from provisioner.reports import Report, RunMetrics
from provisioner.reports._metrics import metrics_registry
from provisioner.reports._planmetrics import plan_registry
from provisioner.settings import PUSHGATEWAY_ENV, pushgateway_url

ROOT: Final = Path(__file__).resolve().parents[2]


def _readme_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"^## Monitoring\n(.*?)^## ", text, re.S | re.M)
    assert found is not None
    return found.group(1)


def _docs_page() -> str:
    return (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")


DOCS: Final[dict[str, Callable[[], str]]] = {"README": _readme_section, "docs": _docs_page}


def _blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", text, re.S | re.M)


@pytest.mark.parametrize("doc", sorted(DOCS))
def test_the_cron_line_runs_apply_with_a_metrics_file(doc: str) -> None:
    (line,) = [b for b in _blocks(DOCS[doc](), "") if "provisioner apply" in b]
    words = shlex.split(line.split("bin/provisioner ", 1)[1].split(">>")[0])
    args = build_parser().parse_args(words)
    assert args.command == "apply"
    assert args.metrics_file.suffix == ".prom"


@pytest.mark.parametrize("doc", sorted(DOCS))
def test_the_drift_check_runs_plan_with_a_file_of_its_own(doc: str) -> None:
    (line,) = [b for b in _blocks(DOCS[doc](), "") if "provisioner plan" in b]
    words = shlex.split(line.split("bin/provisioner ", 1)[1].split(">>")[0])
    args = build_parser().parse_args(words)
    assert args.command == "plan"
    assert args.metrics_file.name.endswith("-plan.prom")


@pytest.mark.parametrize("doc", sorted(DOCS))
def test_the_cronjob_runs_apply_and_pushes_to_a_pushgateway(doc: str) -> None:
    (block,) = _blocks(DOCS[doc](), "yaml")
    job: Any = yaml.safe_load(block)
    assert job["kind"] == "CronJob"
    (container,) = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert build_parser().parse_args(container["args"]).command == "apply"
    env = {e["name"]: e["value"] for e in container["env"]}
    assert pushgateway_url(None, env) == env[PUSHGATEWAY_ENV]


@pytest.mark.parametrize("doc", sorted(DOCS))
def test_every_gauge_and_alert_is_described(doc: str) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    report = Report(run_id="r", manifest="m.yaml", started_at=now, finished_at=now, results=())
    registry = metrics_registry(RunMetrics.of(report, exit_code=0), last_success=None)
    plan = RunMetrics(manifest="m", exit_code=0, started_at=now, finished_at=now)
    exposed = generate_latest(registry).decode() + generate_latest(plan_registry(plan)).decode()
    names = re.findall(r"^# TYPE (\w+) gauge$", exposed, re.M)
    alerts = re.findall(r"- alert: (\w+)", (ROOT / "deploy/prometheus/alerts.yaml").read_text())
    text = DOCS[doc]()
    assert [n for n in names if f"`{n}" not in text] == []
    assert [a for a in alerts if f"`{a}`" not in text] == []
    assert len(names) == 7 + 5  # apply's, plan's
    assert len(alerts) == 6
