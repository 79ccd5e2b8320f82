"""The convergence rule (which copy is kept) and the deletes behind it; the settle window of a
create whose answer was lost; reads by id where the listing lags; --settle."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from provisioner.aep import ClientConfig, Connection, JsonBody, RateController
from provisioner.aep._client import FlowClient
from provisioner.cli._main import build_parser, main
from provisioner.emulator._faults import FaultPlan, RequestKind
from provisioner.emulator._server import RunningEmulator, running_emulator
from provisioner.engine._apply import ApplyRun
from provisioner.engine._converge import Converger, judge_copies
from provisioner.engine._discover import duplicated_names
from provisioner.engine._entries import RunOptions
from provisioner.engine._provision import answer_lost
from provisioner.engine._state import StateStore
from provisioner.errors import ConfigError, PermanentError, RetryableError
from provisioner.manifest._load import DatabaseSpec
from provisioner.reports._model import Outcome, Report
from provisioner.settings import Backoff, Timeouts
from tests.conftest import make_settings
from tests.emulator_caller import FakeClock
from tests.helpers import manifest, sent_name, spec, write_manifest

OURS = "test-client"


def _copy(cid: str, at: int | None, client: str | None = OURS) -> Connection:
    return Connection(id=cid, name="n", created_at=at, created_client=client)


def test_the_oldest_copy_is_kept_then_the_lowest_id() -> None:
    verdict = judge_copies(
        [_copy("c", 300), _copy("b", 100), _copy("a", 100), _copy("z", None)], client_id=OURS
    )
    assert verdict.keep == "a"
    assert verdict.delete == ("b", "c", "z")
    assert verdict.foreign == ()


def test_two_runs_agree_whatever_order_they_listed_in() -> None:
    copies = [_copy("x", 5), _copy("y", 5), _copy("w", 7)]
    assert judge_copies(copies, client_id=OURS) == judge_copies(copies[::-1], client_id=OURS)


def test_any_copy_of_another_client_means_nothing_is_deleted() -> None:
    verdict = judge_copies(
        [_copy("a", 1), _copy("b", 2, "other"), _copy("c", 3, None)], client_id=OURS
    )
    assert verdict.keep is None
    assert verdict.delete == ()
    assert verdict.foreign == ("b", "c")  # an unknown creator is not ours either


def test_one_copy_or_the_same_copy_twice_is_no_duplicate() -> None:
    assert judge_copies([_copy("a", 1, "other")], client_id=OURS).keep == "a"
    assert judge_copies([_copy("a", 1), _copy("a", 1)], client_id=OURS).delete == ()
    assert judge_copies([], client_id=OURS).keep is None


def test_a_lost_answer_is_no_answer_or_a_gateway_that_gave_up() -> None:
    assert answer_lost(RetryableError("timeout", status=None))
    assert answer_lost(RetryableError("bad gateway", status=502))
    assert answer_lost(RetryableError("gateway timeout", status=504))
    assert not answer_lost(RetryableError("busy", status=503))
    assert not answer_lost(RetryableError("refused", status=None, sent=False))


class _Time:
    def __init__(self) -> None:
        self.clock = FakeClock()
        self.slept: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.clock.advance(seconds)
        await asyncio.sleep(0)


async def _apply(
    emu: RunningEmulator, tmp_path: Path, specs: list[DatabaseSpec], time: _Time, settle: float
) -> Report:
    settings = make_settings(emu, tmp_path, timeouts=Timeouts(request=5.0, settle=settle))
    run = ApplyRun(
        manifest(tmp_path, specs), settings, RunOptions(), sleep=time.sleep, clock=time.clock
    )
    return await run.execute()


async def test_a_lost_create_that_never_landed_is_looked_for_until_the_window_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_create = FlowClient.create_connection
    lost: list[str] = []

    async def lose_first(self: FlowClient, body: JsonBody, *, sandbox: str) -> object:
        if not lost:
            lost.append(sent_name(body))
            raise RetryableError("create: no answer", status=None)  # and nothing landed
        return await real_create(self, body, sandbox=sandbox)

    monkeypatch.setattr(FlowClient, "create_connection", lose_first)
    time = _Time()
    async with running_emulator(FaultPlan(list_lag=2.0), clock=time.clock) as emu:
        report = await _apply(emu, tmp_path, [spec("once")], time, settle=10.0)
        assert report.results[0].status is Outcome.CREATED
        assert emu.store.count_by_name("once") == 1
        assert sum(time.slept) >= 10.0  # the whole window was given before sending again
        assert emu.stats.requests[RequestKind.LIST] >= 10  # looked each second meanwhile


async def test_a_known_connection_the_listing_does_not_show_yet_is_read_by_id(
    tmp_path: Path,
) -> None:
    time = _Time()
    async with running_emulator(FaultPlan(list_lag=5.0), clock=time.clock) as emu:
        first = await _apply(emu, tmp_path, [spec("fresh")], time, settle=0.0)
        second = await _apply(emu, tmp_path, [spec("fresh")], time, settle=0.0)
        assert second.results[0].status is Outcome.EXISTING
        assert second.results[0].connection_id == first.results[0].connection_id
        assert emu.store.count_by_name("fresh") == 1
        assert emu.stats.requests[RequestKind.GET] == 1


async def test_a_known_connection_deleted_or_renamed_meanwhile_is_created_again(
    tmp_path: Path,
) -> None:
    time = _Time()
    async with running_emulator(FaultPlan(), clock=time.clock) as emu:
        await _apply(emu, tmp_path, [spec("gone"), spec("renamed")], time, settle=0.0)
        records = {r.name: r for r in emu.store.connections()}
        emu.store.delete(records["gone"].org, records["gone"].sandbox, records["gone"].id)
        emu.store.replace(dataclasses.replace(records["renamed"], name="elsewhere"))
        again = await _apply(emu, tmp_path, [spec("gone"), spec("renamed")], time, settle=0.0)
        assert [r.status for r in again.results] == [Outcome.CREATED, Outcome.CREATED]
        assert emu.stats.requests[RequestKind.GET] == 2


async def test_an_unrecorded_create_of_a_killed_run_gets_the_settle_window(
    tmp_path: Path,
) -> None:
    """A process died after sending a create (its intent row stands, no outcome): the next
    run waits the window once, lists again, finds it and adopts it as its own."""
    time = _Time()
    async with running_emulator(FaultPlan(list_lag=3.0), clock=time.clock) as emu:
        settings = make_settings(emu, tmp_path, timeouts=Timeouts(request=5.0, settle=10.0))
        with StateStore.open(settings.state_path) as state:
            state.intend([(settings.target("prod"), "crashed", None)], run_id="killed")
        await _apply(emu, tmp_path, [spec("crashed")], time, settle=0.0)  # lands, unlisted
        with StateStore.open(settings.state_path) as state:  # as if its outcome was lost
            state.forget(settings.target("prod"), "crashed")
            state.intend([(settings.target("prod"), "crashed", None)], run_id="killed")
        report = await _apply(emu, tmp_path, [spec("crashed")], time, settle=10.0)
        assert report.results[0].status is Outcome.EXISTING
        assert emu.store.count_by_name("crashed") == 1
        assert sum(time.slept) >= 10.0
        with StateStore.open(settings.state_path) as state:
            assert state.entries(settings.target("prod"))["crashed"].created_by_us


async def test_deletes_that_find_the_copy_gone_or_fail_are_told_apart(tmp_path: Path) -> None:
    time = _Time()
    async with running_emulator(FaultPlan(), clock=time.clock) as emu:
        settings = make_settings(emu, tmp_path, backoff=Backoff(base=0, cap=0, max_attempts=2))
        async with FlowClient(ClientConfig.of(settings), pacer=RateController(1000.0)) as client:
            await client.authenticate()
            converger = Converger(
                client, client_id=OURS, backoff=settings.backoff, concurrency=2, sleep=time.sleep
            )
            gone = await converger.converge("prod", [_copy("k", 1), _copy("absent", 2)])
            assert (gone.keep, gone.removed, gone.error) == ("k", (), None)

            calls: list[str] = []

            async def failing(connection_id: str, *, sandbox: str) -> bool:
                calls.append(connection_id)
                if connection_id == "flaky":
                    raise RetryableError("delete: HTTP 503", status=503)
                raise PermanentError("forbidden", status=403, code="FLOW-2120-403")

            client.delete_connection = failing  # type: ignore[method-assign]
            failed = await converger.converge(
                "prod", [_copy("k", 1), _copy("flaky", 2), _copy("no", 3)]
            )
            assert failed.removed == ()
            assert failed.error is not None
            assert "flaky: gave up after 2 attempts" in failed.error
            assert "no: forbidden" in failed.error
            assert calls == ["flaky", "flaky", "no"]


def test_settle_option_reaches_the_settings_and_refuses_a_negative_window(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DB_PASSWORD", "pw")
    args = build_parser().parse_args(["apply", "m.yaml", "--settle", "4.5"])
    assert args.settle == 4.5
    assert build_parser().parse_args(["plan", "m.yaml"]).settle == 30.0
    with pytest.raises(ConfigError, match="--settle"):
        Timeouts(settle=-1.0)
    path = write_manifest(tmp_path / "m.yaml", ["one"])
    assert main(["apply", str(path), "--emulator", "--settle", "-1"]) == 2
    assert "--settle must be a number of seconds >= 0, got -1" in capsys.readouterr().err


async def test_reads_that_fail_around_the_run_fall_back_to_looking_per_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The listing after the settle window, a read by id and the read-back may fail: the
    run then does what it did without them (each create looks first; a known id unreadable
    is created; no read-back), and says so in the log."""
    from provisioner.engine import _reconcile

    time = _Time()
    async with running_emulator(FaultPlan(list_lag=3.0), clock=time.clock) as emu:
        settings = make_settings(emu, tmp_path, timeouts=Timeouts(request=5.0, settle=4.0))
        await _apply(emu, tmp_path, [spec("known")], time, settle=0.0)
        with StateStore.open(settings.state_path) as state:
            state.intend([(settings.target("prod"), "pending", None)], run_id="killed")

        async def listing_down(*args: object, **kwargs: object) -> object:
            raise RetryableError("list: HTTP 503", status=503)

        async def get_down(self: FlowClient, connection_id: str, *, sandbox: str) -> object:
            raise RetryableError("get: HTTP 503", status=503)

        monkeypatch.setattr(_reconcile, "list_inventory", listing_down)
        monkeypatch.setattr(_reconcile, "duplicated_names", listing_down)
        monkeypatch.setattr(FlowClient, "get_connection", get_down)
        with capture_logs() as logs:
            report = await _apply(emu, tmp_path, [spec("known"), spec("pending")], time, 4.0)
        events = {entry["event"] for entry in logs}
        assert {"listing_failed", "read_by_id_failed", "read_back_failed"} <= events
        assert [r.status for r in report.results] == [Outcome.CREATED, Outcome.CREATED]


