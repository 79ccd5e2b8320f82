"""A listing that lags behind writes (``--list-lag S``), on the emulator's injectable clock.

A connection appears in ``GET /connections`` listings only S seconds after its create; a read
by id sees it at once. A deleted connection is gone at once for reads by id, but listings show
it for S more seconds. Nothing here touches aiohttp: the store and the clock are injected.
"""

from __future__ import annotations

from collections.abc import Callable

from provisioner.emulator._store import Store

__all__ = ["ListingLag"]


class ListingLag:
    """What listings do not show yet (new ids) and still show (deleted ids), until when."""

    def __init__(self, *, lag: float, store: Store, clock: Callable[[], float]) -> None:
        self._lag = lag
        self._store = store
        self._clock = clock
        self._unlisted: dict[str, float] = {}  # id -> when listings start to show it
        self._ghosts: dict[str, tuple[str, str, float]] = {}  # id -> (org, sandbox, until)

    @property
    def lag(self) -> float:
        """Seconds a listing is behind."""
        return self._lag

    def created(self, connection_id: str) -> None:
        """A create committed now: listings show it ``lag`` seconds later."""
        if self._lag > 0:
            self._unlisted[connection_id] = self._clock() + self._lag

    def delete(self, org: str, sandbox: str, connection_id: str) -> None:
        """Delete now for reads by id; the row stays in listings ``lag`` seconds longer."""
        self._unlisted.pop(connection_id, None)
        if self._lag > 0:
            self._ghosts[connection_id] = (org, sandbox, self._clock() + self._lag)
            return
        self._store.delete(org, sandbox, connection_id)

    def is_gone(self, connection_id: str) -> bool:
        """Deleted (reads by id answer 404), though listings may still show it."""
        self.settle()
        return connection_id in self._ghosts

    def unlisted(self) -> tuple[str, ...]:
        """Ids created less than ``lag`` seconds ago (listings leave them out)."""
        self.settle()
        return tuple(self._unlisted)

    def settle(self) -> None:
        """Forget what has caught up: new ids become listed, deleted rows leave the store."""
        now = self._clock()
        self._unlisted = {cid: at for cid, at in self._unlisted.items() if at > now}
        for cid, (org, sandbox, until) in list(self._ghosts.items()):
            if until <= now:
                self._store.delete(org, sandbox, cid)
                del self._ghosts[cid]

    def flush(self) -> None:
        """Catch up at once (at shutdown: a deleted row must not outlive the server)."""
        for cid, (org, sandbox, _) in self._ghosts.items():
            self._store.delete(org, sandbox, cid)
        self._ghosts.clear()
        self._unlisted.clear()
