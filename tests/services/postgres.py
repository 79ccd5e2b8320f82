"""A throwaway PostgreSQL server for the session: ``initdb`` into a temporary folder, a server
on a free loopback port, a role with a password and a database; stopped at the session's end.

``pg_server`` is the server; ``pg_url`` is a URL of a schema of its own per test (the tables
then start empty), through ``options=-csearch_path=...``. Without the PostgreSQL programs the
tests that need it are skipped, except when ``CI`` is set: there they fail (a state test that
silently does not run is not a pass). ``make system-deps`` installs the programs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.services.pgserver import (
    PASSWORD,
    PgServer,
    find_bin_dir,
    new_schema,
    start_server,
    stop_server,
)

__all__ = ["PASSWORD", "PgDatabase", "PgServer"]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL is needed in CI and could not start: {reason}")
    pytest.skip(f"PostgreSQL unavailable: {reason} (make system-deps installs it)")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    bin_dir = find_bin_dir()
    if bin_dir is None:
        _unavailable("no initdb in /usr/lib/postgresql/*/bin or on PATH")
        raise AssertionError("unreachable")  # pragma: no cover
    root = Path(tempfile.mkdtemp(prefix="provisioner-pg-"))
    try:
        server = start_server(bin_dir, root)
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        log = root / "server.log"
        tail = log.read_text(errors="replace")[-500:] if log.exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        _unavailable(f"{exc} {detail!r} {tail}")
        raise AssertionError("unreachable") from exc  # pragma: no cover
    try:
        yield server
    finally:
        stop_server(server, root)


@dataclass(frozen=True)
class PgDatabase:
    server: PgServer
    schema: str

    @property
    def url(self) -> str:
        return f"{self.server.url}?options=-csearch_path%3D{self.schema}"

    def dump(self) -> str:
        return self.server.dump(self.schema)


@pytest.fixture
def pg_db(pg_server: PgServer) -> PgDatabase:
    """A schema of its own for one test, owned by the tests' role."""
    return PgDatabase(server=pg_server, schema=new_schema(pg_server))


@pytest.fixture
def pg_url(pg_db: PgDatabase) -> str:
    return pg_db.url


@pytest.fixture(params=["sqlite", "postgres"])
def state_location(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """A state's place on each backend: a SQLite file, or a PostgreSQL URL (schema of its own)."""
    if request.param == "sqlite":
        return tmp_path / ".provisioner" / "state.db"
    url: str = request.getfixturevalue("pg_url")
    return url