def test_read_back_lookups_hold_a_page_of_names_or_a_few_kilobytes() -> None:
    from provisioner.engine._discover import _batches

    assert [len(b) for b in _batches([f"n{i:03d}" for i in range(250)])] == [100, 100, 50]
    long_names = ["x" * 999 + str(i) for i in range(7)]
    assert [len(b) for b in _batches(long_names)] == [2, 2, 2, 1]
    assert _batches([]) == [[]]


async def test_a_stop_during_the_settle_window_ends_the_wait_and_sends_nothing(
    tmp_path: Path,
) -> None:
    time = _Time()
    async with running_emulator(FaultPlan(), clock=time.clock) as emu:
        settings = make_settings(emu, tmp_path, timeouts=Timeouts(request=5.0, settle=30.0))
        with StateStore.open(settings.state_path) as state:
            state.intend([(settings.target("prod"), "waiting", None)], run_id="killed")
        run: ApplyRun | None = None

        async def stop_while_waiting(seconds: float) -> None:
            await time.sleep(seconds)
            assert run is not None
            run.stop()

        run = ApplyRun(
            manifest(tmp_path, [spec("waiting")]),
            settings,
            RunOptions(),
            sleep=stop_while_waiting,
            clock=time.clock,
        )
        report = await run.execute()
        assert report.results[0].status is Outcome.SKIPPED
        assert time.clock.now - 1000.0 <= 1.0  # one step of the wait, not 30 s
        assert emu.stats.requests[RequestKind.CREATE] == 0


