"""`provisioner import`: CSV and tnsnames.ora inputs -> manifests that load, located errors."""

from __future__ import annotations

import argparse
import csv
import re
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from provisioner.errors import ConfigError, ManifestError
from provisioner.importers import add_import_arguments
from provisioner.importers._convert import (
    USER_ENV_VAR,
    ImportResult,
    convert_inventory,
    escape_template,
    escape_text,
    import_inventory,
    password_env_var,
)
from provisioner.manifest._load import Manifest, load_manifest
from provisioner.manifest._template import compile_template
from provisioner.secrets import ReferenceResolver

DATA = Path(__file__).parents[2] / "data" / "import"
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
HEADER = "name,host,port,sid,user"


def _load(result: ImportResult, directory: Path) -> Manifest:
    """Write the manifest and load it, every variable it reads set to a value of its own."""
    path = directory / "manifest.yaml"
    path.write_text(result.text, encoding="utf-8")
    return load_manifest(path, env={name: f"value-of-{name}" for name in result.env_vars})


def _write(tmp_path: Path, text: str, name: str = "inventory.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _issues(path: Path, **options: str) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        import_inventory(path, **options)  # type: ignore[arg-type]
    return [str(issue) for issue in caught.value.issues]


# --- tnsnames.ora -------------------------------------------------------------------------


def test_tnsnames_import_loads_as_a_manifest(tmp_path: Path) -> None:
    result = convert_inventory(DATA / "tnsnames.ora")
    manifest = _load(result, tmp_path)
    assert result.count == len(manifest.databases) == 20
    specs = {spec.name: spec for spec in manifest.databases}
    finprod = specs["finprod"]
    assert (finprod.host, finprod.port, finprod.service_name) == (
        "fin-db1.corp.example.com",
        1521,
        "finprod.corp.example.com",
    )
    assert finprod.user == f"value-of-{USER_ENV_VAR}"
    assert finprod.password.reveal() == "value-of-ORACLE_PASSWORD_FINPROD"
    assert specs["fintest"].sid == "FINTST"
    assert specs["ipv6db"].host == "2001:db8::15"
    assert specs["sales.eu"].password.reveal() == "value-of-ORACLE_PASSWORD_SALES_EU"
    assert list(specs)[:3] == ["finprod", "fintest", "findev"]
    assert [name for name, spec in specs.items() if spec.tls] == ["crm"]  # its address is TCPS


def test_tnsnames_output_says_where_it_came_from_and_what_to_set() -> None:
    result = convert_inventory(DATA / "tnsnames.ora")
    source = str(DATA / "tnsnames.ora")
    lines = result.text.splitlines()
    assert lines[0] == f"# Written by `provisioner import` from {source} (tnsnames): 20 databases."
    assert result.env_vars[0] == USER_ENV_VAR
    assert len(result.env_vars) == 21
    for variable in result.env_vars:
        assert any(line.startswith(f"#   {variable} ") for line in lines)
    assert f"# WARNING: {source}:4: IFILE=" in result.text
    assert result.warnings == (
        f"{source}:4: IFILE=/u01/app/oracle/network/admin/tnsnames_legacy.ora"
        " is not followed; import that file separately",
    )


def test_tnsnames_entries_carry_their_source_and_notes_as_comments() -> None:
    text = import_inventory(DATA / "tnsnames.ora")
    source = str(DATA / "tnsnames.ora")
    expected = (
        f"# {source}:7: FINPROD, FINPROD.WORLD\n"
        "#   other addresses not imported: fin-db2.corp.example.com:1521\n"
        "- name: finprod\n"
    )
    assert expected in text
    assert "user: ${ORACLE_USER}" in text


def test_import_is_deterministic_and_never_holds_a_password_value() -> None:
    first = import_inventory(DATA / "tnsnames.ora")
    assert first == import_inventory(DATA / "tnsnames.ora")
    document = yaml.safe_load(first)
    assert document["version"] == 1
    assert document["defaults"] == {"user": "${ORACLE_USER}"}
    for entry in document["databases"]:
        assert re.fullmatch(r"\$\{ORACLE_PASSWORD_[A-Z0-9_]+\}", entry["password"])


def test_format_is_guessed_from_contents_when_the_name_does_not_say(tmp_path: Path) -> None:
    tns = (DATA / "tnsnames.ora").read_text(encoding="utf-8")
    assert convert_inventory(_write(tmp_path, tns, "aliases.txt")).count == 20
    one_line = "# header\nX = (DESCRIPTION = (ADDRESS = (HOST = h))(CONNECT_DATA = (SID = S)))\n"
    assert convert_inventory(_write(tmp_path, one_line, "x")).count == 1
    rows = f"{HEADER}\na,h,1,S,u\n"
    assert convert_inventory(_write(tmp_path, rows, "hosts.txt")).count == 1


def test_explicit_format_wins_over_the_file_name(tmp_path: Path) -> None:
    path = _write(tmp_path, f"{HEADER}\na,h,1,S,u\n", "inventory.ora")
    assert convert_inventory(path, fmt="csv").count == 1
    assert _issues(path) == [f'{path}:2:1: expected "=" after the alias user, got "a"']


# --- CSV ----------------------------------------------------------------------------------


def test_csv_import_loads_as_a_manifest(tmp_path: Path) -> None:
    """Header case and spaces, CRLF, comment and blank rows, quoted cells, padded values."""
    result = convert_inventory(DATA / "inventory.csv")
    manifest = _load(result, tmp_path)
    specs = {spec.name: spec for spec in manifest.databases}
    assert list(specs) == ["finance-eu", "hr", "billing", "warehouse.dw", "crm"]
    assert specs["finance-eu"].description == "Finance, EU ledger"
    assert specs["finance-eu"].sandbox is None
    assert specs["hr"].description == 'HR "core" DB {primary}'
    assert (specs["hr"].port, specs["hr"].sandbox, specs["hr"].user) == (
        1522,
        "hr-dev",
        "hr_reader",
    )
    assert specs["billing"].service_name == "billing.svc"
    assert specs["warehouse.dw"].description == "Warehouse (cost: ${COST_CENTER})"
    assert specs["warehouse.dw"].host == "2001:db8::15"
    crm = specs["crm"]
    assert (crm.host, crm.port, crm.service_name, crm.description) == (
        "crm.example.com",
        2484,
        "crm.svc",
        None,
    )
    assert crm.password.reveal() == "value-of-ORACLE_PASSWORD_CRM"
    assert result.env_vars == tuple(password_env_var("ORACLE_PASSWORD", name) for name in specs)
    assert result.warnings == ()
    assert f"# {DATA / 'inventory.csv'}:4\n- name: hr\n" in result.text


@pytest.mark.parametrize(
    "text",
    [
        "name;host;port;sid;user\na;h;1;S;u\n",
        "name\thost\tport\tsid\tuser\na\th\t1\tS\tu\n",
        "\ufeffNAME, Host ,Port,SID,User,,\na,h,1,S,u,,\n",
        "# exported 2024-05-01\n\nname,host,port,sid,user\n\na,h,1,S,u\n",
    ],
    ids=["semicolons", "tabs", "bom-and-empty-columns", "comments-first"],
)
def test_csv_dialects(tmp_path: Path, text: str) -> None:
    manifest = _load(convert_inventory(_write(tmp_path, text)), tmp_path)
    (spec,) = manifest.databases
    assert (spec.name, spec.host, spec.port, spec.sid, spec.user) == ("a", "h", 1, "S", "u")


def test_csv_values_that_look_like_yaml_stay_strings(tmp_path: Path) -> None:
    rows = f"{HEADER},description\nyes,h,01521,null,'~',\"[x]: #1 {{name}} $${{y}}\"\n"
    manifest = _load(convert_inventory(_write(tmp_path, rows)), tmp_path)
    (spec,) = manifest.databases
    assert (spec.name, spec.port, spec.sid, spec.user) == ("yes", 1521, "null", "'~'")
    assert spec.description == "[x]: #1 {name} $${y}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "name,host,port,sid,user,password,passwd,Owner\n",
            [
                "{f}:1: password: passwords are never imported: remove the column; each entry"
                " reads its password from an environment variable (see the comment at the top"
                " of the output)",
                '{f}:1: unknown column "passwd", "owner" (columns: name, host, port, user, sid,'
                " service_name, description, sandbox)",
            ],
        ),
        (
            "name,host,Name\n",
            [
                "{f}:1: column name appears more than once",
                "{f}:1: missing column port, user, sid (or service_name) (columns: name, host,"
                " port, user, sid, service_name, description, sandbox)",
            ],
        ),
        (
            "",
            [
                "{f}:1: no header: the first row must name the columns (columns: name, host,"
                " port, user, sid, service_name, description, sandbox)"
            ],
        ),
        (f"{HEADER}\n\n", ["{f}:1: no rows after the header: nothing to import"]),
        (f'{HEADER}\na,h,1,S,u\n"b,h,1,S,u\n', ["{f}:3: not valid CSV: unexpected end of data"]),
    ],
    ids=["password-and-unknown", "repeated-and-missing", "empty", "header-only", "open-quote"],
)
def test_csv_header_and_syntax_errors(tmp_path: Path, text: str, expected: list[str]) -> None:
    path = _write(tmp_path, text)
    assert _issues(path) == [line.format(f=path) for line in expected]


