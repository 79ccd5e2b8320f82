"""``explore`` after ``apply``, against the emulator with 5xx faults on (issue 18's must-show):
every table of every entry listed once, an unreachable database's row carries the error, exit
code 1; odd names and table paths round-trip through the CSV."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest

from provisioner.cli._main import main
from provisioner.emulator._catalog import columns, tables
from provisioner.emulator._faults import FaultDice, FaultPlan, RequestKind
from provisioner.engine import ApplyRun, ExploreOptions, ExploreRun, RunOptions
from provisioner.reports import ExploreStatus
from provisioner.settings import Backoff
from tests.cliproc import cli_env, run_cli
from tests.conftest import EmulatorFactory, make_settings
from tests.helpers import manifest, spec

# Entry names with commas, quotes and unicode; hosts chosen for the catalog: a "large" one
# (thousands of tables), ordinary ones, and one the emulator deems unreachable.
ENTRIES = {
    'finance, "eu"': "finance.example.com",
    "équipe données": "erp.large.example.com",
    "名前 db": "ops.example.com",  # 45 tables
    "it's-here": "hr.example.com",  # 2,280 tables: one host in 16 has thousands
    "down": "db9.unreachable",
}
FAULTS = FaultPlan(error_rate=0.2, seed=18)
BACKOFF = Backoff(base=0.0, cap=0.0, max_attempts=8)


def _manifest_file(path: Path) -> Path:
    lines = ["version: 1", "sandbox: prod", "defaults:", "  port: 1521", "  user: reader"]
    lines += ["  password: ${DB_PASSWORD}", "databases:"]
    for name, host in ENTRIES.items():
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        lines += [f'  - name: "{quoted}"', f"    host: {host}", "    sid: ORCL"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def test_explore_after_apply_under_5xx_lists_every_table_once(
    start_emulator: EmulatorFactory, tmp_path: Path
) -> None:
    specs = [spec(name, host=host) for name, host in ENTRIES.items()]
    async with start_emulator(FAULTS) as emu:
        settings = make_settings(emu, tmp_path, concurrency=4, backoff=BACKOFF)
        applied = await ApplyRun(manifest(tmp_path, specs), settings, RunOptions()).execute()
        assert applied.summary.created == len(ENTRIES)
        emu.state.dice = FaultDice(seed=18)  # the explore's draws, whatever apply drew
        emu.stats.clear()
        found = await ExploreRun(manifest(tmp_path, specs), settings, ExploreOptions()).execute()
        explore_5xx = sum(emu.stats.responses[RequestKind.EXPLORE, code] for code in (500, 503))
        assert explore_5xx > 0
        assert emu.stats.requests[RequestKind.LIST] == 0  # the state knew every connection
    by_name = {e.name: e for e in found}
    assert list(by_name) == list(ENTRIES)
    for name, host in ENTRIES.items():
        entry = by_name[name]
        if host.endswith(".unreachable"):
            assert entry.status is ExploreStatus.UNREACHABLE
            assert entry.tables == ()
            assert entry.error is not None
            assert "FLOW-1420-400" in entry.error
            continue
        assert entry.status is ExploreStatus.EXPLORED
        assert [t.path for t in entry.tables] == [t.path for t in tables(host)]
    assert sum(len(e.tables) for e in found) > 1000


async def test_cli_explore_csv_round_trips_and_exits_1_for_an_unreachable_database(
    start_emulator: EmulatorFactory, tmp_path: Path
) -> None:
    path = _manifest_file(tmp_path / "manifest.yaml")
    out = tmp_path / "out" / "tables.csv"
    async with start_emulator(FAULTS) as emu:
        env = cli_env(emu)
        common = ("--no-progress", "--max-attempts", "8", "--backoff-base", "0", "--rate", "1000")
        applied = await run_cli("apply", str(path), *common, env=env)
        assert applied.code == 0, applied.stderr
        explored = await run_cli("explore", str(path), *common, "--output", str(out), env=env)
        assert emu.stats.injected_errors > 0
    assert explored.code == 1, explored.stderr
    assert explored.stdout == ""
    assert "Explored 4 of 5 entries" in explored.stderr
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM, for spreadsheets
    with out.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows
    assert set(rows[0]) == {"name", "sandbox", "connection_id", "table", "error"}
    listed = Counter((r["name"], r["table"]) for r in rows)
    assert max(listed.values()) == 1  # every table once
    for name, host in ENTRIES.items():
        mine = [r for r in rows if r["name"] == name]
        assert {r["sandbox"] for r in mine} == {"prod"}
        assert all(r["connection_id"] for r in mine)
        if host.endswith(".unreachable"):
            (row,) = mine
            assert row["table"] == ""
            assert "database unreachable" in row["error"]
            continue
        assert [r["table"] for r in mine] == [t.path for t in tables(host)]
        assert not any(r["error"] for r in mine)
    paths = "".join(r["table"] for r in rows)
    assert all(char in paths for char in (",", '"', "'", " ", "ü", "顧"))


def test_cli_explore_writes_json_with_columns_to_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DB_PASSWORD", "pw")
    path = _manifest_file(tmp_path / "manifest.yaml")
    quiet = ("--emulator", "--no-progress", "--log-level", "error", "--rate", "1000")
    # 1 until --only stops counting the rest as skipped (second edition); both created
    assert main(["apply", str(path), *quiet, "--only", "名前 db", "--only", "down"]) in (0, 1)
    capsys.readouterr()
    only = ("--only", "名前 db", "--only", "it's-here")
    assert main(["explore", str(path), *quiet, *only, "--format", "json", "--columns"]) == 1
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["summary"]["entries"] == 2
    hr, missing = data["entries"]
    assert (hr["name"], hr["status"]) == ("名前 db", "explored")
    first = hr["tables"][0]
    expected = columns("ops.example.com", first["path"])
    assert expected is not None
    assert first["columns"] == [
        {"name": c.name, "type": c.type, "xdm_type": dict(c.xdm)["type"]} for c in expected
    ]
    assert (missing["status"], missing["connection_id"]) == ("no_connection", None)
    assert "Explored 1 of 2 entries" in captured.err
    assert main(["explore", str(path), *quiet, "--only", "名前 db", "--auth", "basic"]) == 0
    assert capsys.readouterr().out.startswith("name,sandbox,connection_id,table,error\r\n")
    out = tmp_path / "all.json"
    assert main(["explore", str(path), *quiet, "--format", "json", "--output", str(out)]) == 1
    assert json.loads(out.read_text(encoding="utf-8"))["summary"] == {
        "entries": 5,
        "explored": 1,
        "not_explored": 4,
        "tables": 45,
    }
    assert f"and 1 more -> {out}" in capsys.readouterr().err


def test_cli_explore_usage_errors_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_PASSWORD", "pw")
    path = _manifest_file(tmp_path / "manifest.yaml")
    assert main(["explore", str(path), "--emulator", "--format", "xml"]) == 2
    assert main(["explore", str(path), "--emulator", "--only", "nope"]) == 2
    assert main(["explore", str(path), "--emulator", "--auth", "kerberos"]) == 2
    (tmp_path / "a-folder").mkdir()
    assert main(["explore", str(path), "--emulator", "--output", str(tmp_path / "a-folder")]) == 2


def test_explore_never_shows_a_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    canary = "canary-pw-5e1f-explore"
    monkeypatch.setenv("DB_PASSWORD", canary)
    path = _manifest_file(tmp_path / "manifest.yaml")
    loud = ("--emulator", "--no-progress", "--log-level", "debug", "--log-format", "json")
    assert main(["apply", str(path), *loud, "--only", "名前 db", "--only", "down"]) in (0, 1)
    out = tmp_path / "tables.json"
    code = main(
        ["explore", str(path), *loud, "--columns", "--format", "json", "--output", str(out)]
    )
    assert code == 1
    shown = capsys.readouterr()
    assert '"event": "entry_finished"' in shown.err  # the debug log was on
    for text in (shown.out, shown.err, out.read_text(encoding="utf-8")):
        assert canary not in text
