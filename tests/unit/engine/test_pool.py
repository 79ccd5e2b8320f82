"""pool.py: retries, attempts, budget, deadline, concurrency cap and stop, with fakes only."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest
from structlog.typing import EventDict

from provisioner.aep._retry import RetryBudget
from provisioner.engine._deadline import EntryDeadline
from provisioner.engine._domain import Job
from provisioner.engine._pool import Pool, PoolConfig, Provisioned
from provisioner.errors import PermanentError, RetryableError
from provisioner.reports._model import Outcome, Result
from provisioner.settings import Backoff
from tests.helpers import spec

Step = Provisioned | Exception
CREATED = Provisioned(status=Outcome.CREATED, connection_id="conn-1", http_status=201)


class TopRandom(random.Random):
    """Full jitter's worst case, so that delays are exact."""

    def uniform(self, a: float, b: float) -> float:
        return b


class RecordingSleep:
    """Returns at once; records each delay and runs an optional hook (e.g. ``pool.stop``)."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self.hook: Callable[[], None] | None = None

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        if self.hook is not None:
            self.hook()


class ScriptedProvisioner:
    """Plays each job's script of answers and errors in order; then answers CREATED."""

    def __init__(self, scripts: dict[str, list[Step]] | None = None) -> None:
        self.scripts = scripts or {}
        self.calls: list[tuple[str, int]] = []
        self.before: Callable[[Job, int], Awaitable[None]] | None = None

    async def provision(self, job: Job, attempt: int) -> Provisioned:
        self.calls.append((job.name, attempt))
        if self.before is not None:
            await self.before(job, attempt)
        steps = self.scripts.get(job.name)
        step = steps.pop(0) if steps else CREATED
        if isinstance(step, Exception):
            raise step
        return step


def jobs(*names: str) -> list[Job]:
    return [Job.of(spec(name), "prod") for name in names]


class Harness:
    def __init__(
        self,
        provisioner: ScriptedProvisioner,
        *,
        concurrency: int = 1,
        backoff: Backoff | None = None,
        budget: RetryBudget | None = None,
        entry_deadline: float = 600.0,
        grace: float = 15.0,
    ) -> None:
        self.provisioner = provisioner
        self.sleep = RecordingSleep()
        self.results: list[Result] = []
        config = PoolConfig(
            concurrency=concurrency,
            backoff=backoff or Backoff(base=1.0, cap=20.0, max_attempts=5),
            entry_deadline=entry_deadline,
            grace=grace,
        )
        self.pool = Pool(
            provisioner,
            config,
            on_result=self.results.append,
            budget=budget,
            sleep=self.sleep,
            rng=TopRandom(),
            rate_of=lambda: 7.456,
        )

    async def run(self, todo: Sequence[Job]) -> dict[str, Result]:
        await self.pool.run(todo)
        by_name = {r.name: r for r in self.results}
        assert len(by_name) == len(self.results) == len(todo), "one result per job"
        return by_name


def server_error(message: str = "service unavailable", status: int = 503) -> RetryableError:
    return RetryableError(message, status=status)


# --- retries ---------------------------------------------------------------------------------


async def test_pool_retries_503_then_succeeds() -> None:
    prov = ScriptedProvisioner({"a": [server_error(), server_error(), CREATED]})
    h = Harness(prov)
    results = await h.run(jobs("a"))
    result = results["a"]
    assert result.status is Outcome.CREATED
    assert result.connection_id == "conn-1"
    assert result.attempts == 3
    assert result.http_status == 201
    assert result.error is None
    assert prov.calls == [("a", 1), ("a", 2), ("a", 3)]
    assert h.sleep.delays == [1.0, 2.0]


async def test_pool_reports_existing_connections_as_found() -> None:
    found = Provisioned(status=Outcome.EXISTING, connection_id="old-7", http_status=200)
    results = await Harness(ScriptedProvisioner({"a": [found]})).run(jobs("a"))
    assert results["a"].status is Outcome.EXISTING
    assert results["a"].connection_id == "old-7"
    assert results["a"].attempts == 1


async def test_pool_gives_up_after_max_attempts_with_the_last_error() -> None:
    script: list[Step] = [server_error(f"boom {i}") for i in range(1, 10)]
    prov = ScriptedProvisioner({"a": script})
    h = Harness(prov, backoff=Backoff(base=1.0, cap=20.0, max_attempts=3))
    result = (await h.run(jobs("a")))["a"]
    assert result.status is Outcome.FAILED
    assert result.attempts == 3
    assert result.error == "gave up after 3 attempts: boom 3"
    assert result.http_status == 503
    assert len(prov.calls) == 3
    assert h.sleep.delays == [1.0, 2.0], "no wait after the last attempt"


