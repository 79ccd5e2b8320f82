"""Metrics end to end (issue 16): ``apply`` as a real process against the emulator, writing a
node_exporter textfile and pushing to a real Pushgateway; a run with a failed entry, a clean
run, a failed one again; a dead Pushgateway; an unusable --metrics-file."""

from __future__ import annotations

import json
import signal
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from provisioner.cli._main import main
from provisioner.emulator._faults import FaultPlan
from provisioner.emulator._server import RunningEmulator, running_emulator
from tests.cliproc import CLI_ORG_ID, Finished, cli_env, run_cli, start_cli
from tests.emulator_caller import EmulatorCaller, oracle_body
from tests.helpers import write_manifest
from tests.services.pushgateway import Gauges, free_port, manifest_gauges, scraped_text

PASSWORD_CANARY = "CANARY-db-password-91c3"
SECRET_CANARY = "CANARY-client-secret-4d7e"
SUCCESS = "provisioner_last_success_timestamp_seconds"


def _one(gauges: Gauges, name: str, manifest: str) -> float:
    return gauges[name, frozenset({("manifest", manifest)})]


def _entries(gauges: Gauges) -> dict[str, float]:
    return {
        dict(labels)["status"]: value
        for (name, labels), value in gauges.items()
        if name == "provisioner_entries" and dict(labels)["sandbox"] == "prod"
    }


class Nightly:
    """One manifest run again and again with both sinks, like a cron job."""

    def __init__(self, tmp_path: Path, emu: RunningEmulator, pushgateway: str) -> None:
        self.stem = f"nightly-{free_port()}"  # its own group in the session's Pushgateway
        self.manifest = write_manifest(tmp_path / f"{self.stem}.yaml", ["hr", "sales"])
        self.textfile = tmp_path / "textfile" / "provisioner.prom"
        self.tmp_path, self.pushgateway, self.runs = tmp_path, pushgateway, 0
        self.env = cli_env(emu, DB_PASSWORD=PASSWORD_CANARY, AEP_CLIENT_SECRET=SECRET_CANARY)

    async def apply(self) -> tuple[Finished, dict[str, Any]]:
        self.runs += 1
        report = self.tmp_path / f"report-{self.runs}.json"
        done = await run_cli(
            "apply", str(self.manifest), "--no-progress", "--log-format", "json",
            "--state", str(self.tmp_path / "state.db"), "--report", str(report),
            "--metrics-file", str(self.textfile), "--pushgateway", self.pushgateway,
            env=self.env,
        )  # fmt: skip
        return done, json.loads(report.read_text(encoding="utf-8"))

    def sinks(self) -> tuple[Gauges, Gauges]:
        textfile = self.textfile.read_text(encoding="utf-8")
        pushed = scraped_text(self.pushgateway)
        for blob in (textfile, pushed):
            assert PASSWORD_CANARY not in blob
            assert SECRET_CANARY not in blob
        return manifest_gauges(textfile, self.stem), manifest_gauges(pushed, self.stem)

    def check(self, done: Finished, report: dict[str, Any]) -> Gauges:
        """Both sinks hold the same gauges, the report's counts and the run's exit code."""
        textfile, pushed = self.sinks()
        assert textfile == pushed
        not_outcomes = ("total", "not_selected", "removed_duplicates")
        counts = {k: v for k, v in report["summary"].items() if k not in not_outcomes}
        assert {k: v for k, v in _entries(textfile).items() if k in counts} == counts
        assert _one(textfile, "provisioner_run_exit_code", self.stem) == done.code
        finished = datetime.fromisoformat(report["finished_at"]).timestamp()
        assert _one(textfile, "provisioner_last_run_timestamp_seconds", self.stem) == finished
        labels = {k for _, pairs in textfile for k, _ in pairs}
        assert labels == {"manifest", "sandbox", "status", "code"}
        return textfile