async def test_the_read_back_counts_and_lists_only_a_batch_whose_count_is_off(
    tmp_path: Path,
) -> None:
    """One copy per name costs one count per batch and no items; a batch whose count is off
    is listed to find which names have several copies."""
    time = _Time()
    async with running_emulator(FaultPlan(), clock=time.clock) as emu:
        settings = make_settings(emu, tmp_path)
        async with FlowClient(ClientConfig.of(settings), pacer=RateController(1000.0)) as client:
            await client.authenticate()
            await _apply(emu, tmp_path, [spec("a"), spec("b"), spec("c d")], time, settle=0.0)
            (b,) = [r for r in emu.store.connections() if r.name == "b"]
            emu.store.insert(dataclasses.replace(b, id="b-twin"))
            emu.stats.clear()
            slots = asyncio.Semaphore(4)
            assert (
                await duplicated_names(client, sandbox="prod", names=["a", "c d"], slots=slots)
                == {}
            )
            assert emu.stats.requests[RequestKind.LIST] == 1  # the count alone
            emu.stats.clear()
            found = await duplicated_names(
                client, sandbox="prod", names=["a", "b", "c d"], slots=slots
            )
            assert sorted(c.id for c in found["b"]) == sorted([b.id, "b-twin"])
            assert set(found) == {"b"}
            assert emu.stats.requests[RequestKind.LIST] == 2  # a count, then the batch listed
            odd = await duplicated_names(client, sandbox="prod", names=["b", "x,y"], slots=slots)
            assert set(odd) == {"b"}
            assert await duplicated_names(client, sandbox="prod", names=[], slots=slots) == {}
