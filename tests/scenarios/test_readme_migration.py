"""The README's "Migration: from inventory to tables" walk-through runs as written (issue 18),
in a fresh copy of configs/, with ``>`` redirections done here."""

from __future__ import annotations

import csv
import json
import re
import shlex
import shutil
from pathlib import Path

import pytest

from provisioner.cli._main import main

ROOT = Path(__file__).resolve().parents[2]


def _walkthrough() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- readme-test: migration begin -->\n```sh\n(.*?)```", text, re.S)
    assert block is not None
    return [line for line in block.group(1).splitlines() if line.strip()]


def _run(
    line: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    words = shlex.split(line)
    if words[0] == "export":
        for assignment in words[1:]:
            name, _, value = assignment.partition("=")
            monkeypatch.setenv(name, value)
        return 0, ""
    assert words[0] == "provisioner"
    target = None
    if ">" in words:
        words, target = words[: words.index(">")], words[words.index(">") + 1]
    code = main([*words[1:], "--no-progress"] if words[1] in ("apply", "explore") else words[1:])
    out = capsys.readouterr().out
    if target is not None:
        Path(target).write_text(out, encoding="utf-8")
    return code, out


def test_migration_walkthrough_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(ROOT / "configs", tmp_path / "configs", ignore=shutil.ignore_patterns(
        ".provisioner", "reports", "databases.yaml", "tables.csv"
    ))  # fmt: skip
    monkeypatch.chdir(tmp_path)
    ran = [_run(line, monkeypatch, capsys) for line in _walkthrough()]
    # explore to the file exits 1: the inventory's legacy database cannot be reached
    assert [code for code, _ in ran] == [0, 0, 0, 0, 0, 1, 0]
    sales = json.loads(ran[-1][1])["entries"][0]
    assert sales["status"] == "explored"
    assert all(table["columns"] for table in sales["tables"])
    with (tmp_path / "configs/migration/tables.csv").open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["name"] for r in rows} == {"sales", "erp", "legacy"}
    (legacy,) = [r for r in rows if r["name"] == "legacy"]
    assert (legacy["table"], "unreachable" in legacy["error"]) == ("", True)
    assert sum(r["name"] == "erp" for r in rows) > 1000
