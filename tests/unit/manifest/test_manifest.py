"""load_manifest, describe_manifest, effective_sandbox and manifest_schema: behaviour."""

from __future__ import annotations

import ipaddress
import json
import tempfile
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provisioner.errors import ManifestError, ManifestIssue
from provisioner.manifest._fields import ENTRY_FIELDS, host_problem
from provisioner.manifest._load import (
    DatabaseSpec,
    Manifest,
    describe_manifest,
    effective_sandbox,
    load_manifest,
    manifest_schema,
)
from provisioner.manifest._nodes import compose_document
from provisioner.secrets import Secret

CANARY = "canary-9f3b-never-print-me"
HEADER = """\
version: 1
defaults:
  port: 1521
  user: aep_reader
  password: ${ORACLE_PASSWORD}
databases:
"""


def with_header(entries: str) -> str:
    """The shared header followed by ``entries`` (dedented)."""
    return HEADER + textwrap.dedent(entries)


def write(tmp_path: Path, text: str, name: str = "manifest.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def load(tmp_path: Path, text: str, **env: str) -> Manifest:
    return load_manifest(write(tmp_path, text), env={"ORACLE_PASSWORD": CANARY, **env})


def issues_of(tmp_path: Path, text: str, **env: str) -> tuple[ManifestIssue, ...]:
    with pytest.raises(ManifestError) as caught:
        load(tmp_path, text, **env)
    assert CANARY not in str(caught.value)
    return caught.value.issues


def test_contract_example_loads_with_defaults_applied(tmp_path: Path):
    manifest = load(
        tmp_path,
        with_header(
            """\
          - name: finance-eu
            host: db1.example.com
            sid: FIN1
          - name: hr
            host: 10.0.0.5
            port: 1522
            service_name: hr.example.com
            user: hr_reader
            password: ${HR_PASSWORD}
            sandbox: hr-dev
        """
        ),
        HR_PASSWORD="hr-pw",
    )
    first, second = manifest.databases
    assert first == DatabaseSpec(
        name="finance-eu",
        host="db1.example.com",
        port=1521,
        user="aep_reader",
        password=Secret(CANARY),
        sid="FIN1",
        line=7,
    )
    assert (second.port, second.user, second.password.reveal()) == (1522, "hr_reader", "hr-pw")
    assert (second.sid, second.service_name, second.sandbox) == (None, "hr.example.com", "hr-dev")
    assert manifest.version == 1
    assert manifest.sandbox is None
    assert CANARY not in repr(manifest)


def test_issue_text_names_file_line_column_entry_and_field(tmp_path: Path):
    issues = issues_of(
        tmp_path,
        with_header(
            """\
          - {name: a, host: h, sid: S}
          - name: hr
            host: h
            port: abc
            sid: S
        """
        ),
    )
    path = tmp_path / "manifest.yaml"
    assert [str(issue) for issue in issues] == [
        f'{path}:10:9: databases[1] (name "hr"): port: expected an integer 1-65535, got "abc"'
    ]
    assert issues[0].where == 'databases[1] (name "hr"): port'


def test_every_problem_is_reported_at_once_in_file_order(tmp_path: Path):
    issues = issues_of(
        tmp_path,
        with_header(
            """\
          - name: a
            host: bad_host
            port: 0
          - name: b
            hots: h.example.com
            sid: S
        """
        ),
    )
    assert [(issue.line, issue.where) for issue in issues] == [
        (7, 'databases[0] (name "a")'.replace(")", "): sid")),
        (8, 'databases[0] (name "a"): host'),
        (9, 'databases[0] (name "a"): port'),
        (11, 'databases[1] (name "b"): hots'),
    ]


def test_three_errors_give_three_issues(tmp_path: Path):
    issues = issues_of(
        tmp_path,
        with_header(
            """\
          - {name: a, host: h, sid: S, port: "1521"}
          - {name: b, host: h, sid: S, user: ""}
          - {name: a, host: h, sid: S}
        """
        ),
    )
    assert len(issues) == 3
    assert [issue.line for issue in issues] == [7, 8, 9]


def test_unset_variable_in_defaults_is_reported_once(tmp_path: Path):
    entries = "".join(f"  - {{name: db{i}, host: h, sid: S}}\n" for i in range(50))
    issues = issues_of(tmp_path, HEADER.replace("ORACLE_PASSWORD", "UNSET_PW") + entries)
    assert [(i.line, i.where, i.message) for i in issues] == [
        (5, "defaults: password", "environment variable UNSET_PW is not set")
    ]


def test_unset_variable_in_entry_names_entry_and_variable(tmp_path: Path):
    issues = issues_of(tmp_path, HEADER + "  - {name: hr, host: h, sid: S, user: '${HR_USER}'}\n")
    assert str(issues[0]).endswith(
        'databases[0] (name "hr"): user: environment variable HR_USER is not set'
    )


def test_password_canary_never_shows(tmp_path: Path):
    text = f"""\
        version: 1
        defaults: {{port: 1521, user: u, description: "pw {{password}}"}}
        databases:
          - {{name: a, host: h, sid: S, password: {CANARY}, pasword: {CANARY}}}
          - {{name: b, host: h, sid: S, password: ["{CANARY}"]}}
          - {{name: c, host: h, sid: S, password: "{CANARY}${{"}}
          - {{name: d, host: h, sid: S, password: "{CANARY}${{not a ref}}"}}
          - {{name: e, host: h, sid: S, password: !!binary "{CANARY}"}}
          - {{name: f, host: h, sid: S, password: 12345, port: "{CANARY}"[:0]}}
    """
    issues = issues_of(tmp_path, text.replace('"' + CANARY + '"[:0]', "x"))
    assert len(issues) >= 6
    assert all(CANARY not in str(issue) and CANARY not in repr(issue) for issue in issues)
    numeric = issues_of(tmp_path, HEADER + "  - {name: a, host: h, sid: S, password: 987654321}\n")
    assert "987654321" not in str(numeric[0])
    assert "expected a string, got an integer" in str(numeric[0])


def test_secrets_are_wrapped_and_masked(tmp_path: Path):
    (tmp_path / "pw.txt").write_text(f"{CANARY}-file\n")
    manifest = load(
        tmp_path,
        with_header(
            """\
          - {name: a, host: h, sid: S}
          - {name: b, host: h, sid: S, password: "${file:pw.txt}"}
          - {name: c, host: h, sid: S, password: "literal"}
        """
        ),
    )
    passwords = [spec.password for spec in manifest.databases]
    assert all(isinstance(password, Secret) for password in passwords)
    assert [p.reveal() for p in passwords] == [CANARY, f"{CANARY}-file", "literal"]
    assert CANARY not in repr(manifest)
    assert CANARY not in str(manifest.databases)


def test_entry_target_replaces_the_defaults_one(tmp_path: Path):
    manifest = load(
        tmp_path,
        HEADER.replace("defaults:\n", "defaults:\n  sid: DEFAULTSID\n")
        + """\
          - {name: a, host: h}
          - {name: b, host: h, service_name: svc}
        """,
    )
    targets = [(spec.sid, spec.service_name) for spec in manifest.databases]
    assert targets == [("DEFAULTSID", None), (None, "svc")]


def test_description_template_renders_fields_escapes_and_references(tmp_path: Path):
    manifest = load(
        tmp_path,
        """\
        version: 1
        sandbox: staging
        defaults:
          port: 1521
          user: u
          password: p
          description: "{name}@{host}:{port}/{sid} by {user} in {sandbox} {{x}} $${Y} ${WHO}"
        databases:
          - {name: a, host: h, sid: S}
          - {name: b, host: h2, description: "{service_name}", service_name: x}
        """,
        WHO="{ops}",
    )
    first, second = manifest.databases
    assert first.description == "a@h:1521/S by u in staging {x} ${Y} {ops}"
    assert first.sandbox is None
    assert second.description == "x"


def test_sid_placeholder_without_sid_is_an_error(tmp_path: Path):
    issues = issues_of(
        tmp_path,
        HEADER + '  - {name: a, host: h, service_name: s, description: "{sid}"}\n',
    )
    assert "{sid} is used but this entry has no sid" in str(issues[0])


@pytest.mark.parametrize(
    ("env", "default_sandbox", "expected"),
    [
        ({}, None, "prod"),
        ({"AEP_SANDBOX": "dev"}, None, "dev"),
        ({"AEP_SANDBOX": "dev"}, "explicit", "explicit"),
    ],
)
def test_sandbox_placeholder_falls_back(
    tmp_path: Path, env: dict[str, str], default_sandbox: str | None, expected: str
):
    path = write(tmp_path, HEADER + '  - {name: a, host: h, sid: S, description: "{sandbox}"}\n')
    full_env = {"ORACLE_PASSWORD": "x", **env}
    manifest = load_manifest(path, env=full_env, default_sandbox=default_sandbox)
    assert manifest.databases[0].description == expected


def test_port_may_come_from_the_environment(tmp_path: Path):
    text = HEADER + "  - {name: a, host: h, sid: S, port: '${DB_PORT}'}\n"
    assert load(tmp_path, text, DB_PORT="1530").databases[0].port == 1530
    issues = issues_of(tmp_path, text, DB_PORT="15x")
    assert 'port: expected an integer 1-65535 written in decimal, got "${DB_PORT}"' in str(
        issues[0]
    )


def test_duplicate_names_are_found_after_substitution(tmp_path: Path):
    issues = issues_of(
        tmp_path,
        HEADER + "  - {name: hr, host: h, sid: S}\n  - {name: '${NAME}', host: h, sid: S}\n",
        NAME="hr",
    )
    assert issues[0].message == "duplicate name: databases[0] has it too"
    assert issues[0].line == 8


def test_yaml_11_booleans_are_not_strings_or_ports(tmp_path: Path):
    issues = issues_of(tmp_path, HEADER + "  - {name: a, host: h, sid: NO, port: on}\n")
    messages = [issue.message for issue in issues]
    assert messages == [
        'expected a string, got a boolean NO (quote it: "NO")',
        "expected an integer 1-65535, got a boolean (on)",
    ]


@pytest.mark.parametrize(
    "host",
    ["db1", "db-1.example.com", "db1.example.com.", "10.0.0.5", "::1", "2001:db8::1", "0.0.0.0"],
)
def test_valid_hosts(tmp_path: Path, host: str):
    manifest = load(tmp_path, HEADER + f"  - {{name: a, host: '{host}', sid: S}}\n")
    assert manifest.databases[0].host == host


@pytest.mark.parametrize(
    "host",
    ["-db", "db-", "db..x", "db_1", "10.0.0", "1.2.3.04", "[::1]", "::g", "a b", "x" * 64],
)
def test_invalid_hosts(tmp_path: Path, host: str):
    issues = issues_of(tmp_path, HEADER + f"  - {{name: a, host: '{host}', sid: S}}\n")
    assert issues[0].where == 'databases[0] (name "a"): host'


def test_unreadable_paths_are_manifest_errors(tmp_path: Path):
    for path in (tmp_path / "missing.yaml", tmp_path):
        with pytest.raises(ManifestError) as caught:
            load_manifest(path, env={})
        (issue,) = caught.value.issues
        assert issue.line is None
        assert str(issue).startswith(f"{path}: cannot read: ")


def test_binary_file_is_not_yaml(tmp_path: Path):
    path = tmp_path / "image.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    with pytest.raises(ManifestError) as caught:
        load_manifest(path, env={})
    assert str(caught.value) == f"{path}:1:1: not UTF-8 text (byte 0x89): is this a YAML file?"


def test_unknown_key_suggests_and_does_not_also_report_missing(tmp_path: Path):
    issues = issues_of(tmp_path, HEADER + "  - {name: a, hots: h, sid: S}\n  - {name: b, sid: S}\n")
    assert [issue.message for issue in issues] == [
        'unknown key "hots" (did you mean "host"?)',
        "required: set it in the entry or under defaults",
    ]


def test_aliases_to_scalars_work_but_repeated_entries_do_not(tmp_path: Path):
    manifest = load(
        tmp_path, HEADER + "  - {name: a, host: &h db1, sid: S}\n  - {name: b, host: *h, sid: T}\n"
    )
    assert [spec.host for spec in manifest.databases] == ["db1", "db1"]
    entries = "  - &e {name: a, host: h, sid: S}\n" + "  - *e\n" * 2000
    issues = issues_of(tmp_path, HEADER + entries)
    assert len(issues) == 2000
    assert issues[0].message == "repeats databases[0] through an alias: write each entry once"


def test_billion_laughs_is_refused_without_expanding(tmp_path: Path):
    levels = ['a: &a {name: lol, host: h, sid: S, x: "lol"}']
    for prev, cur in zip("abcdefghij", "bcdefghijk", strict=False):
        levels.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 10) + "]")
    text = "version: 1\nlol:\n" + "".join(f"  {line}\n" for line in levels) + "databases: *k\n"
    issues = issues_of(tmp_path, text)
    assert len(issues) == 11  # the unknown key, then one per item of *k: a list, not an entry


