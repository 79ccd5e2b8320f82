"""Which ``provisioner`` is measured: the working tree (default) or a git revision exported
into the work folder, so that a benchmark can run while the tree is being edited, or compare
revisions."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

from bench.context import REPO

__all__ = ["describe_source", "export_revision"]


def _git(*args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(REPO), *args], check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def export_revision(rev: str, into: Path) -> Path:
    """``git archive REV provisioner`` unpacked under ``into``; returns the folder to put first
    on ``PYTHONPATH``."""
    data = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", rev, "provisioner"],
        check=True,
        capture_output=True,
    ).stdout
    into.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    return into


def describe_source(rev: str | None, folder: Path | None = None) -> dict[str, object]:
    """The commit measured and, for the working tree, whether ``provisioner/`` had changes."""
    if folder is not None:
        return {"measured": f"folder {folder.resolve()}"}
    try:
        if rev is not None:
            return {"measured": f"git revision {rev}", "commit": _git("rev-parse", rev)}
        dirty = bool(_git("status", "--porcelain", "--", "provisioner"))
        return {"measured": "working tree", "commit": _git("rev-parse", "HEAD"), "dirty": dirty}
    except (OSError, subprocess.CalledProcessError) as exc:
        return {"measured": rev or "working tree", "error": str(exc)}
