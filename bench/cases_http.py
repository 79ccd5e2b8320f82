"""The HTTP cases: ``provisioner apply`` next to the hand-rolled script on a 50 ms emulator,
and ``apply`` against a 429-limited emulator. Every program and every emulator is a process.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bench.children import ChildRun
from bench.context import Bench, median, ratio, rounded
from bench.emulator import Served
from bench.manifests import write_apply_manifest
from bench.targets import Target

__all__ = [
    "CONCURRENCY",
    "LATENCY_MS",
    "CaseResult",
    "HttpSample",
    "apply_argv",
    "handrolled_argv",
    "program_argv",
    "run_against_emulator",
    "throughput_case",
]

LATENCY_MS: Final = 50
CONCURRENCY: Final = 32
UNLIMITED_RATE: Final = 100_000
PROGRAMS: Final = ("provisioner", "handrolled")
_HANDROLLED: Final = Path(__file__).resolve().parent / "handrolled.py"


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseResult:
    name: str
    data: dict[str, object]
    targets: list[Target]


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpSample:
    """One measured program run against its own fresh emulator."""

    program: str
    entries: int
    process: ChildRun
    served: Served

    @property
    def throughput(self) -> float:
        return self.entries / self.process.wall_s

    @property
    def cpu_ms_per_entry(self) -> float:
        return self.process.cpu_s * 1000 / self.entries

    @property
    def requests_per_entry(self) -> float:
        return self.served.total / self.entries

    def check(self) -> None:
        """A run that did not create every entry measures nothing; say why."""
        if self.process.returncode != 0 or self.served.created != self.entries:
            raise RuntimeError(
                f"{self.program}: exit {self.process.returncode}, created "
                f"{self.served.created}/{self.entries}:\n{self.process.stderr_tail()}"
            )

    def as_json(self) -> dict[str, object]:
        return {
            "program": self.program,
            "wall_s": round(self.process.wall_s, 3),
            "throughput_per_s": round(self.throughput, 1),
            "cpu_ms_per_entry": round(self.cpu_ms_per_entry, 4),
            "maxrss_mib": round(self.process.maxrss_mib, 1),
            "requests_per_entry": round(self.requests_per_entry, 4),
            "process": self.process.as_json(),
            "served": self.served.as_json(),
        }


def apply_argv(
    bench: Bench,
    manifest: Path,
    *,
    tag: str,
    concurrency: int,
    rate: int,
    log_level: str = "warning",
) -> list[str]:
    """``provisioner apply`` as a user runs it in a script, with a state and a report of its own."""
    return [
        bench.python,
        "-m",
        "provisioner",
        "apply",
        str(manifest),
        "--concurrency",
        str(concurrency),
        "--rate",
        str(rate),
        "--no-progress",
        "--log-level",
        log_level,
        "--log-format",
        "json",
        "--state",
        str(bench.path(f"{tag}.state.db")),
        "--report",
        str(bench.path(f"{tag}.report.json")),
    ]


def handrolled_argv(bench: Bench, manifest: Path) -> list[str]:
    return [bench.python, str(_HANDROLLED), str(manifest), "--concurrency", str(CONCURRENCY)]


def run_against_emulator(
    bench: Bench,
    argv: Sequence[str],
    *,
    tag: str,
    emulator: Sequence[str],
    extra_env: Mapping[str, str] | None = None,
) -> tuple[ChildRun, Served]:
    """Run ``argv`` against a fresh emulator process (empty in-memory store)."""
    with bench.emulator(emulator, tag=tag) as emu:
        run = bench.run(argv, tag=tag, url=emu.url, extra_env=extra_env)
        served = emu.stop()
    return run, served


def program_argv(bench: Bench, program: str, manifest: Path, tag: str) -> list[str]:
    """``apply`` as the throughput case runs it (32 in flight, no rate cap), or the script."""
    if program == "handrolled":
        return handrolled_argv(bench, manifest)
    return apply_argv(bench, manifest, tag=tag, concurrency=CONCURRENCY, rate=UNLIMITED_RATE)


def _medians(samples: list[HttpSample]) -> dict[str, float]:
    return {
        "wall_s": median(s.process.wall_s for s in samples),
        "throughput_per_s": median(s.throughput for s in samples),
        "cpu_ms_per_entry": median(s.cpu_ms_per_entry for s in samples),
        "maxrss_mib": median(s.process.maxrss_mib for s in samples),
        "requests_per_entry": median(s.requests_per_entry for s in samples),
        "emulator_cpu_s": median(s.served.process.cpu_s for s in samples),
    }


def _alternating(bench: Bench, entries: int, tag: str) -> dict[str, list[HttpSample]]:
    """Each program ``throughput_reps`` times on ``entries`` entries (32 in flight, 50 ms per
    request), the order alternating; each run against its own fresh emulator."""
    manifest = write_apply_manifest(bench.path(f"apply-{entries}.yaml"), entries)
    emulator = ["--latency-ms", str(LATENCY_MS)]
    samples: dict[str, list[HttpSample]] = {p: [] for p in PROGRAMS}
    for rep in range(bench.sizes.throughput_reps):
        order = PROGRAMS if rep % 2 == 0 else PROGRAMS[::-1]
        for program in order:
            run_tag = f"{tag}-{program}-{rep}"
            argv = program_argv(bench, program, manifest, run_tag)
            run, served = run_against_emulator(bench, argv, tag=run_tag, emulator=emulator)
            sample = HttpSample(program=program, entries=entries, process=run, served=served)
            sample.check()
            samples[program].append(sample)
    return samples


def _cpu_split(
    bench: Bench, entries: int, medians: Mapping[str, Mapping[str, float]]
) -> dict[str, object]:
    """Where the CPU per entry comes from (reported, no target): the CPU of a run of one
    entry (start-up: imports, manifest, state, token, spec, listing, report) and the CPU
    each further entry adds (the whole run's CPU less that, over the other entries)."""
    single = _alternating(bench, 1, "startup")
    split: dict[str, dict[str, float]] = {}
    for program in PROGRAMS:
        start_ms = median(s.process.cpu_s for s in single[program]) * 1000
        whole_ms = medians[program]["cpu_ms_per_entry"] * entries
        split[program] = {
            "start_up_cpu_ms": round(start_ms, 1),
            "cpu_ms_per_further_entry": round((whole_ms - start_ms) / max(entries - 1, 1), 4),
        }
    ours, theirs = split["provisioner"], split["handrolled"]
    return {
        **split,
        "ratio_provisioner_to_handrolled": {
            key: rounded(ratio(ours[key], theirs[key])) for key in ours
        },
    }


def throughput_case(bench: Bench) -> CaseResult:
    """N entries, 32 in flight, 50 ms per request: apply and hand-rolled, alternating; then
    both on one entry, for the CPU's split into start-up and per entry."""
    entries = bench.sizes.throughput_entries
    samples = _alternating(bench, entries, "throughput")
    ideal = CONCURRENCY / (LATENCY_MS / 1000)
    medians = {p: _medians(samples[p]) for p in PROGRAMS}
    ours, theirs = medians["provisioner"], medians["handrolled"]
    for figures in medians.values():
        figures["share_of_ideal"] = figures["throughput_per_s"] / ideal
    keys = ("throughput_per_s", "cpu_ms_per_entry", "maxrss_mib", "wall_s")
    ratios = {key: rounded(ratio(ours[key], theirs[key])) for key in keys}
    data: dict[str, object] = {
        "entries": entries,
        "concurrency": CONCURRENCY,
        "latency_ms": LATENCY_MS,
        "ideal_per_s": ideal,
        "repetitions": bench.sizes.throughput_reps,
        "median": {p: {k: round(v, 4) for k, v in m.items()} for p, m in medians.items()},
        "cpu_ms_per_entry_range": {
            p: [round(f(s.cpu_ms_per_entry for s in samples[p]), 4) for f in (min, max)]
            for p in PROGRAMS
        },
        "ratio_provisioner_to_handrolled": ratios,
        "cpu_split": _cpu_split(bench, entries, medians),
        "samples": [s.as_json() for p in PROGRAMS for s in samples[p]],
    }
    targets = [
        Target(
            case="throughput",
            name="throughput vs hand-rolled",
            measured=ratios["throughput_per_s"],
            op=">=",
            limit=0.95,
            unit="x",
        ),
        Target(
            case="throughput",
            name="CPU per entry vs hand-rolled",
            measured=ratios["cpu_ms_per_entry"],
            op="<=",
            limit=1.3,
            unit="x",
        ),
        Target(
            case="throughput",
            name="requests per entry (clean run)",
            measured=ours["requests_per_entry"],
            op="<=",
            limit=1.05,
            note="every request the emulator received (token, list, creates) / entries",
        ),
    ]
    return CaseResult(name="throughput", data=data, targets=targets)
