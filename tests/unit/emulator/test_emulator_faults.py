"""Emulator fault knobs: rate limit, injected 5xx, dropped creates, latency; CLI options."""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import sys
from pathlib import Path

import aiohttp
import pytest
import structlog

from provisioner.emulator import (
    FaultPlan,
    RequestKind,
    add_emulator_arguments,
    plan_from_args,
    serve_from_args,
)
from provisioner.emulator import __main__ as emulator_main
from provisioner.emulator import _server as server
from provisioner.emulator.__main__ import main
from provisioner.emulator._faults import FaultDice, RateLimiter
from provisioner.errors import ConfigError
from tests.emulator_caller import FakeClock, Reply, oracle_body, serving

CONNECTIONS = "/connections"


def code_of(reply: Reply) -> str:
    return str(reply.field("type")).rsplit("/", 1)[-1]


async def test_rate_limit_answers_429_with_retry_after_per_org() -> None:
    clock = FakeClock()
    async with serving(FaultPlan(rate_limit=2), clock=clock) as (emu, caller):
        token = await caller.access_token()
        statuses = [(await caller.flow("GET", CONNECTIONS, token=token)).status for _ in range(2)]
        throttled = await caller.flow("GET", CONNECTIONS, token=token)
        assert statuses == [200, 200]
        assert (throttled.status, code_of(throttled)) == (429, "FLOW-1429-429")
        assert throttled.headers["Retry-After"] == "1"
        other_org = await caller.flow(
            "GET", CONNECTIONS, token=token, headers={"x-gw-ims-org-id": "OTHER@AdobeOrg"}
        )
        assert other_org.status == 200
        clock.advance(0.5)
        assert (await caller.flow("GET", CONNECTIONS, token=token)).status == 200
        assert emu.stats.throttled == 1
        assert emu.stats.tokens_issued == 1  # IMS is not rate limited
        assert emu.stats.responses[RequestKind.LIST, 429] == 1


async def test_rate_limit_without_retry_after() -> None:
    plan = FaultPlan(rate_limit=1, retry_after=False)
    async with serving(plan, clock=FakeClock()) as (_, caller):
        token = await caller.access_token()
        await caller.flow("GET", CONNECTIONS, token=token)
        throttled = await caller.flow("GET", CONNECTIONS, token=token)
        assert throttled.status == 429
        assert "Retry-After" not in throttled.headers


async def _statuses_with_errors(seed: int) -> tuple[list[int], int]:
    async with serving(FaultPlan(error_rate=0.5, seed=seed)) as (emu, caller):
        token = await caller.access_token()
        statuses: list[int] = []
        for _ in range(30):
            reply = await caller.flow("GET", CONNECTIONS, token=token)
            if reply.status >= 500:
                expected = "FLOW-1102-500" if reply.status == 500 else "FLOW-1103-503"
                assert code_of(reply) == expected
            statuses.append(reply.status)
        return statuses, emu.stats.injected_errors


async def test_error_rate_is_seeded_and_deterministic() -> None:
    first, injected = await _statuses_with_errors(seed=7)
    second, _ = await _statuses_with_errors(seed=7)
    assert first == second
    errors = [s for s in first if s >= 500]
    assert injected == len(errors)
    assert 5 <= len(errors) <= 25
    assert set(errors) <= {500, 503}


async def test_injected_errors_come_before_any_write() -> None:
    async with serving(FaultPlan(error_rate=1.0)) as (emu, caller):
        token = await caller.access_token()
        reply = await caller.flow("POST", CONNECTIONS, token=token, json=oracle_body("x"))
        assert reply.status in (500, 503)
        assert emu.store.connections() == []
        assert emu.stats.requests[RequestKind.CREATE] == 1


async def test_reset_rate_commits_then_drops_the_response() -> None:
    async with serving(FaultPlan(reset_rate=1.0)) as (emu, caller):
        token = await caller.access_token()
        with pytest.raises(aiohttp.ClientConnectionError):
            await caller.flow("POST", CONNECTIONS, token=token, json=oracle_body("lost"))
        assert emu.store.count_by_name("lost") == 1
        assert emu.stats.resets == 1
        listed = await caller.flow(
            "GET", CONNECTIONS, token=token, params=[("property", "name==lost")]
        )
        assert len(listed.field("items")) == 1  # type: ignore[arg-type]


async def test_latency_is_served_per_kind() -> None:
    async with serving(FaultPlan(latency_ms=5, latency={"create": 40})) as (emu, caller):
        delays: list[float] = []

        async def record(seconds: float) -> None:
            delays.append(seconds)

        emu.state.sleep = record
        token = await caller.access_token()
        await caller.flow("POST", CONNECTIONS, token=token, json=oracle_body("slow"))
        await caller.flow("GET", CONNECTIONS, token=token)
        assert delays == [0.005, 0.04, 0.005]


def test_token_bucket_refills_on_the_clock() -> None:
    clock = FakeClock()
    limiter = RateLimiter(schedule=((0.0, 4.0),), burst=2, clock=clock)
    assert [limiter.acquire("org") for _ in range(2)] == [0.0, 0.0]
    assert limiter.acquire("org") == pytest.approx(0.25)
    assert limiter.acquire("other") == 0.0
    clock.advance(0.25)
    assert limiter.acquire("org") == 0.0


