"""Oracle connection strings: build one from a spec's values (the emulator parses them back).

Grammar: ADO.NET connection strings (pairs ``Key=Value`` separated by ``;``). A value that
holds ``;``, ``=``, a quote, a control character, or leading/trailing white space, or that is
empty, is wrapped in double quotes (single quotes when it holds a double quote and no single
one); the enclosing quote is doubled inside. Keywords are case-insensitive when parsed.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = [
    "oracle_connection_string",
    "quote_value",
]

# a character that must be quoted wherever it stands
_MUST_QUOTE: Final = re.compile(r"[;='\"\x00-\x1f\x7f]")


def quote_value(value: str) -> str:
    """The value as it must stand after ``Key=`` so that it parses back unchanged: as it
    is, unless it is empty, has white space at either end or a character that must be
    quoted."""
    if value and not (value[0].isspace() or value[-1].isspace() or _MUST_QUOTE.search(value)):
        return value
    if '"' in value and "'" not in value:
        return f"'{value}'"
    return '"' + value.replace('"', '""') + '"'


def oracle_connection_string(
    *,
    host: str,
    port: int,
    user: str,
    password: str,
    sid: str | None = None,
    service_name: str | None = None,
) -> str:
    """``Host=…;Port=…;Sid=…;User Id=…;Password=…`` (``ServiceName=`` in place of ``Sid=``).
    The port is an integer: its digits never need quotes."""
    if (sid is None) == (service_name is None):
        raise ValueError("exactly one of sid and service_name is needed")
    target = (
        f"Sid={quote_value(sid)}"
        if sid is not None
        else f"ServiceName={quote_value(service_name or '')}"
    )
    return (
        f"Host={quote_value(host)};Port={port};{target};"
        f"User Id={quote_value(user)};Password={quote_value(password)}"
    )