async def test_pool_single_attempt_policy_never_retries() -> None:
    prov = ScriptedProvisioner({"a": [server_error()]})
    h = Harness(prov, backoff=Backoff(max_attempts=1))
    result = (await h.run(jobs("a")))["a"]
    assert result.status is Outcome.FAILED
    assert result.attempts == 1
    assert h.sleep.delays == []


async def test_pool_fails_permanent_error_at_once() -> None:
    error = PermanentError(
        "FLOW-1413-400: invalid connection spec id", status=400, code="FLOW-1413-400"
    )
    prov = ScriptedProvisioner({"a": [error]})
    h = Harness(prov)
    result = (await h.run(jobs("a")))["a"]
    assert result.status is Outcome.FAILED
    assert result.attempts == 1
    assert result.error == "FLOW-1413-400: invalid connection spec id"
    assert result.error_code == "FLOW-1413-400"
    assert result.http_status == 400
    assert h.sleep.delays == []


async def test_pool_waits_for_retry_after() -> None:
    throttled = RetryableError("slow down", status=429, retry_after=7.0)
    h = Harness(ScriptedProvisioner({"a": [throttled, CREATED]}))
    await h.run(jobs("a"))
    assert h.sleep.delays == [7.0]


async def test_pool_caps_retry_after() -> None:
    throttled = RetryableError("slow down", status=429, retry_after=900.0)
    backoff = Backoff(retry_after_cap=30.0)
    h = Harness(ScriptedProvisioner({"a": [throttled, CREATED]}), backoff=backoff)
    await h.run(jobs("a"))
    assert h.sleep.delays == [30.0]


async def test_pool_keeps_going_after_one_entry_fails() -> None:
    prov = ScriptedProvisioner({"b": [PermanentError("no", status=400)]})
    results = await Harness(prov).run(jobs("a", "b", "c"))
    assert {n: r.status for n, r in results.items()} == {
        "a": Outcome.CREATED,
        "b": Outcome.FAILED,
        "c": Outcome.CREATED,
    }


async def test_pool_reports_the_verification_of_a_connection() -> None:
    checked = Provisioned(
        status=Outcome.CREATED, connection_id="c-9", http_status=201, verified=True
    )
    results = await Harness(ScriptedProvisioner({"a": [checked]})).run(jobs("a"))
    assert results["a"].verified is True


async def test_same_name_in_two_sandboxes_gives_two_results() -> None:
    prov = ScriptedProvisioner()
    h = Harness(prov, concurrency=2)
    both = [Job.of(spec("fin"), "prod"), Job.of(spec("fin"), "hr-dev")]
    await h.pool.run(both)
    assert sorted((r.sandbox, r.status) for r in h.results) == [
        ("hr-dev", Outcome.CREATED),
        ("prod", Outcome.CREATED),
    ]
    assert len(prov.calls) == 2


async def test_pool_with_no_jobs_does_nothing() -> None:
    prov = ScriptedProvisioner()
    assert await Harness(prov, concurrency=4).run([]) == {}
    assert prov.calls == []


async def test_pool_lets_bugs_propagate() -> None:
    prov = ScriptedProvisioner({"a": [ValueError("a bug")]})
    with pytest.raises(ExceptionGroup) as info:
        await Harness(prov).pool.run(jobs("a"))
    assert info.group_contains(ValueError, match="a bug")


# --- retry budget ----------------------------------------------------------------------------


async def test_exhausted_retry_budget_fails_entries_with_a_clear_reason(
    info_logs: list[EventDict],
) -> None:
    always: dict[str, list[Step]] = {n: [server_error(status=500)] * 9 for n in ("a", "b")}
    budget = RetryBudget(capacity=10.0, retry_cost=5.0)
    h = Harness(ScriptedProvisioner(always), budget=budget)
    results = await h.run(jobs("a", "b"))
    assert results["a"].status is Outcome.FAILED
    assert results["a"].attempts == 3  # two retries paid for, the third refused
    assert results["b"].status is Outcome.FAILED
    assert results["b"].attempts == 1
    for result in results.values():
        assert result.error is not None
        assert result.error.startswith("retry budget exhausted")
        assert "service unavailable" in result.error
    assert budget.tokens == 0.0
    exhausted = [e for e in info_logs if e["event"] == "retry_budget_exhausted"]
    assert [e["entry"] for e in exhausted] == ["a", "b"]


