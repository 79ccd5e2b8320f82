"""The service helpers: a missing program or a service that does not start fails the test in
CI (env CI set) and skips it elsewhere."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.services.programs import missing, require_program
from tests.services.pushgateway import _wait_ready, free_port


def test_a_missing_program_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="make system-deps"):
        require_program("no-such-program-7f2a", path="/nonexistent/no-such-program-7f2a")


def test_a_missing_program_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no-such-program-7f2a is not installed"):
        missing("no-such-program-7f2a is not installed")


def test_a_program_on_path_is_found() -> None:
    assert require_program("python3", path="/nonexistent/python3").endswith("python3")


def test_a_service_that_exits_at_once_is_reported_not_waited_for() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    try:
        assert _wait_ready(proc, f"http://127.0.0.1:{free_port()}") == "exited with 3"
    finally:
        proc.wait()