def test_csv_row_errors_are_all_reported_with_their_lines(tmp_path: Path) -> None:
    text = "\n".join(
        [
            "name,host,port,sid,service_name,user,",
            "ok,h,1521,S,,u,",
            ",h,,S,,u,",
            "both,h,1521,S,T,u,",
            "neither,h,1521,,,u,",
            "badport,h,65536,S,,u,",
            "badhost,db1:1521,1521,S,,u,",
            '"multi\nline",h,1521,S,,u,',
            "extra,h,1521,S,,u,,more",
            "stray,h,1521,S,,u,value",
            "nouser,h,1521,S,,,",
        ]
    )
    path = _write(tmp_path, text + "\n")
    assert _issues(path) == [
        f"{path}:3: name: required: this row has no value",
        f"{path}:3: port: required: this row has no value",
        f'{path}:4: name "both": service_name: set sid or service_name, not both',
        f'{path}:5: name "neither": sid: required: set sid or service_name',
        f'{path}:6: name "badport": port: expected an integer 1-65535, got "65536"',
        f'{path}:7: name "badhost": host: expected a hostname (RFC 1123), an IPv4 or an IPv6'
        ' address, got "db1:1521" (put the port under port:, not in host)',
        f'{path}:8: name "multi\\nline": name: control characters are not allowed,'
        ' got "multi\\nline"',
        f"{path}:10: 8 values but the header has 7 columns",
        f"{path}:11: value in column 7, which has no header",
        f'{path}:12: name "nouser": user: required: this row has no value',
    ]