async def test_throttled_retries_cost_no_budget() -> None:
    throttled: list[Step] = [RetryableError("slow down", status=429)] * 3
    h = Harness(ScriptedProvisioner({"a": [*throttled, CREATED]}), budget=RetryBudget(capacity=0.0))
    result = (await h.run(jobs("a")))["a"]
    assert result.status is Outcome.CREATED
    assert result.attempts == 4


async def test_successful_retry_refunds_what_it_paid() -> None:
    budget = RetryBudget(capacity=100.0, retry_cost=5.0, timeout_cost=10.0, tokens=50.0)
    timeout = RetryableError("create request timed out", status=None)
    h = Harness(ScriptedProvisioner({"a": [server_error(), timeout, CREATED]}), budget=budget)
    await h.run(jobs("a"))
    assert budget.tokens == 50.0  # 503 is throttled (free), the timeout's 10 came back


async def test_first_attempt_success_adds_a_token() -> None:
    budget = RetryBudget(capacity=100.0, tokens=50.0)
    await Harness(ScriptedProvisioner(), budget=budget).run(jobs("a"))
    assert budget.tokens == 51.0


# --- deadline --------------------------------------------------------------------------------


async def test_entry_deadline_covers_all_attempts() -> None:
    prov = ScriptedProvisioner({"a": [server_error("boom")]})
    never = asyncio.Event()

    async def hang_on_second_attempt(job: Job, attempt: int) -> None:
        if attempt == 2:
            await never.wait()

    prov.before = hang_on_second_attempt
    h = Harness(prov, entry_deadline=0.001)
    result = (await h.run(jobs("a")))["a"]
    assert result.status is Outcome.FAILED
    assert result.attempts == 2
    assert result.error == "deadline of 0.001s passed after 2 attempt(s); last error: boom"
    assert result.http_status == 503


async def test_entry_deadline_without_any_answer() -> None:
    prov = ScriptedProvisioner()
    never = asyncio.Event()

    async def hang(job: Job, attempt: int) -> None:
        if job.name == "slow":
            await never.wait()

    prov.before = hang
    results = await Harness(prov, concurrency=2, entry_deadline=0.001).run(jobs("slow", "ok"))
    assert results["slow"].status is Outcome.FAILED
    assert results["slow"].error == "deadline of 0.001s passed after 1 attempt(s)"
    assert results["slow"].http_status is None
    assert results["ok"].status is Outcome.CREATED


class LoopClock:
    """The running loop's clock, moved by hand: its timers (an entry's deadline) fall due
    when the clock passes them, with no waiting."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        loop = asyncio.get_running_loop()
        self.now = loop.time()
        monkeypatch.setattr(loop, "time", lambda: self.now)

    async def spend(self, seconds: float) -> None:
        """``seconds`` pass inside an entry; then two turns of the loop, in which a deadline
        that fell due fires and reaches the entry."""
        self.now += seconds
        await asyncio.sleep(0)
        await asyncio.sleep(0)


async def test_each_entry_of_a_worker_gets_a_full_deadline_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One worker, three entries each taking 0.9 of the deadline: none fails (a deadline
    running from the worker's start would expire in the second)."""
    clock = LoopClock(monkeypatch)
    prov = ScriptedProvisioner()

    async def most_of_the_deadline(job: Job, attempt: int) -> None:
        await clock.spend(9.0)

    prov.before = most_of_the_deadline
    results = await Harness(prov, concurrency=1, entry_deadline=10.0).run(jobs("a", "b", "c"))
    assert {name: r.status for name, r in results.items()} == dict.fromkeys(
        ("a", "b", "c"), Outcome.CREATED
    )


async def test_a_worker_goes_on_after_an_entry_misses_its_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = LoopClock(monkeypatch)
    prov = ScriptedProvisioner()

    async def stuck_is_slow(job: Job, attempt: int) -> None:
        await clock.spend(15.0 if job.name == "stuck" else 9.0)

    prov.before = stuck_is_slow
    h = Harness(prov, concurrency=1, entry_deadline=10.0)
    results = await h.run(jobs("a", "stuck", "b", "c"))
    assert results["stuck"].status is Outcome.FAILED
    assert results["stuck"].error == "deadline of 10s passed after 1 attempt(s)"
    assert [results[n].status for n in ("a", "b", "c")] == [Outcome.CREATED] * 3
    assert [r.name for r in h.results] == ["a", "stuck", "b", "c"]  # one worker, in order


