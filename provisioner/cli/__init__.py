"""The command line: argparse -> Settings -> a run -> exit code; progress bar, console logs,
process tuning (event loop, garbage collector).
"""

from __future__ import annotations

from provisioner.cli._main import run

__all__ = [
    "run",
]
