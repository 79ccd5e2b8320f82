"""The Oracle spec's auth forms: reading the spec, choosing the form (--auth), request bodies
per form, and each entry's params checked against the spec's own JSON Schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from provisioner.aep import (
    AuthForm,
    ClientConfig,
    FlowClient,
    RateController,
    auth_params,
    check_entries,
    choose_auth,
    connection_body,
    parse_oracle_spec,
    patch_ops,
    read_auth,
)
from provisioner.emulator import FaultPlan, Region, RequestKind, running_emulator
from provisioner.errors import ConfigError, ManifestError
from provisioner.settings import ORACLE_SPEC_ID
from tests.conftest import make_settings
from tests.helpers import spec

TRICKY = "p\"w';x=1;\u00e9\u4e2d \U0001f511"
_CS_SCHEMA: dict[str, object] = {
    "type": "object",
    "properties": {"connectionString": {"type": "string", "format": "password", "maxLength": 80}},
    "required": ["connectionString"],
}
_BASIC_SCHEMA: dict[str, object] = {
    "type": "object",
    "properties": {
        "server": {"type": "string"},
        "port": {"type": "integer", "maximum": 9999},
        "database": {"type": "string", "pattern": "^[A-Z]+$"},
        "username": {"type": "string", "minLength": 3},
        "password": {"type": "string", "format": "password", "maxLength": 8},
        "schema": {"type": "string"},
        "sslMode": {"type": "boolean"},
        "walletPath": {"type": "string"},
    },
    "required": ["server", "port", "database", "username", "password", "walletPath"],
    "additionalProperties": False,
}


def body(*entries: tuple[str, dict[str, object]]) -> dict[str, object]:
    auth = [{"name": name, "type": "x", "spec": schema} for name, schema in entries]
    return {"items": [{"id": ORACLE_SPEC_ID, "name": "oracle", "authSpec": auth}]}


BOTH: Any = body(("Basic Authentication", _BASIC_SCHEMA), ("ConnectionString", _CS_SCHEMA))


# --- choosing the form ------------------------------------------------------------------------


def test_auto_prefers_the_connection_string_where_both_are_offered() -> None:
    assert choose_auth(parse_oracle_spec(BOTH), "auto").form is AuthForm.CONNECTION_STRING
    only_basic = parse_oracle_spec(body(("Basic Authentication", _BASIC_SCHEMA)))
    assert choose_auth(only_basic, "auto").form is AuthForm.BASIC
    assert choose_auth(parse_oracle_spec(BOTH), "basic").form is AuthForm.BASIC


def test_a_forced_form_not_offered_names_the_forms_offered() -> None:
    only_basic = parse_oracle_spec(body(("Basic Authentication", _BASIC_SCHEMA), ("OAuth", {})))
    with pytest.raises(ConfigError) as caught:
        choose_auth(only_basic, "connection-string")
    assert str(caught.value) == (
        "--auth connection-string: the org's Oracle connection spec does not offer the "
        "ConnectionString form; it offers: Basic Authentication (--auth basic), OAuth; "
        "nothing was sent"
    )


@pytest.mark.parametrize(
    "answer",
    [
        body(("Kerberos", {"type": "object"})),
        body(),
        {"items": [{"id": ORACLE_SPEC_ID, "authSpec": "none"}]},
        {"items": [{"id": ORACLE_SPEC_ID, "authSpec": [7, {"name": "ConnectionString"}]}]},
    ],
)
def test_a_spec_with_neither_form_is_a_clear_error(answer: object) -> None:
    with pytest.raises(ConfigError, match="offers neither the ConnectionString nor the Basic"):
        choose_auth(parse_oracle_spec(answer), "auto")


@pytest.mark.parametrize("answer", [{"items": []}, [], {"items": [{"id": "other"}]}])
def test_an_answer_without_the_oracle_spec_is_a_clear_error(answer: object) -> None:
    with pytest.raises(ConfigError, match="answered no Oracle connection spec"):
        parse_oracle_spec(answer)


def test_an_invalid_schema_in_the_spec_is_a_clear_error() -> None:
    broken = parse_oracle_spec(body(("ConnectionString", {"type": "no-such-type"})))
    with pytest.raises(ConfigError, match="ConnectionString auth has an invalid JSON Schema"):
        choose_auth(broken, "auto")


# --- bodies -----------------------------------------------------------------------------------


def test_basic_body_carries_every_param_with_port_an_integer() -> None:
    entry = spec("hr", password=TRICKY, service_name="HRPDB", sid=None, schema="HR", tls=True)
    sent = connection_body(entry, AuthForm.BASIC)
    assert sent["auth"] == {
        "specName": "Basic Authentication",
        "params": {
            "server": "hr.example.com",
            "port": 1521,
            "database": "HRPDB",
            "username": "reader",
            "password": TRICKY,
            "schema": "HR",
            "sslMode": True,
        },
    }
    assert patch_ops(entry, AuthForm.BASIC)[0]["value"] == auth_params(entry, AuthForm.BASIC)


def test_connection_string_body_is_unchanged_by_default() -> None:
    entry = spec("hr")
    assert connection_body(entry) == connection_body(entry, AuthForm.CONNECTION_STRING)
    assert connection_body(entry)["auth"] == {
        "specName": "ConnectionString",
        "params": {
            "connectionString": "Host=hr.example.com;Port=1521;Sid=ORCL;User Id=reader;Password=pw"
        },
    }


# --- entries against the spec's schema ---------------------------------------------------------


@pytest.mark.parametrize("form", ["connection-string", "basic"])
def test_the_check_returns_the_params_it_checked_in_entry_order(form: str) -> None:
    """What a create sends is what was checked: one params mapping per entry, in order."""
    open_forms = body(("Basic Authentication", {}), ("ConnectionString", {}))
    chosen = choose_auth(parse_oracle_spec(open_forms), form)  # type: ignore[arg-type]
    entries = [spec("hr", port=1522), spec("fin", password="other"), spec("ops")]
    checked = check_entries("m.yaml", entries, chosen)
    assert checked == [auth_params(entry, chosen.form) for entry in entries]


def _issues(form: str, *entries: Any) -> list[str]:
    chosen = choose_auth(parse_oracle_spec(BOTH), form)  # type: ignore[arg-type]
    with pytest.raises(ManifestError) as caught:
        check_entries("m.yaml", list(entries), chosen)
    assert TRICKY not in str(caught.value)
    return [str(issue) for issue in caught.value.issues]


def test_basic_mismatches_name_the_entry_and_the_manifest_field() -> None:
    bad = spec("hr", password=TRICKY, sid="orcl", user="ab", port=10000, line=7)
    got = _issues("basic", spec("fine", password="short", sid="ORCL"), bad)
    rejects = "the org's Oracle spec (Basic Authentication) rejects param"
    required = "required by the spec, and this form has no value for it"
    assert got == [
        f"m.yaml: fine: walletPath: {rejects} 'walletPath': {required}",
        f"m.yaml:7: hr: walletPath: {rejects} 'walletPath': {required}",
        f"m.yaml:7: hr: sid/service_name: {rejects} 'database': does not match the pattern the "
        "spec requires",
        f"m.yaml:7: hr: password: {rejects} 'password': longer than the 8 characters the spec "
        "allows",
        f"m.yaml:7: hr: port: {rejects} 'port': out of the range the spec allows (maximum 9999)",
        f"m.yaml:7: hr: user: {rejects} 'username': shorter than the 3 characters the spec "
        "requires",
    ]


def test_a_param_the_spec_does_not_accept_is_named() -> None:
    strict: dict[str, object] = {**_BASIC_SCHEMA, "required": ["server"]}
    strict["properties"] = {"server": {"type": "string"}}
    chosen = choose_auth(parse_oracle_spec(body(("Basic Authentication", strict))), "basic")
    with pytest.raises(ManifestError) as caught:
        check_entries("m.yaml", [spec("hr", schema="HR")], chosen)
    wheres = sorted(issue.where for issue in caught.value.issues)
    assert wheres == ["hr: port"]  # additionalProperties: the first unexpected param
    assert "not accepted by the spec" in str(caught.value)


def test_connection_string_too_long_names_the_fields_it_is_made_of() -> None:
    (line,) = _issues("auto", spec("crm", password="x" * 80, line=3))
    assert line == (
        "m.yaml:3: crm: host/port/sid/service_name/user/password (the connection string): the "
        "org's Oracle spec (ConnectionString) rejects param 'connectionString': longer than the "
        "80 characters the spec allows"
    )


def test_tls_with_the_connection_string_form_is_an_error() -> None:
    (line,) = _issues("auto", spec("crm", tls=True, line=4))
    assert line.startswith("m.yaml:4: crm: tls: tls: true cannot be sent in the ConnectionString")
    assert "Adobe documents no keyword for it" in line


def test_schema_with_the_connection_string_form_is_a_warning() -> None:
    chosen = choose_auth(parse_oracle_spec(BOTH), "auto")
    with capture_logs() as logs:
        check_entries(
            "m.yaml", [spec("a"), spec("crm", schema="C"), spec("hr", schema="H")], chosen
        )
    warned = [{k: v for k, v in log.items() if k != "log_level"} for log in logs]
    assert warned == [
        {"event": "schema_ignored", "entries": 2, "first": "crm", "auth_form": "ConnectionString"}
    ]
    basic = choose_auth(parse_oracle_spec(BOTH), "basic")
    with capture_logs() as logs, pytest.raises(ManifestError):  # walletPath is required there
        check_entries("m.yaml", [spec("crm", schema="C")], basic)
    assert [log["event"] for log in logs] == []


# --- reading the spec from the emulator --------------------------------------------------------


@pytest.mark.parametrize(
    ("region", "form"), [(Region.AZURE, AuthForm.CONNECTION_STRING), (Region.AWS, AuthForm.BASIC)]
)
async def test_read_auth_reads_the_spec_once(
    tmp_path: Path, region: Region, form: AuthForm
) -> None:
    async with running_emulator(FaultPlan(region=region, error_rate=0.5, seed=3)) as emu:
        settings = make_settings(emu, tmp_path)
        async with FlowClient(ClientConfig.of(settings), pacer=RateController(1000.0)) as client:
            chosen = await read_auth(client, "auto", sandbox="prod")
        assert chosen.form is form
        served = emu.state.stats.requests[RequestKind.SPEC]
        assert served >= 1
        assert emu.state.stats.requests[RequestKind.CREATE] == 0
        assert client.requests["spec"] == served  # retried like the listing, 5xx and all


async def test_an_absent_spec_is_a_clear_error(tmp_path: Path) -> None:
    async with (
        running_emulator(FaultPlan()) as emu,
        FlowClient(
            ClientConfig.of(make_settings(emu, tmp_path)), pacer=RateController(1e3)
        ) as client,
    ):
        assert await client.get_connection_spec("nope", sandbox="prod") is None
        with pytest.raises(ConfigError, match=r"no Oracle connection spec \(nope\)"):
            await read_auth(client, "auto", sandbox="prod", spec_id="nope")
        assert emu.state.stats.requests[RequestKind.SPEC] == 2  # a 404 is not retried


@pytest.mark.parametrize(
    ("param", "field", "rule", "reason"),
    [
        ("username", "user", {"type": "integer"}, "the spec wants a value of type integer"),
        ("username", "user", {"enum": ["a"]}, "does not satisfy the spec's 'enum' rule"),
        ("port", "port", {"exclusiveMaximum": 10}, "out of the range the spec allows "
         "(exclusiveMaximum 10)"),
    ],
)  # fmt: skip
def test_every_reason_is_worded_without_the_value(
    param: str, field: str, rule: dict[str, object], reason: str
) -> None:
    schema: dict[str, object] = {"type": "object", "properties": {param: rule}}
    chosen = choose_auth(parse_oracle_spec(body(("Basic Authentication", schema))), "basic")
    with pytest.raises(ManifestError) as caught:
        check_entries("m.yaml", [spec("hr", user="secret-user-name")], chosen)
    (issue,) = caught.value.issues
    assert issue.where == f"hr: {field}"
    assert issue.message.endswith(f"rejects param {param!r}: {reason}")
    assert "secret-user-name" not in str(caught.value)
