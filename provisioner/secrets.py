"""Secret values with a masked repr, and resolving ``${VAR}`` / ``${file:PATH}`` references."""

from __future__ import annotations

import hmac
from typing import Final

__all__ = ["MASK", "Secret"]

MASK: Final = "********"


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
