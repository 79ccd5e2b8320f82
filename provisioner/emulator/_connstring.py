"""Parsing an ADO.NET connection string back into its pairs, as the server side does.

Keywords are case-insensitive; a value may be wrapped in single or double quotes, the
enclosing quote doubled inside; unquoted values run to the next ``;`` and are trimmed.
"""

from __future__ import annotations

__all__ = ["ConnectionStringError", "parse_connection_string"]


class ConnectionStringError(ValueError):
    """A connection string that does not parse (the message never holds the string)."""


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
