"""A yes/no check of params against an authSpec's JSON Schema, fast for the common shape.

``jsonschema`` costs tens of microseconds per object; a run checks thousands of entries
before its first write. An authSpec schema is usually an object with ``properties``,
``required`` and ``additionalProperties: false``. For that shape the answer splits exactly:
the top level depends only on which keys are present (validated once per key set, against the
schema with each property's own schema replaced by ``true``), and each property's value
against its own schema. A property schema that asserts nothing of a string but its type and
length (``minLength``, ``maxLength``; the rest annotations, ``format`` included, which the
validator does not assert): a string under it is validated once per length, so no secret is
kept, only its length. Any other value that is not secret is validated once per distinct
value; a secret under any other schema each time. Any other top-level keyword, and any
``no``, go through the full validator, which also words the errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from jsonschema import Draft7Validator

from provisioner.secrets import names_a_secret

__all__ = ["SchemaCheck"]

# Top-level keywords whose verdict depends on the key set alone (given ``properties: true``).
_KEY_SET_ONLY: Final = frozenset(
    {
        "$schema",
        "$id",
        "$comment",
        "title",
        "description",
        "default",
        "examples",
        "type",
        "properties",
        "required",
        "additionalProperties",
        "minProperties",
        "maxProperties",
    }
)


# Keywords of a property's schema under which a value's verdict depends on its type and length
# alone (draft 7; ``format`` is an annotation unless a format checker is given, and none is).
_LENGTH_ONLY: Final = frozenset(
    {
        "$comment",
        "title",
        "description",
        "default",
        "examples",
        "format",
        "type",
        "minLength",
        "maxLength",
    }
)


def _length_only(schema: dict[str, object] | bool) -> bool:
    return isinstance(schema, bool) or set(schema) <= _LENGTH_ONLY


def _splits(schema: Mapping[str, object]) -> bool:
    properties = schema.get("properties")
    return (
        set(schema) <= _KEY_SET_ONLY
        and schema.get("type", "object") == "object"
        and isinstance(properties, dict)
        and all(isinstance(sub, dict | bool) for sub in properties.values())
        and isinstance(schema.get("additionalProperties", True), bool)
    )


class SchemaCheck:
    """``is_valid(params)``: the full validator's verdict, computed cheaply where it splits."""

    def __init__(self, validator: Draft7Validator) -> None:
        self._full = validator
        schema = validator.schema
        # the parts are validated without a format checker: split only a validator without one
        self._split = (
            isinstance(schema, dict) and _splits(schema) and validator.format_checker is None
        )
        self._top: Draft7Validator | None = None
        self._properties: dict[str, Draft7Validator] = {}
        self._secret: frozenset[str] = frozenset()
        self._by_length: frozenset[str] = frozenset()
        if isinstance(schema, dict) and self._split:
            properties: dict[str, dict[str, object] | bool] = schema["properties"]
            self._top = Draft7Validator({**schema, "properties": dict.fromkeys(properties, True)})
            self._properties = {name: Draft7Validator(sub) for name, sub in properties.items()}
            self._secret = frozenset(
                name
                for name, sub in properties.items()
                if (isinstance(sub, dict) and sub.get("format") == "password")
                or names_a_secret(name)  # whatever its schema says
            )
            self._by_length = frozenset(
                name for name, sub in properties.items() if _length_only(sub)
            )
        self._key_sets: dict[frozenset[str], bool] = {}
        self._values: dict[tuple[str, type, object], bool] = {}

    def is_valid(self, params: Mapping[str, object]) -> bool:
        if self._top is None:
            return bool(self._full.is_valid(params))
        keys = frozenset(params)
        top = self._key_sets.get(keys)
        if top is None:
            top = self._key_sets[keys] = bool(self._top.is_valid(dict.fromkeys(keys, None)))
        return top and all(self._value_ok(name, value) for name, value in params.items())

    def _value_ok(self, name: str, value: object) -> bool:
        validator = self._properties.get(name)
        if validator is None:  # allowed by additionalProperties: true
            return True
        key: tuple[str, type, object]
        if isinstance(value, str) and name in self._by_length:
            key = (name, str, len(value))  # the verdict of every string of this length
        elif name in self._secret or not isinstance(value, str | int | float | bool):
            return bool(validator.is_valid(value))
        else:
            key = (name, type(value), value)
        known = self._values.get(key)
        if known is None:
            known = self._values[key] = bool(validator.is_valid(value))
        return known
