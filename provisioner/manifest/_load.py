"""YAML manifest -> frozen Manifest / DatabaseSpec, validated with file/line locations.

No network and no asyncio here. The YAML is composed into nodes (never constructed into
objects), walked once, and every problem is collected before :class:`ManifestError` is raised.

Choices: a port must be a YAML integer written in decimal (``"1521"`` in quotes, ``true``,
``0x5F1`` and ``01521`` are refused) unless it is a ``${VAR}`` reference, whose value must be
decimal digits. An entry that sets ``sid`` or ``service_name`` ignores both from ``defaults``.
Aliases work for values, but an entry may not be repeated through one: each node is walked
at most once, so the work stays within the size of the file (no billion laughs).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, NamedTuple

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from provisioner.errors import ManifestError, ManifestIssue
from provisioner.manifest._entry import (
    MERGE_KEY,
    EntryFields,
    Place,
    ReadContext,
    read_field,
    read_fields,
    unknown_key,
)
from provisioner.manifest._fields import (
    ENTRY_FIELDS,
    SUPPORTED_VERSION,
    TOP_LEVEL_KEYS,
    manifest_schema,
)
from provisioner.manifest._nodes import (
    INT_TAG,
    Issues,
    compose_document,
    describe_node,
    iter_pairs,
    scalar_tag,
    tag_problem,
)
from provisioner.manifest._template import Template
from provisioner.secrets import ReferenceResolver, Secret

__all__ = [
    "DEFAULT_SANDBOX",
    "DatabaseSpec",
    "Manifest",
    "describe_manifest",
    "effective_sandbox",
    "load_manifest",
    "manifest_schema",
]

#: The sandbox ``{sandbox}`` renders as when neither the manifest nor AEP_SANDBOX names one.
DEFAULT_SANDBOX: Final = "prod"
_REQUIRED: Final = ("name", "host", "port", "user", "password")
_DEFAULT_KEYS: Final = tuple(key for key in ENTRY_FIELDS if key != "name")
_TARGETS: Final = ("sid", "service_name")
_TOP_EXPECTED: Final = "expected a mapping with version: and databases:"
_LIST_EXPECTED: Final = "expected a non-empty list of entries"
_ENTRY_EXPECTED: Final = "expected a mapping (name:, host:, ...)"
_MISSING_TOP: Final = {
    "version": f"missing: write version: {SUPPORTED_VERSION} at the top",
    "databases": "missing: list the databases to onboard",
}


class DatabaseSpec(NamedTuple):
    """One database to onboard, after defaults, ``${VAR}`` and ``{field}`` templates are applied.

    A tuple (immutable, and made at a third of a frozen dataclass's cost: one per entry).
    Build it by keyword; ``_replace`` makes a changed copy."""

    name: str
    host: str
    port: int
    user: str
    password: Secret
    sid: str | None = None
    service_name: str | None = None
    description: str | None = None
    sandbox: str | None = None  # the entry's own sandbox; None -> manifest's, then AEP_SANDBOX
    tls: bool = False  # encrypt the link (Basic Authentication's sslMode)
    schema: str | None = None  # Oracle schema (Basic Authentication only)
    line: int | None = None  # where the entry starts in the manifest (for messages)


@dataclass(frozen=True, slots=True, kw_only=True)
class Manifest:
    """A valid manifest: where it was read from, its sandbox and its entries in file order."""

    path: Path
    version: int
    sandbox: str | None
    databases: tuple[DatabaseSpec, ...]


def effective_sandbox(spec: DatabaseSpec, manifest: Manifest, default_sandbox: str) -> str:
    """The sandbox an entry goes to: its own, else the manifest's, else ``default_sandbox``."""
    return spec.sandbox or manifest.sandbox or default_sandbox


def describe_manifest(manifest: Manifest, *, default_sandbox: str) -> str:
    """``configs/example.yaml: 20 databases valid (prod: 17, hr-dev: 3)``: busiest sandbox first."""
    counts = Counter(
        effective_sandbox(spec, manifest, default_sandbox) for spec in manifest.databases
    )
    total = len(manifest.databases)
    noun = "database" if total == 1 else "databases"
    per_sandbox = ", ".join(f"{name}: {count}" for name, count in counts.most_common())
    return f"{manifest.path}: {total} {noun} valid ({per_sandbox})"


def load_manifest(
    path: Path, *, env: Mapping[str, str], default_sandbox: str | None = None
) -> Manifest:
    """Read, check and resolve a manifest.

    Args:
        path: the YAML file; ``${file:PATH}`` references are relative to its folder.
        env: where ``${VAR}`` is looked up (the caller passes the environment).
        default_sandbox: what ``{sandbox}`` renders as for entries without one; else
            ``env["AEP_SANDBOX"]``, else ``prod``.

    Raises:
        ManifestError: with every problem found, each with file, line, column and field.
    """
    file = str(path)
    text = _read_text(path, file)
    root = compose_document(text, file=file)
    ctx = ReadContext(
        issues=Issues(file=file),
        resolver=ReferenceResolver(env=env, base_dir=path.parent),
    )
    fallback = default_sandbox or env.get("AEP_SANDBOX") or DEFAULT_SANDBOX
    reader = _DocumentReader(ctx=ctx, fallback_sandbox=fallback)
    version, sandbox, databases = reader.read(root)
    ctx.issues.raise_if_any()
    return Manifest(path=path, version=version, sandbox=sandbox, databases=databases)


def _read_text(path: Path, file: str) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        issue = ManifestIssue(
            file=file, line=None, column=None, where="", message=f"cannot read: {reason}"
        )
        raise ManifestError([issue]) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = data[: exc.start].decode("utf-8", errors="replace")
        line = before.count("\n") + 1
        column = len(before) - (before.rfind("\n") + 1) + 1
        message = f"not UTF-8 text (byte 0x{data[exc.start]:02x}): is this a YAML file?"
        issue = ManifestIssue(file=file, line=line, column=column, where="", message=message)
        raise ManifestError([issue]) from None


class _DocumentReader:
    """Walks the document's nodes once: top-level keys, defaults, then each entry."""

    __slots__ = (
        "_covered",
        "_ctx",
        "_defaults",
        "_entry_nodes",
        "_fallback",
        "_names",
        "_sandbox",
    )

    def __init__(self, *, ctx: ReadContext, fallback_sandbox: str) -> None:
        self._ctx = ctx
        self._fallback = fallback_sandbox
        self._sandbox: str | None = None
        self._defaults = EntryFields()
        self._names: dict[str, int] = {}
        self._entry_nodes: dict[int, int] = {}
        self._covered: frozenset[str] = frozenset()

    def read(self, root: Node | None) -> tuple[int, str | None, tuple[DatabaseSpec, ...]]:
        top = self._top_level(root)
        version = self._version(top.get("version"))
        sandbox_node = top.get("sandbox")
        if sandbox_node is not None:
            holder = EntryFields()
            read_field(ENTRY_FIELDS["sandbox"], sandbox_node, holder, self._ctx, Place(""))
            self._sandbox = holder.texts.get("sandbox")
        defaults_node = top.get("defaults")
        if defaults_node is not None:
            self._read_defaults(defaults_node)
        specs = self._databases(top.get("databases"))
        return version, self._sandbox, specs

    def _top_level(self, root: Node | None) -> dict[str, Node]:
        place = Place("")
        problem = _shape_problem(root, MappingNode, _TOP_EXPECTED)
        if problem is not None or not isinstance(root, MappingNode):
            self._ctx.report(root, place, None, problem or _TOP_EXPECTED)
            return {}
        top: dict[str, Node] = {}
        for key, key_node, value_node in iter_pairs(root, self._ctx.issues, place.where):
            if key in TOP_LEVEL_KEYS:
                top[key] = value_node
                continue
            message, covers = unknown_key(key, TOP_LEVEL_KEYS)
            self._covered |= covers
            self._ctx.report(key_node, place, None if key == MERGE_KEY else key, message)
        for key in ("version", "databases"):
            if key not in top and key not in self._covered:
                self._ctx.report(root, place, key, _MISSING_TOP[key])
        return top

    def _version(self, node: Node | None) -> int:
        if node is not None and not (
            isinstance(node, ScalarNode)
            and tag_problem(node) is None
            and scalar_tag(node) == INT_TAG
            and node.value == str(SUPPORTED_VERSION)
        ):
            shown = node.value if isinstance(node, ScalarNode) else describe_node(node)
            message = f"expected {SUPPORTED_VERSION} (the only version), got {shown}"
            self._ctx.report(node, Place(""), "version", message)
        return SUPPORTED_VERSION

    def _read_defaults(self, node: Node) -> None:
        place = Place("defaults")
        problem = _shape_problem(node, MappingNode, "expected a mapping of entry fields")
        if problem is not None or not isinstance(node, MappingNode):
            self._ctx.report(node, place, None, problem or "expected a mapping")
            self._defaults.valid = False
            return
        self._defaults = read_fields(node, self._ctx, place, allowed=_DEFAULT_KEYS)

    def _databases(self, node: Node | None) -> tuple[DatabaseSpec, ...]:
        if node is None:
            return ()
        problem = _shape_problem(node, SequenceNode, _LIST_EXPECTED)
        if problem is None and not node.value:
            problem = f"{_LIST_EXPECTED}, got an empty list"
        if problem is not None or not isinstance(node, SequenceNode):
            self._ctx.report(node, Place(""), "databases", problem or _LIST_EXPECTED)
            return ()
        specs: list[DatabaseSpec] = []
        for index, item in enumerate(node.value):
            spec = self._entry(index, item)
            if spec is not None:
                specs.append(spec)
        return tuple(specs)

    def _entry(self, index: int, node: Node) -> DatabaseSpec | None:
        problem = _shape_problem(node, MappingNode, _ENTRY_EXPECTED)
        if problem is not None or not isinstance(node, MappingNode):
            self._ctx.report(node, Place(f"databases[{index}]"), None, problem or _ENTRY_EXPECTED)
            return None
        first = self._entry_nodes.setdefault(id(node), index)
        if first != index:
            # Walking each entry node once keeps the work within the size of the file,
            # however the aliases nest (billion laughs).
            message = f"repeats databases[{first}] through an alias: write each entry once"
            self._ctx.report(node, Place(f"databases[{index}]"), None, message)
            return None
        place = Place(None, index=index, node=node)
        fields = read_fields(node, self._ctx, place, allowed=ENTRY_FIELDS)
        self._check_unique(index, fields, place)
        manifest_sandbox = self._sandbox or self._fallback
        return _merge(fields, self._defaults, node, place, self._ctx, manifest_sandbox)

    def _check_unique(self, index: int, fields: EntryFields, place: Place) -> None:
        name = fields.texts.get("name")
        if name is None:
            return
        first = self._names.setdefault(name, index)
        if first != index:
            node = fields.nodes["name"]
            message = f"duplicate name: databases[{first}] has it too"
            self._ctx.report(node, place, "name", message)


def _shape_problem(node: Node | None, kind: type[Node], expected: str) -> str | None:
    """Why ``node`` is not a plain node of ``kind`` (a mapping, a list), or None."""
    if node is None:
        return f"{expected}, got nothing (an empty file)"
    problem = tag_problem(node)
    if problem is None and not isinstance(node, kind):
        problem = f"{expected}, got {describe_node(node)}"
    return problem


def _pick(key: str, fields: EntryFields, defaults: EntryFields) -> str | None:
    return (fields if key in fields.nodes else defaults).texts.get(key)


def _missing(
    fields: EntryFields, defaults: EntryFields, node: MappingNode, place: Place, ctx: ReadContext
) -> bool:
    """Report each required field set neither in the entry nor in defaults; True if any."""
    present = fields.nodes.keys() | defaults.nodes.keys()
    missing = [key for key in _REQUIRED if key not in present]
    if present.isdisjoint(_TARGETS):
        missing.append("sid")
    if not missing:
        return False
    covered = fields.covered | defaults.covered
    for key in missing:
        if key in covered or (key == "sid" and "service_name" in covered):
            continue  # an unknown key reported as a likely misspelling of it
        if key == "sid":
            message = "required: set sid or service_name, in the entry or under defaults"
        else:
            message = "required: set it in the entry or under defaults"
        ctx.report(node, place, key, message)
    return True


def _render(
    template: Template,
    values: dict[str, str | None],
    node: Node | None,
    place: Place,
    ctx: ReadContext,
) -> str | None:
    """The entry's description, or None when it names a field the entry lacks (reported)."""
    absent = template.missing(values)
    for key in absent:
        ctx.report(node, place, "description", f"{{{key}}} is used but this entry has no {key}")
    return None if absent else template.render(values)


def _merge(
    fields: EntryFields,
    defaults: EntryFields,
    node: MappingNode,
    place: Place,
    ctx: ReadContext,
    manifest_sandbox: str,
) -> DatabaseSpec | None:
    """The entry's values over the defaults' ones, checked for completeness."""
    if _missing(fields, defaults, node, place, ctx) or not (fields.valid and defaults.valid):
        return None
    own = fields.nodes
    name = fields.texts.get("name")
    host = _pick("host", fields, defaults)
    user = _pick("user", fields, defaults)
    port = fields.port if "port" in own else defaults.port
    password = fields.password if "password" in own else defaults.password
    if name is None or host is None or user is None or port is None or password is None:
        return None  # pragma: no cover - each was reported as missing or invalid above
    target = fields if ("sid" in own or "service_name" in own) else defaults
    sid = target.texts.get("sid")
    service_name = target.texts.get("service_name")
    sandbox = _pick("sandbox", fields, defaults)
    template = fields.description if "description" in own else defaults.description
    description = None
    if template is not None:
        values = {
            "name": name,
            "host": host,
            "port": str(port),
            "user": user,
            "sid": sid,
            "service_name": service_name,
            "sandbox": sandbox or manifest_sandbox,
        }
        where = own.get("description") or defaults.nodes.get("description")
        description = _render(template, values, where, place, ctx)
        if description is None:
            return None
    return DatabaseSpec(
        name=name,
        host=host,
        port=port,
        user=user,
        password=password,
        sid=sid,
        service_name=service_name,
        description=description,
        sandbox=sandbox,
        tls=bool(fields.tls if "tls" in own else defaults.tls),
        schema=_pick("schema", fields, defaults),
        line=node.start_mark.line + 1,
    )
