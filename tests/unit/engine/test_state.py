"""The state per target on both backends (SQLite, PostgreSQL), fingerprints without secrets,
and the SQLite run lock."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from provisioner.engine._fingerprint import Fingerprinter
from provisioner.engine._state import (
    _V1,
    RunLock,
    StateEntry,
    StateStore,
    _statements,
    open_state_at,
)
from provisioner.engine._statebase import SCHEMA_VERSION, BufferedState
from provisioner.errors import ConfigError, LockedError
from provisioner.reports._model import Outcome, Result
from provisioner.secrets import Secret
from tests.helpers import spec

TARGET = "https://platform.adobe.io|ORG@AdobeOrg|prod"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / ".provisioner" / "state.db"


@pytest.fixture
def store(state_location: Path | str) -> Iterator[BufferedState]:
    with open_state_at(state_location) as opened:
        yield opened


def created(name: str = "fin", **fields: object) -> Result:
    values: dict[str, object] = {
        "name": name,
        "sandbox": "prod",
        "status": Outcome.CREATED,
        "connection_id": f"id-{name}",
        "attempts": 1,
        "http_status": 201,
    }
    values.update(fields)
    return Result(**values)  # type: ignore[arg-type]


# --- record / entries ------------------------------------------------------------------------


def test_open_creates_the_directory(db_path: Path) -> None:
    with StateStore.open(db_path):
        pass
    assert db_path.exists()


def test_recorded_outcome_reads_back(store: BufferedState) -> None:
    store.record(TARGET, created(attempts=2), run_id="run-1", fingerprint="fp-1")
    assert store.entries(TARGET) == {
        "fin": StateEntry(
            name="fin",
            connection_id="id-fin",
            outcome=Outcome.CREATED,
            attempts=2,
            last_error=None,
            fingerprint="fp-1",
            created_by_us=True,
        )
    }


def test_failed_outcome_keeps_its_error(store: BufferedState) -> None:
    failed = Result(
        name="hr", sandbox="prod", status=Outcome.FAILED, attempts=5, error="gave up after 5"
    )
    store.record(TARGET, failed, run_id="run-1")
    entry = store.entries(TARGET)["hr"]
    assert entry.outcome is Outcome.FAILED
    assert entry.last_error == "gave up after 5"
    assert entry.connection_id is None
    assert entry.created_by_us is False


def test_entries_survive_reopening(state_location: Path | str) -> None:
    with open_state_at(state_location) as first:
        first.record(TARGET, created(), run_id="run-1")
    with open_state_at(state_location) as second:
        assert second.entries(TARGET)["fin"].connection_id == "id-fin"


def test_targets_are_kept_apart(store: BufferedState) -> None:
    other = "http://127.0.0.1:9999|ORG@AdobeOrg|prod"
    store.record(TARGET, created("fin"), run_id="run-1")
    store.record(other, created("hr"), run_id="run-1")
    assert list(store.entries(TARGET)) == ["fin"]
    assert list(store.entries(other)) == ["hr"]
    assert store.entries("nowhere") == {}


def test_later_outcome_keeps_the_known_connection_id_and_fingerprint(store: BufferedState) -> None:
    store.record(TARGET, created(), run_id="run-1", fingerprint="fp-1")
    skipped = Result(name="fin", sandbox="prod", status=Outcome.SKIPPED, error="interrupted")
    store.record(TARGET, skipped, run_id="run-2")
    entry = store.entries(TARGET)["fin"]
    assert entry.outcome is Outcome.SKIPPED
    assert entry.connection_id == "id-fin"
    assert entry.fingerprint == "fp-1"
    assert entry.created_by_us is True, "once created by us, always created by us"


def test_adopted_connection_is_not_marked_as_created_by_us(store: BufferedState) -> None:
    store.record(TARGET, created(status=Outcome.EXISTING, http_status=200), run_id="run-1")
    assert store.entries(TARGET)["fin"].created_by_us is False


def test_one_row_per_name_and_target(store: BufferedState) -> None:
    for attempt in range(1, 4):
        store.record(TARGET, created(attempts=attempt), run_id=f"run-{attempt}")
    entries = store.entries(TARGET)
    assert len(entries) == 1
    assert entries["fin"].attempts == 3


def test_unwritable_location_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(ConfigError, match="cannot open the state database"):
        StateStore.open(blocker / "state.db")


# --- fingerprints ----------------------------------------------------------------------------


def test_fingerprint_is_stable_for_the_same_entry(store: BufferedState) -> None:
    assert store.fingerprint(spec("fin")) == store.fingerprint(spec("fin"))


def test_fingerprint_is_stable_across_reopening(state_location: Path | str) -> None:
    with open_state_at(state_location) as first:
        before = first.fingerprint(spec("fin"))
    with open_state_at(state_location) as second:
        assert second.fingerprint(spec("fin")) == before


@pytest.mark.parametrize(
    "change",
    [
        {"password": Secret("other-password")},
        {"host": "db2.example.com"},
        {"port": 1522},
        {"user": "someone"},
        {"sid": "OTHER"},
        {"description": "changed"},
    ],
    ids=lambda change: next(iter(change)),
)
def test_fingerprint_changes_with_what_goes_into_the_connection(
    store: BufferedState, change: dict[str, object]
) -> None:
    base = spec("fin")
    changed = base._replace(**change)  # type: ignore[arg-type]
    assert store.fingerprint(changed) != store.fingerprint(base)


def test_a_loaded_dump_brings_its_fingerprint_key(
    state_location: Path | str, tmp_path: Path
) -> None:
    """``state copy`` moves the key with the rows: the state that loads them fingerprints
    under it from then on, so its entries stay unchanged."""
    with open_state_at(tmp_path / "source.db") as source:
        wanted = source.fingerprint(spec("fin"))
        dump = source.dump()
    with open_state_at(state_location) as store:
        assert store.fingerprint(spec("fin")) != wanted
        store.load(dump)
        assert store.fingerprint(spec("fin")) == wanted


def test_a_loaded_dump_resolves_the_intents_its_entries_resolve(
    state_location: Path | str, tmp_path: Path
) -> None:
    """``state copy`` into a state holding an intent for an entry the dump has as created
    drops that intent (the create was made); the dump's own intents are kept."""
    with open_state_at(tmp_path / "source.db") as source:
        source.record(TARGET, created("fin"), run_id="run-1")
        source.intend([(TARGET, "hr", "fp-hr")], run_id="run-1")
        dump = source.dump()
    with open_state_at(state_location) as store:
        store.intend([(TARGET, "fin", None), (TARGET, "ops", None)], run_id="run-0")
        store.load(dump)
        assert store.intents(TARGET) == {"hr": "fp-hr", "ops": None}


