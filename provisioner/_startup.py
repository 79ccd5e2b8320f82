"""Imported first by the package: structlog without rich, so a run off a terminal stays light.

structlog's ``dev`` module imports rich (about 40 ms of CPU) at import time whenever rich is
installed, only to offer rich tracebacks, which this tool does not use. rich is installed for
the progress bar, which imports it only when a bar is drawn; this keeps cron runs, CI and
``--no-progress`` from paying for it. structlog then formats tracebacks as plain text.
"""

from __future__ import annotations

import sys

__all__: list[str] = []

if "structlog" not in sys.modules and "rich" not in sys.modules:
    sys.modules["rich"] = None  # type: ignore[assignment]  # None: "import rich" fails
    try:
        import structlog  # noqa: F401
    finally:
        del sys.modules["rich"]