async def test_failed_then_clean_then_failed_runs_in_the_textfile_and_the_pushgateway(
    tmp_path: Path, pushgateway: str
) -> None:
    async with running_emulator(FaultPlan()) as emu, aiohttp.ClientSession() as session:
        # Someone else made "hr" twice: the tool refuses to pick one (the entry fails).
        other = EmulatorCaller(
            session=session, base_url=emu.base_url, client_id="someone-else", org=CLI_ORG_ID
        )
        token = await other.access_token()
        made = [await other.create(oracle_body("hr"), token=token) for _ in range(2)]
        nightly = Nightly(tmp_path, emu, pushgateway)

        done, report = await nightly.apply()
        assert done.code == 1, done.stderr[-2000:]
        first = nightly.check(done, report)
        assert _entries(first)["failed"] == 1
        assert _entries(first)["created"] == 1
        assert _one(first, SUCCESS, nightly.stem) == 0  # no success yet

        await other.flow("DELETE", f"/connections/{made[1].field('id')}", token=token)
        done, report = await nightly.apply()
        assert done.code == 0, done.stderr[-2000:]
        clean = nightly.check(done, report)
        assert _entries(clean)["existing"] == 2
        finished = datetime.fromisoformat(report["finished_at"]).timestamp()
        assert _one(clean, SUCCESS, nightly.stem) == finished  # the success time moved

        await other.create(oracle_body("hr"), token=token)
        done, report = await nightly.apply()
        assert done.code == 1, done.stderr[-2000:]
        again = nightly.check(done, report)
        assert _entries(again)["failed"] == 1
        assert _one(again, SUCCESS, nightly.stem) == finished  # kept from the clean run
    assert (tmp_path / "textfile").is_dir()
    assert sorted(p.name for p in (tmp_path / "textfile").iterdir()) == ["provisioner.prom"]


async def test_a_dead_pushgateway_leaves_the_exit_code_and_the_textfile_alone(
    tmp_path: Path,
) -> None:
    manifest = write_manifest(tmp_path / "dead-gw.yaml", ["hr", "sales"])
    prom = tmp_path / "provisioner.prom"
    dead = f"http://127.0.0.1:{free_port()}"
    async with running_emulator(FaultPlan()) as emu:
        env = cli_env(emu, PROVISIONER_PUSHGATEWAY=dead)  # the variable, this time
        done = await run_cli(
            "apply", str(manifest), "--no-progress", "--log-format", "json",
            "--state", str(tmp_path / "state.db"), "--report", str(tmp_path / "r.json"),
            "--metrics-file", str(prom), env=env,
        )  # fmt: skip
    assert done.code == 0, done.stderr[-2000:]
    events = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    failed = [e for e in events if e["event"] == "metrics_push_failed"]
    assert len(failed) == 1
    assert failed[0]["level"] == "warning"
    assert failed[0]["pushgateway"] == dead
    gauges = manifest_gauges(prom.read_text(encoding="utf-8"), "dead-gw")
    assert _one(gauges, "provisioner_run_exit_code", "dead-gw") == 0
    assert _entries(gauges)["created"] == 2


async def test_an_unusable_metrics_file_or_pushgateway_is_refused_before_anything_is_sent(
    tmp_path: Path,
) -> None:
    manifest = write_manifest(tmp_path / "refused.yaml", ["hr"])
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    base = ("apply", str(manifest), "--no-progress", "--state", str(tmp_path / "state.db"))
    async with running_emulator(FaultPlan()) as emu:
        env = cli_env(emu)
        bad_path = await run_cli(
            *base, "--metrics-file", str(tmp_path / "a-file" / "provisioner.prom"), env=env
        )
        is_dir = await run_cli(*base, "--metrics-file", str(tmp_path), env=env)
        bad_url = await run_cli(*base, "--pushgateway", "pushgateway:9091", env=env)
        plans = tmp_path / "plan.prom"
        plan_gauges = (
            "# TYPE provisioner_plan_run_exit_code gauge\nprovisioner_plan_run_exit_code 0\n"
        )
        plans.write_text(plan_gauges, encoding="utf-8")
        over_plans = await run_cli(*base, "--metrics-file", str(plans), env=env)
        assert emu.stats.total == 0  # nothing was sent, not even a token request
    assert over_plans.code == 2
    assert "plan.prom: holds provisioner_plan_run_exit_code, a plan gauge" in over_plans.stderr
    assert plans.read_text(encoding="utf-8") == plan_gauges  # plan's file is left as it was
    assert bad_path.code == 2
    assert "cannot write the metrics there" in bad_path.stderr
    assert is_dir.code == 2
    assert "--metrics-file takes a file path" in is_dir.stderr
    assert bad_url.code == 2
    assert "--pushgateway: expected an http(s) URL" in bad_url.stderr
    assert "Traceback" not in bad_path.stderr + is_dir.stderr + bad_url.stderr + over_plans.stderr


