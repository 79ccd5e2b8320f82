"""Render a report in each format (text, json, csv, md); every writer takes a TextIO."""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Final, TextIO

from provisioner.errors import ConfigError
from provisioner.reports._io import write_json
from provisioner.reports._model import Report, Result
from provisioner.reports._text import one_line, write_text

__all__ = [
    "CSV_HEADER",
    "FORMATS",
    "ReportWriter",
    "write_csv",
    "write_json",
    "write_markdown",
    "write_report",
    "write_text",
]

ReportWriter = Callable[[Report, TextIO], None]

_CELL_NAMES: Final = ("name", "sandbox", "status", "connection_id", "attempts", "http_status")
CSV_HEADER: Final = (*_CELL_NAMES, "error")
_MD_HEADER: Final = (
    *_CELL_NAMES,
    "error_code",
    "error",
    "duration_ms",
    "removed_duplicates",
)


def _cells(result: Result) -> tuple[str, ...]:
    """The columns both tables start with (``_CELL_NAMES``), as text."""
    return (
        result.name,
        result.sandbox,
        result.status.value,
        result.connection_id or "",
        str(result.attempts),
        "" if result.http_status is None else str(result.http_status),
    )


def _csv_row(result: Result) -> tuple[str, ...]:
    return (*_cells(result), result.error or "")


def write_csv(report: Report, out: TextIO) -> None:
    """One row per entry under the header CSV_HEADER (the contract's seven columns; the ids
    of removed duplicates are in the JSON, text and Markdown forms).

    An absent value (no connection id, no HTTP status, no error) is an empty cell.
    """
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    writer.writerows(_csv_row(r) for r in report.results)


def _md(text: str) -> str:
    """A table cell: pipes and backslashes escaped, HTML defused, on one line."""
    text = text.replace("\\", "\\\\").replace("|", "\\|")
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return one_line(text)


def _md_table(header: tuple[str, ...], rows: list[tuple[str, ...]], out: TextIO) -> None:
    out.write("| " + " | ".join(header) + " |\n")
    out.write("|" + "|".join("---" for _ in header) + "|\n")
    for row in rows:
        out.write("| " + " | ".join(_md(cell) for cell in row) + " |\n")


def _md_result(result: Result) -> tuple[str, ...]:
    return (
        *_cells(result),
        result.error_code or "",
        result.error or "",
        str(result.duration_ms),
        " ".join(result.removed_duplicates),
    )


def write_markdown(report: Report, out: TextIO) -> None:
    """A heading with the run's facts, a summary table and a results table (GitHub style)."""
    out.write(f"# Provisioner report {_md(report.run_id)}\n\n")
    out.write(f"- manifest: {_md(report.manifest)}\n")
    if report.auth_form is not None:
        out.write(f"- auth form: {_md(report.auth_form)}\n")
    out.write(f"- started: {report.started_at.isoformat()}\n")
    out.write(f"- finished: {report.finished_at.isoformat()}\n\n")
    counts = report.summary.as_dict()
    out.write("## Summary\n\n")
    _md_table(tuple(counts), [tuple(str(n) for n in counts.values())], out)
    out.write("\n## Results\n\n")
    _md_table(_MD_HEADER, [_md_result(r) for r in report.results], out)


FORMATS: Final[Mapping[str, ReportWriter]] = MappingProxyType(
    {"text": write_text, "json": write_json, "csv": write_csv, "md": write_markdown}
)
"""Each format's name (as ``--format`` takes it) and its writer."""

EXPLORE_FORMATS: Final = ("csv", "json")
"""The formats ``explore --format`` takes (its writers are in ``_explore``)."""


def write_report(
    report: Report, out: TextIO, fmt: str, *, manifest_hint: str | None = None
) -> None:
    """Write the report in the format named ``fmt`` (a key of FORMATS).

    Args:
        manifest_hint: passed to the text writer for the commands it suggests.

    Raises:
        ConfigError: ``fmt`` is not a known format.
    """
    if fmt == "text":
        write_text(report, out, manifest_hint=manifest_hint)
        return
    writer = FORMATS.get(fmt)
    if writer is None:
        known = ", ".join(FORMATS)
        raise ConfigError(f"unknown report format {fmt!r}; expected one of {known}")
    writer(report, out)