def test_duplicate_names_and_shared_password_variables_are_errors(tmp_path: Path) -> None:
    rows = ["fin-eu,h,1,S,u", "hr,h,1,S,u", "fin-eu,h2,1,S,u", "FIN.EU,h,1,S,u"]
    path = _write(tmp_path, "\n".join([HEADER, *rows]) + "\n")
    assert _issues(path) == [
        f'{path}:4: name "fin-eu": duplicate name: line 2 has it too',
        f'{path}:5: name "FIN.EU": its password variable ORACLE_PASSWORD_FIN_EU is also the one'
        ' of "fin-eu" (line 2): rename one of them',
    ]


def test_not_utf8_is_reported_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "inventory.csv"
    path.write_bytes(f"{HEADER}\na,h,1,S,u\nb\xe9,h,1,S,u\n".encode("latin-1"))
    assert _issues(path) == [
        f"{path}:3: not UTF-8 text (byte 0xe9): save the file as UTF-8",
    ]


# --- options ------------------------------------------------------------------------------


def test_password_prefix_is_used_as_given(tmp_path: Path) -> None:
    path = _write(tmp_path, f"{HEADER}\nfin-eu,h,1,S,u\n")
    assert "password: ${PW_FIN_EU}" in import_inventory(path, password_env_prefix="PW")
    assert "password: ${PW_FIN_EU}" in import_inventory(path, password_env_prefix="PW_")
    assert "password: ${db_pw_FIN_EU}" in import_inventory(path, password_env_prefix="db_pw")


