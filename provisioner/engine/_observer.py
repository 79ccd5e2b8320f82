"""Watching a run: the RunObserver seam a run reports to, and an observer that watches nothing."""

from __future__ import annotations

from typing import Protocol

from provisioner.reports import Result

__all__ = ["NullObserver", "RunObserver"]


class RunObserver(Protocol):
    """What a run tells whoever watches it. Calls come from the event loop's thread."""

    def start(self, total: int) -> None:
        """The run begins with ``total`` entries to act on."""

    def entry_finished(self, result: Result) -> None:
        """One entry ended (any outcome)."""

    def rate_changed(self, rate: float) -> None:
        """The request rate now allowed, in requests per second."""

    def close(self) -> None:
        """The run is over; release the display. Safe to call more than once."""


class NullObserver:
    """Watches nothing: for non-TTY streams and ``--no-progress``."""

    def start(self, total: int) -> None:
        pass

    def entry_finished(self, result: Result) -> None:
        pass

    def rate_changed(self, rate: float) -> None:
        pass

    def close(self) -> None:
        pass
