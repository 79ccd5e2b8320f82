"""The manifests the benchmark runs on, generated into the work folder."""

from __future__ import annotations

from pathlib import Path
from typing import Final

__all__ = ["MANIFEST_ENV", "write_apply_manifest", "write_validate_manifest"]

#: Values for the ``${VAR}`` references of the generated manifests.
MANIFEST_ENV: Final = {"ORACLE_PASSWORD": "bench-oracle-pw", "HR_PASSWORD": "bench-hr-pw"}

_HEADER: Final = [
    "version: 1",
    "sandbox: prod",
    "defaults:",
    "  port: 1521",
    "  user: aep_reader",
    "  password: ${ORACLE_PASSWORD}",
    '  description: "Oracle {name} onboarded by provisioner"',
    "databases:",
]


def write_apply_manifest(path: Path, entries: int, *, prefix: str = "bench") -> Path:
    """``entries`` databases in one sandbox: defaults, a ``${VAR}`` password, a ``{name}``
    description, a mix of ``sid``/``service_name`` and some port overrides. Both the tool
    and ``bench/handrolled.py`` read it to the same request bodies."""
    lines = list(_HEADER)
    for i in range(entries):
        lines.append(f"  - name: {prefix}-{i:06d}")
        lines.append(f"    host: db{i}.bench.example.com")
        lines.append(f"    sid: SID{i % 997}" if i % 2 else f"    service_name: svc{i}.example.com")
        if i % 5 == 0:
            lines.append(f"    port: {1522 + i % 100}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_validate_manifest(path: Path, entries: int) -> Path:
    """Every feature on the validation path: defaults, ``${VAR}`` (two variables), templates,
    both targets, port overrides, per-entry users and a second sandbox."""
    lines = [line.replace("{name}", "{name} on {host}") for line in _HEADER]
    for i in range(entries):
        lines.append(f"  - name: db-{i:06d}")
        if i % 3:
            lines.append(f"    host: db{i}.example.com")
        else:
            lines.append(f"    host: 10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}")
        lines.append(f"    sid: SID{i}" if i % 2 else f"    service_name: svc{i}.example.com")
        if i % 5 == 0:
            lines.append(f"    port: {1522 + i % 100}")
        if i % 7 == 0:
            lines += [f"    user: u{i}", "    password: ${HR_PASSWORD}", "    sandbox: hr-dev"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