def test_the_fingerprint_key_shows_in_no_repr() -> None:
    """The key verifies guessed passwords against the state's fingerprints: like a secret, it
    never shows (a canary key)."""
    key = b"canary-key-0123456789abcdef"
    fingerprinter = Fingerprinter(key)
    assert "canary" not in repr(fingerprinter)
    entry = spec("fin")
    assert fingerprinter.of(entry) == Fingerprinter(key).of(entry) != Fingerprinter(b"k").of(entry)


def test_fingerprint_format_is_that_of_earlier_versions(state_location: Path | str) -> None:
    """HMAC-SHA256 under the database's key of the JSON array of the connection's values: a
    state written by an earlier version still matches (no update storm after an upgrade)."""
    entry = spec("fin", host="h\u00e9.example.com", description='caf\u00e9 \u2014 "q"')
    with open_state_at(state_location) as store:
        got = store.fingerprint(entry)
        key = store.dump().key
    fields = [entry.host, entry.port, entry.sid, entry.service_name, entry.user, "pw"]
    message = json.dumps([*fields, entry.description], ensure_ascii=False).encode()
    assert got == hmac.new(key, message, hashlib.sha256).hexdigest()


def test_the_connection_string_form_keeps_the_format_of_earlier_versions(
    store: BufferedState,
) -> None:
    entry = spec("fin", schema="IGNORED")  # the schema is not sent in that form
    assert store.fingerprint(entry, "ConnectionString") == store.fingerprint(spec("fin"))


@pytest.mark.parametrize(
    "change",
    [{"schema": "HR"}, {"tls": True}, {"password": Secret("other")}, {"port": 2484}],
    ids=lambda change: next(iter(change)),
)
def test_basic_fingerprint_covers_the_form_and_every_param(
    store: BufferedState, change: dict[str, object]
) -> None:
    base = spec("fin")
    basic = store.fingerprint(base, "Basic Authentication")
    assert basic != store.fingerprint(base, "ConnectionString")
    changed = base._replace(**change)  # type: ignore[arg-type]
    assert store.fingerprint(changed, "Basic Authentication") != basic


def test_sid_and_service_name_with_the_same_value_differ(store: BufferedState) -> None:
    by_sid = spec("fin", sid="ORCL", service_name=None)
    by_service = spec("fin", sid=None, service_name="ORCL")
    assert store.fingerprint(by_sid) != store.fingerprint(by_service)


