"""Run results (Outcome, Result, Summary, Report) and their forms: JSON, text, CSV, Markdown;
the run's Prometheus metrics (textfile, Pushgateway).
"""

from __future__ import annotations

from provisioner.reports._formats import FORMATS, write_report
from provisioner.reports._io import check_writable, load_report, write_report_file
from provisioner.reports._metrics import MetricsSinks, RunMetrics, publish_metrics
from provisioner.reports._model import Outcome, Report, Result, Summary

__all__ = [
    "FORMATS",
    "MetricsSinks",
    "Outcome",
    "Report",
    "Result",
    "RunMetrics",
    "Summary",
    "check_writable",
    "load_report",
    "publish_metrics",
    "write_report",
    "write_report_file",
]
