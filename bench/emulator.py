"""The emulator in a process of its own for one measured run: start, wait for the port, stop,
then read what it counted (see ``bench/emulator_proc.py``).
"""

from __future__ import annotations

import json
import signal
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from bench.children import ChildRun, Spawned, spawn

__all__ = ["EmulatorProcess", "Served", "free_port"]

_HOST: Final = "127.0.0.1"
_START_TIMEOUT: Final = 20.0
_STOP_TIMEOUT: Final = 20.0
_POLL: Final = 0.02


def free_port() -> int:
    """A port nobody listens on right now (the emulator binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True, slots=True, kw_only=True)
class Served:
    """What the emulator saw during one run, and what it cost it."""

    requests: Mapping[str, int]
    statuses: Mapping[str, int]
    responses: Mapping[str, int]
    throttled: int
    total: int
    process: ChildRun

    @property
    def created(self) -> int:
        """Connections created (``201`` answers to ``POST /connections``)."""
        return self.responses.get("create:201", 0)

    def as_json(self) -> dict[str, object]:
        return {
            "requests": dict(self.requests),
            "statuses": dict(self.statuses),
            "throttled": self.throttled,
            "total": self.total,
            "created": self.created,
            "emulator_process": self.process.as_json(),
        }


def _served(path: Path, process: ChildRun) -> Served:
    data = json.loads(path.read_text(encoding="utf-8"))
    return Served(
        requests={str(k): int(v) for k, v in data["requests"].items()},
        statuses={str(k): int(v) for k, v in data["statuses"].items()},
        responses={str(k): int(v) for k, v in data["responses"].items()},
        throttled=int(data["throttled"]),
        total=int(data["total"]),
        process=process,
    )


class EmulatorProcess:
    """``with EmulatorProcess(...) as emu:`` run something against ``emu.url``; ``emu.stop()``."""

    def __init__(
        self,
        options: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        logs: Path,
    ) -> None:
        self._options = tuple(options)
        self._env = env
        self._cwd = cwd
        self._logs = logs
        self._stats = logs.with_suffix(".stats.json")
        self._port = 0
        self._child: Spawned | None = None
        self._served: Served | None = None

    @property
    def url(self) -> str:
        return f"http://{_HOST}:{self._port}"

    def __enter__(self) -> Self:
        self._port = free_port()
        self._stats.unlink(missing_ok=True)
        argv = [
            sys.executable,
            "-m",
            "bench.emulator_proc",
            "--host",
            _HOST,
            "--port",
            str(self._port),
            "--stats-out",
            str(self._stats),
            *self._options,
        ]
        self._child = spawn(argv, env=self._env, cwd=self._cwd, logs=self._logs)
        try:
            self._wait_until_listening(self._child)
        except BaseException:
            self._child.signal(signal.SIGKILL)
            self._child.finish(timeout=_STOP_TIMEOUT)
            raise
        return self

    def _wait_until_listening(self, child: Spawned) -> None:
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if not child.alive():
                run = child.finish(timeout=_STOP_TIMEOUT)
                raise RuntimeError(f"emulator exited at start:\n{run.stderr_tail()}")
            try:
                with socket.create_connection((_HOST, self._port), timeout=0.5):
                    return
            except OSError:
                time.sleep(_POLL)
        raise RuntimeError(f"emulator not listening on port {self._port} after {_START_TIMEOUT}s")

    def stop(self) -> Served:
        """SIGTERM; the emulator writes its counters and exits."""
        if self._served is not None:
            return self._served
        if self._child is None:
            raise RuntimeError("the emulator was not started")
        self._child.signal(signal.SIGTERM)
        run = self._child.finish(timeout=_STOP_TIMEOUT)
        if run.returncode != 0 or not self._stats.exists():
            raise RuntimeError(f"emulator ended with {run.returncode}:\n{run.stderr_tail()}")
        self._served = _served(self._stats, run)
        return self._served

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._served is None and self._child is not None:
            self._child.signal(signal.SIGKILL)
            self._child.finish(timeout=_STOP_TIMEOUT)