def test_object_constructing_tags_are_refused(tmp_path: Path):
    marker = tmp_path / "pwned"
    text = (
        HEADER
        + f"  - {{name: a, host: h, sid: !!python/object/apply:os.system ['touch {marker}']}}\n"
    )
    issues = issues_of(tmp_path, text)
    assert "YAML tag !!python/object/apply:os.system is not allowed" in issues[0].message
    assert not marker.exists()


def test_tab_indentation_is_located(tmp_path: Path):
    issues = issues_of(tmp_path, "version: 1\ndatabases:\n  - name: a\n\t  host: h\n")
    assert (issues[0].line, issues[0].column) == (4, 1)
    assert "tab character in indentation" in issues[0].message


def test_syntax_error_is_located(tmp_path: Path):
    issues = issues_of(tmp_path, "version: 1\ndatabases: [\n  {name: a\n")
    assert issues[0].line == 4
    assert issues[0].message.startswith("YAML syntax error: ")


def test_effective_sandbox_order(tmp_path: Path):
    spec = DatabaseSpec(name="a", host="h", port=1, user="u", password=Secret("p"), sid="S")
    manifest = Manifest(path=tmp_path, version=1, sandbox=None, databases=(spec,))
    assert effective_sandbox(spec, manifest, "env") == "env"
    with_manifest = Manifest(path=tmp_path, version=1, sandbox="m", databases=(spec,))
    assert effective_sandbox(spec, with_manifest, "env") == "m"
    own = DatabaseSpec(
        name="a", host="h", port=1, user="u", password=Secret("p"), sid="S", sandbox="e"
    )
    assert effective_sandbox(own, with_manifest, "env") == "e"


