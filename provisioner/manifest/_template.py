"""Description templates: ``{field}`` placeholders, ``{{``/``}}`` escapes and ``${...}`` references.

A template is compiled once (references resolved, placeholders checked) and rendered per entry.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Final

from provisioner.secrets import ReferenceResolver, UnresolvedReferenceError

__all__ = ["Template", "TemplateError", "compile_template"]

# $${text} | $${ | ${ref} | ${ (open) | {{ | }} | {field} | a lone brace
_TOKEN: Final = re.compile(r"\$\$\{[^{}]*\}|\$\$\{|\$\{([^}]*)\}|\$\{|\{\{|\}\}|\{([^{}]*)\}|[{}]")
_LITERALS: Final = {"{{": "{", "}}": "}"}


class TemplateError(ValueError):
    """A template that cannot be compiled; ``problems`` has one sentence per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True, slots=True, kw_only=True)
class Template:
    """Literal text between placeholders: ``literals`` has one more item than ``fields``."""

    literals: tuple[str, ...]
    fields: tuple[str, ...]

    def missing(self, values: Mapping[str, str | None]) -> list[str]:
        """The placeholders that ``values`` leaves without a value."""
        return [name for name in self.fields if values.get(name) is None]

    def render(self, values: Mapping[str, str | None]) -> str:
        """The text with each placeholder replaced (a missing value renders as nothing)."""
        if not self.fields:
            return self.literals[0]
        out = [self.literals[0]]
        for name, literal in zip(self.fields, self.literals[1:], strict=True):
            out.append(values.get(name) or "")
            out.append(literal)
        return "".join(out)


def compile_template(
    text: str,
    *,
    resolver: ReferenceResolver,
    fields: Collection[str],
    forbidden: Mapping[str, str],
) -> Template:
    """Compile ``text``: ``fields`` may be placeholders, ``forbidden`` maps a name to why not.

    Raises:
        TemplateError: listing every unknown or forbidden placeholder, stray brace and
            unresolved reference.
    """
    if "{" not in text and "}" not in text:
        return Template(literals=(text,), fields=())
    problems: list[str] = []
    literals: list[str] = []
    names: list[str] = []
    current: list[str] = []
    position = 0
    for match in _TOKEN.finditer(text):
        current.append(text[position : match.start()])
        position = match.end()
        name = match.group(2)
        if name is None:
            current.append(_literal(match, resolver, problems))
            continue
        problem = _placeholder_problem(name, fields, forbidden)
        if problem is not None:
            problems.append(problem)
        literals.append("".join(current))
        names.append(name)
        current = []
    current.append(text[position:])
    literals.append("".join(current))
    if problems:
        raise TemplateError(problems)
    return Template(literals=tuple(literals), fields=tuple(names))


def _literal(match: re.Match[str], resolver: ReferenceResolver, problems: list[str]) -> str:
    token = match.group(0)
    if token.startswith("$${"):
        return token[1:]  # an escaped reference stays literal, closing brace included
    if token in _LITERALS:
        return _LITERALS[token]
    if token in "{}":
        problems.append(f'a lone "{token}" (write "{token}{token}" for a literal brace)')
        return ""
    try:
        return resolver.resolve(token)
    except UnresolvedReferenceError as exc:
        problems.extend(exc.problems)
        return ""


def _placeholder_problem(
    name: str, fields: Collection[str], forbidden: Mapping[str, str]
) -> str | None:
    if name in fields:
        return None
    if name in forbidden:
        return f"{{{name}}} cannot be used: {forbidden[name]}"
    hint = difflib.get_close_matches(name, list(fields), n=1)
    known = ", ".join(f"{{{field}}}" for field in fields)
    suggestion = f'did you mean "{{{hint[0]}}}"? ' if hint else ""
    return f"unknown placeholder {{{name}}} ({suggestion}known: {known})"
