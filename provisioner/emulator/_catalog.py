"""The made-up tables and columns the emulator shows for a database, a fixed function of its host.

Pure (no aiohttp, no randomness): the same host always shows the same tables, in the same
order, with the same columns, across emulator restarts and machines. The seed is the first 8
bytes of sha256 of the lower-cased host.

- How many tables: 8 to 47 for most hosts; one host in 16 (by its seed), and every host with a
  ``large`` label (``db1.large.example.com``), shows 1,000 to 4,999: the "thousands of tables"
  case.
- Names: ``SCHEMA.TABLE``; every 7th table (counted from a seed-dependent offset) takes an odd
  name with spaces, quotes, commas, dots, apostrophes, non-ASCII letters, or a leading
  ``=``/``+``/``-``/``@`` (what a spreadsheet would read as a formula). A table's ``path`` is its
  name, as Platform shows for database sources.
- Columns: 2 to 12 per table, an ``ID`` first, Platform-style types with their XDM type.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

__all__ = ["Column", "Table", "columns", "table_count", "tables"]

_SCHEMAS: Final = ("APP", "HR", "FIN", "SALES", "Ops Data", "ÉTÉ")
_WORDS: Final = (
    "ORDERS",
    "CUSTOMERS",
    "INVOICES",
    "LEDGER",
    "EMPLOYEES",
    "PAYROLL",
    "SHIPMENTS",
    "PRODUCTS",
    "AUDIT_LOG",
    "ACCOUNTS",
    "REGIONS",
    "BUDGETS",
)
_ODD: Final = (
    "Order Lines",
    'Say "Hi"',
    "Sales, EU",
    "v1.2 archive",
    "O'Brien notes",
    "Zürich Kunden",
    "顧客",
    '=HYPERLINK("http://x")',
    "+1 plan",
    "-delta",
    "@mention",
    "tab\tand;semicolon",
)
_COLUMN_WORDS: Final = (
    "NAME",
    "AMOUNT",
    "CREATED_AT",
    "STATUS",
    "Unit Price",
    "région",
    "NOTE, FREE",
    "IS_ACTIVE",
    "BIRTH_DATE",
    "QTY",
    "CODE",
)
# (Platform's column type, its XDM type); dates are XDM strings with a format.
_TYPES: Final[tuple[tuple[str, tuple[tuple[str, str], ...]], ...]] = (
    ("string", (("type", "string"),)),
    ("long", (("type", "integer"),)),
    ("double", (("type", "number"),)),
    ("boolean", (("type", "boolean"),)),
    ("date", (("type", "string"), ("format", "date"))),
    ("timestamp", (("type", "string"), ("format", "date-time"))),
)
_ODD_EVERY: Final = 7
_LARGE_ONE_IN: Final = 16


@dataclass(frozen=True, slots=True, kw_only=True)
class Table:
    """One table as ``objectType=root`` lists it."""

    name: str
    path: str

    def item(self) -> dict[str, object]:
        """The explore item Platform answers for it."""
        return {
            "type": "table",
            "name": self.name,
            "path": self.path,
            "canPreview": True,
            "canFetchSchema": True,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Column:
    """One column of a table's flat schema."""

    name: str
    type: str
    xdm: tuple[tuple[str, str], ...]

    def item(self) -> dict[str, object]:
        """The column as ``objectType=table`` answers it."""
        return {"name": self.name, "type": self.type, "xdm": dict(self.xdm)}


def _seed(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def _host_key(host: str) -> str:
    return host.strip().lower()


def table_count(host: str) -> int:
    """How many tables the database at ``host`` shows."""
    key = _host_key(host)
    seed = _seed(key)
    if "large" in key.split(".") or seed % _LARGE_ONE_IN == 0:
        return 1000 + seed % 4000
    return 8 + seed % 40


@lru_cache(maxsize=64)
def tables(host: str) -> tuple[Table, ...]:
    """Every table of the database at ``host``, in the order explore lists them."""
    key = _host_key(host)
    seed = _seed(key)
    found = []
    for i in range(table_count(key)):
        schema = _SCHEMAS[(seed + i // 50) % len(_SCHEMAS)]
        if (seed + i) % _ODD_EVERY == 0:
            base = _ODD[(seed // _ODD_EVERY + i // _ODD_EVERY) % len(_ODD)]
        else:
            base = _WORDS[(seed + i * 31) % len(_WORDS)]
        name = f"{schema}.{base}_{i}"
        found.append(Table(name=name, path=name))
    return tuple(found)


@lru_cache(maxsize=64)
def _paths(host: str) -> frozenset[str]:
    return frozenset(t.path for t in tables(host))


def columns(host: str, path: str) -> tuple[Column, ...] | None:
    """The columns of the table at ``path``; None when the database has no such table."""
    key = _host_key(host)
    if path not in _paths(key):
        return None
    seed = _seed(f"{key}\n{path}")
    found = [Column(name="ID", type="long", xdm=(("type", "integer"),))]
    for i in range(1 + seed % 11):
        word = _COLUMN_WORDS[(seed + i) % len(_COLUMN_WORDS)]
        kind, xdm = _TYPES[(seed // 11 + i * 5) % len(_TYPES)]
        found.append(Column(name=f"{word}_{i}", type=kind, xdm=xdm))
    return tuple(found)
