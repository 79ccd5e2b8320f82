"""The PostgreSQL state against a real server: connection errors without the password, the
advisory run lock per target, shared databases, no secret in a dump, and ``state copy``."""

from __future__ import annotations

import socket
from pathlib import Path

import psycopg
import pytest
from structlog.testing import capture_logs

from provisioner.engine._pglock import PgLock, lock_key
from provisioner.engine._pgstate import PgState
from provisioner.engine._state import StateStore, open_state_at
from provisioner.engine._statebase import describe_url
from provisioner.engine._statecopy import copy_state
from provisioner.errors import ConfigError, LockedError
from provisioner.reports import Outcome, Result
from tests.helpers import spec
from tests.services.postgres import PgDatabase, PgServer

TARGET = "https://platform.adobe.io|ORG@AdobeOrg"
CANARY = "CANARY-pg-pw-5d1f0a"


def created(name: str) -> Result:
    return Result(
        name=name,
        sandbox="prod",
        status=Outcome.CREATED,
        connection_id=f"id-{name}",
        attempts=1,
        http_status=201,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# --- connecting ------------------------------------------------------------------------------


def test_wrong_password_names_the_host_never_the_password(pg_server: PgServer) -> None:
    url = f"postgresql://provisioner:{CANARY}@127.0.0.1:{pg_server.port}/provisioner"
    with pytest.raises(ConfigError) as info:
        PgState.open(url)
    message = str(info.value)
    assert f"127.0.0.1:{pg_server.port}/provisioner" in message
    assert "password authentication failed" in message
    assert CANARY not in message
    assert info.value.__cause__ is None, "the driver's exception is not chained"


def test_server_down_names_the_host() -> None:
    port = _free_port()
    url = f"postgresql://someone:{CANARY}@127.0.0.1:{port}/state"
    with pytest.raises(ConfigError, match=f"127.0.0.1:{port}/state: cannot connect") as info:
        PgState.open(url)
    assert CANARY not in str(info.value)


def test_a_bad_url_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError, match="not a valid PostgreSQL URL") as info:
        PgState.open(f"postgresql://u:{CANARY}@h/db?nonsense_option=1")
    assert CANARY not in str(info.value)


def test_describe_url_shows_no_password() -> None:
    url = f"postgres://u:{CANARY}@db.example.com:6543/state"
    assert describe_url(url) == "db.example.com:6543/state"
    assert describe_url(f"postgresql://u:{CANARY}@[::1") == "postgresql://(unreadable URL)"


def test_repr_of_state_and_lock_holds_no_password(pg_url: str) -> None:
    password = pg_url.split(":")[2].split("@")[0]
    with PgState.open(pg_url) as state, PgLock(pg_url, TARGET) as lock:
        assert password not in repr(state)
        assert password not in repr(lock)
        assert password not in repr(vars(lock))


# --- sharing one database ----------------------------------------------------------------------


def test_targets_in_one_database_keep_to_their_rows(pg_url: str) -> None:
    with PgState.open(pg_url) as one, PgState.open(pg_url) as two:
        one.record(f"{TARGET}|prod", created("fin"), run_id="r1")
        two.record(f"{TARGET}|dev", created("fin"), run_id="r2")
        one.commit()
        two.commit()
        two.forget(f"{TARGET}|dev", "fin")
        two.commit()
        assert set(one.entries(f"{TARGET}|prod")) == {"fin"}
        assert one.entries(f"{TARGET}|dev") == {}


def test_hosts_sharing_a_database_share_the_fingerprint_key(pg_url: str) -> None:
    with PgState.open(pg_url) as a, PgState.open(pg_url) as b:
        assert a.fingerprint(spec("fin")) == b.fingerprint(spec("fin"))


def test_one_name_twice_in_a_group_keeps_the_last_outcome(pg_url: str) -> None:
    with PgState.open(pg_url) as state:
        state.record(TARGET, created("fin"), run_id="r1", fingerprint="fp-1")
        failed = Result(name="fin", sandbox="prod", status=Outcome.FAILED, error="later")
        state._pending.append((TARGET, "fin", None, "failed", 2, None, "later", None, False, "r1"))
        state.record(TARGET, failed, run_id="r1")
        entry = state.entries(TARGET)["fin"]
    assert entry.outcome is Outcome.FAILED
    assert entry.connection_id == "id-fin"
    assert entry.fingerprint == "fp-1"


