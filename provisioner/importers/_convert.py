"""``provisioner import``: an inventory CSV or a tnsnames.ora -> the text of a manifest.

Choices: passwords are never imported; each is ``${PREFIX_NAME}``, NAME being the entry name
upper-cased with every character other than A-Z and 0-9 turned into ``_``. tnsnames.ora names
no users, so its manifests take ``user: ${ORACLE_USER}`` under ``defaults``. Values are data:
a ``${`` or a brace in them is escaped so that it stays literal. IFILE lines are not followed
(a warning comment says so). The output keeps the order of the input.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final, get_args

import yaml

from provisioner.errors import ConfigError, ManifestError, ManifestIssue
from provisioner.importers._args import DEFAULT_PASSWORD_ENV_PREFIX, ImportFormat
from provisioner.manifest import SUPPORTED_VERSION

if TYPE_CHECKING:  # the readers are imported when an import runs, not at every start
    from provisioner.importers._inventory import InventoryRow
    from provisioner.importers._tnsnames import TnsEntry

__all__ = [
    "USER_ENV_VAR",
    "ImportResult",
    "convert_inventory",
    "escape_template",
    "escape_text",
    "import_inventory",
    "password_env_var",
]

#: The variable a tnsnames.ora import takes every entry's user from.
USER_ENV_VAR: Final = "ORACLE_USER"
_VAR_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_NOT_VAR_CHAR: Final = re.compile(r"[^A-Z0-9]")
_TEMPLATE_LITERAL: Final = re.compile(r"\$\{[^{}]*\}|\$\{|[{}]")
_WIDTH: Final = 1 << 20  # never fold a long value over two lines


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportResult:
    """The manifest text, plus what the caller may want to tell the user on stderr."""

    text: str
    count: int
    env_vars: tuple[str, ...]  # every variable the manifest reads, in order
    warnings: tuple[str, ...]  # each starts with ``file:line:``


@dataclass(frozen=True, slots=True, kw_only=True)
class _Entry:
    name: str
    host: str
    port: int
    user: str | None  # None: from defaults
    sid: str | None
    service_name: str | None
    description: str | None
    sandbox: str | None
    line: int
    comments: tuple[str, ...]
    tls: bool = False


def password_env_var(prefix: str, name: str) -> str:
    """``password_env_var("ORACLE_PASSWORD", "finance-eu")`` -> ``ORACLE_PASSWORD_FINANCE_EU``."""
    joiner = "" if prefix.endswith("_") else "_"
    return prefix + joiner + _NOT_VAR_CHAR.sub("_", name.upper())


def escape_text(value: str) -> str:
    """``value`` written so that the manifest reads it back literally (``${`` -> ``$${``)."""
    return value.replace("${", "$${")


def escape_template(value: str) -> str:
    """``value`` written as a description template that renders back to itself."""

    def escape(match: re.Match[str]) -> str:
        token = match[0]
        return "$" + token if token.startswith("${") else token * 2

    return _TEMPLATE_LITERAL.sub(escape, value)


def import_inventory(
    path: Path,
    *,
    password_env_prefix: str = DEFAULT_PASSWORD_ENV_PREFIX,
    fmt: ImportFormat | None = None,
) -> str:
    """The manifest YAML for an inventory CSV or a tnsnames.ora; see :func:`convert_inventory`."""
    return convert_inventory(path, password_env_prefix=password_env_prefix, fmt=fmt).text


def convert_inventory(
    path: Path,
    *,
    password_env_prefix: str = DEFAULT_PASSWORD_ENV_PREFIX,
    fmt: ImportFormat | None = None,
) -> ImportResult:
    """Read an inventory CSV or a tnsnames.ora and write a manifest for it.

    Args:
        path: the file to import.
        password_env_prefix: each password is ``${<prefix>_<NAME>}``.
        fmt: ``csv`` or ``tnsnames``; None guesses: a ``.ora`` name, or a first line
            holding ``=``, or ``(DESCRIPTION`` anywhere, means tnsnames.

    Raises:
        ConfigError: the prefix is not a variable name, the format is unknown, or the file
            cannot be read.
        ManifestError: every problem of the input, each with file and line.
    """
    if not _VAR_NAME.match(password_env_prefix):
        shown = json.dumps(password_env_prefix)
        raise ConfigError(
            f"password env prefix: expected a variable name (A-Z, 0-9, _), got {shown}"
        )
    if fmt is not None and fmt not in get_args(ImportFormat):
        raise ConfigError(f"import format: expected csv or tnsnames, got {json.dumps(fmt)}")
    file = str(path)
    text = _read_text(path, file)
    chosen = fmt or _guess_format(path, text)
    entries, warnings = _read_entries(chosen, text, file)
    issues = _uniqueness_issues(entries, password_env_prefix, file)
    if issues:
        raise ManifestError(issues)
    return _render(entries, file=file, fmt=chosen, prefix=password_env_prefix, warnings=warnings)


def _read_text(path: Path, file: str) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read: {exc.strerror or type(exc).__name__}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        message = f"not UTF-8 text (byte 0x{data[exc.start]:02x}): save the file as UTF-8"
        issue = ManifestIssue(file=file, line=line, column=None, where="", message=message)
        raise ManifestError([issue]) from None


def _guess_format(path: Path, text: str) -> ImportFormat:
    suffix = path.suffix.lower()
    if suffix == ".ora":
        return "tnsnames"
    if suffix in (".csv", ".tsv"):
        return "csv"
    lines = (line for line in text.splitlines() if line.strip())
    first = next((line for line in lines if not line.lstrip().startswith("#")), "")
    if "=" in first or re.search(r"\(\s*DESCRIPTION\b", text, re.IGNORECASE):
        return "tnsnames"
    return "csv"


def _read_entries(fmt: ImportFormat, text: str, file: str) -> tuple[list[_Entry], tuple[str, ...]]:
    """The entries of the input, and its warnings."""
    if fmt == "csv":
        from provisioner.importers._inventory import read_inventory

        return [_from_row(row, file) for row in read_inventory(text, file=file)], ()
    from provisioner.importers._tnsnames import read_tnsnames

    parsed = read_tnsnames(text, file=file)
    return [_from_tns(entry, file) for entry in parsed.entries], parsed.warnings


def _from_row(row: InventoryRow, file: str) -> _Entry:
    return _Entry(
        name=row.name,
        host=row.host,
        port=row.port,
        user=row.user,
        sid=row.sid,
        service_name=row.service_name,
        description=row.description,
        sandbox=row.sandbox,
        line=row.line,
        comments=(f"# {_printable(file)}:{row.line}",),
    )


def _from_tns(entry: TnsEntry, file: str) -> _Entry:
    source = f"# {file}:{entry.line}: {', '.join(entry.aliases)}"
    notes = (f"#   {note}" for note in entry.notes)
    return _Entry(
        name=entry.aliases[0].lower(),
        host=entry.host,
        port=entry.port,
        user=None,
        sid=entry.sid,
        service_name=entry.service_name,
        description=None,
        sandbox=None,
        line=entry.line,
        comments=tuple(_printable(line) for line in (source, *notes)),
        tls=entry.tls,
    )


def _uniqueness_issues(entries: list[_Entry], prefix: str, file: str) -> list[ManifestIssue]:
    """A name used twice, and two names that would share a password variable."""
    issues: list[ManifestIssue] = []
    names: dict[str, _Entry] = {}
    variables: dict[str, _Entry] = {}
    for entry in entries:
        variable = password_env_var(prefix, entry.name)
        first = names.setdefault(entry.name, entry)
        other = variables.setdefault(variable, entry)
        if first is not entry:
            message = f"duplicate name: line {first.line} has it too"
        elif other is not entry:
            shown = json.dumps(other.name, ensure_ascii=False)
            message = (
                f"its password variable {variable} is also the one of {shown}"
                f" (line {other.line}): rename one of them"
            )
        else:
            continue
        where = f"name {json.dumps(entry.name, ensure_ascii=False)}"
        issues.append(
            ManifestIssue(file=file, line=entry.line, column=None, where=where, message=message)
        )
    return issues


def _printable(text: str) -> str:
    """``text`` on one line, fit for a YAML comment (line breaks and controls escaped)."""
    return "".join(
        char if char.isprintable() or char == " " else ascii(char)[1:-1] for char in text
    )


def _document(entries: list[_Entry], prefix: str, fmt: ImportFormat) -> dict[str, object]:
    databases: list[dict[str, object]] = []
    for entry in entries:
        item: dict[str, object] = {
            "name": escape_text(entry.name),
            "host": entry.host,
            "port": entry.port,
        }
        if entry.sid is not None:
            item["sid"] = escape_text(entry.sid)
        if entry.service_name is not None:
            item["service_name"] = escape_text(entry.service_name)
        if entry.user is not None:
            item["user"] = escape_text(entry.user)
        item["password"] = f"${{{password_env_var(prefix, entry.name)}}}"
        if entry.description is not None:
            item["description"] = escape_template(entry.description)
        if entry.sandbox is not None:
            item["sandbox"] = escape_text(entry.sandbox)
        if entry.tls:
            item["tls"] = True
        databases.append(item)
    document: dict[str, object] = {"version": SUPPORTED_VERSION}
    if fmt == "tnsnames":
        document["defaults"] = {"user": f"${{{USER_ENV_VAR}}}"}
    document["databases"] = databases
    return document


def _render(
    entries: list[_Entry], *, file: str, fmt: ImportFormat, prefix: str, warnings: tuple[str, ...]
) -> ImportResult:
    passwords = [(password_env_var(prefix, entry.name), entry.name) for entry in entries]
    variables = [(variable, f"password of {name}") for variable, name in passwords]
    if fmt == "tnsnames":
        variables.insert(0, (USER_ENV_VAR, "user of every database (tnsnames.ora names none)"))
    width = max(len(variable) for variable, _ in variables)
    noun = "database" if len(entries) == 1 else "databases"
    header = [
        f"# Written by `provisioner import` from {file} ({fmt}): {len(entries)} {noun}.",
        "# Passwords are never imported. Set these variables before validate, plan or apply:",
        *(f"#   {variable:<{width}}  {what}" for variable, what in variables),
        *(f"# WARNING: {warning}" for warning in warnings),
    ]
    body = yaml.safe_dump(
        _document(entries, prefix, fmt),
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=_WIDTH,
    )
    lines = [_printable(line) for line in header]
    comments = iter(entry.comments for entry in entries)
    in_databases = False
    for line in body.rstrip("\n").split("\n"):
        in_databases = in_databases or line == "databases:"
        if in_databases and line.startswith("- "):
            lines.extend(next(comments))  # a column-0 "- " starts an entry: values are one-line
        lines.append(line)
    return ImportResult(
        text="\n".join(lines) + "\n",
        count=len(entries),
        env_vars=tuple(variable for variable, _ in variables),
        warnings=warnings,
    )