async def test_an_entry_that_swallows_its_deadline_ends_as_it_ended_and_the_worker_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Code that catches the deadline's cancellation and returns: its result stands, and the
    fired deadline (which cannot be re-armed) is replaced for the next entries."""
    clock = LoopClock(monkeypatch)
    prov = ScriptedProvisioner()

    async def swallow(job: Job, attempt: int) -> None:
        with contextlib.suppress(asyncio.CancelledError):  # the bug under test: swallowed
            await clock.spend(15.0 if job.name == "deaf" else 1.0)

    prov.before = swallow
    h = Harness(prov, concurrency=1, entry_deadline=10.0)
    results = await h.run(jobs("deaf", "a", "b"))
    assert [r.status for r in h.results] == [Outcome.CREATED] * 3
    assert results["deaf"].attempts == 1


async def test_a_worker_moves_its_deadline_timer_once_per_deadline_not_once_per_entry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Twenty entries of 1 s each under a 10 s deadline: the worker's timer is armed for the
    first entry and moved only when it falls due (at 10 s and 20 s), each entry's deadline
    still in force (the entry that overruns its own fails)."""
    clock = LoopClock(monkeypatch)
    loop = asyncio.get_running_loop()
    armed: list[float] = []
    real_call_at = loop.call_at

    def counting_call_at(when: float, callback: Any, *args: Any) -> asyncio.TimerHandle:
        if isinstance(getattr(callback, "__self__", None), EntryDeadline):
            armed.append(when)
        return real_call_at(when, callback, *args)

    monkeypatch.setattr(loop, "call_at", counting_call_at)
    prov = ScriptedProvisioner()

    async def one_second_but_the_last(job: Job, attempt: int) -> None:
        await clock.spend(11.0 if job.name == "e19" else 1.0)

    prov.before = one_second_but_the_last
    names = [f"e{i:02d}" for i in range(20)]
    results = await Harness(prov, concurrency=1, entry_deadline=10.0).run(jobs(*names))
    assert [results[n].status for n in names[:-1]] == [Outcome.CREATED] * 19
    assert results["e19"].status is Outcome.FAILED
    start = armed[0] - 10.0
    assert armed == [start + 10.0, start + 19.0, start + 28.0]  # not one per entry


def test_the_deadline_holds_in_real_time() -> None:
    """The same pool on a loop of its own, as the console runs it, on the real clock."""

    async def main() -> dict[str, Result]:
        never = asyncio.Event()

        async def hang(job: Job, attempt: int) -> None:
            if job.name == "stuck":
                await never.wait()

        prov = ScriptedProvisioner()
        prov.before = hang
        return await Harness(prov, concurrency=1, entry_deadline=0.05).run(jobs("stuck", "ok"))

    results = asyncio.run(main())
    assert results["stuck"].status is Outcome.FAILED
    assert results["stuck"].error == "deadline of 0.05s passed after 1 attempt(s)"
    assert results["ok"].status is Outcome.CREATED


# --- concurrency -----------------------------------------------------------------------------


async def test_concurrency_cap_is_reached_and_never_exceeded() -> None:
    cap = 4
    in_flight = 0
    peak = 0
    full = asyncio.Event()

    async def track(job: Job, attempt: int) -> None:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        if in_flight == cap:
            full.set()
        await full.wait()
        for _ in range(3):
            await asyncio.sleep(0)  # let the other workers interleave
        in_flight -= 1

    prov = ScriptedProvisioner()
    prov.before = track
    names = [f"db-{i:02d}" for i in range(25)]
    results = await Harness(prov, concurrency=cap).run(jobs(*names))
    assert peak == cap
    assert all(r.status is Outcome.CREATED for r in results.values())
    assert sorted(name for name, _ in prov.calls) == names


async def test_concurrency_above_job_count_runs_every_job_once() -> None:
    prov = ScriptedProvisioner()
    results = await Harness(prov, concurrency=64).run(jobs("a", "b"))
    assert sorted(results) == ["a", "b"]
    assert sorted(prov.calls) == [("a", 1), ("b", 1)]


# --- stop ------------------------------------------------------------------------------------


async def test_stop_starts_no_new_entry_and_skips_the_rest() -> None:
    prov = ScriptedProvisioner()
    h = Harness(prov, concurrency=1)

    async def stop_during_first(job: Job, attempt: int) -> None:
        h.pool.stop()

    prov.before = stop_during_first
    results = await h.run(jobs("a", "b", "c", "d"))
    assert prov.calls == [("a", 1)]
    assert results["a"].status is Outcome.CREATED
    for name in ("b", "c", "d"):
        assert results[name].status is Outcome.SKIPPED
        assert results[name].attempts == 0
    assert h.pool.stopping


