"""An inventory CSV (a header naming the columns, one database per row) -> checked rows.

Choices: header names match case-insensitively, surrounding spaces ignored and inner spaces or
dashes read as ``_`` (``Service Name`` is ``service_name``). The delimiter is the one of ``,``,
``;`` and tab that the header uses most. Blank rows, and rows whose first cell starts with
``#``, are skipped. Columns with an empty header are ignored while they hold no value.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from typing import Final

from provisioner.errors import ManifestError, ManifestIssue
from provisioner.manifest import PORT_MAX, PORT_MIN, host_problem

__all__ = [
    "INVENTORY_COLUMNS",
    "InventoryRow",
    "read_inventory",
]

_REQUIRED: Final = ("name", "host", "port", "user")
_TARGETS: Final = ("sid", "service_name")
_OPTIONAL: Final = ("description", "sandbox")
#: Every column an inventory may have.
INVENTORY_COLUMNS: Final = (*_REQUIRED, *_TARGETS, *_OPTIONAL)
_DELIMITERS: Final = (",", ";", "\t")
_SEPARATORS: Final = re.compile(r"[\s-]+")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_PASSWORD_HINT: Final = (
    "passwords are never imported: remove the column; each entry reads its password"
    " from an environment variable (see the comment at the top of the output)"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class InventoryRow:
    """One row, its values checked; optional cells left empty are None."""

    line: int
    name: str
    host: str
    port: int
    user: str
    sid: str | None
    service_name: str | None
    description: str | None
    sandbox: str | None


def read_inventory(text: str, *, file: str) -> tuple[InventoryRow, ...]:
    """Read the rows of an inventory.

    Raises:
        ManifestError: listing an unknown or missing column, each row that lacks a required
            value or has too many, and CSV syntax errors (unclosed quotes), with line numbers.
    """
    reader = _Reader(file)
    rows = reader.read(text)
    if reader.issues:
        raise ManifestError(reader.issues)
    return rows


def _delimiter(text: str) -> str:
    lines = (
        line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")
    )
    header = next(lines, "")
    return max(_DELIMITERS, key=header.count)


def _column_name(cell: str) -> str:
    return _SEPARATORS.sub("_", cell.strip().lower())


class _Reader:
    """Walks the CSV records once, keeping the line each record starts on."""

    __slots__ = ("_columns", "_file", "_header_line", "issues")

    def __init__(self, file: str) -> None:
        self._file = file
        self.issues: list[ManifestIssue] = []
        self._columns: list[str | None] = []  # None: an empty header cell
        self._header_line = 0

    def report(self, line: int, where: str, message: str) -> None:
        issue = ManifestIssue(file=self._file, line=line, column=None, where=where, message=message)
        self.issues.append(issue)

    def read(self, text: str) -> tuple[InventoryRow, ...]:
        records = csv.reader(io.StringIO(text), delimiter=_delimiter(text), strict=True)
        rows: list[InventoryRow] = []
        line = start = 1
        try:
            for record in records:
                line, start = start, records.line_num + 1
                if not any(cell.strip() for cell in record) or record[0].lstrip().startswith("#"):
                    continue
                if not self._header_line:
                    self._header(record, line)
                    if self.issues:
                        return ()
                    continue
                row = self._row(record, line)
                if row is not None:
                    rows.append(row)
        except csv.Error as exc:
            self.report(start, "", f"not valid CSV: {exc}")
            return ()
        if not self._header_line:
            self.report(1, "", f"no header: the first row must name the columns ({_hint()})")
        elif not rows and not self.issues:
            self.report(self._header_line, "", "no rows after the header: nothing to import")
        return tuple(rows)

    def _header(self, record: list[str], line: int) -> None:
        self._header_line = line
        self._columns = [_column_name(cell) or None for cell in record]
        named = [column for column in self._columns if column is not None]
        unknown = [column for column in named if column not in INVENTORY_COLUMNS]
        repeated = sorted({column for column in named if named.count(column) > 1})
        if "password" in unknown:
            self.report(line, "password", _PASSWORD_HINT)
            unknown.remove("password")
        if unknown:
            shown = ", ".join(f'"{column}"' for column in unknown)
            self.report(line, "", f"unknown column {shown} ({_hint()})")
        if repeated:
            self.report(line, "", f"column {', '.join(repeated)} appears more than once")
        missing = [column for column in _REQUIRED if column not in named]
        if not any(column in named for column in _TARGETS):
            missing.append("sid (or service_name)")
        if missing:
            self.report(line, "", f"missing column {', '.join(missing)} ({_hint()})")

    def _row(self, record: list[str], line: int) -> InventoryRow | None:
        before = len(self.issues)
        if len(record) > len(self._columns):
            count = len(self._columns)
            self.report(line, "", f"{len(record)} values but the header has {count} columns")
            return None
        values: dict[str, str] = {}
        for index, cell in enumerate(record):
            column, value = self._columns[index], cell.strip()
            if column is None and value:
                self.report(line, "", f"value in column {index + 1}, which has no header")
            elif column is not None and value:
                values[column] = value
        self._check_required(values, line)
        self._check_values(values, line)
        if len(self.issues) != before:
            return None
        return InventoryRow(
            line=line,
            name=values["name"],
            host=values["host"],
            port=int(values["port"]),
            user=values["user"],
            sid=values.get("sid"),
            service_name=values.get("service_name"),
            description=values.get("description"),
            sandbox=values.get("sandbox"),
        )

    def _check_required(self, values: dict[str, str], line: int) -> None:
        label = _label(values)
        for column in _REQUIRED:
            if column not in values:
                self.report(line, label + column, "required: this row has no value")
        if all(column in values for column in _TARGETS):
            self.report(line, label + "service_name", "set sid or service_name, not both")
        elif not any(column in values for column in _TARGETS):
            self.report(line, label + "sid", "required: set sid or service_name")

    def _check_values(self, values: dict[str, str], line: int) -> None:
        label = _label(values)
        for column, value in values.items():
            problem = _value_problem(column, value)
            if problem is not None:
                self.report(line, label + column, problem)


def _value_problem(column: str, value: str) -> str | None:
    """Why the manifest would refuse ``value`` in ``column``, or None."""
    shown = json.dumps(value, ensure_ascii=False)
    if _CONTROL.search(value):
        return f"control characters are not allowed, got {shown}"
    if column == "host":
        problem = host_problem(value)
        return None if problem is None else problem.replace("{got}", shown)
    if column == "port" and not (
        value.isascii() and value.isdigit() and PORT_MIN <= int(value) <= PORT_MAX
    ):
        return f"expected an integer {PORT_MIN}-{PORT_MAX}, got {shown}"
    return None


def _label(values: dict[str, str]) -> str:
    """``name "hr": `` to put before a column in messages, once the row's name is known."""
    return f"name {json.dumps(values['name'], ensure_ascii=False)}: " if "name" in values else ""


def _hint() -> str:
    return f"columns: {', '.join(INVENTORY_COLUMNS)}"
