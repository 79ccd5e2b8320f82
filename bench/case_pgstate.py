"""The state backends: ``provisioner apply`` on the throughput case with its state in a
PostgreSQL server on loopback against the same run with the SQLite file (the default)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Final

from bench.cases_http import (
    CONCURRENCY,
    LATENCY_MS,
    UNLIMITED_RATE,
    CaseResult,
    HttpSample,
    apply_argv,
    run_against_emulator,
)
from bench.context import Bench, median, ratio, rounded
from bench.manifests import write_apply_manifest
from bench.targets import Target
from tests.services.pgserver import find_bin_dir, new_schema, start_server, stop_server

__all__ = ["pgstate_case"]

BACKENDS: Final = ("sqlite", "postgres")


def _argv(bench: Bench, manifest: Path, tag: str, url: str | None) -> list[str]:
    argv = apply_argv(bench, manifest, tag=tag, concurrency=CONCURRENCY, rate=UNLIMITED_RATE)
    if url is not None:
        argv[argv.index("--state") + 1] = url
    return argv


def pgstate_case(bench: Bench) -> CaseResult:
    """N entries, 32 in flight, 50 ms per request; SQLite and PostgreSQL state, alternating,
    each run on a fresh emulator and a fresh state (a new schema of the server)."""
    entries = bench.sizes.throughput_entries
    manifest = write_apply_manifest(bench.path(f"apply-{entries}.yaml"), entries)
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise RuntimeError("no PostgreSQL programs (make system-deps installs them)")
    root = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    server = start_server(bin_dir, root)
    samples: dict[str, list[HttpSample]] = {b: [] for b in BACKENDS}
    try:
        for rep in range(bench.sizes.throughput_reps):
            for backend in BACKENDS if rep % 2 == 0 else BACKENDS[::-1]:
                tag = f"pgstate-{backend}-{rep}"
                url = None
                if backend == "postgres":
                    url = f"{server.url}?options=-csearch_path%3D{new_schema(server)}"
                run, served = run_against_emulator(
                    bench,
                    _argv(bench, manifest, tag, url),
                    tag=tag,
                    emulator=["--latency-ms", str(LATENCY_MS)],
                )
                sample = HttpSample(program=backend, entries=entries, process=run, served=served)
                sample.check()
                samples[backend].append(sample)
    finally:
        stop_server(server, root)
    medians = {
        b: {
            "wall_s": median(s.process.wall_s for s in samples[b]),
            "cpu_ms_per_entry": median(s.cpu_ms_per_entry for s in samples[b]),
            "throughput_per_s": median(s.throughput for s in samples[b]),
        }
        for b in BACKENDS
    }
    wall = rounded(ratio(medians["postgres"]["wall_s"], medians["sqlite"]["wall_s"]))
    cpu = rounded(
        ratio(medians["postgres"]["cpu_ms_per_entry"], medians["sqlite"]["cpu_ms_per_entry"])
    )
    data: dict[str, object] = {
        "entries": entries,
        "repetitions": bench.sizes.throughput_reps,
        "median": {b: {k: round(v, 4) for k, v in m.items()} for b, m in medians.items()},
        "wall_s_runs": {b: [round(s.process.wall_s, 3) for s in samples[b]] for b in BACKENDS},
        "ratio_postgres_to_sqlite": {"wall_s": wall, "cpu_ms_per_entry": cpu},
    }
    targets = [
        Target(
            case="pgstate",
            name="apply time, PostgreSQL state vs SQLite",
            measured=wall,
            op="<=",
            limit=1.2,
            unit="x",
            note="throughput case; server on loopback, in the harness's machine",
        )
    ]
    return CaseResult(name="pgstate", data=data, targets=targets)