async def test_stop_lets_in_flight_entries_finish_within_grace() -> None:
    prov = ScriptedProvisioner()
    h = Harness(prov, concurrency=2)
    both = asyncio.Event()
    started: list[str] = []

    async def stop_when_both_run(job: Job, attempt: int) -> None:
        started.append(job.name)
        if len(started) == 2:
            h.pool.stop()
            both.set()
        await both.wait()

    prov.before = stop_when_both_run
    results = await h.run(jobs("a", "b", "c", "d"))
    assert results["a"].status is Outcome.CREATED
    assert results["b"].status is Outcome.CREATED
    assert results["c"].status is Outcome.SKIPPED
    assert results["d"].status is Outcome.SKIPPED


async def test_stop_during_backoff_skips_the_entry_instead_of_retrying() -> None:
    prov = ScriptedProvisioner({"a": [server_error(), CREATED]})
    h = Harness(prov)
    h.sleep.hook = h.pool.stop
    results = await h.run(jobs("a", "b"))
    assert prov.calls == [("a", 1)]
    assert results["a"].status is Outcome.SKIPPED
    assert results["a"].attempts == 1
    assert results["a"].error == "interrupted"
    assert results["b"].status is Outcome.SKIPPED


async def test_entries_still_running_after_grace_are_cancelled_and_skipped(
    info_logs: list[EventDict],
) -> None:
    prov = ScriptedProvisioner()
    h = Harness(prov, concurrency=2, grace=0.001)
    never = asyncio.Event()

    async def stop_then_hang(job: Job, attempt: int) -> None:
        h.pool.stop()
        await never.wait()

    prov.before = stop_then_hang
    results = await h.run(jobs("a", "b"))
    assert results["a"].status is Outcome.SKIPPED
    assert results["a"].attempts == 1
    assert results["a"].error == "interrupted"
    assert results["b"].status is Outcome.SKIPPED
    assert [e["event"] for e in info_logs if e["log_level"] == "warning"] == [
        "stop_requested",
        "grace_expired",
    ]


async def test_stop_before_run_skips_everything() -> None:
    prov = ScriptedProvisioner()
    h = Harness(prov, concurrency=3)
    h.pool.stop()
    results = await h.run(jobs("a", "b"))
    assert prov.calls == []
    assert {r.status for r in results.values()} == {Outcome.SKIPPED}


async def test_cancelled_run_records_in_flight_entries_as_skipped_and_reraises() -> None:
    prov = ScriptedProvisioner()
    h = Harness(prov, concurrency=1)
    running = asyncio.Event()
    never = asyncio.Event()

    async def hang(job: Job, attempt: int) -> None:
        running.set()
        await never.wait()

    prov.before = hang
    task = asyncio.create_task(h.pool.run(jobs("a", "b")))
    await running.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [(r.name, r.status, r.error) for r in h.results] == [
        ("a", Outcome.SKIPPED, "interrupted")
    ]


# --- logs ------------------------------------------------------------------------------------


async def test_one_retry_scheduled_event_per_retry(info_logs: list[EventDict]) -> None:
    script: list[Step] = [
        RetryableError("unavailable", status=503, code="FLOW-1103-503"),
        RetryableError("bad gateway", status=502),
        RetryableError("create request timed out", status=None),
        CREATED,
    ]
    await Harness(ScriptedProvisioner({"a": script})).run(jobs("a"))
    events = [e for e in info_logs if e["event"] == "retry_scheduled"]
    assert [
        (e["entry"], e["attempt"], e["delay_s"], e["reason"], e["rate"], e["http_status"])
        for e in events
    ] == [
        ("a", 1, 1.0, "FLOW-1103-503", 7.46, 503),
        ("a", 2, 2.0, "HTTP 502", 7.46, 502),
        ("a", 3, 4.0, "create request timed out", 7.46, None),
    ]
    assert all(e["log_level"] == "info" for e in events)


async def test_no_retry_scheduled_event_when_nothing_is_retried(
    info_logs: list[EventDict],
) -> None:
    prov = ScriptedProvisioner({"b": [PermanentError("no", status=400)]})
    await Harness(prov).run(jobs("a", "b"))
    assert [e for e in info_logs if e["event"] == "retry_scheduled"] == []


async def test_stop_during_an_attempt_that_then_fails_retryably_skips_it_not_fails() -> None:
    prov = ScriptedProvisioner({"a": [server_error(), CREATED]})
    h = Harness(prov)

    async def stop_first(job: Job, attempt: int) -> None:
        h.pool.stop()

    prov.before = stop_first
    results = await h.run(jobs("a"))
    assert results["a"].status is Outcome.SKIPPED
    assert results["a"].error == "interrupted"
    assert h.sleep.delays == []
