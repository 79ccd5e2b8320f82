"""The phases case: which step of one ``apply`` spends its CPU (reported, no target).

The throughput case says how much more CPU the tool spends than the script; this one says
where, step by step, in one run of the throughput workload (``profile_entries`` entries, 32
in flight, 50 ms per request). ``bench.phase_probe`` reads the process's CPU clock around
each step. The rest of the process's CPU is the requests (the pool, the pace, the client,
aiohttp) and what the steps do not cover (the listing, the start of the loop, logging set-up).
"""

from __future__ import annotations

import json

from bench.cases_http import (
    CONCURRENCY,
    LATENCY_MS,
    UNLIMITED_RATE,
    CaseResult,
    apply_argv,
    run_against_emulator,
)
from bench.context import Bench
from bench.manifests import write_apply_manifest

__all__ = ["phases_case"]


def phases_case(bench: Bench) -> CaseResult:
    entries = bench.sizes.profile_entries
    manifest = write_apply_manifest(bench.path(f"phases-{entries}.yaml"), entries)
    out = bench.path("phases.json")
    apply = apply_argv(bench, manifest, tag="phases", concurrency=CONCURRENCY, rate=UNLIMITED_RATE)
    argv = [bench.python, "-m", "bench.phase_probe", str(out), *apply[3:]]  # after -m provisioner
    run, served = run_against_emulator(
        bench, argv, tag="phases", emulator=["--latency-ms", str(LATENCY_MS)]
    )
    if run.returncode != 0 or served.created != entries or not out.exists():
        raise RuntimeError(
            f"phases: exit {run.returncode}, created {served.created}/{entries}:\n"
            f"{run.stderr_tail()}"
        )
    probe = json.loads(out.read_text(encoding="utf-8"))
    if probe["missing"]:
        raise RuntimeError(f"phases: steps the run no longer has: {', '.join(probe['missing'])}")
    data: dict[str, object] = {
        "entries": entries,
        "concurrency": CONCURRENCY,
        "latency_ms": LATENCY_MS,
        "cpu_ms": round(run.cpu_s * 1000, 1),
        "imports_ms": probe["imports_ms"],
        "steps": probe["steps"],
    }
    return CaseResult(name="phases", data=data, targets=[])
