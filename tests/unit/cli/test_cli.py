"""The command line: exit codes, messages, and whole runs through main() and real processes."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from provisioner.cli._main import main
from provisioner.emulator._faults import FaultPlan
from provisioner.emulator._server import running_emulator
from provisioner.emulator._store import Store
from provisioner.engine._state import RunLock
from provisioner.reports._io import load_report
from tests.cliproc import cli_env, run_cli, start_cli
from tests.helpers import write_manifest


@pytest.fixture
def small_manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DB_PASSWORD", "pw-for-tests")
    return write_manifest(tmp_path / "dbs.yaml", ["alpha", "beta", "gamma"])


def test_validate_prints_summary_and_exits_0(small_manifest: Path, capsys) -> None:
    assert main(["validate", str(small_manifest)]) == 0
    out = capsys.readouterr().out
    assert "3" in out
    assert "prod" in out


def test_invalid_manifest_exits_2_with_location_and_no_traceback(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ndatabases:\n  - name: x\n    host: h\n    port: 99999\n")
    assert main(["apply", str(bad), "--emulator"]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml:5" in err
    assert "port" in err
    assert "Traceback" not in err
    assert not (tmp_path / ".provisioner" / "emulator.db").exists()


def test_usage_error_exits_2(capsys) -> None:
    assert main(["apply"]) == 2
    assert main(["apply", "x.yaml", "--concurrency", "0", "--emulator"]) == 2


def test_apply_without_credentials_exits_2_naming_the_variables(
    small_manifest: Path, capsys
) -> None:
    assert main(["apply", str(small_manifest)]) == 2
    err = capsys.readouterr().err
    assert "AEP_CLIENT_ID" in err
    assert "AEP_ORG_ID" in err


def test_plain_http_to_a_remote_host_is_refused(
    small_manifest: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("AEP_PLATFORM_URL", "http://platform.example.com")
    monkeypatch.setenv("AEP_CLIENT_ID", "c")
    monkeypatch.setenv("AEP_CLIENT_SECRET", "s")
    monkeypatch.setenv("AEP_ORG_ID", "o@AdobeOrg")
    assert main(["plan", str(small_manifest)]) == 2
    assert "http://" in capsys.readouterr().err


def test_apply_emulator_twice_creates_then_finds_existing(small_manifest: Path, capsys) -> None:
    report1 = small_manifest.parent / "r1.json"
    report2 = small_manifest.parent / "r2.json"
    assert main(["apply", str(small_manifest), "--emulator", "--report", str(report1)]) == 0
    assert main(["apply", str(small_manifest), "--emulator", "--report", str(report2)]) == 0
    first, second = load_report(report1), load_report(report2)
    assert first.summary.created == 3
    assert second.summary.existing == 3
    assert {r.connection_id for r in first.results} == {r.connection_id for r in second.results}
    store = Store(small_manifest.parent / ".provisioner" / "emulator.db")
    try:
        assert len(store.connections()) == 3
    finally:
        store.close()
    assert "existing" in capsys.readouterr().out


def test_plan_with_emulator_lists_creates_and_writes_nothing(small_manifest: Path, capsys) -> None:
    assert main(["plan", str(small_manifest), "--emulator", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert out.count("create") >= 3
    store = Store(small_manifest.parent / ".provisioner" / "emulator.db")
    try:
        assert store.connections() == []
    finally:
        store.close()


def test_second_apply_while_one_holds_the_lock_exits_2_naming_the_pid(
    small_manifest: Path, capsys
) -> None:
    import os

    state = small_manifest.parent / ".provisioner" / "state.db"
    with RunLock(state):
        assert main(["apply", str(small_manifest), "--emulator"]) == 2
    assert f"pid {os.getpid()}" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["text", "json", "csv", "md"])
def test_report_command_renders_each_format(small_manifest: Path, capsys, fmt: str) -> None:
    report = small_manifest.parent / "r.json"
    assert main(["apply", str(small_manifest), "--emulator", "--report", str(report)]) == 0
    capsys.readouterr()
    assert main(["report", str(report), "--format", fmt]) == 0
    out = capsys.readouterr().out
    assert "alpha" in out
    if fmt == "json":
        assert json.loads(out)["summary"]["created"] == 3


def test_schema_prints_json_schema(capsys) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert "databases" in json.dumps(schema)


async def test_sigint_finishes_in_flight_marks_rest_skipped_and_exits_130(
    tmp_path: Path,
) -> None:
    names = [f"slow-{i:02d}" for i in range(40)]
    manifest = write_manifest(tmp_path / "slow.yaml", names)
    report = tmp_path / "report.json"
    plan = FaultPlan(latency={"create": 150.0})
    async with running_emulator(plan) as emu:
        proc = await start_cli(
            "apply", str(manifest), "--concurrency", "4", "--rate", "1000",
            "--log-format", "json", "--report", str(report),
            env=cli_env(emu),
        )  # fmt: skip
        assert proc.stderr is not None
        finished = 0
        while line := await proc.stderr.readline():
            if b'"entry_finished"' in line:
                finished += 1
                if finished == 6:
                    proc.send_signal(signal.SIGINT)
                    break
        await proc.communicate()
        assert proc.returncode == 130
        result = load_report(report)
        created = {r.name: r.connection_id for r in result.results if r.status == "created"}
        assert 6 <= len(created) < 40
        assert result.summary.skipped == 40 - len(created)
        stored = {c.name: c.id for c in emu.store.connections()}
        assert stored == created  # in-flight creates finished and were recorded
        again = await run_cli("apply", str(manifest), "--rate", "1000", env=cli_env(emu))
        assert again.code == 0, again.stderr[-2000:]
        assert len(emu.store.connections()) == 40


def test_only_with_a_name_the_manifest_lacks_exits_2_and_sends_nothing(
    small_manifest: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["apply", str(small_manifest), "--emulator", "--only", "alpah"]) == 2
    assert "'alpah'" in capsys.readouterr().err
    store = Store(small_manifest.parent / ".provisioner" / "emulator.db")
    try:
        assert store.connections() == []
    finally:
        store.close()


def test_plan_shows_update_orphaned_and_ambiguous_with_totals(
    small_manifest: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["apply", str(small_manifest), "--emulator"]) == 0
    fewer = write_manifest(small_manifest, ["alpha", "beta"])  # gamma leaves the manifest
    monkeypatch.setenv("DB_PASSWORD", "rotated")  # every remaining entry drifts
    capsys.readouterr()
    assert main(["plan", str(fewer), "--emulator"]) == 0
    out = capsys.readouterr().out
    assert out.count("update ") == 2
    assert "orphaned   gamma" in out
    assert "Plan: 3 entries: 0 create, 2 update, 1 orphaned" in out


_INVALID = sorted((Path(__file__).parents[2] / "data" / "invalid").glob("*.yaml"))


@pytest.mark.parametrize("path", _INVALID, ids=[p.stem for p in _INVALID])
def test_every_malformed_manifest_exits_2_with_its_file_and_no_traceback(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:" in err
    assert "Traceback" not in err
    assert "nothing was sent" in err
