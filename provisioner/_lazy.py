"""Names a package exports but imports on first use (PEP 562's module ``__getattr__``).

A package's ``__init__`` lists such names, each with the private module that defines it, and
imports them eagerly only for type checkers. A run then pays only for the modules of the
command it runs: ``apply`` from cron does not import ``explore``, ``plan``, ``rollback``,
``state copy``, ``import`` or the emulator's server.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping

__all__ = ["exports"]


def exports(package: str, where: Mapping[str, str]) -> Callable[[str], object]:
    """The ``__getattr__`` of ``package``: each name of ``where`` from its module (relative
    names such as ``"._plan"`` are in ``package``), imported when first asked for."""

    def __getattr__(name: str) -> object:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        setattr(sys.modules[package], name, value)  # later uses find it without this hook
        return value

    return __getattr__
