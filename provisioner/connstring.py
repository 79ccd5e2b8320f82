"""Oracle connection strings: build one from a spec's values and parse one back.

Grammar: ADO.NET connection strings (pairs ``Key=Value`` separated by ``;``). A value that
holds ``;``, ``=``, a quote, a control character, or leading/trailing white space, or that is
empty, is wrapped in double quotes (single quotes when it holds a double quote and no single
one); the enclosing quote is doubled inside. Keywords are case-insensitive when parsed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

__all__ = [
    "ConnectionStringError",
    "format_connection_string",
    "oracle_connection_string",
    "parse_connection_string",
    "quote_value",
]

# leading or trailing white space (``\s`` is ``str.isspace``), or a character that must be quoted
_NEEDS_QUOTES: Final = re.compile(r"\A\s|\s\Z|[;='\"\x00-\x1f\x7f]")


class ConnectionStringError(ValueError):
    """A connection string that does not parse (the message never holds the string)."""


def _needs_quotes(value: str) -> bool:
    return not value or _NEEDS_QUOTES.search(value) is not None


def quote_value(value: str) -> str:
    """The value as it must stand after ``Key=`` so that it parses back unchanged."""
    if not _needs_quotes(value):
        return value
    if '"' in value and "'" not in value:
        return f"'{value}'"
    return '"' + value.replace('"', '""') + '"'


def format_connection_string(pairs: Iterable[tuple[str, str]]) -> str:
    """``Key=Value;Key=Value`` with each value quoted as needed; no trailing ``;``."""
    return ";".join([f"{key}={quote_value(value)}" for key, value in pairs])


def oracle_connection_string(
    *,
    host: str,
    port: int,
    user: str,
    password: str,
    sid: str | None = None,
    service_name: str | None = None,
) -> str:
    """``Host=…;Port=…;Sid=…;User Id=…;Password=…`` (``ServiceName=`` in place of ``Sid=``)."""
    if (sid is None) == (service_name is None):
        raise ValueError("exactly one of sid and service_name is needed")
    target = ("Sid", sid) if sid is not None else ("ServiceName", service_name or "")
    return format_connection_string(
        [("Host", host), ("Port", str(port)), target, ("User Id", user), ("Password", password)]
    )


def _read_quoted(text: str, start: int) -> tuple[str, int]:
    """Read a quoted value starting at the quote; return it and the index after it."""
    quote = text[start]
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == quote:
            if i + 1 < len(text) and text[i + 1] == quote:
                out.append(quote)
                i += 2
                continue
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise ConnectionStringError(f"unterminated quoted value at offset {start}")


def _read_value(text: str, i: int) -> tuple[str, int]:
    while i < len(text) and text[i] in " \t":
        i += 1
    if i < len(text) and text[i] in "'\"":
        value, i = _read_quoted(text, i)
        while i < len(text) and text[i] in " \t":
            i += 1
        if i < len(text) and text[i] != ";":
            raise ConnectionStringError(f"unexpected character after quoted value at offset {i}")
        return value, i
    end = text.find(";", i)
    end = len(text) if end < 0 else end
    return text[i:end].strip(" \t"), end


def parse_connection_string(text: str) -> dict[str, str]:
    """Parse ``Key=Value;…`` into a dict keyed by the lower-cased keyword."""
    pairs: dict[str, str] = {}
    i = 0
    while i < len(text):
        if text[i] in "; \t":
            i += 1
            continue
        eq = text.find("=", i)
        if eq < 0:
            raise ConnectionStringError(f"keyword without '=' at offset {i}")
        key = text[i:eq].strip().lower()
        if not key:
            raise ConnectionStringError(f"empty keyword at offset {i}")
        value, i = _read_value(text, eq + 1)
        pairs[key] = value
    return pairs