def test_describe_manifest_counts_per_sandbox_busiest_first(tmp_path: Path):
    entries = "".join(f"  - {{name: db{i}, host: h, sid: S}}\n" for i in range(3))
    entries += "".join(f"  - {{name: hr{i}, host: h, sid: S, sandbox: hr-dev}}\n" for i in range(5))
    manifest = load(tmp_path, HEADER + entries)
    text = describe_manifest(manifest, default_sandbox="prod")
    assert text == f"{tmp_path / 'manifest.yaml'}: 8 databases valid (hr-dev: 5, prod: 3)"
    single = load(tmp_path, HEADER + "  - {name: a, host: h, sid: S}\n")
    assert describe_manifest(single, default_sandbox="x").endswith(": 1 database valid (x: 1)")


def test_schema_is_json_and_covers_every_field():
    schema = manifest_schema()
    assert json.loads(json.dumps(schema)) == schema
    definitions = schema["definitions"]
    assert isinstance(definitions, dict)
    assert set(definitions["database"]["properties"]) == set(ENTRY_FIELDS)
    assert set(definitions["defaults"]["properties"]) == set(ENTRY_FIELDS) - {"name"}
    assert schema["required"] == ["version", "databases"]
    assert schema["properties"]["version"]["const"] == 1  # type: ignore[index]


