"""The pacing cases: ``provisioner apply`` against an emulator whose limit holds, moves, or is
shared by two processes (one credential, one org: one bucket), never with ``Retry-After``.

Each case logs at debug level, so every answer is an ``http_request`` event with its time and
status: the rate over time (the plot) and each process's share come from those, the 429 share
from the emulator's own counters.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

from bench.cases_http import CONCURRENCY, CaseResult, apply_argv
from bench.context import Bench, rounded
from bench.manifests import write_apply_manifest
from bench.targets import Target

__all__ = ["PACING_CASES", "Schedule", "pacing_case"]

Schedule = tuple[tuple[float, float], ...]
MAX_RATE: Final = 400  # --rate: a generous cap, as in the throttled case
RUN_S: Final = 30.0  # goodput is measured over the first 30 s of requests ...
SPARE_S: Final = 4.0  # ... of runs sized for 34 s, so the end of the work (the last entries'
# retries, waiting out their backoff with nothing else to send) stays out of the measure


@dataclass(frozen=True, slots=True, kw_only=True)
class PacingSpec:
    name: str
    schedule: Schedule
    processes: int = 1
    target: str = "moving"  # "steady" | "moving" | "shared"


PACING_CASES: Final = {
    spec.name: spec
    for spec in (
        PacingSpec(name="pacing_steady", schedule=((0.0, 50.0),), target="steady"),
        PacingSpec(name="pacing_moving", schedule=((0.0, 50.0), (10.0, 15.0), (20.0, 80.0))),
        PacingSpec(name="pacing_moving_b", schedule=((0.0, 80.0), (10.0, 20.0), (20.0, 60.0))),
        PacingSpec(name="pacing_moving_c", schedule=((0.0, 30.0), (10.0, 120.0), (20.0, 40.0))),
        PacingSpec(name="pacing_shared", schedule=((0.0, 50.0),), processes=2, target="shared"),
    )
}


def offered(schedule: Schedule, until: float) -> float:
    """Requests the limit allows over [0, until) (the initial bucket apart)."""
    total = 0.0
    for i, (at, rate) in enumerate(schedule):
        end = min(until, schedule[i + 1][0]) if i + 1 < len(schedule) else until
        total += max(0.0, end - at) * rate
    return total


def _schedule_text(schedule: Schedule) -> str:
    return ",".join(f"{at:g}:{rate:g}" for at, rate in schedule)


def _answers(log: Path) -> list[tuple[datetime, int]]:
    """(time, status) of every Flow answer in apply's JSON log (the IMS token left out)."""
    found: list[tuple[datetime, int]] = []
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") == "http_request" and event.get("kind") != "token":
            found.append((datetime.fromisoformat(event["timestamp"]), int(event["http_status"])))
    return found


def _entries(spec: PacingSpec) -> int:
    """Enough entries for RUN_S + SPARE_S seconds at the schedule's limit, shared out."""
    return int(offered(spec.schedule, RUN_S + SPARE_S) + spec.schedule[0][1]) // spec.processes


def _run(bench: Bench, spec: PacingSpec, entries: int) -> tuple[list[Path], dict[str, object]]:
    """Start every process at once against one emulator; their logs and the server's counts."""
    emulator = ["--limit-schedule", _schedule_text(spec.schedule), "--no-retry-after"]
    logs: list[Path] = []
    with bench.emulator(emulator, tag=spec.name) as emu:
        children = []
        for proc in range(spec.processes):
            tag = f"{spec.name}-{proc}"
            manifest = write_apply_manifest(bench.path(f"{tag}.yaml"), entries, prefix=f"p{proc}")
            argv = apply_argv(
                bench, manifest, tag=tag, concurrency=CONCURRENCY, rate=MAX_RATE, log_level="debug"
            )
            children.append(bench.spawn(argv, tag=tag, url=emu.url))
        runs = [child.finish() for child in children]
        served = emu.stop()
    for proc, run in enumerate(runs):
        if run.returncode != 0:
            raise RuntimeError(f"{spec.name}-{proc}: exit {run.returncode}:\n{run.stderr_tail()}")
        logs.append(run.stderr)
    return logs, served.as_json()


