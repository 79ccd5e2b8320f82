"""How much ``load_manifest`` costs next to a bare ``yaml.load(text, Loader=CSafeLoader)``.

Usage: ``python bench/manifest_load.py [ENTRIES] [--rounds N]``. Generates a manifest of
ENTRIES (default 20000) entries in a temporary folder, then reports the best-of-N time and
the peak memory (tracemalloc, and max RSS of a fresh process) of both, and their ratios.
Targets: time ratio <= 1.5, memory ratio <= 2. Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Final

import yaml

from bench.manifests import write_validate_manifest
from provisioner.manifest import load_manifest

TIME_TARGET: Final = 1.5
MEMORY_TARGET: Final = 2.0
ENV: Final = {"ORACLE_PASSWORD": "bench-oracle", "HR_PASSWORD": "bench-hr"}
_LOADER: Final = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader
_RSS_SNIPPET: Final = """
import resource, sys, yaml
from pathlib import Path
path = Path(sys.argv[2])
if sys.argv[1] == "yaml":
    yaml.load(path.read_text(), Loader=yaml.CSafeLoader)
else:
    from provisioner.manifest import load_manifest
    load_manifest(path, env={"ORACLE_PASSWORD": "a", "HR_PASSWORD": "b"})
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def generate(entries: int) -> str:
    """The validate case's manifest (defaults, ${VAR}, templates, both targets, two sandboxes)."""
    with tempfile.TemporaryDirectory() as tmp:
        return write_validate_manifest(Path(tmp) / "m.yaml", entries).read_text(encoding="utf-8")


def best_times(runs: list[Callable[[], object]], rounds: int) -> list[float]:
    """Best time of each run; the runs take turns so that both see the same machine load."""
    best = [float("inf")] * len(runs)
    for _ in range(rounds):
        for index, run in enumerate(runs):
            start = time.perf_counter()
            run()
            best[index] = min(best[index], time.perf_counter() - start)
    return best


def peak_memory(run: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def max_rss(kind: str, path: Path) -> int:
    command = [sys.executable, "-c", _RSS_SNIPPET, kind, str(path)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return int(done.stdout.strip())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("entries", nargs="?", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "manifest.yaml"
        path.write_text(generate(args.entries))
        size = path.stat().st_size

        def bare() -> object:
            return yaml.load(path.read_text(), Loader=_LOADER)

        def ours() -> object:
            return load_manifest(path, env=ENV)

        ours()  # warm up imports and regex caches
        times = best_times([bare, ours], args.rounds)
        peaks = [peak_memory(bare), peak_memory(ours)]
        rss = [max_rss("yaml", path), max_rss("ours", path)]
    report = [
        f"{args.entries} entries ({size / 2**20:.1f} MiB of YAML), best of {args.rounds}:",
        f"  time   yaml.load {times[0]:.3f}s  load_manifest {times[1]:.3f}s"
        f"  ratio {times[1] / times[0]:.2f} (target <= {TIME_TARGET})",
        f"  peak   yaml.load {peaks[0] / 2**20:.1f} MiB  load_manifest {peaks[1] / 2**20:.1f} MiB"
        f"  ratio {peaks[1] / peaks[0]:.2f} (tracemalloc; target <= {MEMORY_TARGET})",
        f"  maxrss yaml.load {rss[0] / 1024:.1f} MiB  load_manifest {rss[1] / 1024:.1f} MiB"
        f"  ratio {rss[1] / rss[0]:.2f} (whole process, interpreter included)",
    ]
    sys.stdout.write("\n".join(report) + "\n")
    ok = times[1] / times[0] <= TIME_TARGET and peaks[1] / peaks[0] <= MEMORY_TARGET
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