def test_a_dump_of_the_database_holds_no_secret(pg_db: PgDatabase) -> None:
    entry = spec("fin", password=CANARY)
    with PgState.open(pg_db.url) as state:
        fingerprint = state.fingerprint(entry)
        state.intend([(TARGET, "hr", fingerprint)], run_id="r1")
        state.record(TARGET, created("fin"), run_id="r1", fingerprint=fingerprint)
    dump = pg_db.dump()
    assert "id-fin" in dump, "the dump holds the rows"
    assert fingerprint in dump
    assert CANARY not in dump


# --- the run lock ------------------------------------------------------------------------------


def test_a_second_run_of_the_target_is_refused_naming_the_holder(pg_url: str) -> None:
    with PgLock(pg_url, TARGET), pytest.raises(LockedError) as info, PgLock(pg_url, TARGET):
        pass
    assert "provisioner pid" in str(info.value)
    assert TARGET in str(info.value)


def test_other_targets_run_at_the_same_time(pg_url: str) -> None:
    with PgLock(pg_url, TARGET), PgLock(pg_url, TARGET + "-other"):
        assert lock_key(TARGET) != lock_key(TARGET + "-other")


def test_the_lock_is_free_again_after_release(pg_url: str) -> None:
    with PgLock(pg_url, TARGET):
        pass
    with PgLock(pg_url, TARGET):
        pass


def test_the_lock_dies_with_its_session(pg_url: str, pg_server: PgServer) -> None:
    held = PgLock(pg_url, TARGET).__enter__()
    pg_server.admin(
        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
        f" AND objid::bigint = {lock_key(TARGET) & 0xFFFFFFFF}"
    )
    with PgLock(pg_url, TARGET):
        pass
    with capture_logs() as logs:
        held.__exit__(None, None, None)
    assert [e["event"] for e in logs] == ["run_lock_lost"]


def test_a_lock_released_normally_logs_nothing(pg_url: str) -> None:
    with capture_logs() as logs, PgLock(pg_url, TARGET):
        pass
    assert logs == []


def test_waiting_takes_the_lock_once_the_holder_leaves(pg_url: str) -> None:
    holder = PgLock(pg_url, TARGET).__enter__()
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds
        if len(slept) == 2:
            holder.__exit__(None, None, None)

    with PgLock(pg_url, TARGET, wait=30.0, sleep=sleep, clock=lambda: now[0]):
        assert len(slept) == 2


def test_waiting_gives_up_after_the_wait(pg_url: str) -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    with PgLock(pg_url, TARGET), pytest.raises(LockedError, match="waited 5 s"):
        PgLock(pg_url, TARGET, wait=5.0, sleep=sleep, clock=lambda: now[0]).__enter__()
    assert now[0] == pytest.approx(5.0)


def test_lock_on_an_unreachable_server_is_a_config_error() -> None:
    url = f"postgresql://u:{CANARY}@127.0.0.1:{_free_port()}/x"
    with pytest.raises(ConfigError, match="cannot connect") as info, PgLock(url, TARGET):
        pass
    assert CANARY not in str(info.value)


# --- state copy --------------------------------------------------------------------------------


def _fill(location: Path | str) -> str:
    with open_state_at(location) as state:
        fp = state.fingerprint(spec("fin"))
        state.intend([(f"{TARGET}|prod", "hr", fp)], run_id="r1")
        state.record(f"{TARGET}|prod", created("fin"), run_id="r1", fingerprint=fp)
        state.record(f"{TARGET}|dev", created("ops"), run_id="r1")
        return fp


def _contents(location: Path | str) -> tuple[object, ...]:
    with open_state_at(location) as state:
        return (
            state.entries(f"{TARGET}|prod"),
            state.entries(f"{TARGET}|dev"),
            state.intents(f"{TARGET}|prod"),
            state.fingerprint(spec("fin")),
        )


