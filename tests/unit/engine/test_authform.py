"""The run's auth form seen from the engine: a connection of another form is never PATCHed in
this run's form, and the plan says which form apply would send."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import pytest

from provisioner.aep import (
    AuthForm,
    ChosenAuth,
    ClientConfig,
    Connection,
    FlowClient,
    RateController,
    auth_params,
    check_entries,
)
from provisioner.emulator import FaultPlan, RequestKind, running_emulator
from provisioner.engine import ApplyRun, RunOptions
from provisioner.engine._authform import CheckedForm, form_conflict
from provisioner.engine._domain import Action, Decision, EntryKey, Job, JobKind
from provisioner.engine._plan import PlanRow, write_plan
from provisioner.engine._provision import ConnectionProvisioner
from provisioner.errors import PermanentError
from provisioner.manifest import DatabaseSpec
from provisioner.reports import Outcome
from tests.conftest import make_settings
from tests.helpers import manifest, spec


def test_form_conflict_names_the_forms_and_the_way_out() -> None:
    found = Connection(id="c1", name="hr", auth_form="ConnectionString")
    assert form_conflict(found, AuthForm.CONNECTION_STRING) is None
    assert form_conflict(None, AuthForm.BASIC) is None
    assert form_conflict(Connection(id="c1", name="hr"), AuthForm.BASIC) is None  # not shown
    assert form_conflict(found, AuthForm.BASIC) == (
        "connection c1 uses the ConnectionString auth form and this run sends Basic "
        "Authentication; not rewritten: run with --auth connection-string to update it, or "
        "delete and recreate it to change its form"
    )
    odd = Connection(id="c2", name="hr", auth_form="Kerberos")
    assert form_conflict(odd, AuthForm.BASIC) == (
        "connection c2 uses the Kerberos auth form and this run sends Basic Authentication; "
        "not rewritten: delete and recreate it to change its form"
    )


async def test_an_update_of_a_connection_of_another_form_sends_no_patch(tmp_path: Path) -> None:
    """The listing may be older than the connection: the fresh read before the PATCH decides."""
    async with running_emulator(FaultPlan()) as emu:
        config = ClientConfig.of(make_settings(emu, tmp_path))
        async with FlowClient(config, pacer=RateController(1000.0)) as client:
            same = ConnectionProvisioner(client, auth_form=AuthForm.CONNECTION_STRING)
            created = await same.provision(Job.of(spec("hr"), "prod"), 1)
            job = Job(
                name="hr",
                sandbox="prod",
                kind=JobKind.UPDATE,
                spec=spec("hr", password="rotated"),
                connection_id=created.connection_id,
            )
            basic = ConnectionProvisioner(client, auth_form=AuthForm.BASIC)
            with pytest.raises(PermanentError, match="uses the ConnectionString auth form") as err:
                await basic.provision(job, 1)
            assert err.value.sent is False
            assert emu.stats.requests[RequestKind.PATCH] == 0
            done = await same.provision(job, 1)
        assert done.http_status == 200
        assert emu.stats.requests[RequestKind.PATCH] == 1


async def test_creates_go_out_in_the_provisioner_form(tmp_path: Path) -> None:
    from provisioner.emulator import Region

    async with running_emulator(FaultPlan(region=Region.AWS)) as emu:
        config = ClientConfig.of(make_settings(emu, tmp_path))
        async with FlowClient(config, pacer=RateController(1000.0)) as client:
            provisioner = ConnectionProvisioner(client, auth_form=AuthForm.BASIC)
            await provisioner.provision(Job.of(spec("hr", schema="HR"), "prod"), 1)
        (row,) = emu.store.connections()
        assert (row.auth.form, row.auth.schema) == ("Basic Authentication", "HR")


async def test_an_encoded_create_sends_the_params_given(tmp_path: Path) -> None:
    """``encode_creates`` encodes each create's body once, from the params given (the spec
    check's); a job it was not given is sent with its own params."""
    async with running_emulator(FaultPlan()) as emu:
        config = ClientConfig.of(make_settings(emu, tmp_path))
        async with FlowClient(config, pacer=RateController(1000.0)) as client:
            provisioner = ConnectionProvisioner(client, auth_form=AuthForm.CONNECTION_STRING)
            hr, fin = Job.of(spec("hr"), "prod"), Job.of(spec("fin"), "prod")
            checked = auth_params(spec("hr", host="checked.example.com"))
            provisioner.encode_creates([hr], {hr.key: checked})
            await provisioner.provision(hr, 1)
            await provisioner.provision(fin, 1)
        hosts = {row.name: row.auth.host for row in emu.store.connections()}
    assert hosts == {"hr": "checked.example.com", "fin": "fin.example.com"}


async def test_apply_creates_with_the_params_the_spec_check_returned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole wiring: what ``check_entries`` returns is what each create sends (the
    check here hands back params for other hosts, which the emulator then stores)."""

    def checked_elsewhere(
        file: str, specs: Sequence[DatabaseSpec], chosen: ChosenAuth
    ) -> list[dict[str, object]]:
        check_entries(file, specs, chosen)
        return [auth_params(s._replace(host=f"checked.{s.host}"), chosen.form) for s in specs]

    monkeypatch.setattr("provisioner.engine._authform.check_entries", checked_elsewhere)
    async with running_emulator(FaultPlan()) as emu:
        settings = make_settings(emu, tmp_path)
        report = await ApplyRun(
            manifest(tmp_path, [spec("hr"), spec("fin")]), settings, RunOptions()
        ).execute()
        hosts = sorted(row.auth.host for row in emu.store.connections())
    assert [r.status for r in report.results] == [Outcome.CREATED] * 2
    assert hosts == ["checked.fin.example.com", "checked.hr.example.com"]


def test_the_checked_params_stay_out_of_the_repr() -> None:
    canary = "canary-pw-51c2"
    params = auth_params(spec("hr", password=canary))
    checked = CheckedForm(form=AuthForm.CONNECTION_STRING, params={EntryKey("prod", "hr"): params})
    assert canary in str(checked.params)
    assert canary not in repr(checked)


def test_write_plan_says_the_form_and_the_notes() -> None:
    rows = [
        PlanRow(
            name="hr",
            sandbox="prod",
            decision=Decision(action=Action.EXISTS, ids=("c1",)),
            auth_form="Basic Authentication",
            note="connection c1 uses the ConnectionString auth form",
        ),
        PlanRow(name="crm", sandbox="prod", decision=None, auth_form="Basic Authentication"),
    ]
    out = io.StringIO()
    write_plan(rows, out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "Auth form: Basic Authentication"
    assert lines[2].endswith("exists (c1); connection c1 uses the ConnectionString auth form")
    assert lines[3].endswith("not selected")
    bare = io.StringIO()
    write_plan([PlanRow(name="a", sandbox="prod", decision=None)], bare)
    assert not bare.getvalue().startswith("Auth form")