def test_large_manifest_loads(tmp_path: Path):
    entries = "".join(
        f"  - name: db-{i}\n    host: db{i}.example.com\n    sid: S{i}\n" for i in range(3000)
    )
    manifest = load(tmp_path, HEADER + entries)
    assert len(manifest.databases) == 3000
    assert manifest.databases[-1].line == 7 + 3 * 2999


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        (
            "version: 1\ndefaults: [port]\ndatabases: [{name: a}]\n",
            "defaults",
            "expected a mapping",
        ),
        (HEADER + "  - {name: a, host: h, sid: S, port: '${NOPE}'}\n", "port", "NOPE is not set"),
        (HEADER + "  - {name: a, host: h, sid: S, port: }\n", "port", "must not be empty"),
        (HEADER + "  - {name: a, host: h, sid: S, description: 12}\n", "description", "got an"),
        (HEADER + "  - {name: a, host: h, sid: S, description: ' '}\n", "description", "empty"),
        (
            HEADER + "  - {name: a, host: h, sid: S, description: 'x ${NOPE}'}\n",
            "description",
            "environment variable NOPE is not set",
        ),
        (
            HEADER + "  - {name: a, sid: S, host: " + ".".join(["a" * 60] * 5) + "}\n",
            "host",
            "got a name longer than 253 characters",
        ),
        (HEADER + "  - {name: a, host: h, sid: S, sandbox: 'dev '}\n", "sandbox", "white space"),
        ("version: 1\nsandbox: ''\ndatabases: [{name: a}]\n", "sandbox", "must not be empty"),
        ("version: one\ndatabases: []\n", "version", "expected 1 (the only version), got one"),
        ("version: [1]\ndatabases: []\n", "version", "got a list"),
        (HEADER + "  - {name: a, host: h, sid: S, on: x}\n", "", "keys must be strings"),
        (HEADER + "  - {name: a, host: h, sid: S, !!python/name:os.system x: y}\n", "", "tag"),
    ],
)
def test_small_problems(tmp_path: Path, text: str, where: str, message: str):
    issues = issues_of(tmp_path, text)
    assert any(i.where.endswith(where) and message in i.message for i in issues), issues


