"""The bench's phase probe: every step it times is still where the run looks it up, and its
wrappers time a call without changing what the call does."""

from __future__ import annotations

import asyncio

import pytest

from bench.phase_probe import STEPS, _counter, _wrapped, resolve


@pytest.mark.parametrize(("module", "name", "label"), STEPS, ids=[s[2] for s in STEPS])
def test_each_step_the_probe_times_is_still_there(module: str, name: str, label: str) -> None:
    owner, attr, func = resolve(module, name)
    assert callable(func)
    assert getattr(owner, attr) is func


def test_a_wrapped_function_returns_raises_and_is_counted() -> None:
    spent: dict[str, list[float]] = {}

    def double(x: int) -> int:
        if x < 0:
            raise ValueError("negative")
        return 2 * x

    timed = _wrapped(double, _counter(spent, "double"))
    assert timed(21) == 42
    with pytest.raises(ValueError, match="negative"):
        timed(-1)
    assert spent["double"][1] == 2
    assert spent["double"][0] >= 0.0


def test_a_wrapped_coroutine_function_stays_one() -> None:
    spent: dict[str, list[float]] = {}

    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    timed = _wrapped(answer, _counter(spent, "answer"))
    assert asyncio.iscoroutinefunction(timed)
    assert asyncio.run(timed()) == 42
    assert spent["answer"][1] == 1
