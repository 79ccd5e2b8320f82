"""The garbage-collector policy: tuned only in a process of our own, frozen after the load."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from provisioner.cli import _gctune as gctune
from provisioner.cli._main import main
from tests.cliproc import cli_env
from tests.helpers import write_manifest


@pytest.fixture
def restore_gc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Leave the test process's collector as it was found."""
    monkeypatch.setattr(gctune, "_tuned", False)
    threshold = gc.get_threshold()
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


@pytest.mark.usefixtures("restore_gc")
def test_a_library_caller_keeps_its_collector(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``cli.main`` (what tests and embedding programs call) changes nothing."""
    monkeypatch.setenv("DB_PASSWORD", "pw")
    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()
    manifest = write_manifest(tmp_path / "m.yaml", ["a", "b"])
    assert main(["validate", str(manifest)]) == 0
    assert gc.get_threshold() == threshold
    assert gc.get_freeze_count() == frozen


@pytest.mark.usefixtures("restore_gc")
def test_for_batch_raises_only_the_first_threshold_and_settle_freezes() -> None:
    _, gen1, gen2 = gc.get_threshold()
    gctune.settle()
    assert gc.get_freeze_count() == 0  # not tuned: nothing frozen
    gctune.for_batch()
    assert gc.get_threshold() == (gctune.GEN0_THRESHOLD, gen1, gen2)
    alive = [object()]  # a container alive at settle(): the collector no longer scans it
    assert any(o is alive for o in gc.get_objects())
    gctune.settle()
    assert gc.get_freeze_count() > 0
    assert not any(o is alive for o in gc.get_objects())


def _console_run(manifest: Path) -> dict[str, object]:
    """``cli.run`` (the console script and ``python -m provisioner``) validating ``manifest``
    in a process of its own: its collector's threshold and frozen count just after settle()."""
    probe = (
        "import gc, json, sys\n"
        "from provisioner.cli import _gctune as gctune\n"
        "settle = gctune.settle\n"
        "def spy():\n"
        "    settle()\n"
        "    seen = {'threshold': gc.get_threshold(), 'frozen': gc.get_freeze_count()}\n"
        "    print(json.dumps(seen), file=sys.stderr)\n"
        "gctune.settle = spy\n"
        "from provisioner.cli._main import run\n"
        f"sys.argv = ['provisioner', 'validate', {str(manifest)!r}]\n"
        "run()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen: dict[str, object] = json.loads(done.stderr.strip().splitlines()[-1])
    return seen


def test_the_console_entry_tunes_and_freezes_after_loading_the_manifest(tmp_path: Path) -> None:
    """What is frozen grows with the manifest: the freeze comes after the load."""
    small = _console_run(write_manifest(tmp_path / "small.yaml", ["a", "b"]))
    names = [f"db-{i:04d}" for i in range(2000)]
    large = _console_run(write_manifest(tmp_path / "large.yaml", names))
    assert small["threshold"] == large["threshold"]
    assert isinstance(large["threshold"], list)
    assert large["threshold"][0] == gctune.GEN0_THRESHOLD
    assert isinstance(small["frozen"], int)
    assert isinstance(large["frozen"], int)
    # at least one object per entry, give or take what a collection during the load freed
    assert large["frozen"] - small["frozen"] >= len(names) // 2
