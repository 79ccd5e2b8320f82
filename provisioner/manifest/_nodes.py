"""YAML text -> node tree with line/column marks, and safe reading of those nodes.

Only composing happens here (libyaml's C parser when present): no Python object is ever
constructed from a tag, and an alias is the same node object as its anchor, never a copy.
Plain scalars are tagged lazily: :func:`scalar_tag` resolves them only where asked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Final

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode

from provisioner.errors import ManifestError, ManifestIssue

__all__ = [
    "BOOL_TAG",
    "FLOAT_TAG",
    "INT_TAG",
    "MERGE_TAG",
    "NULL_TAG",
    "STR_TAG",
    "Issues",
    "compose_document",
    "describe_node",
    "iter_pairs",
    "scalar_tag",
    "show_scalar",
    "tag_problem",
]

_PREFIX: Final = "tag:yaml.org,2002:"
STR_TAG: Final = _PREFIX + "str"
INT_TAG: Final = _PREFIX + "int"
BOOL_TAG: Final = _PREFIX + "bool"
NULL_TAG: Final = _PREFIX + "null"
FLOAT_TAG: Final = _PREFIX + "float"
MERGE_TAG: Final = _PREFIX + "merge"
_MAP_TAG: Final = _PREFIX + "map"
_SEQ_TAG: Final = _PREFIX + "seq"
# An untagged plain scalar whose type is not resolved yet (see scalar_tag).
_PLAIN: Final = "?plain"
_SCALAR_TAGS: Final = frozenset(
    {STR_TAG, INT_TAG, BOOL_TAG, NULL_TAG, FLOAT_TAG, MERGE_TAG, _PREFIX + "timestamp", _PLAIN}
)
_IMPLICIT: Final[dict[str | None, list[tuple[str, re.Pattern[str]]]]] = dict(
    yaml.resolver.Resolver.yaml_implicit_resolvers
)
_KIND_NAMES: Final = {
    STR_TAG: "a string",
    INT_TAG: "an integer",
    BOOL_TAG: "a boolean",
    NULL_TAG: "nothing (null)",
    FLOAT_TAG: "a number",
    MERGE_TAG: "a merge key (<<)",
    _PREFIX + "timestamp": "a date",
}
_SHOW_MAX: Final = 60
_KEY_TAGS: Final = frozenset({STR_TAG, MERGE_TAG})
_ONE_DOCUMENT: Final = "expected a single document in the stream"


class _LazyTags:
    """Resolver overrides: plain scalars keep a placeholder tag until someone asks."""

    def resolve(self, kind: type[Node], value: object, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode:
            return _PLAIN if implicit[0] else STR_TAG
        return _MAP_TAG if kind is MappingNode else _SEQ_TAG

    def descend_resolver(self, current_node: object, current_index: object) -> None:
        """No path resolvers are used: nothing to track."""

    def ascend_resolver(self) -> None:
        """No path resolvers are used: nothing to track."""


class _PyLoader(_LazyTags, yaml.SafeLoader):
    """Pure-Python composer, used when PyYAML was built without libyaml."""


if yaml.__with_libyaml__:

    class _CLoader(_LazyTags, yaml.CSafeLoader):
        """libyaml's parser and composer (about ten times faster)."""

    _FAST: type[_PyLoader] | type[_CLoader] = _CLoader
else:  # pragma: no cover - PyYAML without libyaml
    _FAST = _PyLoader


def scalar_tag(node: ScalarNode) -> str:
    """The node's tag, resolving a plain scalar the way YAML 1.1 (and ``safe_load``) does."""
    tag = node.tag
    if tag != _PLAIN:
        return tag
    value: str = node.value
    resolvers = _IMPLICIT.get(value[0] if value else "", [])
    for candidate, regexp in resolvers:
        if regexp.match(value):
            node.tag = candidate
            return candidate
    node.tag = STR_TAG
    return STR_TAG


def tag_problem(node: Node) -> str | None:
    """Why the node's tag is refused (an explicit tag that asks for an object), or None."""
    tag = node.tag
    if isinstance(node, ScalarNode):
        ok = tag in _SCALAR_TAGS
    else:
        ok = tag == (_MAP_TAG if isinstance(node, MappingNode) else _SEQ_TAG)
    if ok:
        return None
    shown = "!!" + tag[len(_PREFIX) :] if tag.startswith(_PREFIX) else tag
    return f"YAML tag {shown} is not allowed: the manifest holds plain data only"


