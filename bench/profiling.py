"""Where the CPU of a run goes: ``py-spy record`` attached to the whole ``apply`` process (and
to the hand-rolled script, for comparison), then the collapsed stacks summed up.

py-spy is attached by pid to a child the harness started itself, so ``os.wait4`` still gives
that child's own CPU time; each share of samples is turned into CPU ms per entry with it.
py-spy leaves out most idle waits in the event loop, but not all (a poll with a zero timeout
looks busy), so shares are of "non-idle" samples, and the ms figures are estimates.
"""

from __future__ import annotations

import re
import shutil
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bench.cases_http import (
    CONCURRENCY,
    LATENCY_MS,
    UNLIMITED_RATE,
    CaseResult,
    apply_argv,
    handrolled_argv,
)
from bench.children import ChildRun, spawn
from bench.context import Bench
from bench.manifests import write_apply_manifest

__all__ = ["Profile", "find_py_spy", "parse_collapsed", "profile_case", "summarize"]

SAMPLE_RATE: Final = 250  # Hz
TOP: Final = 15
_OWN: Final = {"provisioner": "(provisioner/", "handrolled": "(bench/handrolled.py"}
_IMPORTING: Final = "<frozen importlib._bootstrap>"
_LOOP: Final = "_run_once (asyncio/base_events.py"
_NO_FRAME: Final = "(no Python frame)"
_LINE: Final = re.compile(r":\d+\)$")
_SPY_TIMEOUT: Final = 60.0


