"""The manifest's auth-form fields: ``tls`` (a boolean) and ``schema`` (a string)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import jsonschema
import pytest
import yaml

from provisioner.errors import ManifestError
from provisioner.manifest import load_manifest, manifest_schema

HEADER = """\
version: 1
defaults:
  port: 1521
  user: aep_reader
  password: ${ORACLE_PASSWORD}
  tls: true
databases:
"""


def _write(tmp_path: Path, entries: str) -> Path:
    path = tmp_path / "manifest.yaml"
    path.write_text(HEADER + textwrap.dedent(entries), encoding="utf-8")
    return path


def test_tls_and_schema_are_read_with_defaults_applied(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
        - {name: a, host: a.example.com, sid: A, schema: SALES}
        - {name: b, host: b.example.com, sid: B, tls: false}
        """,
    )
    a, b = load_manifest(path, env={"ORACLE_PASSWORD": "pw"}).databases
    assert (a.tls, a.schema) == (True, "SALES")
    assert (b.tls, b.schema) == (False, None)


def test_tls_defaults_to_false(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "version: 1\ndatabases:\n  - {name: a, host: h, port: 1, user: u, password: p, sid: S}\n"
    )
    assert load_manifest(path, env={}).databases[0].tls is False


@pytest.mark.parametrize(
    ("value", "got"),
    [('"true"', 'a string "true"'), ("1", "an integer 1"), ("", "nothing"), ("[x]", "a list")],
)
def test_tls_must_be_a_boolean(tmp_path: Path, value: str, got: str) -> None:
    path = _write(tmp_path, f"- {{name: a, host: h, sid: S, tls: {value}}}\n")
    with pytest.raises(ManifestError) as caught:
        load_manifest(path, env={"ORACLE_PASSWORD": "pw"})
    (issue,) = caught.value.issues
    assert issue.where == 'databases[0] (name "a"): tls'
    assert issue.message.startswith("expected true or false, got")
    assert got in issue.message


def test_schema_must_be_a_non_empty_string(tmp_path: Path) -> None:
    path = _write(tmp_path, '- {name: a, host: h, sid: S, schema: ""}\n')
    with pytest.raises(ManifestError, match=r"schema: must not be empty"):
        load_manifest(path, env={"ORACLE_PASSWORD": "pw"})


def test_json_schema_for_editors_knows_tls_and_schema(tmp_path: Path) -> None:
    schema = manifest_schema()
    good = yaml.safe_load(HEADER + "  - {name: a, host: h, sid: S, schema: X, tls: false}\n")
    jsonschema.Draft7Validator(schema).validate(good)
    bad = yaml.safe_load(HEADER + '  - {name: a, host: h, sid: S, tls: "yes"}\n')
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(bad))
    assert [list(e.absolute_path) for e in errors] == [["databases", 0, "tls"]]
