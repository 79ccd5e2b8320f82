"""Run results (Outcome, Result, Summary, Report) and their forms: JSON, text, CSV, Markdown;
the run's Prometheus metrics (textfile, Pushgateway; plan's gauges of their own); explore's
findings (Exploration, TableInfo) and their forms: CSV and JSON.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from provisioner._lazy import exports
from provisioner.reports._formats import EXPLORE_FORMATS, FORMATS, write_report
from provisioner.reports._io import check_writable, load_report, write_report_file
from provisioner.reports._metrics import (
    MetricsSinks,
    RunMetrics,
    check_metrics_file,
    publish_metrics,
)
from provisioner.reports._model import Outcome, Report, Result, Summary

if TYPE_CHECKING:  # explore's findings and plan's gauges, imported on first use
    from provisioner.reports._explore import (
        EXPLORE_CSV_HEADER,
        ColumnInfo,
        Exploration,
        ExploreStatus,
        TableInfo,
        write_exploration,
        write_exploration_file,
    )
    from provisioner.reports._planmetrics import plan_entries, publish_plan_metrics

_ON_USE: Final = {
    **dict.fromkeys(
        (
            "EXPLORE_CSV_HEADER",
            "ColumnInfo",
            "Exploration",
            "ExploreStatus",
            "TableInfo",
            "write_exploration",
            "write_exploration_file",
        ),
        "._explore",
    ),
    **dict.fromkeys(("plan_entries", "publish_plan_metrics"), "._planmetrics"),
}
__getattr__ = exports(__name__, _ON_USE)

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
