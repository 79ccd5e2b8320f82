"""What already exists: one listing per sandbox of its Oracle connections, matched by exact name.

The server's ``property=name==…`` filter treats a comma as OR and cannot be trusted with odd
names, so the listing filters on the connection spec only and names are matched here, exactly.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from provisioner.aep import Connection, FlowClient
from provisioner.engine._domain import EntryKey
from provisioner.errors import EntryError
from provisioner.settings import ORACLE_SPEC_ID

__all__ = ["Inventory", "duplicated_names", "list_inventory", "lookup_name"]

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


# Names ORed in one filter: a page's worth (so the lookups cost no more requests than a listing
# pass of the run's own connections), and the URL stays a few KB.
_NAMES_PER_LOOKUP: Final = 100
_CHARS_PER_LOOKUP: Final = 3000


def _batches(names: list[str]) -> list[list[str]]:
    batches: list[list[str]] = [[]]
    size = 0
    for name in names:
        if batches[-1] and (
            len(batches[-1]) >= _NAMES_PER_LOOKUP or size + len(name) > _CHARS_PER_LOOKUP
        ):
            batches.append([])
            size = 0
        batches[-1].append(name)
        size += len(name) + 1
    return batches


async def duplicated_names(
    client: FlowClient, *, sandbox: str, names: Iterable[str], slots: asyncio.Semaphore
) -> dict[str, tuple[Connection, ...]]:
    """The names that have several connections, with them. Names safe in a filter are ORed a
    page's worth at a time (``name==a,b,c``) and counted (``count=true``: no items), the
    counts side by side; only a batch whose count is not one per name is listed. If any name
    is unsafe in a filter, one listing pass of the sandbox instead.

    A count cannot tell a doubled name from a name the listing does not show yet in the same
    batch (they cancel out): while a listing lags, such a duplicate waits for the next run."""
    wanted = sorted(set(names))
    if not all(_PLAIN_NAME.fullmatch(name) for name in wanted):
        found = await client.list_connections(sandbox=sandbox, filters=[SPEC_FILTER])
        return _several(_index(found), wanted)
    several: dict[str, tuple[Connection, ...]] = {}
    failures: list[EntryError] = []

    async def one(batch: list[str]) -> None:
        filters = [SPEC_FILTER, "name==" + ",".join(batch)]
        try:
            async with slots:
                if await client.count_connections(sandbox=sandbox, filters=filters) == len(batch):
                    return
                found = await client.list_connections(sandbox=sandbox, filters=filters)
        except EntryError as exc:  # the first is raised below, not as an exception group
            failures.append(exc)
            return
        several.update(_several(_index(found), batch))

    async with asyncio.TaskGroup() as tg:
        for batch in _batches(wanted) if wanted else []:
            tg.create_task(one(batch))
    if failures:
        raise failures[0]
    return several


def _several(
    index: Mapping[str, tuple[Connection, ...]], names: Iterable[str]
) -> dict[str, tuple[Connection, ...]]:
    return {name: index[name] for name in names if len({c.id for c in index.get(name, ())}) > 1}
