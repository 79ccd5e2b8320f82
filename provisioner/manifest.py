"""YAML manifest -> frozen Manifest / DatabaseSpec, validated with file/line locations.

No network and no asyncio here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from provisioner.secrets import Secret

__all__ = ["DatabaseSpec", "Manifest"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DatabaseSpec:
    """One database to onboard, after defaults, ``${VAR}`` and ``{field}`` templates are applied."""

    name: str
    host: str
    port: int
    user: str
    password: Secret
    sid: str | None = None
    service_name: str | None = None
    description: str | None = None
    sandbox: str | None = None  # the entry's own sandbox; None -> manifest's, then AEP_SANDBOX
    line: int | None = None  # where the entry starts in the manifest (for messages)


@dataclass(frozen=True, slots=True, kw_only=True)
class Manifest:
    path: Path
    version: int
    sandbox: str | None
    databases: tuple[DatabaseSpec, ...]
