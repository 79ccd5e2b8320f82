"""A throwaway PostgreSQL server: ``initdb`` into a temporary folder, a server on a free loopback
port, a role with a password and a database. Used by the tests' fixtures (``postgres.py``) and
by the bench; imports nothing of provisioner or pytest.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Final

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

    def _as_superuser(self, program: str) -> list[str]:
        """A client program of the server's, as the superuser over the local socket."""
        return [
            *self.run_as,
            str(self.bin_dir / program),
            *("-h", str(self.socket_dir), "-p", str(self.port), "-U", "postgres"),
        ]

    def admin(self, sql: str, *, database: str = "postgres") -> str:
        """Run SQL as the superuser over the local socket; its output."""
        done = subprocess.run(
            [
                *self._as_superuser("psql"),
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
                *self._as_superuser("pg_dump"),
                *extra,
                DATABASE,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout


def find_bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(bin_dir: Path, root: Path) -> PgServer:
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
    port = free_port()
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


def stop_server(server: PgServer, root: Path) -> None:
    """Stop the server at once and remove its folder."""
    subprocess.run(
        [
            *server.run_as,
            str(server.bin_dir / "pg_ctl"),
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


def new_schema(server: PgServer) -> str:
    """A URL of a fresh schema owned by the role (its tables start empty)."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    server.admin(f"CREATE SCHEMA {schema} AUTHORIZATION {ROLE}", database=DATABASE)
    return schema
