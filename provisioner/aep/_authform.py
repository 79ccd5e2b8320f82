"""The auth forms Adobe documents for Oracle base connections."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

__all__ = ["AuthForm"]


class AuthForm(StrEnum):
    """The two auth forms Adobe documents for Oracle; the value is the ``specName`` sent."""

    CONNECTION_STRING = "ConnectionString"
    BASIC = "Basic Authentication"

    @property
    def option(self) -> str:
        """How ``--auth`` names this form."""
        return _OPTION[self]


_OPTION: Final = {AuthForm.CONNECTION_STRING: "connection-string", AuthForm.BASIC: "basic"}
