"""Both Oracle auth forms against the emulator in both regions (issue 17): the same manifest
creates every connection in the form the org offers, re-runs create nothing, a rotation PATCHes
in the connection's form, and a forced form the org lacks or params that break the org's spec
are exit 2 with nothing sent."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from provisioner.aep import oracle_connection_string
from provisioner.emulator import FaultPlan, Region, RequestKind, RunningEmulator, running_emulator
from provisioner.engine import ApplyRun, RunOptions, run_plan
from provisioner.manifest import DatabaseSpec
from provisioner.reports import Outcome, Report
from provisioner.secrets import Secret
from provisioner.settings import AuthMode, Settings
from tests.cliproc import cli_env, run_cli
from tests.conftest import make_settings
from tests.helpers import manifest, spec

TRICKY = "q\"u'o;t=e;=;\u00e9\u00df\u4e2d\U0001f511 x"
WRITES = (RequestKind.CREATE, RequestKind.PATCH, RequestKind.DELETE)
FORM = {Region.AZURE: "ConnectionString", Region.AWS: "Basic Authentication"}


def entries() -> list[DatabaseSpec]:
    return [
        spec("finance", password=TRICKY),
        spec("hr", password=TRICKY, sid=None, service_name="HRPDB", schema="HR"),
        spec("crm", password=TRICKY + "2", port=2484),
    ]


@pytest.fixture(params=[Region.AZURE, Region.AWS], ids=lambda r: r.value)
async def region_emu(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Region, RunningEmulator]]:
    region: Region = request.param
    async with running_emulator(FaultPlan(region=region), tmp_path / "emu.db") as emu:
        yield region, emu


def _settings(emu: RunningEmulator, tmp_path: Path, auth: AuthMode = "auto") -> Settings:
    # one state target for every emulator of a test (they serve the same data file)
    return dataclasses.replace(make_settings(emu, tmp_path), auth=auth, target_key="emu")


async def _apply(
    emu: RunningEmulator, tmp_path: Path, specs: list[DatabaseSpec], auth: AuthMode = "auto"
) -> Report:
    settings = _settings(emu, tmp_path, auth)
    return await ApplyRun(manifest(tmp_path, specs), settings, RunOptions()).execute()


def _sent_fingerprint(region: Region, entry: DatabaseSpec) -> str:
    """What the emulator keeps of the params it got: only a sha256 of them."""
    if region is Region.AZURE:
        text = oracle_connection_string(
            host=entry.host,
            port=entry.port,
            sid=entry.sid,
            service_name=entry.service_name,
            user=entry.user,
            password=entry.password.reveal(),
        )
        return hashlib.sha256(text.encode()).hexdigest()
    params: dict[str, object] = {
        "server": entry.host,
        "port": entry.port,
        "database": entry.sid or entry.service_name,
        "username": entry.user,
        "password": entry.password.reveal(),
        "sslMode": entry.tls,
    }
    if entry.schema is not None:
        params["schema"] = entry.schema
    canonical = json.dumps(params, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def test_the_same_manifest_creates_every_connection_in_the_form_offered(
    region_emu: tuple[Region, RunningEmulator], tmp_path: Path
) -> None:
    region, emu = region_emu
    report = await _apply(emu, tmp_path, entries())
    assert report.summary.created == 3
    assert report.auth_form == FORM[region]
    stored = {c.name: c.auth for c in emu.store.connections()}
    assert {auth.form for auth in stored.values()} == {FORM[region]}
    for entry in entries():  # every param arrived intact, the tricky password included
        assert stored[entry.name].fingerprint == _sent_fingerprint(region, entry)
    if region is Region.AWS:
        assert (stored["hr"].database, stored["hr"].schema) == ("HRPDB", "HR")
        assert stored["crm"].port == 2484
    emu.stats.clear()
    again = await _apply(emu, tmp_path, entries())
    assert again.summary.existing == 3
    assert emu.stats.requests[RequestKind.CREATE] == 0
    assert emu.stats.requests[RequestKind.SPEC] == 1  # read once per run


async def test_a_rotation_patches_one_connection_in_its_form(
    region_emu: tuple[Region, RunningEmulator], tmp_path: Path
) -> None:
    region, emu = region_emu
    first = entries()
    await _apply(emu, tmp_path, first)
    rotated = list(first)
    rotated[1] = first[1]._replace(password=Secret(TRICKY + "-rotated"))
    rows = await run_plan(manifest(tmp_path, rotated), _settings(emu, tmp_path), RunOptions())
    assert [r.name for r in rows if r.action == "update"] == ["hr"]
    emu.stats.clear()
    report = await _apply(emu, tmp_path, rotated)
    assert {r.name: r.status for r in report.results}["hr"] is Outcome.UPDATED
    assert emu.stats.requests[RequestKind.PATCH] == 1
    assert emu.stats.requests[RequestKind.CREATE] == 0
    hr = next(c.auth for c in emu.store.connections() if c.name == "hr")
    assert hr.form == FORM[region]
    assert hr.fingerprint == _sent_fingerprint(region, rotated[1])
    assert (await _apply(emu, tmp_path, rotated)).summary.existing == 3


async def test_a_tls_or_schema_change_is_an_update_in_the_basic_form(tmp_path: Path) -> None:
    async with running_emulator(FaultPlan(region=Region.AWS)) as emu:
        await _apply(emu, tmp_path, entries())
        changed = [e._replace(tls=e.name == "crm") for e in entries()]
        emu.stats.clear()
        report = await _apply(emu, tmp_path, changed)
        assert [r.name for r in report.results if r.status is Outcome.UPDATED] == ["crm"]
        crm = next(c.auth for c in emu.store.connections() if c.name == "crm")
        assert crm.ssl_mode is True
        assert emu.stats.requests[RequestKind.PATCH] == 1


async def test_a_connection_of_another_form_is_reported_not_rewritten(tmp_path: Path) -> None:
    """Connections made in the connection-string form, then an org (the same data) that offers
    only Basic Authentication: unchanged ones are existing, a changed one fails clearly."""
    db = tmp_path / "emu.db"
    async with running_emulator(FaultPlan(), db) as emu:
        await _apply(emu, tmp_path, entries())
    rotated = entries()
    rotated[0] = rotated[0]._replace(password=Secret("new"))
    async with running_emulator(FaultPlan(region=Region.AWS), db) as emu:
        rows = await run_plan(manifest(tmp_path, rotated), _settings(emu, tmp_path), RunOptions())
        assert [(r.name, r.action) for r in rows] == [
            ("finance", "update"),
            ("hr", "exists"),
            ("crm", "exists"),
        ]
        assert all(r.note and "uses the ConnectionString auth form" in r.note for r in rows)
        assert {r.auth_form for r in rows} == {"Basic Authentication"}
        report = await _apply(emu, tmp_path, rotated)
        statuses = {r.name: r.status for r in report.results}
        assert statuses == {
            "finance": Outcome.FAILED,
            "hr": Outcome.EXISTING,
            "crm": Outcome.EXISTING,
        }
        (failed,) = [r for r in report.results if r.status is Outcome.FAILED]
        assert failed.error is not None
        assert "uses the ConnectionString auth form and this run sends Basic Authentication" in (
            failed.error
        )
        assert "--auth connection-string" in failed.error
        assert sum(emu.stats.requests[kind] for kind in WRITES) == 0
        assert {c.auth.form for c in emu.store.connections()} == {"ConnectionString"}


# --- exit 2, nothing sent -----------------------------------------------------------------------

MANIFEST = """\
version: 1
defaults:
  port: 1521
  user: reader
  password: ${DB_PASSWORD}
