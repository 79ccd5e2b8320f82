"""``provisioner state copy FROM TO``: a whole state (every target's rows and the fingerprint
key) from one backend to the other, so a team leaving a single host keeps its fingerprints."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from provisioner.engine._state import open_state_at
from provisioner.engine._statebase import describe_url, is_postgres_url
from provisioner.errors import ConfigError

__all__ = ["CopySummary", "copy_state", "describe_state"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CopySummary:
    entries: int
    intents: int
    source: str
    destination: str


def describe_state(location: str) -> str:
    """What a message may show of a state's place (never a URL's password): a PostgreSQL URL
    without its password, any other URL by its scheme alone, a path as it is."""
    if is_postgres_url(location):
        return f"postgresql://{describe_url(location)}"
    if "://" in location:
        return f"{location.split('://', 1)[0]}://…"
    return location


def _check_backend(location: str) -> None:
    """A URL that is not PostgreSQL's is refused (never taken for a file path)."""
    if "://" in location and not is_postgres_url(location):
        raise ConfigError(
            f"state copy: {describe_state(location)} is not a state backend;"
            " use a SQLite path or a postgresql:// URL"
        )


def copy_state(source: str, destination: str) -> CopySummary:
    """Copy every row of ``source`` into ``destination`` (rows of the same target and name are
    replaced; others are kept). The destination takes the source's fingerprint key, so it must
    hold no fingerprint made under another key."""
    _check_backend(source)
    _check_backend(destination)
    shown_from, shown_to = describe_state(source), describe_state(destination)
    if shown_from == shown_to:
        raise ConfigError(f"state copy: {shown_from} is both the source and the destination")
    if not is_postgres_url(source) and not Path(source).is_file():
        raise ConfigError(f"state copy: {shown_from}: no state database there")
    with open_state_at(source) as src:
        dump = src.dump()
    with open_state_at(destination) as dst:
        key, used = dst.stored_key()
        if key != dump.key and used:
            raise ConfigError(
                f"state copy: {shown_to} already holds fingerprints under a key of its own;"
                " copy into an empty state (nothing was changed)"
            )
        dst.load(dump)
    return CopySummary(
        entries=len(dump.entries),
        intents=len(dump.intents),
        source=shown_from,
        destination=shown_to,
    )
