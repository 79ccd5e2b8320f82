"""``python -m bench.phase_probe OUT ARGS...``: run ``provisioner ARGS...`` as the console
script does, reading the process's CPU clock around each step of a run (``STEPS``), and write
what each step cost to OUT as JSON when the process exits.

A step is a function wrapped where the run looks it up (a module's global, or a class's
method). A coroutine function's figure is the CPU of the whole process while it was pending:
the step's own, and any other task's meanwhile; the two steps of that kind run when nothing
else does (before the first create, after the last answer). The state's commits are also
counted in the steps that commit (intents written and dropped, a record whose group is due),
and each wrapper adds about a microsecond per call to its step and to the one around it.
"""

from __future__ import annotations

import atexit
import functools
import importlib
import inspect
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

__all__ = ["STEPS", "main", "resolve"]

#: (where the run looks it up, the name there, what it is in a report)
STEPS: Final = (
    ("provisioner.cli._main", "load_manifest", "manifest"),
    ("provisioner.engine._apply", "ApplyStrategy.prepare", "jobs and their state rows"),
    ("provisioner.engine._authform", "check_entries", "spec check of every entry"),
    ("provisioner.engine._apply", "fingerprints", "fingerprints"),
    ("provisioner.engine._apply", "decide_jobs", "decisions"),
    ("provisioner.engine._provision", "ConnectionProvisioner.encode_creates", "bodies"),
    ("provisioner.engine._apply", "ApplyStrategy._intend", "intents written"),
    ("provisioner.engine._run", "Run.record", "records (as each entry ends)"),
    ("provisioner.engine._statebase", "BufferedState.commit", "state commits"),
    ("provisioner.engine._reconcile", "Reconciler.read_back", "read-back (its requests)"),
    ("provisioner.engine._apply", "ApplyStrategy._drop_unmade_intents", "intents dropped"),
    ("provisioner.cli._commands", "write_report_file", "report file"),
    ("provisioner.cli._commands", "write_report", "summary"),
)

Spent = dict[str, list[float]]  # label -> [CPU seconds, calls]


def resolve(module: str, name: str) -> tuple[object, str, Callable[..., object]]:
    """(the object holding it, the attribute, the function) for a step; AttributeError or
    ImportError when the run no longer has it."""
    owner: object = importlib.import_module(module)
    *path, attr = name.split(".")
    for part in path:
        owner = getattr(owner, part)
    return owner, attr, getattr(owner, attr)


def _wrapped(func: Callable[..., object], add: Callable[[float], None]) -> Callable[..., object]:
    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def pending(*args: object, **kwargs: object) -> object:
            started = time.process_time()
            try:
                return await func(*args, **kwargs)
            finally:
                add(time.process_time() - started)

        return pending

    @functools.wraps(func)
    def timed(*args: object, **kwargs: object) -> object:
        started = time.process_time()
        try:
            return func(*args, **kwargs)
        finally:
            add(time.process_time() - started)

    return timed


def _counter(spent: Spent, label: str) -> Callable[[float], None]:
    def add(seconds: float) -> None:
        cell = spent.setdefault(label, [0.0, 0])
        cell[0] += seconds
        cell[1] += 1

    return add


def main(argv: list[str]) -> None:
    out, args = Path(argv[0]), argv[1:]
    started = time.process_time()
    from provisioner.cli import _main  # the imports of a run, as the console script's

    imports = time.process_time() - started
    spent: Spent = {}
    missing: list[str] = []
    for module, name, label in STEPS:
        try:
            owner, attr, func = resolve(module, name)
        except (AttributeError, ImportError):
            missing.append(f"{module}:{name}")
            continue
        setattr(owner, attr, _wrapped(func, _counter(spent, label)))

    def write() -> None:
        steps = {
            label: {"cpu_ms": round(s * 1000, 2), "calls": int(n)}
            for label, (s, n) in spent.items()
        }
        data = {
            "cpu_ms": round(time.process_time() * 1000, 1),
            "imports_ms": round(imports * 1000, 1),
            "steps": steps,
            "missing": missing,
        }
        out.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")

    atexit.register(write)
    sys.argv = ["provisioner", *args]
    _main.run()


if __name__ == "__main__":
    main(sys.argv[1:])