@pytest.mark.parametrize("prefix", ["", "1PW", "PW-1", "${PW}", "P W"])
def test_a_prefix_that_is_no_variable_name_is_a_config_error(tmp_path: Path, prefix: str) -> None:
    path = _write(tmp_path, f"{HEADER}\na,h,1,S,u\n")
    with pytest.raises(ConfigError, match="password env prefix: expected a variable name"):
        import_inventory(path, password_env_prefix=prefix)


def test_unknown_format_and_unreadable_file_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match='import format: expected csv or tnsnames, got "xml"'):
        import_inventory(DATA / "inventory.csv", fmt="xml")  # type: ignore[arg-type]
    missing = tmp_path / "missing.csv"
    with pytest.raises(ConfigError, match=f"^{re.escape(str(missing))}: cannot read: "):
        import_inventory(missing)


def test_import_arguments_parse() -> None:
    parser = argparse.ArgumentParser()
    add_import_arguments(parser)
    args = parser.parse_args(["--from", "tnsnames.ora"])
    assert (args.source, args.password_env_prefix, args.format) == (
        Path("tnsnames.ora"),
        "ORACLE_PASSWORD",
        None,
    )
    args = parser.parse_args(["--from", "x", "--password-env-prefix", "PW", "--format", "csv"])
    assert (args.password_env_prefix, args.format) == ("PW", "csv")


# --- properties ---------------------------------------------------------------------------

_PREFIXES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True)


@given(prefix=_PREFIXES, name=st.text(min_size=1))
def test_password_variable_is_always_a_variable_name(prefix: str, name: str) -> None:
    variable = password_env_var(prefix, name)
    assert _VAR_NAME.match(variable)
    assert variable.startswith(prefix if prefix.endswith("_") else prefix + "_")
    assert re.fullmatch(r"[A-Z0-9_]+", variable.removeprefix(prefix))
    assert password_env_var(prefix, name) == password_env_var(prefix, name.upper())


@given(name=st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9._ -]{0,20}[A-Za-z0-9])?", fullmatch=True))
def test_password_variable_of_a_plain_name(name: str) -> None:
    expected = "P_" + "".join(c.upper() if c.isalnum() else "_" for c in name)
    assert password_env_var("P", name) == expected


@given(st.text())
def test_escaped_text_resolves_back_to_itself(value: str) -> None:
    resolver = ReferenceResolver(env={}, base_dir=Path())
    assert resolver.resolve(escape_text(value)) == value


@given(st.text())
def test_escaped_template_renders_back_to_itself(value: str) -> None:
    resolver = ReferenceResolver(env={}, base_dir=Path())
    template = compile_template(
        escape_template(value), resolver=resolver, fields=("name",), forbidden={}
    )
    assert template.render({"name": "x"}) == value


_CELL = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=30
).filter(lambda text: text == text.strip() and text and not text.startswith("#"))


@settings(max_examples=60, deadline=None)
@given(name=_CELL, user=_CELL, description=_CELL, sid=_CELL)
def test_any_csv_values_come_back_from_the_manifest(
    name: str, user: str, description: str, sid: str
) -> None:
    """Whatever the cells hold, the manifest reads back exactly the same values."""
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        path = directory / "inventory.csv"
        with path.open("w", encoding="utf-8", newline="") as stream:
            writer = csv.writer(stream)
            writer.writerow(["name", "host", "port", "sid", "user", "description"])
            writer.writerow([name, "db.example.com", "1521", sid, user, description])
        (spec,) = _load(convert_inventory(path), directory).databases
    assert (spec.name, spec.user, spec.sid, spec.description) == (name, user, sid, description)