def _series(
    answers: Sequence[Sequence[tuple[float, int]]], limit: Schedule, end: float
) -> dict[str, object]:
    """Per half second: each process's successes/s and 429s/s, and the limit."""
    step = 0.5
    bins = int(end / step) + 1
    out: dict[str, object] = {"step_s": step, "t": [round(i * step, 2) for i in range(bins)]}
    for proc, seen in enumerate(answers):
        ok = [0.0] * bins
        throttled = [0.0] * bins
        for at, status in seen:
            if 0 <= at < bins * step:
                (ok if status < 400 else throttled)[int(at / step)] += 1 / step
        out[f"ok_{proc}"] = ok
        out[f"throttled_{proc}"] = throttled
    out["limit"] = [[at, rate] for at, rate in limit]
    return out


def pacing_case(bench: Bench, spec: PacingSpec) -> CaseResult:
    entries = _entries(spec)
    logs, served = _run(bench, spec, entries)
    raw = [_answers(log) for log in logs]
    t0 = min(seen[0][0] for seen in raw if seen)  # the emulator's schedule starts here too
    answers = [[((at - t0).total_seconds(), status) for at, status in seen] for seen in raw]
    last = max(at for seen in answers for at, status in seen if status < 400)
    window = min(RUN_S, last)
    burst = spec.schedule[0][1]  # the bucket starts full: one second of the first limit
    allowed = offered(spec.schedule, window)
    ok = [sum(1 for at, status in seen if status < 400 and at <= window) for seen in answers]
    throttled = int(served["throttled"])  # type: ignore[call-overload]
    total = int(served["total"])  # type: ignore[call-overload]
    steady = (sum(ok) - burst) / allowed
    # each process's share while both ran (until the first ran out of entries)
    both = min(window, *(max(at for at, status in seen if status < 400) for seen in answers))
    shares = [
        sum(1 for at, status in seen if status < 400 and at <= both)
        / (offered(spec.schedule, both) + burst)
        for seen in answers
    ]
    data: dict[str, object] = {
        "schedule": [list(step) for step in spec.schedule],
        "processes": spec.processes,
        "entries_per_process": entries,
        "apply_rate": MAX_RATE,
        "concurrency": CONCURRENCY,
        "window_s": round(window, 3),
        "mean_limit_per_s": round(allowed / window, 2),
        "successes": ok,
        "goodput_share": round(sum(ok) / allowed, 4),
        "steady_goodput_share": round(steady, 4),
        "process_shares": [round(s, 4) for s in shares],
        "shares_window_s": round(both, 3),
        "share_429": rounded(throttled / total if total else None),
        "throttled": throttled,
        "requests": total,
        "series": _series(answers, spec.schedule, last + 1.0),
        "served": served,
    }
    return CaseResult(name=spec.name, data=data, targets=_targets(spec, steady, shares, data))


def _targets(
    spec: PacingSpec, steady: float, shares: list[float], data: dict[str, object]
) -> list[Target]:
    share_429 = data["share_429"]
    assert share_429 is None or isinstance(share_429, float)
    note = "(successes - the first second's bucket) / what the limit allowed over the run"
    if spec.target == "steady":
        goodput = [
            Target(case=spec.name, name="steady limit: goodput", measured=steady, op=">=",
                   limit=0.95, note=note),
            Target(case=spec.name, name="steady limit: goodput (at most)", measured=steady,
                   op="<=", limit=1.05),
        ]  # fmt: skip
    elif spec.target == "moving":
        goodput = [
            Target(case=spec.name, name=f"{spec.name}: goodput of the mean limit",
                   measured=steady, op=">=", limit=0.95, note=note),
        ]  # fmt: skip
    else:
        goodput = [
            Target(case=spec.name, name="shared limit: together", measured=sum(shares),
                   op=">=", limit=0.9, note="both processes' successes / what the limit allowed"),
            Target(case=spec.name, name="shared limit: the smaller share", measured=min(shares),
                   op=">=", limit=0.35, note="while both ran: until the first ran out of entries"),
        ]  # fmt: skip
    most = 0.05 if spec.target == "shared" else 0.03
    return [
        *goodput,
        Target(case=spec.name, name=f"{spec.name}: share of 429 answers", measured=share_429,
               op="<=", limit=most, note="429 answers / all requests the emulator received"),
    ]  # fmt: skip
