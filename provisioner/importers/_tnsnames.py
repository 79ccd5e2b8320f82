"""Oracle ``tnsnames.ora`` text -> one :class:`TnsEntry` per definition, with line/column marks.

Choices: ``ALIAS[, ALIAS...] = (KEY = value)...`` nests to any depth, with ``#`` comments, any
white space and keywords in any case. ``IFILE = path`` is not followed: it becomes a warning.
Of each definition the first DESCRIPTION, its first TCP/TCPS ADDRESS and its CONNECT_DATA's
SERVICE_NAME (else SID) are kept; what is left out is said in the entry's ``notes``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final, Literal

from provisioner.errors import ManifestError, ManifestIssue
from provisioner.manifest import PORT_MAX, PORT_MIN, host_problem

__all__ = [
    "DEFAULT_PORT",
    "TnsEntry",
    "TnsFile",
    "read_tnsnames",
]

#: The port a listener address has when it names none (Oracle's own default).
DEFAULT_PORT: Final = "1521"
_MAX_DEPTH: Final = 64  # far deeper than any real file; bounds the recursion
_TCP: Final = frozenset({"TCP", "TCPS"})
_TCPS_NOTE: Final = (
    "protocol TCPS: imported as tls: true (sent as sslMode in the Basic Authentication form; "
    "the connection-string form has no TLS keyword)"
)
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_TOKEN: Final = re.compile(
    r"(?P<newline>\n)|(?P<space>[^\S\n]+)|(?P<comment>#[^\n]*)|(?P<punct>[()=,])"
    r'|(?P<quoted>"[^"\n]*")|(?P<word>[^\s()=,#"]+)|(?P<open>")'
)

_Kind = Literal["(", ")", "=", ",", "word", "end"]
_PUNCT: Final[dict[str, _Kind]] = {"(": "(", ")": ")", "=": "=", ",": ","}


@dataclass(frozen=True, slots=True, kw_only=True)
class _Token:
    kind: _Kind
    text: str
    line: int
    column: int


@dataclass(frozen=True, slots=True, kw_only=True)
class _Parameter:
    """``(KEY = text)`` or ``(KEY = (...)(...))``; ``key`` is upper-cased."""

    key: str
    line: int
    column: int
    text: str | None
    children: tuple[_Parameter, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Definition:
    aliases: tuple[str, ...]
    line: int
    column: int
    text: str | None
    children: tuple[_Parameter, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class TnsEntry:
    """One definition: its aliases (as written) and the connect data that was kept."""

    aliases: tuple[str, ...]
    line: int
    column: int
    host: str
    port: int
    sid: str | None
    service_name: str | None
    notes: tuple[str, ...]
    tls: bool = False  # the address kept speaks TCPS


@dataclass(frozen=True, slots=True, kw_only=True)
class TnsFile:
    entries: tuple[TnsEntry, ...]
    warnings: tuple[str, ...]  # each starts with ``file:line:``


def read_tnsnames(text: str, *, file: str) -> TnsFile:
    """Parse a tnsnames.ora text.

    Raises:
        ManifestError: at the first syntax error, or listing every definition that has no
            usable address or no SERVICE_NAME/SID, every bad HOST or PORT and every alias
            defined twice; or when there is no alias at all.
    """
    definitions = _Parser(_tokenize(text, file), file).definitions()
    issues: list[ManifestIssue] = []
    entries: list[TnsEntry] = []
    warnings: list[str] = []
    seen: dict[str, tuple[int, int]] = {}  # alias (lower-cased) -> (definition index, line)
    for index, definition in enumerate(definitions):
        if definition.aliases[0].upper() == "IFILE":
            shown = definition.text or "(...)"
            warnings.append(
                f"{file}:{definition.line}: IFILE={shown} is not followed;"
                " import that file separately"
            )
            continue
        reader = _EntryReader(file=file, definition=definition, issues=issues)
        _check_aliases(index, definition, seen, reader)
        entry = reader.entry()
        if entry is not None:
            entries.append(entry)
    if not definitions or (not entries and not issues):
        message = "no alias defined: nothing to import"
        if warnings:
            message += " (IFILE is not followed: import the files it names)"
        issues.append(ManifestIssue(file=file, line=None, column=None, where="", message=message))
    if issues:
        raise ManifestError(issues)
    return TnsFile(entries=tuple(entries), warnings=tuple(warnings))


def _check_aliases(
    index: int, definition: _Definition, seen: dict[str, tuple[int, int]], reader: _EntryReader
) -> None:
    for alias in definition.aliases:
        first, line = seen.setdefault(alias.lower(), (index, definition.line))
        if first != index:
            message = f"alias {alias} is already defined at line {line}"
            reader.report(definition.line, definition.column, message)


def _tokenize(text: str, file: str) -> list[_Token]:
    tokens: list[_Token] = []
    line, line_start = 1, 0
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        column = match.start() - line_start + 1
        if kind == "newline":
            line, line_start = line + 1, match.end()
        elif kind == "open":
            _fail(file, line, column, 'a quoted value is not closed by " on the same line')
        elif kind == "punct":
            tokens.append(_Token(kind=_PUNCT[match[0]], text=match[0], line=line, column=column))
        elif kind in ("word", "quoted"):
            word = match[0].strip('"') if kind == "quoted" else match[0]
            if _CONTROL.search(word):
                _fail(file, line, column, "control characters are not allowed here")
            tokens.append(_Token(kind="word", text=word, line=line, column=column))
    tokens.append(_Token(kind="end", text="", line=line, column=len(text) - line_start + 1))
    return tokens


def _fail(file: str, line: int, column: int, message: str) -> None:
    issue = ManifestIssue(file=file, line=line, column=column, where="", message=message)
    raise ManifestError([issue])


def _shown(token: _Token) -> str:
    return "the end of the file" if token.kind == "end" else f'"{token.text}"'


class _Parser:
    """Recursive descent over the tokens; stops at the first syntax error."""

    __slots__ = ("_file", "_position", "_tokens")

    def __init__(self, tokens: list[_Token], file: str) -> None:
        self._tokens = tokens
        self._file = file
        self._position = 0

    def definitions(self) -> list[_Definition]:
        found: list[_Definition] = []
        while self._peek().kind != "end":
            found.append(self._definition())
        return found

    def _peek(self) -> _Token:
        return self._tokens[self._position]

    def _take(self, kind: _Kind, expected: str) -> _Token:
        token = self._peek()
        if token.kind != kind:
            _fail(self._file, token.line, token.column, f"expected {expected}, got {_shown(token)}")
        self._position += 1
        return token

    def _definition(self) -> _Definition:
        first = self._take("word", "an alias (NAME = (DESCRIPTION = ...))")
        aliases = [first.text]
        while self._peek().kind == ",":
            self._position += 1
            aliases.append(self._take("word", "an alias after the comma").text)
        self._take("=", f'"=" after the alias {aliases[-1]}')
        text, children = self._value(0, "(DESCRIPTION = ...)")
        return _Definition(
            aliases=tuple(aliases),
            line=first.line,
            column=first.column,
            text=text,
            children=children,
        )

    def _value(self, depth: int, expected: str) -> tuple[str | None, tuple[_Parameter, ...]]:
        token = self._peek()
        if token.kind == "word":
            self._position += 1
            return token.text, ()
        children: list[_Parameter] = []
        while self._peek().kind == "(":
            children.append(self._parameter(depth + 1))
        if not children and depth == 0:
            self._take("(", expected)
        return None, tuple(children)

    def _parameter(self, depth: int) -> _Parameter:
        opening = self._take("(", '"("')
        if depth > _MAX_DEPTH:
            _fail(self._file, opening.line, opening.column, "parentheses nested too deeply")
        key = self._take("word", "a keyword after (")
        self._take("=", f'"=" after {key.text}')
        text, children = self._value(depth, "a value")
        closing = self._peek()
        if closing.kind != ")":
            if closing.kind == "end":
                message = f"({key.text} = ...) is not closed by )"
                _fail(self._file, opening.line, opening.column, message)
            self._take(")", f'")" to close ({key.text} = ...)')
        self._position += 1
        return _Parameter(
            key=key.text.upper(),
            line=key.line,
            column=key.column,
            text=text,
            children=children,
        )


def _find(parameters: tuple[_Parameter, ...], key: str) -> Iterator[_Parameter]:
    """Every parameter named ``key`` under ``parameters``, in file order (not inside one found)."""
    for parameter in parameters:
        if parameter.key == key:
            yield parameter
        else:
            yield from _find(parameter.children, key)


def _child(parameter: _Parameter, key: str) -> _Parameter | None:
    return next((child for child in parameter.children if child.key == key), None)


class _EntryReader:
    """Reads the connect data of one definition, reporting what is missing."""

    __slots__ = ("_definition", "_file", "_issues", "_notes")

    def __init__(self, *, file: str, definition: _Definition, issues: list[ManifestIssue]) -> None:
        self._file = file
        self._definition = definition
        self._issues = issues
        self._notes: list[str] = []

    def report(self, line: int, column: int, message: str) -> None:
        where = self._definition.aliases[0]
        self._issues.append(
            ManifestIssue(file=self._file, line=line, column=column, where=where, message=message)
        )

    def entry(self) -> TnsEntry | None:
        definition = self._definition
        descriptions = self._descriptions()
        if not descriptions:
            self.report(definition.line, definition.column, "expected (DESCRIPTION = ...)")
            return None
        address = self._address(descriptions[0])
        target = self._target(descriptions[0])
        if address is None or target is None:
            return None
        host, port, tls = address
        return TnsEntry(
            aliases=definition.aliases,
            line=definition.line,
            column=definition.column,
            host=host,
            port=port,
            sid=target[0],
            service_name=target[1],
            notes=tuple(self._notes),
            tls=tls,
        )

    def _descriptions(self) -> list[tuple[_Parameter, ...]]:
        """Each DESCRIPTION's parameters; a bare ADDRESS... list counts as one description."""
        children = self._definition.children
        found = [description.children for description in _find(children, "DESCRIPTION")]
        if not found and any(True for _ in _find(children, "ADDRESS")):
            found = [children]
        if len(found) > 1:
            self._notes.append(f"{len(found) - 1} more DESCRIPTION not imported (first one only)")
        return found

    def _address(self, description: tuple[_Parameter, ...]) -> tuple[str, int, bool] | None:
        """The first TCP/TCPS address: host, port and whether it speaks TCPS."""
        usable: list[tuple[_Parameter, _Parameter | None]] = []
        tls = False
        for address in _find(description, "ADDRESS"):
            protocol = _child(address, "PROTOCOL")
            name = (protocol.text or "").upper() if protocol is not None else "TCP"
            host = _child(address, "HOST")
            if name not in _TCP or host is None:
                why = f"protocol {name}" if name not in _TCP else "no HOST"
                self._notes.append(f"address at line {address.line} skipped ({why})")
                continue
            if name == "TCPS" and not usable:
                tls = True
                self._notes.append(_TCPS_NOTE)
            usable.append((host, _child(address, "PORT")))
        if not usable:
            definition = self._definition
            self.report(definition.line, definition.column, "no TCP ADDRESS with a HOST")
            return None
        host, port = usable[0]
        if port is None:
            self._notes.append(f"no PORT: Oracle's default {DEFAULT_PORT} is used")
        others = [f"{h.text}:{p.text if p else DEFAULT_PORT}" for h, p in usable[1:]]
        if others:
            self._notes.append(f"other addresses not imported: {', '.join(others)}")
        host_text, port_number = self._host(host), self._port(port)
        if host_text is None or port_number is None:
            return None
        return host_text, port_number, tls

    def _host(self, parameter: _Parameter) -> str | None:
        value = parameter.text or ""
        if value.startswith("[") and value.endswith("]"):
            value = value[1:-1]  # an IPv6 address in brackets
        problem = host_problem(value) if value else "expected a value"
        if problem is not None:
            message = problem.replace("{got}", f'"{value}"')
            self.report(parameter.line, parameter.column, f"HOST: {message}")
            return None
        return value

    def _port(self, parameter: _Parameter | None) -> int | None:
        if parameter is None:
            return int(DEFAULT_PORT)
        value = parameter.text or ""
        if value.isascii() and value.isdigit() and PORT_MIN <= int(value) <= PORT_MAX:
            return int(value)
        message = f'PORT: expected an integer {PORT_MIN}-{PORT_MAX}, got "{value}"'
        self.report(parameter.line, parameter.column, message)
        return None

    def _target(self, description: tuple[_Parameter, ...]) -> tuple[str | None, str | None] | None:
        """(sid, service_name), exactly one of them set."""
        for data in _find(description, "CONNECT_DATA"):
            service = _child(data, "SERVICE_NAME")
            sid = _child(data, "SID")
            if service is not None and service.text:
                if sid is not None:
                    self._notes.append(f"SID {sid.text} ignored: SERVICE_NAME is used")
                return None, service.text
            if sid is not None and sid.text:
                return sid.text, None
        definition = self._definition
        self.report(definition.line, definition.column, "no SERVICE_NAME or SID in CONNECT_DATA")
        return None
