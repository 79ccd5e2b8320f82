"""The domain and its runs: jobs, the decision rule, the worker pool, the state, and the
run skeleton that ``apply``, ``plan`` and ``rollback`` plug into.
"""

from __future__ import annotations

from provisioner.engine._apply import ApplyRun, RunOptions
from provisioner.engine._explore import ExploreOptions, ExploreRun
from provisioner.engine._observer import NullObserver, RunObserver
from provisioner.engine._plan import run_plan, write_plan
from provisioner.engine._rollback import rollback_jobs, run_rollback

__all__ = [
    "ApplyRun",
    "ExploreOptions",
    "ExploreRun",
    "NullObserver",
    "RunObserver",
    "RunOptions",
    "rollback_jobs",
    "run_plan",
    "run_rollback",
    "write_plan",
]