def test_description_without_placeholders_is_kept_verbatim(tmp_path: Path):
    text = with_header("- {name: a, host: h, sid: S, description: 'plain: $$ and 100%'}\n")
    assert load(tmp_path, text).databases[0].description == "plain: $$ and 100%"


@pytest.mark.parametrize(
    "text",
    [
        "version: 1\ndatabases:\n  - {name: a, host: &h h}\n  - *h\n",
        "a: [1, {b: !!str 2}]\n",
        "version: 1\ndatabases:\n\t- x\n",
        "a: 'open\n",
        "a: 1\n---\nb: 2\n",
        "a: b: c\n",
        "a: \x07\n",
    ],
)
def test_pure_python_composer_agrees_with_libyaml(text: str):
    def outcome(use_libyaml: bool) -> object:
        try:
            node = compose_document(text, file="f.yaml", use_libyaml=use_libyaml)
        except ManifestError as exc:
            return [(i.line, i.column, i.message.split(":")[0]) for i in exc.issues]
        return repr(node)

    assert outcome(use_libyaml=False) == outcome(use_libyaml=True)


@given(st.ip_addresses())
def test_any_ip_address_is_a_valid_host(address: ipaddress.IPv4Address | ipaddress.IPv6Address):
    assert host_problem(str(address)) is None


_FRAGMENTS = [
    "version: 1",
    "databases:",
    "defaults:",
    "  - name: a",
    "    host: h",
    "    sid: S",
    "  port: 1521",
    "  password: ${ORACLE_PASSWORD}",
    "  - &x {name: b}",
    "  - *x",
    "    description: '{name} {{ ${X} $${'",
    "\tuser: u",
    "  - [",
    "sandbox: !!python/object:os.system",
    "<<: *x",
    "? [a]",
    ": b",
    "---",
    "'",
]


@given(
    st.one_of(
        st.lists(st.sampled_from(_FRAGMENTS), max_size=12).map("\n".join),
        st.text(alphabet="-:{}[],&*!|>'\"%@`#\n \t$ab1", max_size=80),
    )
)
def test_any_text_either_loads_or_raises_manifest_error(text: str):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.yaml"
        path.write_text(text)
        outcome = _load_or_error(path)
    if isinstance(outcome, ManifestError):
        assert outcome.issues
        assert CANARY not in str(outcome)
    else:
        assert outcome.databases


def _load_or_error(path: Path) -> Manifest | ManifestError:
    try:
        return load_manifest(path, env={"ORACLE_PASSWORD": CANARY})
    except ManifestError as exc:
        return exc