def test_fingerprint_ignores_the_name(store: BufferedState) -> None:
    """The name is the row's key; the fingerprint is about the connection's content."""
    first = spec("a", host="h.example.com", description="shared")
    second = spec("b", host="h.example.com", description="shared")
    assert store.fingerprint(first) == store.fingerprint(second)


def test_fingerprint_is_keyed_per_database(tmp_path: Path) -> None:
    """A plain hash of the password could be brute-forced; an HMAC under a local key cannot."""
    with StateStore.open(tmp_path / "one.db") as one, StateStore.open(tmp_path / "two.db") as two:
        assert one.fingerprint(spec("fin")) != two.fingerprint(spec("fin"))


def test_no_secret_reaches_the_database_files(db_path: Path) -> None:
    canary = "CANARY-pw-7f3a9c1e"
    entry = spec("fin", password=canary)
    with StateStore.open(db_path) as store:
        fingerprint = store.fingerprint(entry)
        store.record(TARGET, created(), run_id="run-1", fingerprint=fingerprint)
        store.record(
            TARGET,
            Result(name="hr", sandbox="prod", status=Outcome.FAILED, error="HTTP 400: rejected"),
            run_id="run-1",
            fingerprint=fingerprint,
        )
        live = b"".join(p.read_bytes() for p in db_path.parent.iterdir() if p.is_file())
        assert canary.encode() not in live
    written = b"".join(p.read_bytes() for p in db_path.parent.iterdir() if p.is_file())
    assert b"id-fin" in written, "the canary check reads the right files"
    assert canary.encode() not in written
    assert canary.encode("utf-16-le") not in written


# --- run lock --------------------------------------------------------------------------------


def test_second_lock_on_the_same_state_is_refused_naming_the_holder(db_path: Path) -> None:
    with RunLock(db_path), pytest.raises(LockedError) as info, RunLock(db_path):
        pass
    assert f"pid {os.getpid()}" in str(info.value)
    assert str(db_path.with_name("state.db.lock")) in str(info.value)


def test_locked_error_is_a_config_error(db_path: Path) -> None:
    with RunLock(db_path), pytest.raises(ConfigError):
        RunLock(db_path).__enter__()


def test_lock_can_be_taken_again_after_release(db_path: Path) -> None:
    with RunLock(db_path):
        pass
    with RunLock(db_path) as again:
        assert again.path.read_text() == f"{os.getpid()}\n"


def test_lock_file_names_the_holder_only_while_held(db_path: Path) -> None:
    lock = RunLock(db_path)
    with lock:
        assert lock.path.read_text().strip() == str(os.getpid())
    assert lock.path.read_text() == ""


def test_locks_on_different_state_files_do_not_conflict(tmp_path: Path) -> None:
    with RunLock(tmp_path / "a" / "state.db"), RunLock(tmp_path / "b" / "state.db"):
        pass


def test_refused_lock_leaves_the_holder_intact(db_path: Path) -> None:
    with RunLock(db_path) as held:
        for _ in range(3):
            with pytest.raises(LockedError):
                RunLock(db_path).__enter__()
        assert held.path.read_text().strip() == str(os.getpid())


# --- schema versions -------------------------------------------------------------------------


def test_a_state_from_before_versions_is_stamped_and_kept(db_path: Path) -> None:
    with StateStore.open(db_path) as store:
        store.record(TARGET, created(), run_id="run-1", fingerprint="fp-1")
    with sqlite3.connect(db_path) as conn:  # as an earlier version left it: no version row
        conn.execute("DELETE FROM meta WHERE key = 'schema_version'")
    with StateStore.open(db_path) as store:
        assert store.entries(TARGET)["fin"].fingerprint == "fp-1"
    with sqlite3.connect(db_path) as conn:
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert version == (SCHEMA_VERSION,)