def test_apply_then_rollback_in_process_with_both_sinks(
    tmp_path: Path, pushgateway: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``apply --emulator`` and ``rollback --emulator`` in this process: rollback's run is its
    own (deleted entries, 204 answers) and replaces apply's gauges in both sinks."""
    monkeypatch.setenv("DB_PASSWORD", "db-password")
    stem = f"undo-{free_port()}"
    manifest = write_manifest(tmp_path / f"{stem}.yaml", ["hr", "sales"])
    report, prom = tmp_path / "r.json", tmp_path / "undo.prom"
    sinks = ("--metrics-file", str(prom), "--pushgateway", pushgateway, "--no-progress")
    assert main(["apply", str(manifest), "--emulator", "--report", str(report), *sinks]) == 0
    applied = manifest_gauges(prom.read_text(encoding="utf-8"), stem)
    assert _entries(applied)["created"] == 2
    undo = ["rollback", str(report), "--emulator", "--yes", "--report", str(tmp_path / "u.json")]
    assert main([*undo, *sinks]) == 0
    textfile = manifest_gauges(prom.read_text(encoding="utf-8"), stem)
    assert textfile == manifest_gauges(scraped_text(pushgateway), stem)
    assert _entries(textfile)["deleted"] == 2
    assert _entries(textfile)["created"] == 0
    assert _one(textfile, "provisioner_run_exit_code", stem) == 0
    http = {
        dict(k)["code"]: v for (n, k), v in textfile.items() if n == "provisioner_http_responses"
    }
    assert http == {"204": 2}


def test_rollback_refuses_plans_textfile_and_undoes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DB_PASSWORD", "db-password")
    manifest = write_manifest(tmp_path / "kept.yaml", ["hr"])
    report = tmp_path / "r.json"
    assert (
        main(["apply", str(manifest), "--emulator", "--no-progress", "--report", str(report)]) == 0
    )
    plans = tmp_path / "plan.prom"
    plan_gauges = "# TYPE provisioner_plan_run_exit_code gauge\nprovisioner_plan_run_exit_code 0\n"
    plans.write_text(plan_gauges, encoding="utf-8")
    capsys.readouterr()
    undo = ["rollback", str(report), "--emulator", "--yes", "--metrics-file", str(plans)]
    assert main(undo) == 2
    err = capsys.readouterr().err
    assert "plan.prom: holds provisioner_plan_run_exit_code, a plan gauge" in err
    assert "give rollback's --metrics-file a file of its own" in err
    assert plans.read_text(encoding="utf-8") == plan_gauges
    # nothing was undone: the same rollback without the file deletes the connection
    undone = tmp_path / "undone.json"
    assert main([*undo[:-2], "--no-progress", "--report", str(undone)]) == 0
    assert json.loads(undone.read_text(encoding="utf-8"))["summary"]["deleted"] == 1


async def test_a_stopped_run_writes_exit_130_and_keeps_the_success_time(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path / "stopped.yaml", [f"slow-{i:02d}" for i in range(40)])
    report, prom = tmp_path / "report.json", tmp_path / "stopped.prom"
    async with running_emulator(FaultPlan(latency={"create": 150.0})) as emu:
        proc = await start_cli(
            "apply", str(manifest), "--concurrency", "4", "--rate", "1000", "--log-format",
            "json", "--report", str(report), "--metrics-file", str(prom), env=cli_env(emu),
        )  # fmt: skip
        assert proc.stderr is not None
        while line := await proc.stderr.readline():
            if b'"entry_finished"' in line:
                proc.send_signal(signal.SIGINT)  # after the first entry is done
                break
        await proc.communicate()
    assert proc.returncode == 130
    gauges = manifest_gauges(prom.read_text(encoding="utf-8"), "stopped")
    assert _one(gauges, "provisioner_run_exit_code", "stopped") == 130
    assert _one(gauges, SUCCESS, "stopped") == 0
    summary = json.loads(report.read_text(encoding="utf-8"))["summary"]
    assert _entries(gauges)["skipped"] == summary["skipped"] > 0
    assert _entries(gauges)["created"] == summary["created"] > 0


def test_a_textfile_of_another_manifest_is_replaced_with_this_ones_gauges(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One file per manifest: a file written for another manifest holds no success time of
    this one (0 is written) and is replaced."""
    monkeypatch.setenv("DB_PASSWORD", "db-password")
    prom = tmp_path / "shared.prom"
    for stem in ("first", "second"):
        manifest = write_manifest(tmp_path / f"{stem}.yaml", ["hr"])
        args = ["apply", str(manifest), "--emulator", "--no-progress", "--metrics-file", str(prom)]
        assert main([*args, "--report", str(tmp_path / f"{stem}.json")]) == 0
    text = prom.read_text(encoding="utf-8")
    assert manifest_gauges(text, "first") == {}
    assert _one(manifest_gauges(text, "second"), "provisioner_run_exit_code", "second") == 0
