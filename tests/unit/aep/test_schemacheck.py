"""SchemaCheck gives jsonschema's own verdict (draft 7, formats not asserted), whichever library
judges, changes no params, keeps no value, and fetches nothing."""

from __future__ import annotations

import copy
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft7Validator

from provisioner.aep._schemacheck import SchemaCheck
from provisioner.errors import ConfigError

BASIC: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {
        "server": {"type": "string", "minLength": 1, "format": "ipv4"},
        "port": {"type": "integer", "minimum": 1, "maximum": 65535, "default": 1521},
        "password": {"type": "string", "format": "password", "maxLength": 8},
        "sslMode": {"type": "boolean"},
        "database": {"type": "string", "pattern": "^[A-Z]+$"},
        "any": True,
    },
    "required": ["server", "port"],
    "additionalProperties": False,
    "maxProperties": 4,
}
OPEN: dict[str, Any] = {**BASIC, "additionalProperties": True}
OTHER: dict[str, Any] = {**BASIC, "allOf": [{"not": {"required": ["sslMode", "any"]}}]}
# labelled draft 4, judged by draft 7 all the same (exclusiveMaximum is a number in draft 7)
DRAFT_4: dict[str, Any] = {
    **BASIC,
    "$schema": "http://json-schema.org/draft-04/schema#",
    "properties": {**BASIC["properties"], "port": {"type": "integer", "exclusiveMaximum": 9}},
}
SCHEMAS = (BASIC, OPEN, OTHER, DRAFT_4)

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-5, max_value=70000),
    st.sampled_from([1.0, 0.5, 9, 8]),
    st.text(max_size=10),
    st.lists(st.integers(), max_size=2),
)
params = st.dictionaries(
    st.sampled_from(["server", "port", "password", "sslMode", "database", "any", "extra"]),
    st.one_of(values, st.sampled_from(["ABC", "abc", "", "10.0.0.1", "not-an-ip"])),
)


def _check(schema: dict[str, Any]) -> SchemaCheck:
    return SchemaCheck(schema, name="the test's auth")


@settings(max_examples=300, deadline=None)
@given(params)
def test_the_verdict_is_jsonschemas_and_the_params_are_not_changed(item: dict[str, Any]) -> None:
    for schema in SCHEMAS:
        check = _check(schema)
        assert check._fast is not None  # fastjsonschema judges these
        before = copy.deepcopy(item)
        assert check.is_valid(item) == Draft7Validator(schema).is_valid(item), (schema, item)
        assert item == before  # no default filled in


def test_errors_are_jsonschemas_in_the_order_of_their_paths() -> None:
    item = {"server": "", "port": 0, "extra": 1}
    errors = list(_check(BASIC).errors(item))
    assert sorted(str(e.validator) for e in errors) == sorted(
        str(e.validator) for e in Draft7Validator(BASIC).iter_errors(item)
    )
    assert len(errors) == 3
    assert [list(e.path) for e in errors] == [[], ["port"], ["server"]]


def test_a_rejected_secret_is_kept_nowhere() -> None:
    canary = "canary-Pw-0042"
    check = _check(BASIC)
    assert not check.is_valid({"server": "db", "port": 1, "password": canary})  # over 8
    assert check.is_valid({"server": "db", "port": 1, "password": canary[:8]})
    assert "canary" not in repr(vars(check))
    assert "canary" not in repr(check)


def test_an_invalid_schema_is_a_config_error_when_built_or_when_it_rejects() -> None:
    with pytest.raises(ConfigError, match="the test's auth has an invalid JSON Schema"):
        _check({"type": "no-such-type"})  # neither library takes it: found at once
    # fastjsonschema takes a negative maxLength, which rejects every string; jsonschema then
    # finds the schema invalid, as it words the errors
    negative = _check({"properties": {"server": {"type": "string", "maxLength": -1}}})
    assert negative._fast is not None
    assert not negative.is_valid({"server": "db"})
    with pytest.raises(ConfigError, match="invalid JSON Schema"):
        list(negative.errors({"server": "db"}))


def test_a_schema_fastjsonschema_cannot_compile_is_judged_by_jsonschema() -> None:
    schema: dict[str, Any] = {"properties": {"server": {"type": "string"}}, "required": "server"}
    with pytest.raises(ConfigError, match="invalid JSON Schema"):
        _check(schema)  # a malformed keyword, found by jsonschema's check of the schema
    null = _check({"const": None})  # valid; fastjsonschema 2.22 fails on a top-level null const
    assert null._fast is None
    items: tuple[Any, ...] = (None, {}, 0)
    for item in items:
        assert null.is_valid(item) == (item is None)


def test_a_ref_to_nowhere_is_a_config_error_when_jsonschema_meets_it() -> None:
    check = _check({"properties": {"server": {"$ref": "#/definitions/missing"}}})
    assert check._fast is None  # fastjsonschema finds it at once; jsonschema on a value
    with pytest.raises(ConfigError, match=r"has a \$ref to nowhere within it"):
        check.is_valid({"server": "db"})
    with pytest.raises(ConfigError, match=r"has a \$ref to nowhere within it"):
        check.errors({"server": "db"})


@pytest.mark.parametrize(
    "ref", ["http://127.0.0.1:9/x.json", "file:///etc/passwd", "other.json#/a", "urn:x:y"]
)
def test_a_ref_outside_the_schema_is_refused_not_fetched(ref: str) -> None:
    schema = {"type": "object", "properties": {"server": {"allOf": [{"$ref": ref}]}}}
    with pytest.raises(ConfigError, match="refers to a schema outside itself"):
        _check(schema)
    local = {
        "definitions": {"s": {"type": "string"}},
        "properties": {"a": {"$ref": "#/definitions/s"}},
    }
    check = _check(local)
    assert check._fast is not None
    assert check.is_valid({"a": "x"})
    assert not check.is_valid({"a": 1})


_LAZY = """
import sys
import provisioner.cli._commands  # everything apply imports
from provisioner.aep._schemacheck import SchemaCheck
check = SchemaCheck({"properties": {"a": {"type": "string"}}}, name="x")
assert check.is_valid({"a": "x"})
print("jsonschema" in sys.modules)
assert not check.is_valid({"a": 1})
print(len(list(check.errors({"a": 1}))), "jsonschema" in sys.modules)
"""


def test_jsonschema_is_imported_only_to_word_a_rejection() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _LAZY], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split() == ["False", "1", "True"]
