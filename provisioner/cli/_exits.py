"""The exit codes of every command (the contract's): 0 all done, 1 some entries failed or
were skipped (or the API failed outside any entry), 2 a usage, manifest or configuration
error (nothing was sent), 130 interrupted."""

from __future__ import annotations

from typing import Final

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE"]

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
EXIT_INTERRUPTED: Final = 130
