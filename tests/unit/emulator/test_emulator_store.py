"""The emulator's SQLite store: persistence, scoping, and never holding a secret."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from provisioner.aep._connstring import oracle_connection_string
from provisioner.emulator import FaultPlan
from provisioner.emulator._store import Filter, Order, Store
from tests.emulator_caller import oracle_body, serving

CANARY = "Canary-Pa55word-7f3e"


async def test_store_file_never_holds_the_password_or_connection_string(tmp_path: Path) -> None:
    db = tmp_path / ".provisioner" / "emulator.db"
    async with serving(FaultPlan(), db) as (emu, caller):
        token = await caller.access_token()
        body = oracle_body("secretive", password=CANARY)
        assert (await caller.flow("POST", "/connections", token=token, json=body)).status == 201
        (row,) = emu.store.connections()
        text = oracle_connection_string(
            host="db.example.com", port=1521, user="reader", password=CANARY, sid="ORCL"
        )
        assert row.auth.fingerprint == hashlib.sha256(text.encode()).hexdigest()
        files = [db, db.with_name("emulator.db-wal"), db.with_name("emulator.db-shm")]
        assert files[1].exists()  # WAL mode: the row may still be in the -wal file only
        raw = b"".join(p.read_bytes() for p in files if p.exists())
    raw += db.read_bytes()
    for needle in (CANARY, "Password=", "Canary"):
        assert needle.encode() not in raw
    assert b"secretive" in raw  # the grep does see what is stored


async def test_file_store_persists_across_runs(tmp_path: Path) -> None:
    db = tmp_path / "emulator.db"
    async with serving(FaultPlan(), db) as (_, caller):
        token = await caller.access_token()
        await caller.flow("POST", "/connections", token=token, json=oracle_body("kept"))
    async with serving(FaultPlan(), db) as (emu, caller):
        token = await caller.access_token()
        reply = await caller.flow(
            "GET", "/connections", token=token, params=[("property", "name==kept")]
        )
        assert len(reply.field("items")) == 1  # type: ignore[arg-type]
        assert emu.store.count_by_name("kept") == 1


async def test_memory_stores_are_independent() -> None:
    async with serving() as (first, caller):
        token = await caller.access_token()
        await caller.flow("POST", "/connections", token=token, json=oracle_body("a"))
        async with serving() as (second, _):
            assert second.store.connections() == []
        assert len(first.store.connections()) == 1


async def test_connections_are_scoped_by_org_and_sandbox() -> None:
    async with serving() as (emu, caller):
        token = await caller.access_token()
        for sandbox in ("prod", "dev", "dev"):
            reply = await caller.flow(
                "POST",
                "/connections",
                token=token,
                json=oracle_body("same"),
                headers={"x-sandbox-name": sandbox},
            )
            assert reply.status == 201
        assert len(emu.store.connections()) == 3
        assert len(emu.store.connections(sandbox="dev")) == 2
        assert len(emu.store.connections(org=caller.org, sandbox="prod")) == 1
        assert emu.store.connections(org="nobody") == []
        assert emu.store.count_by_name("same", sandbox="dev") == 2
        assert emu.store.count("TESTORG@AdobeOrg", "dev") == 2


async def test_page_and_count_apply_filters_in_sql() -> None:
    async with serving() as (emu, caller):
        token = await caller.access_token()
        for name in ("c", "a", "b"):
            await caller.flow(
                "POST", "/connections", token=token, json=oracle_body(name, description=None)
            )
        store: Store = emu.store
        names = Filter(field="name", values=("a", "c"))
        page = store.page(caller.org, "prod", filters=(names,), order=Order.NAME)
        assert [r.name for r in page] == ["a", "c"]
        no_description = Filter(field="description", values=("",))
        assert store.count(caller.org, "prod", filters=(no_description,)) == 3
        assert not store.set_in_use("absent")


async def test_store_can_be_read_from_another_thread() -> None:
    async with serving() as (emu, caller):
        token = await caller.access_token()
        await caller.flow("POST", "/connections", token=token, json=oracle_body("threaded"))
        rows = await asyncio.to_thread(emu.store.connections)
        assert [row.name for row in rows] == ["threaded"]
