"""A throwaway PostgreSQL server for the session: ``initdb`` into a temporary folder, a server
on a free loopback port, a role with a password and a database; stopped at the session's end.

``pg_server`` is the server; ``pg_url`` is a URL of a schema of its own per test (the tables
then start empty), through ``options=-csearch_path=...``. Without the PostgreSQL programs the
tests that need it are skipped, except when ``CI`` is set: there they fail (a state test that
silently does not run is not a pass). ``make system-deps`` installs the programs.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

ROLE: Final = "provisioner"
DATABASE: Final = "provisioner"
PASSWORD: Final = "pg-test-pw-3e9b1c"  # the tests' role; canaries are other values


@dataclass(frozen=True)
class PgServer:
    bin_dir: Path
    host: str
    port: int
    socket_dir: Path
    run_as: list[str]  # prefix that runs a program as the server's owner

    @property
    def url(self) -> str:
        return f"postgresql://{ROLE}:{PASSWORD}@{self.host}:{self.port}/{DATABASE}"

    def admin(self, sql: str, *, database: str = "postgres") -> str:
        """Run SQL as the superuser over the local socket; its output."""
        done = subprocess.run(
            [
                *self.run_as,
                str(self.bin_dir / "psql"),
                "-h",
                str(self.socket_dir),
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-qAtc",
                sql,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout

    def dump(self, schema: str | None = None) -> str:
        """``pg_dump`` of the tests' database (one schema of it if given), as text."""
        extra = ["-n", schema] if schema else []
        done = subprocess.run(
            [
                *self.run_as,
                str(self.bin_dir / "pg_dump"),
                "-h",
                str(self.socket_dir),
                "-p",
                str(self.port),
                "-U",
                "postgres",
                *extra,
                DATABASE,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL is needed in CI and could not start: {reason}")
    pytest.skip(f"PostgreSQL unavailable: {reason} (make system-deps installs it)")


def _start(bin_dir: Path, root: Path) -> PgServer:
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: the server runs as the postgres user
        run_as = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, "postgres", "postgres")
    data, sockets = root / "data", root / "sockets"
    subprocess.run([*run_as, "mkdir", str(data), str(sockets)], check=True)
    subprocess.run(
        [
            *run_as,
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
    )
    port = _free_port()
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [
            *run_as,
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(root / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    server = PgServer(
        bin_dir=bin_dir, host="127.0.0.1", port=port, socket_dir=sockets, run_as=run_as
    )
    server.admin(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD}'")
    server.admin(f"CREATE DATABASE {DATABASE} OWNER {ROLE}")
    return server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    bin_dir = _bin_dir()
    if bin_dir is None:
        _unavailable("no initdb in /usr/lib/postgresql/*/bin or on PATH")
        raise AssertionError("unreachable")  # pragma: no cover
    root = Path(tempfile.mkdtemp(prefix="provisioner-pg-"))
    try:
        server = _start(bin_dir, root)
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
        subprocess.run(
            [
                *server.run_as,
                str(bin_dir / "pg_ctl"),
                "-D",
                str(root / "data"),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


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
    schema = f"t_{uuid.uuid4().hex[:12]}"
    pg_server.admin(f"CREATE SCHEMA {schema} AUTHORIZATION {ROLE}", database=DATABASE)
    return PgDatabase(server=pg_server, schema=schema)


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
