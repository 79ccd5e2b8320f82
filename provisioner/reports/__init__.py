"""Run results (Outcome, Result, Summary, Report) and their forms: JSON, text, CSV, Markdown;
the run's Prometheus metrics (textfile, Pushgateway; plan's gauges of their own); explore's
findings (Exploration, TableInfo) and their forms: CSV and JSON.
"""

from __future__ import annotations

from provisioner.reports._explore import (
    EXPLORE_CSV_HEADER,
    EXPLORE_FORMATS,
    ColumnInfo,
    Exploration,
    ExploreStatus,
    TableInfo,
    write_exploration,
    write_exploration_file,
)
from provisioner.reports._formats import FORMATS, write_report
from provisioner.reports._io import check_writable, load_report, write_report_file
from provisioner.reports._metrics import (
    MetricsSinks,
    RunMetrics,
    check_metrics_file,
    publish_metrics,
)
from provisioner.reports._model import Outcome, Report, Result, Summary
from provisioner.reports._planmetrics import (
    plan_entries,
    publish_plan_metrics,
)

__all__ = [
    "EXPLORE_CSV_HEADER",
    "EXPLORE_FORMATS",
    "FORMATS",
    "ColumnInfo",
    "Exploration",
    "ExploreStatus",
    "MetricsSinks",
    "Outcome",
    "Report",
    "Result",
    "RunMetrics",
    "Summary",
    "TableInfo",
    "check_metrics_file",
    "check_writable",
    "load_report",
    "plan_entries",
    "publish_metrics",
    "publish_plan_metrics",
    "write_exploration",
    "write_exploration_file",
    "write_report",
    "write_report_file",
]
