"""prometheus_client is imported only when gauges are built, written, pushed or parsed: a run
that asks for no metrics (no --metrics-file, no Pushgateway) never pays for importing it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

_IMPORT_CLI = "import sys, provisioner.cli._main\n"
_RUN = """\
from datetime import UTC, datetime
from pathlib import Path
from provisioner.reports import MetricsSinks, RunMetrics, publish_metrics, publish_plan_metrics
at = datetime(2026, 5, 1, tzinfo=UTC)
run = RunMetrics(manifest="nightly", exit_code=0, started_at=at, finished_at=at)
"""
_REPORT = "print('loaded:', 'prometheus_client' in sys.modules)\n"  # the last line (logs above)


def _loaded_after(code: str, *args: str) -> bool:
    """Whether prometheus_client is in sys.modules of a fresh interpreter that imported the
    CLI and then ran ``code`` (``args``: its sys.argv[1:])."""
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT_CLI + code + _REPORT, *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    last = done.stdout.splitlines()[-1]
    assert last.startswith("loaded: "), done.stdout
    return last == "loaded: True"


def test_importing_the_cli_does_not_import_prometheus_client() -> None:
    assert _loaded_after("") is False


def test_publishing_to_no_sink_does_not_import_prometheus_client() -> None:
    code = (
        _RUN + "publish_metrics(run, MetricsSinks())\npublish_plan_metrics(run, MetricsSinks())\n"
    )
    assert _loaded_after(code) is False


@pytest.mark.parametrize(
    "call",
    [
        "publish_metrics(run, MetricsSinks(file=Path(sys.argv[1])))",
        "publish_plan_metrics(run, MetricsSinks(file=Path(sys.argv[1])))",
    ],
    ids=["apply_textfile", "plan_textfile"],
)
def test_writing_a_metrics_file_imports_prometheus_client(call: str, tmp_path: Path) -> None:
    path = tmp_path / "run.prom"
    assert _loaded_after(_RUN + call + "\n", str(path)) is True
    assert path.exists()


def test_checking_a_metrics_file_imports_prometheus_client(tmp_path: Path) -> None:
    path = tmp_path / "plan.prom"
    path.write_text("provisioner_plan_x 1\n", encoding="utf-8")
    check = (
        "from provisioner.reports import check_metrics_file\n"
        "check_metrics_file(Path(sys.argv[1]), command='plan')\n"
    )
    assert _loaded_after(_RUN + check, str(path)) is True