databases:
  - {name: finance, host: fin.example.com, sid: FIN}
  - {name: hr, host: hr.example.com, service_name: HRPDB, schema: %s}
"""


def _manifest(tmp_path: Path, schema: str = "HR") -> Path:
    path = tmp_path / "manifest.yaml"
    path.write_text(MANIFEST % schema, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("region", "forced", "offered"),
    [
        (Region.AZURE, "basic", "ConnectionString (--auth connection-string)"),
        (Region.AWS, "connection-string", "Basic Authentication (--auth basic)"),
    ],
)
async def test_a_forced_form_the_org_lacks_is_exit_2_and_nothing_is_sent(
    tmp_path: Path, region: Region, forced: str, offered: str
) -> None:
    async with running_emulator(FaultPlan(region=region)) as emu:
        env = cli_env(emu, DB_PASSWORD=TRICKY)
        for command in ("apply", "plan"):
            done = await run_cli(command, str(_manifest(tmp_path)), "--auth", forced, env=env)
            assert done.code == 2, done.stderr
            assert f"it offers: {offered}" in done.stderr
            assert "Traceback" not in done.stderr
        assert sum(emu.stats.requests[kind] for kind in WRITES) == 0
        assert emu.stats.requests[RequestKind.LIST] == 0  # stopped before the listing
        assert emu.store.connections() == []


async def test_params_breaking_the_spec_are_exit_2_naming_entry_and_field(tmp_path: Path) -> None:
    path = _manifest(tmp_path, schema="S" * 129)
    async with running_emulator(FaultPlan(region=Region.AWS)) as emu:
        done = await run_cli("apply", str(path), env=cli_env(emu, DB_PASSWORD=TRICKY))
        assert done.code == 2, done.stderr
        assert f"{path}:8: hr: schema: the org's Oracle spec (Basic Authentication) rejects " in (
            done.stderr
        )
        assert "longer than the 128 characters the spec allows" in done.stderr
        assert sum(emu.stats.requests[kind] for kind in WRITES) == 0
    async with running_emulator(FaultPlan()) as emu:  # azure: a connection string too long
        long_pw = TRICKY * 200
        done = await run_cli("apply", str(path), env=cli_env(emu, DB_PASSWORD=long_pw))
        assert done.code == 2, done.stderr
        assert f"{path}:7: finance: host/port/sid/service_name/user/password" in done.stderr
        assert "rejects param 'connectionString': longer than the 2048" in done.stderr
        assert TRICKY not in done.stderr
        assert TRICKY not in done.stdout
        assert sum(emu.stats.requests[kind] for kind in WRITES) == 0


async def test_tls_in_the_connection_string_form_is_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "manifest.yaml"
    path.write_text((MANIFEST % "HR").replace("sid: FIN}", "sid: FIN, tls: true}"))
    async with running_emulator(FaultPlan()) as emu:
        done = await run_cli("apply", str(path), env=cli_env(emu))
        assert done.code == 2, done.stderr
        assert "finance: tls: tls: true cannot be sent in the ConnectionString form" in done.stderr
        assert sum(emu.stats.requests[kind] for kind in WRITES) == 0


async def test_plan_and_summary_say_the_form(tmp_path: Path) -> None:
    path = _manifest(tmp_path)
    async with running_emulator(FaultPlan(region=Region.AWS)) as emu:
        env = cli_env(emu, DB_PASSWORD=TRICKY)
        plan = await run_cli("plan", str(path), env=env)
        assert plan.code == 0, plan.stderr
        assert "Auth form: Basic Authentication" in plan.stdout
        applied = await run_cli("apply", str(path), "--no-progress", env=env)
        assert applied.code == 0, applied.stderr
        assert "Auth form: Basic Authentication" in applied.stdout
        reports = list((tmp_path / "reports").glob("*.json"))
        data = json.loads(reports[0].read_text(encoding="utf-8"))
        assert data["auth_form"] == "Basic Authentication"


def test_the_embedded_emulator_emulates_an_aws_org_on_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from provisioner.cli._main import main

    monkeypatch.setenv("DB_PASSWORD", TRICKY)
    path = _manifest(tmp_path)
    aws = ("--emulator", "--emulator-region", "aws", "--no-progress")
    assert main(["apply", str(path), *aws, "--auth", "connection-string"]) == 2
    assert "it offers: Basic Authentication (--auth basic)" in capsys.readouterr().err
    assert main(["apply", str(path), *aws]) == 0
    out = capsys.readouterr().out
    assert "Auth form: Basic Authentication" in out
    assert "0 existing" in out
    assert main(["plan", str(path), *aws]) == 0  # the same org, read back: nothing to do
    rows = capsys.readouterr().out
    assert "Auth form: Basic Authentication" in rows
    assert "0 create, 2 exists" in rows
    assert main(["apply", str(path), "--emulator-region", "aws", "--no-progress"]) == 2
    assert "--emulator-region: only with --emulator" in capsys.readouterr().err


def test_the_embedded_emulator_offers_the_connection_string_form(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from provisioner.cli._main import main

    monkeypatch.setenv("DB_PASSWORD", TRICKY)
    path = _manifest(tmp_path)
    assert main(["apply", str(path), "--emulator", "--auth", "basic", "--no-progress"]) == 2
    assert "it offers: ConnectionString (--auth connection-string)" in capsys.readouterr().err
    assert list(tmp_path.glob("reports/*")) == []  # no report: the run never started sending
    code = main(["apply", str(path), "--emulator", "--auth", "connection-string", "--no-progress"])
    assert code == 0
    assert "Auth form: ConnectionString" in capsys.readouterr().out