def test_copy_sqlite_to_postgres_and_back(tmp_path: Path, pg_url: str) -> None:
    sqlite = tmp_path / "state.db"
    fp = _fill(sqlite)
    done = copy_state(str(sqlite), pg_url)
    assert (done.entries, done.intents) == (2, 1)
    assert _contents(pg_url) == _contents(sqlite)
    assert _contents(pg_url)[3] == fp, "the fingerprint key moved with the rows"
    back = tmp_path / "back.db"
    copy_state(pg_url, str(back))
    assert _contents(back) == _contents(sqlite)
    with StateStore.open(back) as state:
        assert state.dump() == StateStore.open(sqlite).dump()


def test_copy_into_a_state_with_fingerprints_of_its_own_is_refused(
    tmp_path: Path, pg_url: str
) -> None:
    _fill(tmp_path / "state.db")
    _fill(pg_url)
    with pytest.raises(ConfigError, match="fingerprints under a key of its own"):
        copy_state(str(tmp_path / "state.db"), pg_url)


def test_copy_names_a_missing_source(tmp_path: Path, pg_url: str) -> None:
    with pytest.raises(ConfigError, match="no state database there"):
        copy_state(str(tmp_path / "nothing.db"), pg_url)
    with pytest.raises(ConfigError, match="both the source and the destination"):
        copy_state(pg_url, pg_url)


def test_psycopg_is_what_the_url_reaches(pg_url: str) -> None:
    """The tables live in the URL's schema (search_path): what the fixture isolates on."""
    with PgState.open(pg_url):
        pass
    with psycopg.connect(pg_url) as conn:
        tables = {row[0] for row in conn.execute("SELECT tablename FROM pg_tables")}
    assert {"provisioner_meta", "provisioner_entries", "provisioner_intents"} <= tables


def test_no_right_to_create_the_tables_is_a_config_error(pg_server: PgServer) -> None:
    pg_server.admin(
        "CREATE SCHEMA IF NOT EXISTS locked_out; GRANT USAGE ON SCHEMA locked_out TO provisioner",
        database="provisioner",
    )
    url = f"{pg_server.url}?options=-csearch_path%3Dlocked_out"
    with pytest.raises(ConfigError, match=r"127\.0\.0\.1.*permission denied") as info:
        PgState.open(url)
    assert "pg-test-pw" not in str(info.value)


def _state_whose_server_is_gone(pg_url: str, pg_server: PgServer) -> PgState:
    """A state opened, then its connection ended by the server (as a restart would)."""
    state = PgState.open(pg_url)
    row = state._conn.execute("SELECT pg_backend_pid()").fetchone()
    assert row is not None
    pg_server.admin(f"SELECT pg_terminate_backend({row[0]})")
    return state


async def test_a_lost_server_mid_run_keeps_the_rows_and_says_where(
    pg_url: str, pg_server: PgServer
) -> None:
    state = _state_whose_server_is_gone(pg_url, pg_server)
    with capture_logs() as logs:
        state.record(TARGET, created("fin"), run_id="r1")  # within the period: a timer
        state._commit_or_retry()  # the timer fires: the server is gone
    assert [e["event"] for e in logs] == ["state_commit_failed"]
    assert "127.0.0.1" in logs[0]["error"]
    assert "pg-test-pw" not in repr(logs)
    assert len(state._pending) == 1, "the row waits for the next try"
    with capture_logs() as closing:
        state.close()  # never raises: the run's report must still be written
    assert [e["event"] for e in closing] == ["state_commit_failed"]
    assert closing[0]["lost_rows"] == 1
    assert "127.0.0.1" in closing[0]["error"]
    assert "pg-test-pw" not in repr(closing)


async def test_a_lost_server_before_a_forget_or_dropped_intents_is_logged_not_raised(
    pg_url: str, pg_server: PgServer
) -> None:
    """A --prune delete or a rollback whose state database went away keeps going."""
    state = _state_whose_server_is_gone(pg_url, pg_server)
    with capture_logs() as logs:
        state.forget(TARGET, "fin")
        state.drop_intents([(TARGET, "fin")])
        state.close()
    events = [e["event"] for e in logs]
    assert events[:2] == ["state_forget_failed", "state_intents_not_dropped"]
    assert "pg-test-pw" not in repr(logs)
