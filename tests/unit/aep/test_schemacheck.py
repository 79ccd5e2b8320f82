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
    st.sampled_from(["server", "port", "password", "sslMode", "any", "extra"]), values
)


@settings(max_examples=300, deadline=None)
@given(st.lists(params, min_size=1, max_size=5))
def test_the_verdict_is_jsonschemas(batch: list[dict[str, object]]) -> None:
    for schema in (BASIC, OPEN, OTHER):
        full = Draft7Validator(schema)
        check = SchemaCheck(full)
        for item in [*batch, *batch]:  # the second time from the memo
            assert check.is_valid(item) == full.is_valid(item), (schema is OTHER, item)
