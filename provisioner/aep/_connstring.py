"""Oracle connection strings: build one from a spec's values (the emulator parses them back).

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
    "format_connection_string",
    "oracle_connection_string",
    "quote_value",
]

# a character that must be quoted wherever it stands
_MUST_QUOTE: Final = re.compile(r"[;='\"\x00-\x1f\x7f]")


def _needs_quotes(value: str) -> bool:
    """Empty, white space at either end, or a character that must be quoted."""
    return (
        not value
        or value[0].isspace()
        or value[-1].isspace()
        or _MUST_QUOTE.search(value) is not None
    )


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
