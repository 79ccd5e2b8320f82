"""Programs from Debian packages the tests need (``make system-deps`` installs them).

Without one, a test is skipped on a developer's machine and fails in CI (env ``CI`` set): a
skipped test in CI would hide that nothing was checked.
"""

from __future__ import annotations

import os
import shutil

import pytest


def missing(what: str) -> None:
    """Skip the test, or fail it in CI."""
    message = f"{what}; run `make system-deps`"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def require_program(name: str, *, path: str | None = None) -> str:
    """The path of program ``name`` (at ``path`` when given, else on PATH)."""
    found = path if path is not None and os.access(path, os.X_OK) else shutil.which(name)
    if found is None:
        missing(f"{name} is not installed")
        raise AssertionError("unreachable")  # pragma: no cover  (missing() raised)
    return found