def test_a_version_1_state_loses_its_triggers_and_keeps_resolving_intents(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    with sqlite3.connect(db_path, isolation_level=None) as conn:  # as version 1 left it
        for statement in _statements(_V1):
            conn.execute(statement)
        conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', 1)")
        conn.execute(
            "INSERT INTO intents (target, name, fingerprint, run_id, at)"
            " VALUES (?, 'fin', 'fp-1', 'run-0', '2026-01-01T00:00:00+00:00')",
            (TARGET,),
        )
        triggers = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'")
        assert triggers.fetchone() == (2,)
    with StateStore.open(db_path) as store:
        assert store.intents(TARGET) == {"fin": "fp-1"}
        store.record(TARGET, created("fin"), run_id="run-1", ours=True)
        assert store.intents(TARGET) == {}, "the outcome resolves the intent without a trigger"
    with sqlite3.connect(db_path) as conn:
        left = conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall()
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert left == []
    assert version == (SCHEMA_VERSION,) == (2,)


def test_a_newer_schema_is_refused_untouched(state_location: Path | str) -> None:
    with open_state_at(state_location) as store:
        store.record(TARGET, created(), run_id="run-1")
    newer = SCHEMA_VERSION + 1
    if isinstance(state_location, Path):
        with sqlite3.connect(state_location) as conn:
            conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (newer,))
    else:
        with psycopg.connect(state_location, autocommit=True) as conn:
            conn.execute(
                "UPDATE provisioner_meta SET value = %s WHERE key = 'schema_version'",
                (str(newer).encode(),),
            )
    with pytest.raises(ConfigError, match=f"schema version {newer}.*upgrade provisioner"):
        open_state_at(state_location)


# --- waiting for the lock --------------------------------------------------------------------


class FakeTime:
    """A clock that moves only when slept on; ``on_sleep`` runs at each sleep."""

    def __init__(self, on_sleep: Callable[[int], None] = lambda n: None) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self._on_sleep = on_sleep

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        self._on_sleep(len(self.sleeps))


def test_waiting_for_a_held_lock_gives_up_after_the_wait(db_path: Path) -> None:
    fake = FakeTime()
    with RunLock(db_path), pytest.raises(LockedError, match=r"waited 3 s"):
        RunLock(db_path, wait=3.0, sleep=fake.sleep, clock=fake.clock).__enter__()
    assert fake.now == pytest.approx(3.0)
    assert fake.sleeps[:3] == [0.05, 0.1, 0.2], "the delay doubles"
    assert max(fake.sleeps) <= 2.0


def test_waiting_takes_the_lock_once_it_is_released(db_path: Path) -> None:
    holder = RunLock(db_path).__enter__()
    fake = FakeTime(on_sleep=lambda n: holder.__exit__(None, None, None) if n == 3 else None)
    with RunLock(db_path, wait=60.0, sleep=fake.sleep, clock=fake.clock) as taken:
        assert taken.path.read_text().strip() == str(os.getpid())
    assert len(fake.sleeps) == 3


def test_without_a_wait_a_held_lock_is_refused_at_once(db_path: Path) -> None:
    fake = FakeTime()
    with RunLock(db_path), pytest.raises(LockedError) as info:
        RunLock(db_path, sleep=fake.sleep, clock=fake.clock).__enter__()
    assert fake.sleeps == []
    assert "waited" not in str(info.value)


# --- intents, forget, orphans (both backends) --------------------------------------------------


def test_intents_until_an_outcome_resolves_them(store: BufferedState) -> None:
    store.intend([(TARGET, "fin", "fp-1"), (TARGET, "hr", None)], run_id="run-1")
    assert store.intents(TARGET) == {"fin": "fp-1", "hr": None}
    store.record(TARGET, created("fin"), run_id="run-1")
    failed = Result(name="hr", sandbox="prod", status=Outcome.FAILED, error="HTTP 500")
    store.record(TARGET, failed, run_id="run-1")
    assert store.intents(TARGET) == {"hr": None}, "a failure leaves the intent (maybe sent)"
    store.drop_intents([(TARGET, "hr")])
    assert store.intents(TARGET) == {}


def test_forget_drops_the_row_and_its_intent(store: BufferedState) -> None:
    store.record(TARGET, created("fin"), run_id="run-1")
    store.intend([(TARGET, "fin", None)], run_id="run-2")
    store.forget(TARGET, "fin")
    assert store.entries(TARGET) == {}
    assert store.intents(TARGET) == {}


def test_orphans_are_our_rows_under_the_base_that_keep_does_not_name(
    store: BufferedState,
) -> None:
    base = "https://platform.adobe.io|ORG@AdobeOrg"
    store.record(f"{base}|prod", created("fin"), run_id="run-1")
    store.record(f"{base}|prod", created("kept"), run_id="run-1")
    store.record(f"{base}|dev", created("hr", status=Outcome.EXISTING), run_id="run-1")
    store.record(f"{base}-other|prod", created("ops"), run_id="run-1")
    found = store.orphans(base, {(f"{base}|prod", "kept")})
    assert [(target, entry.name) for target, entry in found] == [(f"{base}|prod", "fin")]
