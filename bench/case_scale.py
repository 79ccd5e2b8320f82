"""The scale case: ``provisioner apply`` on 5,000 and on 50,000 entries against an emulator with
no added latency, beside the hand-rolled script on the same manifests: time per entry (wall,
whole process) and peak memory; the medians of ``scale_reps`` runs each, the programs alternating
(this shared 2-core machine swings run times by a third from one minute to the next)."""

from __future__ import annotations

from bench.cases_http import (
    CaseResult,
    HttpSample,
    program_argv,
    run_against_emulator,
)
from bench.context import Bench, median, ratio, rounded
from bench.manifests import write_apply_manifest
from bench.targets import Target

__all__ = ["scale_case"]

PROGRAMS = ("provisioner", "handrolled")


def _sample(bench: Bench, program: str, entries: int, rep: int) -> HttpSample:
    manifest = bench.path(f"apply-{entries}.yaml")
    if not manifest.exists():
        write_apply_manifest(manifest, entries)
    tag = f"scale-{program}-{entries}-{rep}"
    argv = program_argv(bench, program, manifest, tag)
    run, served = run_against_emulator(bench, argv, tag=tag, emulator=[])
    sample = HttpSample(program=program, entries=entries, process=run, served=served)
    sample.check()
    return sample


def scale_case(bench: Bench) -> CaseResult:
    small, large = bench.sizes.scale_entries
    runs: dict[tuple[str, int], list[HttpSample]] = {}
    for rep in range(bench.sizes.scale_reps):
        for n in (small, large):
            for p in PROGRAMS if rep % 2 == 0 else PROGRAMS[::-1]:
                runs.setdefault((p, n), []).append(_sample(bench, p, n, rep))

    def per_entry_ms(program: str, entries: int) -> float:
        return median(s.process.wall_s * 1000 / entries for s in runs[program, entries])

    def cpu_ms(program: str, entries: int) -> float:
        return median(s.cpu_ms_per_entry for s in runs[program, entries])

    def rss(program: str, entries: int) -> float:
        return median(s.process.maxrss_mib for s in runs[program, entries])

    growth = ratio(per_entry_ms("provisioner", large), per_entry_ms("provisioner", small))
    memory = ratio(rss("provisioner", large), rss("handrolled", large))
    data: dict[str, object] = {
        "sizes": [small, large],
        "latency_ms": 0,
        "repetitions": bench.sizes.scale_reps,
        "rows": [
            {
                "program": p,
                "entries": n,
                "wall_s": round(per_entry_ms(p, n) * n / 1000, 3),
                "ms_per_entry": round(per_entry_ms(p, n), 4),
                "ms_per_entry_runs": [round(s.process.wall_s * 1000 / n, 4) for s in runs[p, n]],
                "cpu_ms_per_entry": round(cpu_ms(p, n), 4),
                "maxrss_mib": round(rss(p, n), 1),
                "requests_per_entry": round(runs[p, n][0].requests_per_entry, 4),
            }
            for n in (small, large)
            for p in PROGRAMS
        ],
        "time_per_entry_growth": rounded(growth),
        "handrolled_time_per_entry_growth": rounded(
            ratio(per_entry_ms("handrolled", large), per_entry_ms("handrolled", small))
        ),
        "cpu_per_entry_growth": rounded(
            ratio(cpu_ms("provisioner", large), cpu_ms("provisioner", small))
        ),
        "peak_rss_vs_handrolled": rounded(memory),
    }
    targets = [
        Target(
            case="scale",
            name=f"scale: time per entry, {large:,} vs {small:,} entries",
            measured=growth,
            op="<=",
            limit=1.1,
            note="flat: wall time per entry may not grow with the manifest (10% slack)",
        ),
        Target(
            case="scale",
            name=f"scale: peak RSS vs hand-rolled at {large:,}",
            measured=memory,
            op="<=",
            limit=2.0,
        ),
    ]
    return CaseResult(name="scale", data=data, targets=targets)
