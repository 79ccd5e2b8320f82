"""Duplicates and lagging listings around an ``apply`` run: what its start does with names that
have several copies or whose known connection the listing does not show, and the read-back
before it ends (one more listing pass per sandbox) that converges what it touched.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence

import structlog

from provisioner.aep import Connection, FlowClient
from provisioner.engine._converge import Converged, Converger
from provisioner.engine._discover import Inventory, list_inventory
from provisioner.engine._state import StateEntry
from provisioner.reports import Outcome, Result

__all__ = ["converged_result", "read_back", "seen_by_id"]

log = structlog.get_logger(__name__)

Key = tuple[str, str]


def converged_result(result: Result, done: Converged) -> Result:
    """The entry's result once its name was converged: it points at the copy kept, lists the
    copies this run deleted, and fails when copies are left that are not to be deleted.

    A connection this run created and then deleted as the younger copy leaves the entry
    ``existing`` (an older copy was adopted)."""
    status = result.status
    if done.keep is not None and done.keep != result.connection_id and status is Outcome.CREATED:
        status = Outcome.EXISTING
    if done.error is not None:
        status = Outcome.FAILED
    return dataclasses.replace(
        result,
        status=status,
        connection_id=done.keep or result.connection_id,
        removed_duplicates=(*result.removed_duplicates, *done.removed),
        error=done.error if done.error is not None else result.error,
    )


async def seen_by_id(
    client: FlowClient, sandbox: str, known: StateEntry | None
) -> Connection | None:
    """The connection the state knows for an entry whose name the listing does not show: a
    read by id, which a lagging listing does not fool. None when there is none (or it is gone)."""
    if known is None or known.connection_id is None or not _done(known.outcome):
        return None
    found = await client.get_connection(known.connection_id, sandbox=sandbox)
    if found is not None:
        log.info("listing_lags", connection_id=found.id)
    return found


def _done(outcome: Outcome) -> bool:
    return outcome in (Outcome.CREATED, Outcome.EXISTING, Outcome.UPDATED)


async def read_back(
    client: FlowClient,
    converger: Converger,
    results: Mapping[Key, Result],
    touched: Iterable[Key],
) -> dict[Key, Result]:
    """Confirm against one listing pass per sandbox that each name this run touched has one
    connection; converge those that have more. Returns the results that changed."""
    keys = [key for key in touched if key in results and results[key].ok]
    if not keys:
        return {}
    inventory = await list_inventory(client, {sandbox for sandbox, _ in keys})
    several = _duplicated(inventory, keys)
    if not several:
        return {}
    log.info("duplicates_found", names=len(several))
    done = await converger.converge_all(several)
    return {key: converged_result(results[key], outcome) for key, outcome in done.items()}


def _duplicated(
    inventory: Inventory, keys: Sequence[Key]
) -> list[tuple[str, str, Sequence[Connection]]]:
    found: list[tuple[str, str, Sequence[Connection]]] = []
    for sandbox, name in keys:
        copies = inventory.named(sandbox, name)
        if len({c.id for c in copies}) > 1:
            found.append((sandbox, name, copies))
    return found
