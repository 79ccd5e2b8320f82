"""``plan`` as a monitored drift check: a real process against the emulator writes its own
gauges to a textfile (``promtool check metrics`` accepts it) and pushes them to a real
Pushgateway group of its own; apply's group, pushed before, is left exactly as it was."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from provisioner.cli._main import main
from provisioner.emulator._faults import FaultPlan
from provisioner.emulator._server import running_emulator
from tests.cliproc import Finished, cli_env, run_cli
from tests.helpers import write_manifest
from tests.services.programs import require_program
from tests.services.pushgateway import (
    Gauges,
    free_port,
    manifest_gauges,
    pushed_groups,
    scraped_text,
)

PASSWORD_CANARY = "CANARY-db-password-5b1e"
SECRET_CANARY = "CANARY-client-secret-8a2f"


def _planned(samples: Gauges) -> dict[tuple[str, str], float]:
    """``provisioner_plan_entries`` by (sandbox, action), zeros left out."""
    return {
        (labels["sandbox"], labels["action"]): value
        for (name, pairs), value in samples.items()
        if name == "provisioner_plan_entries" and value and (labels := dict(pairs))
    }


def _rows(stdout: str) -> Counter[tuple[str, str]]:
    """The plan's rows by (sandbox, action), read from what plan printed."""
    rows: Counter[tuple[str, str]] = Counter()
    for line in stdout.splitlines():
        words = line.split()
        if len(words) >= 3 and words[2].startswith("["):
            rows[words[2].strip("[]"), words[0]] += 1
    return rows


def _group(url: str, **labels: str) -> dict[str, Any]:
    (group,) = [g for g in pushed_groups(url) if g["labels"] == {"job": "provisioner", **labels}]
    return group


