"""A canary secret never leaks (issue 3): not in logs, reports, the state database, error
messages or repr, across a whole ``apply`` with failures, run as a real process."""

from __future__ import annotations

from pathlib import Path

import pytest

from provisioner.emulator._faults import FaultPlan
from provisioner.emulator._server import running_emulator
from provisioner.manifest._load import load_manifest
from tests.cliproc import cli_env, run_cli

ENV_CANARY = "CANARY-env-7f3a9c1e"
FILE_CANARY = "CANARY-file-2b8d4e6f"
CLIENT_CANARY = "CANARY-client-secret-5a1c"


def _manifest(tmp_path: Path) -> Path:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "hr.pw").write_text(FILE_CANARY + "\n", encoding="utf-8")
    lines = [
        "version: 1",
        "defaults:",
        "  port: 1521",
        "  user: reader",
        "  password: ${CANARY_PASSWORD}",
        "databases:",
    ]
    for i in range(40):
        lines += [f"  - name: env-{i:02d}", f"    host: h{i}.example.com", f"    sid: S{i}"]
    for i in range(40):
        lines += [
            f"  - name: file-{i:02d}",
            f"    host: f{i}.example.com",
            "    service_name: svc.example.com",
            "    password: ${file:secrets/hr.pw}",
        ]
    path = tmp_path / "canary.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _all_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def _leaks(blob: bytes) -> list[str]:
    return [c for c in (ENV_CANARY, FILE_CANARY, CLIENT_CANARY) if c.encode() in blob]


@pytest.mark.slow
async def test_canary_secrets_appear_nowhere_after_an_apply_with_failures(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path)
    work = tmp_path / "run"
    plan = FaultPlan(error_rate=0.3, reset_rate=0.05, seed=5)
    async with running_emulator(plan) as emu:
        env = cli_env(emu, CANARY_PASSWORD=ENV_CANARY, AEP_CLIENT_SECRET=CLIENT_CANARY)
        done = await run_cli(
            "apply", str(manifest), "--max-attempts", "1", "--rate", "10000",
            "--log-format", "json", "--log-level", "debug",
            "--state", str(work / "state.db"), "--report", str(work / "report.json"),
            env=env,
        )  # fmt: skip
        shown = await run_cli("report", str(work / "report.json"), "--format", "csv", env=env)
    assert done.code == 1, done.stderr[-3000:]  # some entries failed, as intended
    assert '"status": "failed"' in (work / "report.json").read_text()
    assert _leaks(done.stdout.encode() + done.stderr.encode() + shown.stdout.encode()) == []
    assert _leaks(_all_bytes(work)) == []  # report, state.db and its WAL/lock files


def test_loaded_manifest_repr_and_errors_hold_no_secret(
    tmp_path: Path, monkeypatch: object
) -> None:
    manifest = load_manifest(_manifest(tmp_path), env={"CANARY_PASSWORD": ENV_CANARY})
    text = repr(manifest) + str(manifest) + "".join(f"{d}" for d in manifest.databases)
    assert _leaks(text.encode()) == []
    assert manifest.databases[0].password.reveal() == ENV_CANARY
    assert manifest.databases[-1].password.reveal() == FILE_CANARY
