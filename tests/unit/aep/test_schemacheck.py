"""SchemaCheck gives jsonschema's own verdict, whichever path it takes."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft7Validator

from provisioner.aep._schemacheck import SchemaCheck

BASIC: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {
        "server": {"type": "string", "minLength": 1},
        "port": {"type": "integer", "minimum": 1, "maximum": 65535},
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

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-5, max_value=70000),
    st.sampled_from([1.0, 0.5]),
    st.text(max_size=10),
    st.lists(st.integers(), max_size=2),
)
params = st.dictionaries(
    st.sampled_from(["server", "port", "password", "sslMode", "database", "any", "extra"]),
    st.one_of(values, st.sampled_from(["ABC", "abc", ""])),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(params, min_size=1, max_size=5))
def test_the_verdict_is_jsonschemas(batch: list[dict[str, object]]) -> None:
    for schema in (BASIC, OPEN, OTHER):
        full = Draft7Validator(schema)
        check = SchemaCheck(full)
        for item in [*batch, *batch]:  # the second time from the memo
            assert check.is_valid(item) == full.is_valid(item), (schema is OTHER, item)


def test_a_secret_is_judged_by_its_length_and_never_kept() -> None:
    canary = "canary-Pw-0042"
    check = SchemaCheck(Draft7Validator(BASIC))
    assert not check.is_valid({"server": "db", "port": 1, "password": canary})  # over 8
    assert check.is_valid({"server": "db", "port": 1, "password": canary[:8]})
    assert canary[:8] not in repr(vars(check))  # the memos hold lengths, not the value
    assert ("password", str, 8) in check._values  # one verdict for every secret of that length


class _Counting:
    """A property's validator that counts what it is asked."""

    def __init__(self, inner: Draft7Validator) -> None:
        self.inner, self.asked = inner, 0

    def is_valid(self, value: object) -> bool:
        self.asked += 1
        return bool(self.inner.is_valid(value))


def test_a_length_only_property_is_validated_once_per_length() -> None:
    check = SchemaCheck(Draft7Validator(BASIC))
    server = _Counting(check._properties["server"])
    check._properties["server"] = server  # type: ignore[assignment]
    for host in ("db-a", "db-b", "db-c", "db-dd", "db-ee"):
        assert check.is_valid({"server": host, "port": 1})
    assert server.asked == 2  # lengths 4 and 5


def test_a_validator_that_checks_formats_is_not_split() -> None:
    schema = {**BASIC, "properties": {**BASIC["properties"], "server": {"format": "ipv4"}}}
    full = Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)
    check = SchemaCheck(full)
    for server in ("10.0.0.1", "not-an-ip", "10.0.0.1"):
        item = {"server": server, "port": 1}
        assert check.is_valid(item) == full.is_valid(item) == (server == "10.0.0.1")


def test_a_property_named_like_a_secret_is_never_kept_by_value() -> None:
    schema = {
        "type": "object",
        "properties": {"connectionString": {"type": "string", "pattern": "^Host="}},
        "additionalProperties": False,
    }
    full = Draft7Validator(schema)
    check = SchemaCheck(full)
    canary = "Host=db;Password=canary-Pw-0042"
    assert check.is_valid({"connectionString": canary}) == full.is_valid(
        {"connectionString": canary}
    )
    assert not check.is_valid({"connectionString": "Port=1"})
    assert "canary" not in repr(vars(check))
