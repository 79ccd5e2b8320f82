"""A yes/no check of params against an authSpec's JSON Schema, and, for params it rejects,
jsonschema's own errors (which word the messages).

The yes/no is fastjsonschema's: it compiles the schema once into a plain Python function, so a
run's thousands of entries are checked for a few microseconds each, and the run does not pay
for importing jsonschema (about 40 ms of CPU, with its reference machinery) unless an entry is
rejected. Both judge by draft 7, whatever ``$schema`` says, with ``format`` an annotation (no
format checker), and fastjsonschema fills in no defaults: the params are not changed.

A schema fastjsonschema cannot compile, or whose function fails on a value (a malformed
keyword), is judged by jsonschema alone, after its own check of the schema. A schema with a
``$ref`` that is not local is refused: neither library is let to fetch a URL the API gave. No
verdict is kept per value: a param may be a secret.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Final, TypeVar

import fastjsonschema

from provisioner.errors import ConfigError

if TYPE_CHECKING:
    from jsonschema import Draft7Validator, ValidationError

__all__ = ["SchemaCheck"]

T = TypeVar("T")

_DRAFT_7: Final = "http://json-schema.org/draft-07/schema#"


def _remote_ref(node: object) -> str | None:
    """The first ``$ref`` in ``node`` that points outside the schema itself."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and not ref.startswith("#"):
            return ref
        node = list(node.values())
    if isinstance(node, list):
        return next((ref for ref in map(_remote_ref, node) if ref is not None), None)
    return None


def _compiled(schema: Mapping[str, object]) -> Callable[[object], object] | None:
    try:
        return fastjsonschema.compile(
            {**schema, "$schema": _DRAFT_7},
            use_default=False,
            use_formats=False,
            detailed_exceptions=False,
        )
    except Exception:  # noqa: BLE001  # any schema it cannot compile: jsonschema judges
        return None


class SchemaCheck:
    """``is_valid(params)``: the schema's verdict on params; ``errors(params)``: why not."""

    def __init__(self, schema: Mapping[str, object], *, name: str) -> None:
        """``name``: what the schema is, for the message when it is not a valid one.

        Raises:
            ConfigError: the schema refers outside itself, or is found not a valid JSON Schema.
        """
        self.schema = schema
        self.name = name
        ref = _remote_ref(schema)
        if ref is not None:
            raise ConfigError(f"{name} refers to a schema outside itself ({ref}): not fetched")
        self._fast = _compiled(schema)
        self._full: Draft7Validator | None = None
        if self._fast is None:  # jsonschema alone judges: its check of the schema now
            self.full()

    def is_valid(self, params: Mapping[str, object]) -> bool:
        if self._fast is not None:
            try:
                self._fast(params)
            except fastjsonschema.JsonSchemaValueException:
                return False
            except Exception:  # noqa: BLE001  # a malformed keyword met a value: jsonschema judges
                self._fast = None
            else:
                return True
        return self._by_jsonschema(lambda full: bool(full.is_valid(params)))

    def errors(self, params: Mapping[str, object]) -> list[ValidationError]:
        """jsonschema's errors for ``params``, in the order of their paths.

        Raises:
            ConfigError: the schema is not a valid JSON Schema, or has a ``$ref`` to nowhere.
        """
        return self._by_jsonschema(
            lambda full: sorted(full.iter_errors(params), key=lambda e: list(e.path))
        )

    def _by_jsonschema(self, judge: Callable[[Draft7Validator], T]) -> T:
        from referencing.exceptions import Unresolvable  # jsonschema's, as it is imported

        try:
            return judge(self.full())
        except Unresolvable:
            raise ConfigError(f"{self.name} has a $ref to nowhere within it") from None

    def full(self) -> Draft7Validator:
        """jsonschema's validator of the schema, imported and built on first use.

        Raises:
            ConfigError: the schema is not a valid JSON Schema.
        """
        if self._full is None:
            # only for a rejected entry or a schema fastjsonschema cannot judge
            from jsonschema import Draft7Validator
            from jsonschema.exceptions import SchemaError

            try:
                Draft7Validator.check_schema(self.schema)
            except SchemaError as exc:
                raise ConfigError(
                    f"{self.name} has an invalid JSON Schema: {exc.message}"
                ) from None
            self._full = Draft7Validator(self.schema)
        return self._full
