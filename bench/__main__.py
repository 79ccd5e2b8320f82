"""``python -m bench [--quick] [--case NAME]...``: run the benchmark cases, print PASS/FAIL per
target, write the results as JSON (and, for a full run, the table in ``bench/README.md``).

Exit status: 0 when every case ran (whatever the targets say; ``--strict`` makes a FAIL exit 1),
2 when a case could not be measured.
"""

from __future__ import annotations

import argparse
import compileall
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from bench.case_instructions import instructions_case
from bench.case_pgstate import pgstate_case
from bench.case_phases import phases_case
from bench.case_scale import scale_case
from bench.case_throttled import throttled_case, throttled_latency_case
from bench.case_validate import validate_case
from bench.cases_http import CaseResult, throughput_case
from bench.cases_pacing import PACING_CASES, pacing_case
from bench.context import Bench, Sizes
from bench.machine import describe_machine
from bench.plot import plot_pacing
from bench.profiling import profile_case
from bench.results import render_table, update_readme, write_results
from bench.source import describe_source, export_revision
from bench.targets import Target, format_targets

__all__ = ["main"]

_HERE: Final = Path(__file__).resolve().parent
RESULTS: Final = _HERE / "results"
README: Final = _HERE / "README.md"
PLOT: Final = RESULTS / "pacing.png"


def _profile(bench: Bench) -> CaseResult:
    return profile_case(bench, keep=RESULTS)


def _pacing(name: str) -> Callable[[Bench], CaseResult]:
    return lambda bench: pacing_case(bench, PACING_CASES[name])


CASES: Final[dict[str, Callable[[Bench], CaseResult]]] = {
    "validate": validate_case,
    "throughput": throughput_case,
    "instructions": instructions_case,
    "throttled": throttled_case,
    "throttled_latency": throttled_latency_case,
    **{name: _pacing(name) for name in PACING_CASES},
    "scale": scale_case,
    "profile": _profile,
    "phases": phases_case,
    "pgstate": pgstate_case,
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, one repetition")
    parser.add_argument(
        "--case", action="append", choices=tuple(CASES), default=[], help="run only this case"
    )
    parser.add_argument("--out", type=Path, default=None, help="results file (JSON)")
    parser.add_argument("--workdir", type=Path, default=None, help="keep manifests, logs here")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target FAILs")
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--rev", default=None, help="measure this git revision of provisioner/, not the tree"
    )
    which.add_argument(
        "--source",
        type=Path,
        default=None,
        metavar="DIR",
        help="measure the provisioner/ package found in DIR (e.g. a patched copy)",
    )
    return parser


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _run_case(name: str, bench: Bench) -> tuple[dict[str, object], list[Target], bool]:
    _say(f"== {name}")
    started = time.monotonic()
    try:
        result = CASES[name](bench)
    except Exception as exc:  # noqa: BLE001 - one broken case must not hide the others
        traceback.print_exc()
        failed = Target(case=name, name=f"{name} case ran", measured=None, op=">=", limit=1)
        return {"error": f"{type(exc).__name__}: {exc}"}, [failed], False
    result.data["case_wall_s"] = round(time.monotonic() - started, 1)
    _say(format_targets(result.targets) or "(no targets: see the results file)")
    _say(f"   {name}: {result.data['case_wall_s']} s")
    return result.data, result.targets, True


def _run(
    bench: Bench, names: list[str], mode: str, source: dict[str, object]
) -> tuple[dict[str, object], list[Target], bool]:
    machine = describe_machine()
    machine["measured_at"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    cases: dict[str, object] = {}
    targets: list[Target] = []
    ok = True
    started = time.monotonic()
    for name in names:
        data, case_targets, ran = _run_case(name, bench)
        cases[name] = data
        targets += case_targets
        ok = ok and ran
    results: dict[str, object] = {
        "schema": 1,
        "mode": mode,
        "machine": machine,
        "source": source,
        "sizes": asdict(bench.sizes),
        "total_wall_s": round(time.monotonic() - started, 1),
        "cases": cases,
        "targets": [t.as_json() for t in targets],
    }
    _say("\n== targets")
    _say(format_targets(targets))
    return results, targets, ok


def _compile(source: Path | None) -> None:
    """Byte-compile what is measured, as ``pip install`` does for users: this machine sets
    PYTHONDONTWRITEBYTECODE, so an editable checkout would otherwise be compiled on every start
    of every measured process (about 0.15 s of CPU for provisioner, far less for the script)."""
    root = (source or _HERE.parent).resolve()
    for folder in (root / "provisioner", _HERE):
        compileall.compile_dir(folder, quiet=1)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    names = args.case or list(CASES)
    full = not args.quick and not args.case
    mode = "quick" if args.quick else "full"
    out = args.out or RESULTS / ("latest.json" if full else "partial.json")
    sizes = Sizes.quick() if args.quick else Sizes.full()
    with tempfile.TemporaryDirectory(prefix="provisioner-bench-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        source = export_revision(args.rev, workdir / "source") if args.rev else args.source
        _compile(source)
        bench = Bench(workdir=workdir, sizes=sizes, source=source and source.resolve())
        results, targets, ok = _run(bench, names, mode, describe_source(args.rev, args.source))
    write_results(out, results)
    _say(f"results: {out}")
    cases = results["cases"]
    assert isinstance(cases, dict)
    plot = plot_pacing(cases, PLOT if full else out.with_name(f"{out.stem}-pacing.png"))
    if plot is not None:
        _say(f"plot: {plot}")
    if full and update_readme(README, render_table(results)):
        _say(f"table: {README}")
    if not ok:
        return 2
    return 1 if args.strict and not all(t.passed for t in targets) else 0


if __name__ == "__main__":
    sys.exit(main())
