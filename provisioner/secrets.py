"""Secret values with a masked repr, and resolving ``${VAR}`` / ``${file:PATH}`` references.

``$${`` stands for a literal ``${``. Problems name the variable or the file, never a value.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final

__all__ = [
    "MASK",
    "REFERENCE_PATTERN",
    "ReferenceResolver",
    "Secret",
    "UnresolvedReferenceError",
    "names_a_secret",
]

MASK: Final = "********"
_SECRET_WORDS: Final = ("password", "secret", "token", "connectionstring", "authorization")

#: A ``$${`` escape, a ``${...}`` reference (group 1 is what is inside), or a ``${`` left open.
REFERENCE_PATTERN: Final = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_VAR_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_FILE_PREFIX: Final = "file:"
# The text of a bad reference is not echoed: it may be part of a literal password.
_BAD_REFERENCE: Final = (
    "a ${...} reference must name a variable (${NAME}) or a file (${file:PATH});"
    ' write "$${" for a literal "${"'
)


def names_a_secret(key: str) -> bool:
    """Whether a field's name says it holds a secret (``password``, ``client_secret``,
    ``connectionString``, ``Authorization``...): such a value is masked in logs and never
    kept by value, whatever else is known of it."""
    lowered = key.lower().replace("_", "").replace("-", "")
    return any(word in lowered for word in _SECRET_WORDS)


class Secret:
    """A value that never shows itself: ``repr``/``str``/``format`` give ``********``.

    Call :meth:`reveal` at the one place the plain text is needed (the request body).
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The plain text. Use it only to build the request that carries it."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Secret cannot be pickled")

    def __bool__(self) -> bool:
        return bool(self._value)


class UnresolvedReferenceError(ValueError):
    """One or more ``${...}`` references could not be resolved.

    ``problems`` holds one sentence per reference; none of them holds a resolved value.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(self.problems))


class ReferenceResolver:
    """Resolves ``${VAR}`` from ``env`` and ``${file:PATH}`` from files beside the manifest.

    A file is read once per resolver (a default password read from a file serves every
    entry); its text loses its trailing line break.
    """

    __slots__ = ("_base_dir", "_env", "_files")

    def __init__(self, *, env: Mapping[str, str], base_dir: Path) -> None:
        self._env = env
        self._base_dir = base_dir
        self._files: dict[str, str | OSError | UnicodeDecodeError] = {}

    def resolve(self, text: str, *, escape: Callable[[str], str] | None = None) -> str:
        """``text`` with every reference replaced and every ``$${`` turned into ``${``.

        ``escape`` is applied to what replaces each reference and escape (so that a caller
        who parses the result further can keep those parts literal).

        Raises:
            UnresolvedReferenceError: naming each variable that is unset and each file that
                cannot be read.
        """
        if "${" not in text:
            return text
        problems: list[str] = []

        def replace(match: re.Match[str]) -> str:
            value = self._replacement(match, problems)
            return escape(value) if escape is not None else value

        result = REFERENCE_PATTERN.sub(replace, text)
        if problems:
            raise UnresolvedReferenceError(problems)
        return result

    def _replacement(self, match: re.Match[str], problems: list[str]) -> str:
        token = match.group(0)
        if token == "$${":
            return "${"
        inner = match.group(1)
        if inner is None:
            problems.append('"${" is not closed by "}" (write "$${" for a literal "${")')
            return ""
        try:
            return self.lookup(inner)
        except UnresolvedReferenceError as exc:
            problems.extend(exc.problems)
            return ""

    def lookup(self, reference: str) -> str:
        """The value of one reference, given what stands between ``${`` and ``}``."""
        if reference.startswith(_FILE_PREFIX):
            return self._read(reference[len(_FILE_PREFIX) :])
        name = reference.strip()
        if not _VAR_NAME.match(name):
            raise UnresolvedReferenceError([_BAD_REFERENCE])
        value = self._env.get(name)
        if value is None:
            raise UnresolvedReferenceError([f"environment variable {name} is not set"])
        return value

    def _read(self, raw_path: str) -> str:
        path_text = raw_path.strip()
        if not path_text:
            raise UnresolvedReferenceError(["${file:} needs a path"])
        cached = self._files.get(path_text)
        if cached is None:
            path = self._base_dir / Path(path_text).expanduser()
            try:
                cached = path.read_text(encoding="utf-8").rstrip("\r\n")
            except (OSError, UnicodeDecodeError) as exc:
                cached = exc
            self._files[path_text] = cached
        if isinstance(cached, OSError):
            reason = cached.strerror or type(cached).__name__
            raise UnresolvedReferenceError([f'cannot read file "{path_text}": {reason}'])
        if isinstance(cached, UnicodeDecodeError):
            raise UnresolvedReferenceError([f'file "{path_text}" is not UTF-8 text'])
        return cached
