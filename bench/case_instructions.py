"""The instructions case: what one more entry costs ``provisioner apply`` and the hand-rolled
script, counted in machine instructions under valgrind's callgrind, not timed.

CPU time on this shared 2-core machine moves by a tenth from one run to the next (the
throughput case takes the median of seven runs for that reason, and still moves by a few
percent); an instruction count moves by about 0.1%. Each program runs twice, on a small and on
a large manifest, against its own emulator (not counted): the difference over the difference in
entries is the cost per entry, the rest the start-up (imports, the spec, the state, the
report). The emulator answers after 20 ms, so that the slow start and the pool behave as in a
real run. Reported, no target: instructions are not time (the interpreter's loop and aiohttp's
C code do different work per instruction), but one variant against another, or the tool against
the script, they show a change of 1% that timing cannot.
"""

from __future__ import annotations

import re
import shutil
from typing import Final

from bench.cases_http import CONCURRENCY, CaseResult, program_argv
from bench.context import Bench, ratio, rounded
from bench.manifests import write_apply_manifest

__all__ = ["instructions_case", "per_entry"]

LATENCY_MS: Final = 20
_COLLECTED: Final = re.compile(r"Collected : (\d+)")
PROGRAMS: Final = ("provisioner", "handrolled")


def per_entry(small: tuple[int, int], large: tuple[int, int]) -> tuple[float, float]:
    """(instructions per entry, fixed instructions) from (entries, instructions) at two sizes."""
    (n1, i1), (n2, i2) = small, large
    if n2 <= n1:
        raise ValueError("the large run must have more entries than the small one")
    slope = (i2 - i1) / (n2 - n1)
    return slope, i1 - slope * n1


def _counted(bench: Bench, valgrind: str, program: str, entries: int) -> int:
    manifest = write_apply_manifest(bench.path(f"instructions-{entries}.yaml"), entries)
    tag = f"instructions-{program}-{entries}"
    argv = program_argv(bench, program, manifest, tag)
    counted = [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv]
    with bench.emulator(["--latency-ms", str(LATENCY_MS)], tag=tag) as emu:
        run = bench.run(counted, tag=tag, url=emu.url)
        served = emu.stop()
    found = _COLLECTED.search(run.stderr.read_text(encoding="utf-8", errors="replace"))
    if run.returncode != 0 or served.created != entries or found is None:
        raise RuntimeError(
            f"{tag}: exit {run.returncode}, created {served.created}/{entries}:\n"
            f"{run.stderr_tail()}"
        )
    return int(found.group(1))


def instructions_case(bench: Bench) -> CaseResult:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        data: dict[str, object] = {"skipped": "valgrind is not installed"}
        return CaseResult(name="instructions", data=data, targets=[])
    small, large = bench.sizes.instructions_entries
    data = {"entries": [small, large], "latency_ms": LATENCY_MS, "concurrency": CONCURRENCY}
    slopes: dict[str, float] = {}
    for program in PROGRAMS:
        counts = {n: _counted(bench, valgrind, program, n) for n in (small, large)}
        slope, fixed = per_entry((small, counts[small]), (large, counts[large]))
        slopes[program] = slope
        data[program] = {
            "instructions": {str(n): count for n, count in counts.items()},
            "per_entry": round(slope),
            "start_up": round(fixed),
        }
    data["per_entry_ratio"] = rounded(ratio(slopes["provisioner"], slopes["handrolled"]))
    return CaseResult(name="instructions", data=data, targets=[])