def _function(frame: str) -> str:
    """``send (aiohttp/client.py:123)`` -> ``send (aiohttp/client.py)``."""
    return _LINE.sub(")", frame)


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    """Collapsed stacks: each a tuple of frames (outermost first) and its sample count."""

    stacks: tuple[tuple[tuple[str, ...], int], ...]

    @property
    def total(self) -> int:
        return sum(count for _, count in self.stacks)

    def self_by_function(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for frames, count in self.stacks:
            out[_function(frames[-1]) if frames else _NO_FRAME] += count
        return out

    def inclusive_by_function(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for frames, count in self.stacks:
            for frame in {_function(f) for f in frames}:
                out[frame] += count
        return out

    def self_by_package(self) -> Counter[str]:
        """Leaf frames by package; any stack under an import counts as start-up imports."""
        out: Counter[str] = Counter()
        for frames, count in self.stacks:
            if not frames:
                out[_NO_FRAME] += count
            elif any(_IMPORTING in f for f in frames):
                out["(start-up: imports)"] += count
            else:
                out[_package(frames[-1])] += count
        return out

    def by_innermost_own(self, own: str, *, lines: bool = False) -> Counter[str]:
        """Each sample charged to the innermost frame of the program's own code (file paths
        holding ``own``) on its stack: what that code costs including the library calls it
        makes. Samples in event-loop callbacks (I/O, wake-ups) are charged to the loop, not
        to the ``asyncio.run`` caller."""
        out: Counter[str] = Counter()
        for frames, count in self.stacks:
            out[_innermost(frames, own, lines=lines)] += count
        return out


def _innermost(frames: tuple[str, ...], own: str, *, lines: bool) -> str:
    for index in range(len(frames) - 1, -1, -1):
        if _LOOP in frames[index]:
            return "(event loop: I/O callbacks, wake-ups)"
        if own in frames[index]:
            return frames[index] if lines else _function(frames[index])
    return "(outside the program's own code)"


def _package(frame: str) -> str:
    """``f (aiohttp/client.py:12)`` -> ``aiohttp``; ``f (json/__init__.py:3)`` -> ``json``."""
    _, _, where = _function(frame).rpartition(" (")
    where = where.rstrip(")")
    if where.startswith("<"):
        return where
    parts = Path(where).parts
    for marker in ("site-packages", "python3.11"):
        if marker in parts:
            parts = parts[parts.index(marker) + 1 :]
            break
    first = parts[0] if parts else where
    return first.removesuffix(".py")


def parse_collapsed(text: str) -> Profile:
    """py-spy's ``--format raw`` output: ``frame;frame;frame COUNT`` per line."""
    stacks: list[tuple[tuple[str, ...], int]] = []
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = tuple(f for f in stack.split(";") if f)
        stacks.append((frames, int(count)))
    return Profile(stacks=tuple(stacks))


def find_py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def _top(counter: Counter[str], total: int, cpu_ms_per_entry: float) -> list[dict[str, object]]:
    return [
        {
            "what": what,
            "samples": samples,
            "share": round(samples / total, 4) if total else 0.0,
            "est_cpu_ms_per_entry": round(samples / total * cpu_ms_per_entry, 4) if total else 0.0,
        }
        for what, samples in counter.most_common(TOP)
    ]


def summarize(profile: Profile, *, own: str, cpu_ms_per_entry: float) -> dict[str, object]:
    """The top costs five ways; ``cpu_ms_per_entry`` (measured) scales the shares."""
    total, cpu = profile.total, cpu_ms_per_entry
    return {
        "samples": total,
        "cpu_ms_per_entry": round(cpu, 4),
        "self_by_package": _top(profile.self_by_package(), total, cpu),
        "self_by_function": _top(profile.self_by_function(), total, cpu),
        "inclusive_by_function": _top(profile.inclusive_by_function(), total, cpu),
        "by_innermost_own_function": _top(profile.by_innermost_own(own), total, cpu),
        "by_innermost_own_line": _top(profile.by_innermost_own(own, lines=True), total, cpu),
    }


def _spy_argv(py_spy: str, out: Path, pid: int) -> list[str]:
    return [
        py_spy,
        "record",
        "--rate",
        str(SAMPLE_RATE),
        "--format",
        "raw",
        "--output",
        str(out),
        "--pid",
        str(pid),
    ]


def _profiled_run(
    bench: Bench, py_spy: str, argv: list[str], *, tag: str
) -> tuple[ChildRun, ChildRun, int]:
    """(the program, py-spy, connections created), against a fresh emulator."""
    out = bench.path(f"{tag}.collapsed")
    with bench.emulator(["--latency-ms", str(LATENCY_MS)], tag=tag) as emu:
        target = spawn(argv, env=bench.env(emu.url), cwd=bench.workdir, logs=bench.path(tag))
        spy = spawn(
            _spy_argv(py_spy, out, target.pid),
            env=bench.env(),
            cwd=bench.workdir,
            logs=bench.path(f"{tag}.py-spy"),
        )
        run = target.finish()
        spy_run = spy.finish(timeout=_SPY_TIMEOUT)
        served = emu.stop()
    if run.returncode != 0 or spy_run.returncode != 0 or not out.exists():
        raise RuntimeError(
            f"{tag}: program exited {run.returncode}, py-spy {spy_run.returncode}:\n"
            f"{run.stderr_tail()}\n{spy_run.stderr_tail()}"
        )
    return run, spy_run, served.created


def profile_case(bench: Bench, *, keep: Path | None = None) -> CaseResult:
    """Profile apply and the hand-rolled script on the throughput case's workload.

    Args:
        keep: a folder to copy the collapsed stacks into (for flame graphs).
    """
    py_spy = find_py_spy()
    if py_spy is None:
        return CaseResult(name="profile", data={"skipped": "py-spy is not installed"}, targets=[])
    entries = bench.sizes.profile_entries
    manifest = write_apply_manifest(bench.path(f"apply-{entries}.yaml"), entries)
    data: dict[str, object] = {
        "tool": f"py-spy record --rate {SAMPLE_RATE} --format raw --pid PID (attached at start)",
        "entries": entries,
        "concurrency": CONCURRENCY,
        "latency_ms": LATENCY_MS,
    }
    programs = {
        "provisioner": apply_argv(
            bench, manifest, tag="profile-provisioner", concurrency=CONCURRENCY, rate=UNLIMITED_RATE
        ),
        "handrolled": handrolled_argv(bench, manifest),
    }
    for program, argv in programs.items():
        tag = f"profile-{program}"
        run, spy_run, created = _profiled_run(bench, py_spy, argv, tag=tag)
        out = bench.path(f"{tag}.collapsed")
        cpu_ms = run.cpu_s * 1000 / entries
        profile = parse_collapsed(out.read_text(encoding="utf-8"))
        summary = summarize(profile, own=_OWN[program], cpu_ms_per_entry=cpu_ms)
        summary["wall_s_under_profiler"] = round(run.wall_s, 3)
        summary["py_spy_cpu_s"] = round(spy_run.cpu_s, 3)
        summary["created"] = created
        data[program] = summary
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(out, keep / out.name)
    return CaseResult(name="profile", data=data, targets=[])
