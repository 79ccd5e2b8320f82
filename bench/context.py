"""What every case shares: the work folder, the sizes for this mode, the child environment."""

from __future__ import annotations

import os
import statistics
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bench.children import ChildRun, Spawned, run_child, spawn
from bench.emulator import EmulatorProcess
from bench.manifests import MANIFEST_ENV

__all__ = ["REPO", "Bench", "Sizes", "median", "ratio", "rounded"]

REPO: Final = Path(__file__).resolve().parent.parent
CLIENT_ID: Final = "bench-client"
ORG_ID: Final = "BENCH00000000000000000000@AdobeOrg"
_DROPPED_ENV: Final = (
    "AEP_ACCESS_TOKEN",
    "AEP_SANDBOX",
    "AEP_SCOPES",
    "PYTHONPATH",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Sizes:
    """How big each case is; ``--quick`` shrinks them all."""

    throughput_entries: int
    throughput_reps: int
    throttled_entries: int
    throttled_reps: int
    validate_entries: int
    validate_reps: int
    profile_entries: int
    scale_entries: tuple[int, int]
    scale_reps: int
    instructions_entries: tuple[int, int]

    @classmethod
    def full(cls) -> Sizes:
        return cls(
            throughput_entries=5000,
            throughput_reps=7,  # CPU time varies +-15% run to run on a shared 2-core machine
            throttled_entries=400,
            throttled_reps=3,  # each retry's full-jitter wait moves one run's window by 10%
            validate_entries=20_000,
            validate_reps=5,
            profile_entries=5000,
            scale_entries=(5000, 50_000),
            scale_reps=2,
            instructions_entries=(200, 800),
        )

    @classmethod
    def quick(cls) -> Sizes:
        return cls(
            throughput_entries=500,
            throughput_reps=1,
            throttled_entries=120,
            throttled_reps=1,
            validate_entries=2000,
            validate_reps=2,
            profile_entries=500,
            scale_entries=(500, 5000),
            scale_reps=1,
            instructions_entries=(50, 150),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Bench:
    """One benchmark session.

    Children run in ``workdir`` (so the repository's folder does not shadow anything) with
    ``PYTHONPATH`` = ``source`` (an exported revision of ``provisioner``, when one is
    measured) then the repository (for ``bench`` itself); without ``source`` they import the
    installed (editable) ``provisioner``, i.e. the working tree.
    """

    workdir: Path
    sizes: Sizes
    source: Path | None = None
    python: str = sys.executable

    def path(self, name: str) -> Path:
        return self.workdir / name

    def run(
        self,
        argv: Sequence[str],
        *,
        tag: str,
        url: str | None = None,
        extra_env: Mapping[str, str] | None = None,
    ) -> ChildRun:
        """Run a measured program to its end; logs in ``workdir/tag.out|.err``."""
        env = {**self.env(url), **(extra_env or {})}
        return run_child(argv, env=env, cwd=self.workdir, logs=self.path(tag))

    def spawn(self, argv: Sequence[str], *, tag: str, url: str | None = None) -> Spawned:
        """Start a measured program and return at once (``finish()`` waits for it)."""
        return spawn(argv, env=self.env(url), cwd=self.workdir, logs=self.path(tag))

    def emulator(self, options: Sequence[str], *, tag: str) -> EmulatorProcess:
        """A fresh emulator process (not started yet: use ``with``)."""
        logs = self.path(f"{tag}.emulator")
        return EmulatorProcess(options, env=self.env(), cwd=self.workdir, logs=logs)

    def env(self, url: str | None = None) -> dict[str, str]:
        """The environment of a measured program: no proxies to our emulator, fixed creds."""
        env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
        paths = [str(self.source)] if self.source is not None else []
        env["PYTHONPATH"] = os.pathsep.join([*paths, str(REPO)])
        env.update(MANIFEST_ENV)
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
        if url is not None:
            env.update(
                AEP_PLATFORM_URL=url,
                AEP_IMS_URL=url,
                AEP_CLIENT_ID=CLIENT_ID,
                AEP_CLIENT_SECRET="bench-secret",
                AEP_ORG_ID=ORG_ID,
            )
        return env


def median(values: Iterable[float]) -> float:
    return float(statistics.median(list(values)))


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def rounded(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)
