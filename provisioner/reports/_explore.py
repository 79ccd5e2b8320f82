"""What ``explore`` found, entry by entry, and its two forms: CSV (one row per table) and JSON.

Written for spreadsheets as well as programs:

- UTF-8 throughout. A file written with ``--output`` as CSV starts with a byte-order mark:
  Excel reads a CSV without one in the machine's legacy code page and garbles every non-ASCII
  name; LibreOffice, Google Sheets, pandas and Python's ``utf-8-sig`` skip it. CSV on stdout
  has none, since it usually feeds another program (``grep``, ``csvkit``, a pipe).
- RFC 4180: every field quoted when it holds a comma, a quote (doubled) or a line break; rows
  end in CRLF.
- Formula injection: a cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
  return is what a spreadsheet would run as a formula (OWASP "CSV injection"); such a cell is
  written with a leading apostrophe, which spreadsheets show as text and hide. Only CSV cells
  get it; the JSON form carries every value exactly.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final, TextIO

from provisioner.errors import ConfigError
from provisioner.reports._formats import EXPLORE_FORMATS
from provisioner.reports._io import write_atomically

__all__ = [
    "EXPLORE_CSV_HEADER",
    "EXPLORE_FORMATS",
    "ColumnInfo",
    "Exploration",
    "ExploreStatus",
    "TableInfo",
    "exploration_to_dict",
    "write_exploration",
    "write_exploration_file",
    "write_explore_csv",
    "write_explore_json",
]

EXPLORE_CSV_HEADER: Final = ("name", "sandbox", "connection_id", "table", "error")
_FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


class ExploreStatus(StrEnum):
    """How exploring one entry ended."""

    EXPLORED = "explored"  # every table listed (and, with --columns, every table's columns)
    NO_CONNECTION = "no_connection"  # no connection has the entry's name (or its id is gone)
    UNREACHABLE = "unreachable"  # the connection cannot reach its database
    FAILED = "failed"  # an API error after the retries, several connections, unread columns


@dataclass(frozen=True, slots=True, kw_only=True)
class ColumnInfo:
    """One column of a table (``--columns``)."""

    name: str
    type: str
    xdm_type: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TableInfo:
    """One table; ``columns`` is None unless asked for, ``error`` says why they are missing."""

    name: str
    path: str
    columns: tuple[ColumnInfo, ...] | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Exploration:
    """What explore found for one manifest entry. ``error`` never holds a secret."""

    name: str
    sandbox: str
    status: ExploreStatus
    connection_id: str | None = None
    tables: tuple[TableInfo, ...] = ()
    error: str | None = None
    error_code: str | None = None

    @property
    def explored(self) -> bool:
        """Whether the entry was explored in full."""
        return self.status is ExploreStatus.EXPLORED


def _cell(text: str) -> str:
    """The text as a spreadsheet cell that is never run as a formula."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _csv_rows(explorations: Iterable[Exploration]) -> Iterator[tuple[str, ...]]:
    for entry in explorations:
        head = (entry.name, entry.sandbox, entry.connection_id or "")
        for table in entry.tables:
            yield (*head, table.path, table.error or "")
        if not entry.tables:  # no table to list: one row says why (or that there are none)
            yield (*head, "", entry.error or "")


def write_explore_csv(explorations: Iterable[Exploration], out: TextIO) -> None:
    """One row per table under EXPLORE_CSV_HEADER; an entry without tables gets one row with
    an empty ``table`` and, when it was not explored, the reason in ``error``."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPLORE_CSV_HEADER)
    writer.writerows(tuple(map(_cell, row)) for row in _csv_rows(explorations))


def _table_dict(table: TableInfo) -> dict[str, object]:
    item: dict[str, object] = {"name": table.name, "path": table.path}
    if table.columns is not None:
        item["columns"] = [
            {"name": c.name, "type": c.type, "xdm_type": c.xdm_type} for c in table.columns
        ]
    if table.error is not None:
        item["error"] = table.error
    return item


def exploration_to_dict(explorations: Sequence[Exploration]) -> dict[str, object]:
    """The JSON form: a summary, then each entry with its tables (and their columns)."""
    explored = sum(e.explored for e in explorations)
    return {
        "summary": {
            "entries": len(explorations),
            "explored": explored,
            "not_explored": len(explorations) - explored,
            "tables": sum(len(e.tables) for e in explorations),
        },
        "entries": [
            {
                "name": e.name,
                "sandbox": e.sandbox,
                "connection_id": e.connection_id,
                "status": e.status.value,
                "error": e.error,
                "error_code": e.error_code,
                "tables": [_table_dict(t) for t in e.tables],
            }
            for e in explorations
        ],
    }


def write_explore_json(explorations: Iterable[Exploration], out: TextIO) -> None:
    """The JSON form, indented, UTF-8 as is (no ``\\u`` escapes), and a final newline."""
    json.dump(exploration_to_dict(tuple(explorations)), out, indent=2, ensure_ascii=False)
    out.write("\n")


def _check_format(fmt: str) -> None:
    if fmt not in EXPLORE_FORMATS:
        raise ConfigError(f"unknown explore format {fmt!r}; expected one of csv, json")


def write_exploration(explorations: Sequence[Exploration], out: TextIO, fmt: str) -> None:
    """Write in the format named ``fmt`` (``csv`` or ``json``).

    Raises:
        ConfigError: ``fmt`` is not one of them.
    """
    _check_format(fmt)
    if fmt == "csv":
        write_explore_csv(explorations, out)
    else:
        write_explore_json(explorations, out)


def write_exploration_file(explorations: Sequence[Exploration], path: Path, fmt: str) -> None:
    """Write to ``path`` atomically; a CSV file starts with a UTF-8 byte-order mark.

    Raises:
        ConfigError: ``fmt`` is unknown (nothing is written).
        OSError: the file cannot be written.
    """
    _check_format(fmt)
    encoding = "utf-8-sig" if fmt == "csv" else "utf-8"
    write_atomically(
        path, lambda out: write_exploration(explorations, out, fmt), encoding=encoding, newline=""
    )
