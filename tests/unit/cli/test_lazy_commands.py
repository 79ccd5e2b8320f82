"""What ``apply`` loads: the command line as the console script imports it, and not the modules
of the other commands (explore, plan, rollback, state copy, import) or jsonschema; those load
on first use of their names, through their package."""

from __future__ import annotations

import subprocess
import sys

import pytest

import provisioner.aep
import provisioner.engine
import provisioner.importers
import provisioner.reports

OTHER_COMMANDS = (
    "provisioner.aep._explore",
    "provisioner.engine._explore",
    "provisioner.engine._plan",
    "provisioner.engine._rollback",
    "provisioner.engine._statecopy",
    "provisioner.importers._convert",
    "provisioner.reports._explore",
    "provisioner.reports._planmetrics",
    "jsonschema",
)
_LOADED = """
import sys
import provisioner.cli._main  # what the console script imports
import provisioner.cli._commands
print(" ".join(m for m in sys.argv[1:] if m in sys.modules) or "none")
"""


def test_the_command_line_loads_no_other_commands_module() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _LOADED, *OTHER_COMMANDS],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert done.stdout.split() == ["none"]


@pytest.mark.parametrize(
    ("package", "name", "module"),
    [
        (provisioner.engine, "ExploreRun", "provisioner.engine._explore"),
        (provisioner.engine, "PLAN_ACTIONS", "provisioner.engine._plan"),
        (provisioner.engine, "rollback_run", "provisioner.engine._rollback"),
        (provisioner.engine, "copy_state", "provisioner.engine._statecopy"),
        (provisioner.reports, "Exploration", "provisioner.reports._explore"),
        (provisioner.reports, "publish_plan_metrics", "provisioner.reports._planmetrics"),
        (provisioner.aep, "explore_tables", "provisioner.aep._explore"),
        (provisioner.importers, "convert_inventory", "provisioner.importers._convert"),
    ],
)
def test_a_name_loaded_on_use_is_its_modules_own(package: object, name: str, module: str) -> None:
    assert name in getattr(package, "__all__", ())
    assert getattr(package, name) is getattr(sys.modules[module], name)


def test_a_name_a_package_lacks_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match=r"'provisioner\.engine' has no attribute 'Nope'"):
        _ = provisioner.engine.Nope
