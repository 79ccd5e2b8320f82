"""Run one program as a child process and measure it exactly: wall time, CPU and peak RSS.

``os.wait4`` returns the resource usage of that one child (and of the children it waited
for), so nothing else the harness runs leaks into the figures, as it would with deltas of
``getrusage(RUSAGE_CHILDREN)``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

__all__ = ["ChildRun", "Spawned", "run_child", "spawn"]

_DEFAULT_TIMEOUT: Final = 300.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildRun:
    """One finished child process."""

    argv: tuple[str, ...]
    returncode: int
    wall_s: float
    user_s: float
    sys_s: float
    maxrss_kib: int
    stdout: Path
    stderr: Path

    @property
    def cpu_s(self) -> float:
        return self.user_s + self.sys_s

    @property
    def maxrss_mib(self) -> float:
        return self.maxrss_kib / 1024

    def stdout_text(self) -> str:
        return self.stdout.read_text(encoding="utf-8", errors="replace")

    def stderr_tail(self, lines: int = 20) -> str:
        text = self.stderr.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def as_json(self) -> dict[str, object]:
        return {
            "returncode": self.returncode,
            "wall_s": round(self.wall_s, 4),
            "user_s": round(self.user_s, 4),
            "sys_s": round(self.sys_s, 4),
            "maxrss_mib": round(self.maxrss_mib, 2),
        }


class Spawned:
    """A started child; ``finish()`` reaps it with ``os.wait4`` and returns the figures."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        logs: Path,
    ) -> None:
        self.argv = tuple(argv)
        self._stdout = logs.with_suffix(".out")
        self._stderr = logs.with_suffix(".err")
        logs.parent.mkdir(parents=True, exist_ok=True)
        with self._stdout.open("wb") as out, self._stderr.open("wb") as err:
            self._started = time.perf_counter()
            self._proc = subprocess.Popen(
                self.argv, env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err
            )

    @property
    def pid(self) -> int:
        return self._proc.pid

    def alive(self) -> bool:
        """True while the child is still running (it is not reaped here)."""
        try:
            exited = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return False
        return exited is None

    def signal(self, signum: signal.Signals) -> None:
        if self._proc.returncode is None:
            os.kill(self.pid, signum)

    def finish(self, *, timeout: float = _DEFAULT_TIMEOUT) -> ChildRun:
        """Wait for the child (killing it after ``timeout`` seconds) and measure it."""
        killer = threading.Timer(timeout, self._kill)
        killer.daemon = True
        killer.start()
        try:
            _, status, usage = os.wait4(self.pid, 0)
        finally:
            killer.cancel()
        wall = time.perf_counter() - self._started
        code = os.waitstatus_to_exitcode(status)
        self._proc.returncode = code  # reaped here; keeps Popen from waiting again
        return ChildRun(
            argv=self.argv,
            returncode=code,
            wall_s=wall,
            user_s=usage.ru_utime,
            sys_s=usage.ru_stime,
            maxrss_kib=usage.ru_maxrss,
            stdout=self._stdout,
            stderr=self._stderr,
        )

    def _kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)


def spawn(argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, logs: Path) -> Spawned:
    """Start ``argv``; its stdout and stderr go to ``logs`` with ``.out`` and ``.err``."""
    return Spawned(argv, env=env, cwd=cwd, logs=logs)


def run_child(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    logs: Path,
    timeout: float = _DEFAULT_TIMEOUT,
) -> ChildRun:
    """Run ``argv`` to the end and measure it."""
    return spawn(argv, env=env, cwd=cwd, logs=logs).finish(timeout=timeout)
