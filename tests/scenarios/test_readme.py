"""The README's commands work as written (issue 6): the 'Try it' block runs against the
emulator, each command in a fresh copy of configs/."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

from provisioner.cli._main import main
from provisioner.manifest._load import manifest_schema

ROOT = Path(__file__).resolve().parents[2]


def _try_it_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- readme-test: begin -->\n```sh\n(.*?)```", text, re.S)
    assert block is not None
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_try_it_commands_run_as_written(tmp_path, monkeypatch, capsys) -> None:
    shutil.copytree(
        ROOT / "configs",
        tmp_path / "configs",
        ignore=shutil.ignore_patterns(".provisioner", "reports"),
    )
    monkeypatch.chdir(tmp_path)
    lines = _try_it_commands()
    assert lines[0].startswith("export ")
    for assignment in shlex.split(lines[0])[1:]:
        name, _, value = assignment.partition("=")
        monkeypatch.setenv(name, value)
    outputs = []
    for line in lines[1:]:
        words = shlex.split(line)
        assert words[0] == "provisioner"
        assert main(words[1:]) == 0, line
        outputs.append(capsys.readouterr().out)
    assert "20 created" in outputs[2]
    assert "20 existing" in outputs[3]
    assert outputs[5].startswith("name,sandbox,status,connection_id,attempts,http_status,error")


def test_shipped_json_schema_is_the_one_the_tool_prints() -> None:
    import json

    shipped = json.loads((ROOT / "configs" / "manifest.schema.json").read_text(encoding="utf-8"))
    assert shipped == manifest_schema()
