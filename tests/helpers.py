"""Small builders shared by tests."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from provisioner.aep import JsonBody
from provisioner.manifest._load import DatabaseSpec, Manifest
from provisioner.secrets import Secret
from tests.emulator_caller import Reply


def spec(name: str, *, password: str = "pw", **fields: object) -> DatabaseSpec:
    values: dict[str, object] = {
        "host": f"{name.replace(' ', '-').encode('ascii', 'ignore').decode() or 'h'}.example.com",
        "port": 1521,
        "user": "reader",
        "sid": "ORCL",
        "description": f"db {name}",
    }
    values.update(fields)
    return DatabaseSpec(name=name, password=Secret(password), **values)  # type: ignore[arg-type]


def sent_name(body: Mapping[str, object] | JsonBody) -> str:
    """The entry name in a create's body, whether given as a mapping or encoded beforehand."""
    data = json.loads(body.data) if isinstance(body, JsonBody) else body
    return str(data["name"])


def manifest(tmp_path: Path, specs: list[DatabaseSpec], *, sandbox: str = "prod") -> Manifest:
    return Manifest(
        path=tmp_path / "manifest.yaml", version=1, sandbox=sandbox, databases=tuple(specs)
    )


def many(count: int, prefix: str = "db") -> list[DatabaseSpec]:
    return [spec(f"{prefix}-{i:04d}") for i in range(count)]


def write_manifest(path: Path, names: list[str], *, sandbox: str = "prod") -> Path:
    """A manifest file with one entry per name; the password comes from ${DB_PASSWORD}."""
    lines = [
        "version: 1",
        f"sandbox: {sandbox}",
        "defaults:",
        "  port: 1521",
        "  user: reader",
        "  password: ${DB_PASSWORD}",
        '  description: "db {name}"',
        "databases:",
    ]
    for i, name in enumerate(names):
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        lines += [f'  - name: "{quoted}"', f"    host: host{i}.example.com", f"    sid: S{i}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def js(reply: Reply) -> Any:
    """The JSON body, untyped (tests index into it freely)."""
    return reply.body


class FakeClock:
    """A monotonic clock that only moves when ``sleep`` is awaited."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