def _promtool_accepts(text: str) -> None:
    done = subprocess.run(
        [require_program("promtool"), "check", "metrics"],
        input=text, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


async def test_plan_writes_its_own_gauges_and_leaves_applys_group_alone(
    tmp_path: Path, pushgateway: str
) -> None:
    stem = f"drift-{free_port()}"  # its own groups in the session's Pushgateway
    state = str(tmp_path / "state.db")
    applied = tmp_path / "apply.prom"
    planned = tmp_path / "plan.prom"
    async with running_emulator(FaultPlan()) as emu:
        env = cli_env(emu, DB_PASSWORD=PASSWORD_CANARY, AEP_CLIENT_SECRET=SECRET_CANARY)
        write_manifest(tmp_path / f"{stem}.yaml", ["hr", "sales"])
        done = await run_cli(
            "apply", str(tmp_path / f"{stem}.yaml"), "--no-progress", "--state", state,
            "--report", str(tmp_path / "r.json"), "--metrics-file", str(applied),
            "--pushgateway", pushgateway, env=env,
        )  # fmt: skip
        assert done.code == 0, done.stderr[-2000:]
        before = _group(pushgateway, manifest=stem)
        applied_text = applied.read_text(encoding="utf-8")
        # The manifest grew: two entries exist, three would be created.
        manifest = write_manifest(tmp_path / f"{stem}.yaml", ["hr", "sales", "a", "b", "c"])
        plan = await run_cli(
            "plan", str(manifest), "--state", state, "--metrics-file", str(planned),
            "--pushgateway", pushgateway, env=env,
        )  # fmt: skip
    assert plan.code == 0, plan.stderr[-2000:]
    assert _rows(plan.stdout) == {("prod", "create"): 3, ("prod", "exists"): 2}
    text = planned.read_text(encoding="utf-8")
    _promtool_accepts(text)
    gauges = manifest_gauges(text, stem)
    assert _planned(gauges) == _rows(plan.stdout)
    assert gauges["provisioner_plan_run_exit_code", frozenset({("manifest", stem)})] == 0
    assert {name for name, _ in gauges} == {
        "provisioner_plan_last_run_timestamp_seconds",
        "provisioner_plan_run_duration_seconds",
        "provisioner_plan_run_exit_code",
        "provisioner_plan_entries",
        "provisioner_plan_http_responses",
    }
    assert {k for _, pairs in gauges for k, _ in pairs} == {"manifest", "sandbox", "action", "code"}
    pushed = manifest_gauges(scraped_text(pushgateway), stem)
    assert {k: v for k, v in pushed.items() if k[0].startswith("provisioner_plan_")} == {
        (name, pairs | {("command", "plan")}): v for (name, pairs), v in gauges.items()
    }
    assert _group(pushgateway, manifest=stem) == before  # apply's group: not touched
    assert set(_group(pushgateway, manifest=stem, command="plan")) >= {
        "provisioner_plan_entries",
        "provisioner_plan_run_exit_code",
    }
    assert applied.read_text(encoding="utf-8") == applied_text
    for blob in (text, scraped_text(pushgateway), json.dumps(pushed_groups(pushgateway))):
        assert PASSWORD_CANARY not in blob
        assert SECRET_CANARY not in blob


async def test_a_plan_that_fails_says_exit_1_in_its_gauges(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path / "failing.yaml", ["hr"])
    prom = tmp_path / "plan.prom"
    async with running_emulator(FaultPlan(error_rate=1.0)) as emu:  # every answer a 500 or 503
        done = await run_cli(
            "plan", str(manifest), "--state", str(tmp_path / "state.db"), "--max-attempts", "1",
            "--metrics-file", str(prom), env=cli_env(emu),
        )  # fmt: skip
    assert done.code == 1, done.stderr[-2000:]
    gauges = manifest_gauges(prom.read_text(encoding="utf-8"), "failing")
    assert gauges["provisioner_plan_run_exit_code", frozenset({("manifest", "failing")})] == 1
    assert _planned(gauges) == {}  # no plan was made: no row is counted
    codes = {dict(p)["code"] for n, p in gauges if n == "provisioner_plan_http_responses"}
    assert codes
    assert codes <= {"500", "503"}  # what the emulator's error_rate answers


async def test_a_dead_pushgateway_is_a_warning_and_plan_still_prints_its_rows(
    tmp_path: Path,
) -> None:
    manifest = write_manifest(tmp_path / "dead.yaml", ["hr", "sales"])
    dead = f"http://127.0.0.1:{free_port()}"
    async with running_emulator(FaultPlan()) as emu:
        done = await run_cli(
            "plan", str(manifest), "--log-format", "json", "--state", str(tmp_path / "s.db"),
            env=cli_env(emu, PROVISIONER_PUSHGATEWAY=dead),
        )  # fmt: skip
    assert done.code == 0, done.stderr[-2000:]
    assert _rows(done.stdout) == {("prod", "create"): 2}
    events = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    (failed,) = [e for e in events if e["event"] == "metrics_push_failed"]
    assert failed["level"] == "warning"
    assert failed["pushgateway"] == dead


async def test_an_empty_pushgateway_option_keeps_a_one_off_plan_off_the_variables_gateway(
    tmp_path: Path,
) -> None:
    manifest = write_manifest(tmp_path / "trial.yaml", ["hr"])
    dead = f"http://127.0.0.1:{free_port()}"  # were it tried, the push would fail loudly
    async with running_emulator(FaultPlan()) as emu:
        done = await run_cli(
            "plan", str(manifest), "--log-format", "json", "--state", str(tmp_path / "s.db"),
            "--log-level", "debug", "--pushgateway", "",
            env=cli_env(emu, PROVISIONER_PUSHGATEWAY=dead),
        )  # fmt: skip
    assert done.code == 0, done.stderr[-2000:]
    assert _rows(done.stdout) == {("prod", "create"): 1}
    assert "metrics_push" not in done.stderr


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--metrics-file", "a-file/plan.prom", "cannot write the metrics there"),
        ("--metrics-file", ".", "--metrics-file takes a file path"),
        ("--metrics-file", "apply.prom", "apply.prom: holds provisioner_"),
        ("--pushgateway", "pushgateway:9091", "--pushgateway: expected an http(s) URL"),
    ],
)
async def test_an_unusable_sink_is_refused_before_anything_is_sent(
    tmp_path: Path, option: str, value: str, message: str
) -> None:
    manifest = write_manifest(tmp_path / "refused.yaml", ["hr"])
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    apply_gauges = "# TYPE provisioner_run_exit_code gauge\nprovisioner_run_exit_code 0\n"
    (tmp_path / "apply.prom").write_text(apply_gauges, encoding="utf-8")
    target = str(tmp_path / value) if option == "--metrics-file" else value
    async with running_emulator(FaultPlan()) as emu:
        done: Finished = await run_cli(
            "plan", str(manifest), "--state", str(tmp_path / "s.db"), option, target,
            env=cli_env(emu),
        )  # fmt: skip
        assert emu.stats.total == 0  # nothing was sent, not even a token request
    assert done.code == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert (tmp_path / "apply.prom").read_text(encoding="utf-8") == apply_gauges


def test_plan_in_process_writes_its_textfile_beside_applys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``apply --emulator`` then ``plan --emulator`` in this process, each with its own file:
    plan counts the two entries apply made, and apply's file is left as it was."""
    monkeypatch.setenv("DB_PASSWORD", PASSWORD_CANARY)
    manifest = write_manifest(tmp_path / "inproc.yaml", ["hr", "sales"])
    applied, planned = tmp_path / "inproc.prom", tmp_path / "inproc-plan.prom"
    apply = ["apply", str(manifest), "--emulator", "--no-progress", "--metrics-file", str(applied)]
    assert main([*apply, "--report", str(tmp_path / "r.json")]) == 0
    before = applied.read_text(encoding="utf-8")
    assert main(["plan", str(manifest), "--emulator", "--metrics-file", str(planned)]) == 0
    assert applied.read_text(encoding="utf-8") == before
    text = planned.read_text(encoding="utf-8")
    assert _planned(manifest_gauges(text, "inproc")) == {("prod", "exists"): 2}
    assert PASSWORD_CANARY not in text
