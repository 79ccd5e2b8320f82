"""The domain and its runs: jobs, the decision rule, the worker pool, the state, and the
run skeleton (``Run`` + a ``Strategy``) that ``apply``, ``plan`` and ``rollback`` plug into.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from provisioner._lazy import exports
from provisioner.engine._apply import ApplyRun, ApplyStrategy
from provisioner.engine._domain import (
    Action,
    Decision,
    EntryKey,
    Job,
    JobKind,
    Remembered,
    decide,
)
from provisioner.engine._entries import RunOptions
from provisioner.engine._observer import NullObserver, RunObserver
from provisioner.engine._run import ReadOnly, Run, StateUse, Strategy
from provisioner.engine._state import State, open_state, run_lock
from provisioner.engine._statebase import describe_url, is_postgres_url

if TYPE_CHECKING:  # the other commands' runs, imported on first use (see provisioner._lazy)
    from provisioner.engine._explore import ExploreOptions, ExploreRun, ExploreStrategy
    from provisioner.engine._plan import (
        PLAN_ACTIONS,
        PlanRow,
        PlanStrategy,
        run_plan,
        write_plan,
    )
    from provisioner.engine._rollback import (
        RollbackStrategy,
        rollback_jobs,
        rollback_run,
        run_rollback,
    )
    from provisioner.engine._statecopy import CopySummary, copy_state, describe_state

_ON_USE: Final = {
    **dict.fromkeys(("ExploreOptions", "ExploreRun", "ExploreStrategy"), "._explore"),
    **dict.fromkeys(
        ("PLAN_ACTIONS", "PlanRow", "PlanStrategy", "run_plan", "write_plan"), "._plan"
    ),
    **dict.fromkeys(
        ("RollbackStrategy", "rollback_jobs", "rollback_run", "run_rollback"), "._rollback"
    ),
    **dict.fromkeys(("CopySummary", "copy_state", "describe_state"), "._statecopy"),
}
__getattr__ = exports(__name__, _ON_USE)

__all__ = [
    "PLAN_ACTIONS",
    "Action",
    "ApplyRun",
    "ApplyStrategy",
    "CopySummary",
    "Decision",
    "EntryKey",
    "ExploreOptions",
    "ExploreRun",
    "ExploreStrategy",
    "Job",
    "JobKind",
    "NullObserver",
    "PlanRow",
    "PlanStrategy",
    "ReadOnly",
    "Remembered",
    "RollbackStrategy",
    "Run",
    "RunObserver",
    "RunOptions",
    "State",
    "StateUse",
    "Strategy",
    "copy_state",
    "decide",
    "describe_state",
    "describe_url",
    "is_postgres_url",
    "open_state",
    "rollback_jobs",
    "rollback_run",
    "run_lock",
    "run_plan",
    "run_rollback",
    "write_plan",
]
