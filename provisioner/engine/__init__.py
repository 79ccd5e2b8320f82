"""The domain and its runs: jobs, the decision rule, the worker pool, the state, and the
run skeleton that ``apply``, ``plan`` and ``rollback`` plug into.
"""

from __future__ import annotations

from provisioner.engine._apply import ApplyRun, RunOptions
from provisioner.engine._observer import NullObserver, RunObserver
from provisioner.engine._plan import run_plan, write_plan
from provisioner.engine._rollback import rollback_jobs, run_rollback
from provisioner.engine._state import State, open_state, run_lock
from provisioner.engine._statebase import describe_url, is_postgres_url
from provisioner.engine._statecopy import CopySummary, copy_state, describe_state

__all__ = [
    "ApplyRun",
    "CopySummary",
    "NullObserver",
    "RunObserver",
    "RunOptions",
    "State",
    "copy_state",
    "describe_state",
    "describe_url",
    "is_postgres_url",
    "open_state",
    "rollback_jobs",
    "run_lock",
    "run_plan",
    "run_rollback",
    "write_plan",
]