def describe_node(node: Node) -> str:
    """What kind of value the node holds, for messages: "a string", "a list", ..."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, ScalarNode):
        return _KIND_NAMES.get(scalar_tag(node), "a value of an unknown type")
    return "a list"


def show_scalar(node: ScalarNode) -> str:
    """The scalar as written, quoted and shortened, for messages (never for secrets)."""
    text: str = node.value
    if len(text) > _SHOW_MAX:
        text = text[: _SHOW_MAX - 3] + "..."
    return json.dumps(text, ensure_ascii=False)


@dataclass(slots=True)
class Issues:
    """Collects every problem of one manifest, each placed at a node's start mark."""

    file: str
    found: list[ManifestIssue] = field(default_factory=list)

    def add(self, node: Node | None, where: str, message: str) -> None:
        mark = node.start_mark if node is not None else None
        self.found.append(
            ManifestIssue(
                file=self.file,
                line=mark.line + 1 if mark is not None else None,
                column=mark.column + 1 if mark is not None else None,
                where=where,
                message=message,
            )
        )

    def raise_if_any(self) -> None:
        """Raise :class:`ManifestError` with every issue, in the order of the file."""
        if self.found:
            self.found.sort(key=_position)
            raise ManifestError(self.found)


def _position(issue: ManifestIssue) -> tuple[int, int]:
    return issue.line or 0, issue.column or 0


def iter_pairs(
    node: MappingNode, issues: Issues, where: Callable[[str | None], str]
) -> Iterator[tuple[str, ScalarNode, Node]]:
    """Each ``key: value`` of a mapping whose key is a string seen for the first time.

    A merge key comes as ``"<<"``. Other non-string keys and repeated keys are reported and
    skipped; ``where(key)``
    says where the mapping (``key=None``) or one of its keys stands.
    """
    seen: dict[str, ScalarNode] = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, ScalarNode) or scalar_tag(key_node) not in _KEY_TAGS:
            problem = tag_problem(key_node)
            message = problem or f"keys must be strings, got {describe_node(key_node)}"
            issues.add(key_node, where(None), message)
            continue
        key: str = key_node.value
        first = seen.get(key)
        if first is not None:
            line = first.start_mark.line + 1
            issues.add(key_node, where(key), f"duplicate key (first at line {line})")
            continue
        seen[key] = key_node
        yield key, key_node, value_node


def compose_document(text: str, *, file: str, use_libyaml: bool = True) -> Node | None:
    """The node tree of the single YAML document in ``text`` (None when it is empty).

    Raises:
        ManifestError: on a syntax error, a tab used for indentation, a character YAML
            forbids, or more than one document; with line and column.
    """
    try:
        return _compose(text, use_libyaml=use_libyaml)
    except yaml.MarkedYAMLError as exc:
        raise ManifestError([_syntax_issue(text, file, exc)]) from None
    except yaml.reader.ReaderError as exc:
        in_bytes = use_libyaml and _FAST is not _PyLoader  # libyaml counts UTF-8 bytes
        line, column = _offset_position(text, exc.position, in_bytes=in_bytes)
        message = "YAML forbids this character here (control characters must be escaped)"
        raise ManifestError([_issue(file, line, column, message)]) from None


def _compose(text: str, *, use_libyaml: bool) -> Node | None:
    loader = (_FAST if use_libyaml else _PyLoader)(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def _issue(file: str, line: int | None, column: int | None, message: str) -> ManifestIssue:
    return ManifestIssue(file=file, line=line, column=column, where="", message=message)


def _syntax_issue(text: str, file: str, exc: yaml.MarkedYAMLError) -> ManifestIssue:
    mark = exc.problem_mark
    line = mark.line if mark is not None else 0
    tab = _indent_tab(text, line)
    if tab is not None:
        message = "tab character in indentation: YAML indents with spaces only"
        return _issue(file, tab[0] + 1, tab[1] + 1, message)
    if exc.context == _ONE_DOCUMENT and mark is not None:
        message = "YAML syntax error: a second document starts here; a manifest is one document"
        return _issue(file, mark.line + 1, mark.column + 1, message)
    message = f"YAML syntax error: {exc.problem or 'malformed document'}"
    context_mark = exc.context_mark
    if exc.context and context_mark is not None:
        message += f" ({exc.context} at line {context_mark.line + 1})"
    return _issue(file, line + 1, mark.column + 1 if mark is not None else None, message)


def _indent_tab(text: str, last_line: int) -> tuple[int, int] | None:
    """The first tab in the leading white space of lines up to ``last_line`` (0-based)."""
    for number, line in enumerate(text.split("\n")[: last_line + 1]):
        indent = len(line) - len(line.lstrip(" \t"))
        column = line.find("\t", 0, indent)
        if column >= 0:
            return number, column
    return None


def _offset_position(text: str, offset: int, *, in_bytes: bool) -> tuple[int, int]:
    """1-based line and column of an offset in UTF-8 bytes or in characters."""
    before = text.encode()[:offset].decode(errors="ignore") if in_bytes else text[:offset]
    line = before.count("\n")
    return line + 1, len(before) - (before.rfind("\n") + 1) + 1
