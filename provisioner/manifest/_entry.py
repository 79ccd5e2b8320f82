"""One mapping of the manifest (a database entry or ``defaults``) -> checked field values.

Every problem is reported with the node it stands at; nothing here stops at the first one.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Final

from yaml.nodes import MappingNode, Node, ScalarNode

from provisioner.manifest._fields import (
    ENTRY_FIELDS,
    PORT_MAX,
    PORT_MIN,
    TEMPLATE_FIELDS,
    FieldSpec,
    host_problem,
)
from provisioner.manifest._nodes import (
    BOOL_TAG,
    INT_TAG,
    NULL_TAG,
    STR_TAG,
    Issues,
    describe_node,
    iter_pairs,
    scalar_tag,
    show_scalar,
    tag_problem,
)
from provisioner.manifest._template import Template, TemplateError, compile_template
from provisioner.secrets import ReferenceResolver, Secret, UnresolvedReferenceError

__all__ = [
    "MERGE_KEY",
    "EntryFields",
    "Place",
    "ReadContext",
    "read_field",
    "read_fields",
    "unknown_key",
]

_PORT_EXPECTED: Final = f"expected an integer {PORT_MIN}-{PORT_MAX}"
MERGE_KEY: Final = "<<"
_EXPECTED: Final = {"port": _PORT_EXPECTED, "flag": "expected true or false"}
_MERGE_MESSAGE: Final = "merge keys (<<) are not supported; put shared values under defaults"
_FORBIDDEN_PLACEHOLDERS: Final = {"password": "a description must never hold the password"}


class Place:
    """Where a mapping stands (``defaults``, ``databases[3] (name "hr")``), for messages.

    An entry's label is worked out only when a message needs it.
    """

    __slots__ = ("_index", "_label", "_node")

    def __init__(
        self, label: str | None, *, index: int | None = None, node: MappingNode | None = None
    ) -> None:
        self._label = label
        self._index = index
        self._node = node

    def where(self, key: str | None = None) -> str:
        label = self._label
        if label is None:
            label = self._label = _entry_label(self._index, self._node)
        if key is None:
            return label
        return f"{label}: {key}" if label else key


def _entry_label(index: int | None, node: MappingNode | None) -> str:
    label = f"databases[{index}]"
    for key_node, value_node in node.value if node is not None else ():
        if (
            isinstance(key_node, ScalarNode)
            and key_node.value == "name"
            and isinstance(value_node, ScalarNode)
            and value_node.value
        ):
            return f"{label} (name {json.dumps(value_node.value, ensure_ascii=False)})"
    return label


@dataclass(slots=True, kw_only=True)
class ReadContext:
    """What reading needs: where issues go and how ``${...}`` resolves."""

    issues: Issues
    resolver: ReferenceResolver

    def report(self, node: Node | None, place: Place, key: str | None, message: str) -> None:
        self.issues.add(node, place.where(key), message)


@dataclass(slots=True)
class EntryFields:
    """The fields one mapping sets, converted; ``nodes`` has every key present, valid or not."""

    texts: dict[str, str] = field(default_factory=dict)
    port: int | None = None
    tls: bool | None = None
    password: Secret | None = None
    description: Template | None = None
    nodes: dict[str, Node] = field(default_factory=dict)
    valid: bool = True
    #: Keys an unknown key may stand for: not reported as missing on top of it.
    covered: frozenset[str] = frozenset()


def unknown_key(key: str, allowed: Collection[str]) -> tuple[str, frozenset[str]]:
    """The message for a key not in ``allowed``, and the allowed keys it may stand for.

    ``unknown key "hots" (did you mean "host"?)`` stands for ``host``; a merge key (``<<``)
    for every key, as it might have provided any of them.
    """
    if key == MERGE_KEY:
        return _MERGE_MESSAGE, frozenset(allowed)
    hint = difflib.get_close_matches(key, list(allowed), n=1)
    if hint:
        return f'unknown key "{key}" (did you mean "{hint[0]}"?)', frozenset(hint)
    return f'unknown key "{key}" (allowed: {", ".join(allowed)})', frozenset()


def read_fields(
    node: MappingNode, ctx: ReadContext, place: Place, *, allowed: Collection[str]
) -> EntryFields:
    """Read and check every key of an entry or of ``defaults``."""
    fields = EntryFields()
    for key, key_node, value_node in iter_pairs(node, ctx.issues, place.where):
        spec = ENTRY_FIELDS.get(key)
        if spec is None or key not in allowed:
            if spec is None:
                message, covers = unknown_key(key, allowed)
                fields.covered |= covers
            else:
                message = "name cannot have a default: each entry names itself"
            ctx.report(key_node, place, None if key == MERGE_KEY else key, message)
            fields.valid = False
            continue
        fields.nodes[key] = value_node
        if not read_field(spec, value_node, fields, ctx, place):
            fields.valid = False
    if "sid" in fields.nodes and "service_name" in fields.nodes:
        message = "sid and service_name exclude each other: set only one"
        ctx.report(fields.nodes["service_name"], place, "service_name", message)
        fields.valid = False
    return fields


def read_field(
    spec: FieldSpec, node: Node, fields: EntryFields, ctx: ReadContext, place: Place
) -> bool:
    """Check one value and store it in ``fields``; False when it was reported as invalid."""
    if not isinstance(node, ScalarNode) or tag_problem(node) is not None:
        expected = _EXPECTED.get(spec.kind, "expected a string")
        message = tag_problem(node) or f"{expected}, got {describe_node(node)}"
        ctx.report(node, place, spec.name, message)
        return False
    kind = spec.kind
    if kind == "flag":
        fields.tls = _read_flag(spec, node, ctx, place)
        return fields.tls is not None
    if kind == "port":
        fields.port = _read_port(node, ctx, place)
        return fields.port is not None
    if kind == "template":
        fields.description = _read_template(node, ctx, place)
        return fields.description is not None
    value = _read_text(spec, node, ctx, place)
    if value is None:
        return False
    if kind == "secret":
        fields.password = Secret(value)
        return True
    problem = host_problem(value) if kind == "host" else _trim_problem(value)
    if problem is not None:
        ctx.report(node, place, spec.name, problem.format(got=show_scalar(node)))
        return False
    fields.texts[spec.name] = value
    return True


def _read_flag(spec: FieldSpec, node: ScalarNode, ctx: ReadContext, place: Place) -> bool | None:
    tag = scalar_tag(node)
    if tag != BOOL_TAG:
        shown = show_scalar(node) if tag == STR_TAG else node.value
        got = "nothing" if tag == NULL_TAG else f"{describe_node(node)} {shown}"
        ctx.report(node, place, spec.name, f"expected true or false, got {got}")
        return None
    return node.value.lower() in ("true", "yes", "on", "y")


def _trim_problem(value: str) -> str | None:
    if value[0].isspace() or value[-1].isspace():
        return "must not start or end with white space, got {got}"
    return None


def _wrong_type(spec: FieldSpec, node: ScalarNode, tag: str) -> str:
    if tag == NULL_TAG:
        return "must not be empty"
    kind = describe_node(node)
    if spec.kind == "secret":
        return f"expected a string, got {kind} (put it in quotes)"
    return f"expected a string, got {kind} {node.value} (quote it: {json.dumps(node.value)})"


def _read_text(spec: FieldSpec, node: ScalarNode, ctx: ReadContext, place: Place) -> str | None:
    """The string after ``${...}`` references, or None when it is not usable (reported)."""
    tag = scalar_tag(node)
    if tag != STR_TAG:
        ctx.report(node, place, spec.name, _wrong_type(spec, node, tag))
        return None
    raw: str = node.value
    try:
        value = ctx.resolver.resolve(raw)
    except UnresolvedReferenceError as exc:
        for problem in exc.problems:
            ctx.report(node, place, spec.name, problem)
        return None
    if not value or value.isspace():
        suffix = " (after ${...} substitution)" if value != raw else ""
        ctx.report(node, place, spec.name, "must not be empty" + suffix)
        return None
    return value


def _read_port(node: ScalarNode, ctx: ReadContext, place: Place) -> int | None:
    tag = scalar_tag(node)
    raw: str = node.value
    text = raw
    if tag == STR_TAG and "${" in raw:
        try:
            text = ctx.resolver.resolve(raw).strip()
        except UnresolvedReferenceError as exc:
            for problem in exc.problems:
                ctx.report(node, place, "port", problem)
            return None
    elif tag != INT_TAG:
        ctx.report(node, place, "port", _port_type_message(node, tag))
        return None
    if not (text.isascii() and text.isdigit()) or (text[0] == "0" and len(text) > 1):
        shown = show_scalar(node)
        ctx.report(node, place, "port", f"{_PORT_EXPECTED} written in decimal, got {shown}")
        return None
    port = int(text)
    if not PORT_MIN <= port <= PORT_MAX:
        ctx.report(node, place, "port", f"{_PORT_EXPECTED}, got {port}")
        return None
    return port


def _port_type_message(node: ScalarNode, tag: str) -> str:
    if tag == NULL_TAG:
        return "must not be empty"
    if tag == STR_TAG:
        got = show_scalar(node)
        if node.value.strip().isdigit():
            return f"{_PORT_EXPECTED}, got {got} (a string: write it without quotes)"
        return f"{_PORT_EXPECTED}, got {got}"
    return f"{_PORT_EXPECTED}, got {describe_node(node)} ({node.value})"


def _read_template(node: ScalarNode, ctx: ReadContext, place: Place) -> Template | None:
    tag = scalar_tag(node)
    if tag != STR_TAG:
        ctx.report(node, place, "description", _wrong_type(ENTRY_FIELDS["description"], node, tag))
        return None
    raw: str = node.value
    if not raw.strip():
        ctx.report(node, place, "description", "must not be empty")
        return None
    try:
        return compile_template(
            raw,
            resolver=ctx.resolver,
            fields=TEMPLATE_FIELDS,
            forbidden=_FORBIDDEN_PLACEHOLDERS,
        )
    except TemplateError as exc:
        for problem in exc.problems:
            ctx.report(node, place, "description", problem)
        return None