def test_dice_never_roll_for_a_zero_rate() -> None:
    dice = FaultDice(seed=1)
    assert dice.server_error(0.0) is None
    assert not dice.reset(0.0)
    assert dice.server_error(1.0) in (500, 503)
    assert dice.reset(1.0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"latency_ms": -1},
        {"latency": {"teleport": 5}},
        {"latency": {"create": -5}},
        {"rate_limit": 0},
        {"rate_burst": 0.5},
        {"error_rate": 1.5},
        {"reset_rate": -0.1},
        {"token_ttl": 0},
        {"client_id": ""},
        {"org": ""},
    ],
)
def test_fault_plan_rejects_bad_values(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="emulator: "):
        FaultPlan(**kwargs)  # type: ignore[arg-type]


def test_plan_from_args_reads_every_knob() -> None:
    parser = argparse.ArgumentParser()
    add_emulator_arguments(parser)
    ns = parser.parse_args(
        [
            "--port", "0", "--latency-ms", "3", "--latency", "create=50", "--rate-limit", "10",
            "--no-retry-after", "--error-rate", "0.1", "--reset-rate", "0.2", "--token-ttl", "5",
            "--client-id", "cid", "--client-secret", "sec", "--org", "ORG@AdobeOrg",
            "--unreachable-host", "DB1.example.com", "--seed", "3",
        ]
    )  # fmt: skip
    plan = plan_from_args(ns)
    assert (ns.host, ns.port, ns.db) == ("127.0.0.1", 0, ":memory:")
    assert plan.delay_for(RequestKind.CREATE) == 0.05
    assert plan.delay_for(RequestKind.LIST) == 0.003
    assert (plan.rate_limit, plan.retry_after, plan.error_rate, plan.reset_rate) == (
        10,
        False,
        0.1,
        0.2,
    )
    assert (plan.token_ttl, plan.client_id, plan.client_secret, plan.org, plan.seed) == (
        5,
        "cid",
        "sec",
        "ORG@AdobeOrg",
        3,
    )
    assert plan.is_unreachable("db1.example.com")


@pytest.mark.parametrize(
    "argv",
    [
        ["--latency", "nap=5"],
        ["--latency", "create=soon"],
        ["--error-rate", "2"],
        ["--rate-limit", "0"],
        ["--rate-burst", "0.5"],
        ["--limit-schedule", "5:50"],
        ["--limit-schedule", "0:50,10"],
        ["--limit-schedule", "0:50,soon:10"],
        ["--limit-schedule", "0:50,10:0"],
        ["--limit-schedule", "0:50,10:20,5:10"],
        ["--port", "99999"],
        ["--token-ttl", "0"],
    ],
)
def test_bad_options_are_usage_errors(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2


async def test_module_entry_point_serves_until_interrupted() -> None:
    """Smoke test of ``python -m provisioner.emulator``: start, answer IMS, stop on SIGINT."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "provisioner.emulator",
        "--port",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stderr is not None
        line = (await asyncio.wait_for(proc.stderr.readline(), 10)).decode()
        match = re.search(r"(http://127\.0\.0\.1:\d+)", line)
        assert match, line
        form = {
            "grant_type": "client_credentials",
            "client_id": "c",
            "client_secret": "s",
            "scope": "openid",
        }
        async with (
            aiohttp.ClientSession() as session,
            session.post(match.group(1) + "/ims/token/v3", data=form) as response,
        ):
            assert response.status == 200
        proc.send_signal(signal.SIGINT)
        stdout, _ = await asyncio.wait_for(proc.communicate(), 10)
        assert stdout == b""
        assert proc.returncode == 130
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


@pytest.mark.parametrize(("outcome", "code"), [(None, 0), (KeyboardInterrupt(), 130)])
def test_main_exit_codes(
    monkeypatch: pytest.MonkeyPatch, outcome: BaseException | None, code: int
) -> None:
    seen: list[argparse.Namespace] = []

    async def fake_serve(ns: argparse.Namespace) -> None:
        seen.append(ns)
        if outcome is not None:
            raise outcome

    monkeypatch.setattr(emulator_main, "serve_from_args", fake_serve)
    assert main(["--port", "0", "--db", "x.db"]) == code
    assert (seen[0].port, seen[0].db) == (0, "x.db")
    structlog.reset_defaults()


async def test_serve_runs_until_cancelled(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    started = asyncio.Event()
    urls: list[str] = []

    class Recorder:
        def info(self, event: str, **fields: str) -> None:
            if event == "emulator_started":
                urls.append(fields["url"])
                started.set()

    monkeypatch.setattr(server, "log", Recorder())
    parser = argparse.ArgumentParser()
    add_emulator_arguments(parser)
    ns = parser.parse_args(["--port", "0", "--db", str(tmp_path / "e.db")])
    task = asyncio.create_task(serve_from_args(ns))
    await started.wait()
    form = {
        "grant_type": "client_credentials",
        "client_id": "c",
        "client_secret": "s",
        "scope": "o",
    }
    async with (
        aiohttp.ClientSession() as session,
        session.post(urls[0] + "/ims/token/v3", data=form) as response,
    ):
        assert response.status == 200
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (tmp_path / "e.db").exists()
