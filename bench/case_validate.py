"""``provisioner validate`` on a 20k-entry manifest next to a bare libyaml parse of it.

Four programs, each a process of its own, interleaved and repeated: validate, the bare
parse, and the start-up of each (``import provisioner.cli._main`` / ``import yaml``), so that
both raw and net (start-up subtracted) figures can be given.
"""

from __future__ import annotations

from typing import Final

from bench.cases_http import CaseResult
from bench.children import ChildRun
from bench.context import Bench, median, ratio, rounded
from bench.manifests import write_validate_manifest
from bench.targets import Target

__all__ = ["validate_case"]

_BARE_PARSE: Final = (
    "import sys, yaml\n"
    "with open(sys.argv[1], encoding='utf-8') as f:\n"
    "    yaml.load(f.read(), Loader=yaml.CSafeLoader)\n"
)
TIME_LIMIT: Final = 1.5
MEMORY_LIMIT: Final = 2.0


def _programs(bench: Bench, manifest: str) -> dict[str, list[str]]:
    py = bench.python
    return {
        "validate": [py, "-m", "provisioner", "validate", manifest],
        "bare_parse": [py, "-c", _BARE_PARSE, manifest],
        "cli_import": [py, "-c", "import provisioner.cli._main"],
        "yaml_import": [py, "-c", "import yaml"],
    }


def _summary(runs: list[ChildRun]) -> dict[str, float]:
    return {
        "wall_s": median(r.wall_s for r in runs),
        "cpu_s": median(r.cpu_s for r in runs),
        "maxrss_mib": median(r.maxrss_mib for r in runs),
    }


def validate_case(bench: Bench) -> CaseResult:
    entries = bench.sizes.validate_entries
    manifest = write_validate_manifest(bench.path(f"validate-{entries}.yaml"), entries)
    programs = _programs(bench, str(manifest))
    runs: dict[str, list[ChildRun]] = {name: [] for name in programs}
    for name, argv in programs.items():  # warm-up: byte-code caches, page cache
        bench.run(argv, tag=f"validate-warm-{name}")
    for _ in range(bench.sizes.validate_reps):
        for name, argv in programs.items():
            run = bench.run(argv, tag=f"validate-{name}")
            if run.returncode != 0:
                raise RuntimeError(f"{name} exited {run.returncode}:\n{run.stderr_tail()}")
            runs[name].append(run)
    raw = {name: _summary(r) for name, r in runs.items()}
    net = {
        "validate": {k: raw["validate"][k] - raw["cli_import"][k] for k in raw["validate"]},
        "bare_parse": {k: raw["bare_parse"][k] - raw["yaml_import"][k] for k in raw["bare_parse"]},
    }
    ratios = {
        "raw_time": rounded(ratio(raw["validate"]["wall_s"], raw["bare_parse"]["wall_s"])),
        "raw_maxrss": rounded(
            ratio(raw["validate"]["maxrss_mib"], raw["bare_parse"]["maxrss_mib"])
        ),
        "net_time": rounded(ratio(net["validate"]["wall_s"], net["bare_parse"]["wall_s"])),
        "net_maxrss": rounded(
            ratio(net["validate"]["maxrss_mib"], net["bare_parse"]["maxrss_mib"])
        ),
    }
    data: dict[str, object] = {
        "entries": entries,
        "manifest_mib": round(manifest.stat().st_size / 2**20, 2),
        "repetitions": bench.sizes.validate_reps,
        "median_raw": {n: {k: round(v, 4) for k, v in s.items()} for n, s in raw.items()},
        "net": {n: {k: round(v, 4) for k, v in s.items()} for n, s in net.items()},
        "ratio_validate_to_bare_parse": ratios,
        "samples": {n: [r.as_json() for r in rs] for n, rs in runs.items()},
    }
    note = "start-up subtracted (import provisioner.cli._main / import yaml)"
    targets = [
        Target(
            case="validate",
            name="validate time vs bare parse (net)",
            measured=ratios["net_time"],
            op="<=",
            limit=TIME_LIMIT,
            unit="x",
            note=note,
        ),
        Target(
            case="validate",
            name="validate peak RSS vs bare parse (net)",
            measured=ratios["net_maxrss"],
            op="<=",
            limit=MEMORY_LIMIT,
            unit="x",
            note=note,
        ),
    ]
    return CaseResult(name="validate", data=data, targets=targets)
