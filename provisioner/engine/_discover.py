"""What already exists: one listing per sandbox of its Oracle connections, matched by exact name.

The server's ``property=name==…`` filter treats a comma as OR and cannot be trusted with odd
names, so the listing filters on the connection spec only and names are matched here, exactly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from provisioner.aep import Connection, FlowClient
from provisioner.engine._domain import EntryKey
from provisioner.settings import ORACLE_SPEC_ID

__all__ = ["Inventory", "list_inventory", "lookup_name"]

SPEC_FILTER = f"connectionSpec.id=={ORACLE_SPEC_ID}"
_PLAIN_NAME: Final = re.compile(r"[A-Za-z0-9_.\- ]+")  # safe inside a property filter


@dataclass(frozen=True, slots=True, kw_only=True)
class Inventory:
    """Connections of the Oracle spec by sandbox, then by exact name."""

    by_sandbox: Mapping[str, Mapping[str, tuple[Connection, ...]]]
    pages: int

    def named(self, key: EntryKey) -> tuple[Connection, ...]:
        """The connections named exactly like the entry, in its sandbox."""
        return self.by_sandbox.get(key.sandbox, {}).get(key.name, ())


def _index(connections: Iterable[Connection]) -> dict[str, tuple[Connection, ...]]:
    index: dict[str, list[Connection]] = {}
    for conn in connections:
        index.setdefault(conn.name, []).append(conn)
    return {name: tuple(conns) for name, conns in index.items()}


async def list_inventory(client: FlowClient, sandboxes: Iterable[str]) -> Inventory:
    """One paginated listing per sandbox."""
    before = client.requests.get("list", 0)
    by_sandbox = {}
    for sandbox in sorted(set(sandboxes)):
        found = await client.list_connections(sandbox=sandbox, filters=[SPEC_FILTER])
        by_sandbox[sandbox] = _index(found)
    return Inventory(by_sandbox=by_sandbox, pages=client.requests.get("list", 0) - before)


async def lookup_name(client: FlowClient, *, sandbox: str, name: str) -> tuple[Connection, ...]:
    """Connections named exactly ``name`` (after a create whose outcome is unknown)."""
    filters = [SPEC_FILTER]
    if _PLAIN_NAME.fullmatch(name):  # else (a comma is an OR list, ...) trust only our match
        filters.append(f"name=={name}")
    found = await client.list_connections(sandbox=sandbox, filters=filters)
    return tuple(c for c in found if c.name == name)
