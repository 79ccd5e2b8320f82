"""The event loop a command runs on.

A process of our own (the console script, ``python -m provisioner``: :func:`for_process`) runs
on uvloop when it is installed. It is libuv's loop, written in Cython: the per-request work of
the loop itself (timers, callbacks, socket reads and writes) costs less CPU than in asyncio's
Python loop: about 2% of ``apply``'s CPU in the benchmark (``bench/README.md``). Tasks,
timeouts, cancellation and signal handlers behave the same on both.

``PROVISIONER_LOOP`` chooses: ``auto`` (the default: uvloop in a process of ours when it is
installed), ``asyncio`` (the standard loop), ``uvloop`` (required: an error where it is not
installed). A library caller (tests, an embedding program) that sets nothing keeps asyncio's
default loop, as it keeps its garbage collector (``gctune``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Final, TypeVar

import structlog

from provisioner.errors import ConfigError

__all__ = ["CHOICES", "ENV_VAR", "for_process", "loop_factory", "run"]

ENV_VAR: Final = "PROVISIONER_LOOP"
CHOICES: Final = ("auto", "asyncio", "uvloop")

LoopFactory = Callable[[], asyncio.AbstractEventLoop]
T = TypeVar("T")

log = structlog.get_logger(__name__)

_ours = False


def for_process() -> None:
    """At process start, in a process of our own: ``auto`` may pick uvloop."""
    global _ours
    _ours = True


def loop_factory(env: Mapping[str, str]) -> LoopFactory | None:
    """The factory of the chosen loop; None for asyncio's default. ConfigError for a value of
    ``PROVISIONER_LOOP`` that is not a choice, or ``uvloop`` where it is not installed."""
    choice = env.get(ENV_VAR, "").strip().lower() or "auto"
    if choice not in CHOICES:
        raise ConfigError(f"{ENV_VAR}: expected one of {', '.join(CHOICES)}, got {choice!r}")
    if choice == "asyncio" or (choice == "auto" and not _ours):
        return None
    try:
        import uvloop  # only when it may be used: importing it costs start-up time
    except ImportError:
        if choice == "uvloop":
            raise ConfigError(f"{ENV_VAR}=uvloop, but uvloop is not installed") from None
        return None
    factory: LoopFactory = uvloop.new_event_loop
    return factory


def run(env: Mapping[str, str], main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """``asyncio.run(main())`` on the loop ``env`` chooses. The loop is chosen (and a bad
    choice refused) before ``main`` is called, so no coroutine is left un-awaited."""
    factory = loop_factory(env)
    with asyncio.Runner(loop_factory=factory) as runner:
        log.debug("event_loop", loop=type(runner.get_loop()).__module__.partition(".")[0])
        return runner.run(main())
