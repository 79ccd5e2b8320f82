"""The 429 cases: a server that allows 40 requests/s and answers 429 past that, without
Retry-After. ``throttled`` (answers at once) holds targets, judged on the medians of
``throttled_reps`` runs; ``throttled_latency`` (50 ms) is reported only."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Final, NamedTuple

from bench.cases_http import (
    CONCURRENCY,
    LATENCY_MS,
    CaseResult,
    apply_argv,
    run_against_emulator,
)
from bench.context import Bench, median, rounded
from bench.manifests import write_apply_manifest
from bench.targets import Target

__all__ = ["throttled_case", "throttled_latency_case"]

RATE_LIMIT: Final = 40
THROTTLED_RATE: Final = 400


def _report(path: Path) -> tuple[float, dict[str, int], list[int]]:
    """(seconds from started_at to finished_at, summary, attempts per entry)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    window = datetime.fromisoformat(data["finished_at"]) - datetime.fromisoformat(
        data["started_at"]
    )
    attempts = [int(r.get("attempts") or 0) for r in data["results"]]
    return window.total_seconds(), {k: int(v) for k, v in data["summary"].items()}, attempts


def _http_requests(log: Path) -> list[tuple[datetime, object]]:
    """(time, status) of each ``http_request`` event of apply's JSON log."""
    found: list[tuple[datetime, object]] = []
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            event = json.loads(line)
            if event.get("event") == "http_request":
                found.append((datetime.fromisoformat(event["timestamp"]), event.get("http_status")))
        except (ValueError, AttributeError, KeyError, TypeError):
            continue
    return found


def _timeline(log: Path) -> dict[str, object] | None:
    """429 answers in the first second of requests and after it (the start-up transient
    against the steady state); None when the log does not carry ``http_request`` events."""
    found = _http_requests(log)
    if not found:
        return None
    start = found[0][0]
    first = [status for at, status in found if (at - start).total_seconds() < 1.0]
    later = [status for at, status in found if (at - start).total_seconds() >= 1.0]
    return {
        "first_second": {"requests": len(first), "throttled": first.count(429)},
        "after_first_second": {"requests": len(later), "throttled": later.count(429)},
        "steady_share_429": round(later.count(429) / len(later), 4) if later else None,
    }


class _ThrottledRun(NamedTuple):
    data: dict[str, object]
    summary: dict[str, int]
    steady: float  # created past the initial burst, per second of the run window
    share_429: float | None


def _throttled_run(bench: Bench, *, latency_ms: int, name: str, rep: int) -> _ThrottledRun:
    entries = bench.sizes.throttled_entries
    manifest = write_apply_manifest(bench.path(f"{name}-{entries}.yaml"), entries)
    tag = f"{name}-provisioner-{rep}"
    # debug: one ``http_request`` event per request gives the 429s' timeline (40/s: cheap)
    argv = apply_argv(
        bench, manifest, tag=tag, concurrency=CONCURRENCY, rate=THROTTLED_RATE, log_level="debug"
    )
    emulator = [
        "--latency-ms",
        str(latency_ms),
        "--rate-limit",
        str(RATE_LIMIT),
        "--no-retry-after",
    ]
    run, served = run_against_emulator(bench, argv, tag=tag, emulator=emulator)
    window, summary, attempts = _report(bench.path(f"{tag}.report.json"))
    created = served.created
    burst = RATE_LIMIT  # the emulator's bucket starts full: max(1, rate limit) tokens
    goodput = created / window
    steady = max(0, created - burst) / window
    ideal_window = max(0, created + 1 - burst) / RATE_LIMIT  # + the one listing page
    share_429 = served.throttled / served.total if served.total else None
    data: dict[str, object] = {
        "entries": entries,
        "rate_limit_per_s": RATE_LIMIT,
        "burst": burst,
        "apply_rate": THROTTLED_RATE,
        "concurrency": CONCURRENCY,
        "latency_ms": latency_ms,
        "exit_code": run.returncode,
        "summary": summary,
        "run_window_s": round(window, 3),
        "process": run.as_json(),
        "goodput_per_s": round(goodput, 2),
        "goodput_share_of_limit": round(goodput / RATE_LIMIT, 4),
        "steady_goodput_share_of_limit": round(steady / RATE_LIMIT, 4),
        "ideal_window_s": round(ideal_window, 3),
        "window_efficiency": round(ideal_window / window, 4),
        "share_429": rounded(share_429),
        "attempts_mean": round(sum(attempts) / len(attempts), 3) if attempts else None,
        "attempts_max": max(attempts, default=0),
        "timeline": _timeline(run.stderr),
        "served": served.as_json(),
    }
    return _ThrottledRun(data=data, summary=summary, steady=steady, share_429=share_429)


def throttled_case(bench: Bench) -> CaseResult:
    """Issue 5's setup: a server that allows 40 requests/s and answers 429 past that, without
    Retry-After, answering at once (no added latency). Its figures are the targets."""
    return _throttled(bench, latency_ms=0, name="throttled")


def throttled_latency_case(bench: Bench) -> CaseResult:
    """The same server with 50 ms latency: reported, not a target. The requests in flight when
    the first 429 comes back (rate x latency) are throttled before any client can react."""
    return _throttled(bench, latency_ms=LATENCY_MS, name="throttled_latency")


def _throttled(bench: Bench, *, latency_ms: int, name: str) -> CaseResult:
    """The targeted case (no latency) runs ``throttled_reps`` times and is judged on the
    medians: each retried 429 waits a full-jitter backoff, so one run's window moves by up to
    10% (0.89 to 0.98 of the limit over eight runs of the same code). Its figures are the
    median run's (by goodput), with every run's listed."""
    reps = bench.sizes.throttled_reps if latency_ms == 0 else 1
    runs = [_throttled_run(bench, latency_ms=latency_ms, name=name, rep=rep) for rep in range(reps)]
    steady = median(r.steady for r in runs)
    shares = [r.share_429 for r in runs if r.share_429 is not None]
    share_429 = median(shares) if shares else None
    middle = sorted(runs, key=lambda r: r.steady)[len(runs) // 2]
    data = dict(middle.data)
    data["runs"] = [
        {
            "steady_goodput_share_of_limit": round(r.steady / RATE_LIMIT, 4),
            "run_window_s": r.data["run_window_s"],
            "share_429": rounded(r.share_429),
        }
        for r in runs
    ]
    summary = middle.summary
    note = "" if summary.get("failed", 0) == 0 else f"{summary['failed']} entries failed"
    targets = (
        []
        if latency_ms
        else [
            Target(
                case="throttled",
                name="429 case goodput share of limit",
                measured=steady / RATE_LIMIT,
                op=">=",
                limit=0.9,
                note=(
                    "(created - the 40-request initial burst) / run window / 40; " + note
                ).strip(),
            ),
            Target(
                case="throttled",
                name="429 case share of 429 answers",
                measured=share_429,
                op="<=",
                limit=0.05,
                note="429 answers / all requests the emulator received",
            ),
        ]
    )
    return CaseResult(name=name, data=data, targets=targets)
