"""Every exception the library raises.

    ProvisionerError
    ├── ManifestError        the manifest is invalid (carries every issue found)
    ├── ConfigError          settings, environment or usage are invalid
    │   └── LockedError      another run holds the state database's lock
    ├── AuthError            IMS refused to issue a token
    └── EntryError           one request for one entry went wrong
        ├── RetryableError   429, 5xx, timeouts, connection errors: try again later
        └── PermanentError   any other 4xx, or an answer we cannot use

``ProvisionError`` is the old name of ``EntryError``, kept as a deprecated alias for code that
imports it; it will be removed in a later release.

Messages never hold a secret: callers pass names and statuses, never values.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "AuthError",
    "ConfigError",
    "EntryError",
    "LockedError",
    "ManifestError",
    "ManifestIssue",
    "PermanentError",
    "ProvisionError",  # deprecated alias of EntryError
    "ProvisionerError",
    "RetryableError",
]


class ProvisionerError(Exception):
    """Root of every error this package raises on purpose."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ManifestIssue:
    """One problem in a manifest, with where it is."""

    file: str
    line: int | None
    column: int | None
    where: str
    message: str

    def __str__(self) -> str:
        loc = self.file
        if self.line is not None:
            loc += f":{self.line}"
            if self.column is not None:
                loc += f":{self.column}"
        return f"{loc}: {self.where}: {self.message}" if self.where else f"{loc}: {self.message}"


class ManifestError(ProvisionerError):
    """The manifest is invalid; ``issues`` lists every problem found in one pass."""

    def __init__(self, issues: list[ManifestIssue]) -> None:
        self.issues = tuple(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


class ConfigError(ProvisionerError):
    """Settings, environment or command-line usage are invalid."""


class LockedError(ConfigError):
    """Another process holds the run lock on the state database."""


class AuthError(ProvisionerError):
    """IMS did not issue a token (bad client id/secret/scopes, or IMS unreachable)."""


class EntryError(ProvisionerError):
    """A request for one entry failed.

    ``status`` is the HTTP status (None when no answer came back), ``code`` the API's
    error code (``FLOW-1413-400``, ``401013``) when it gave one. ``sent`` says whether
    the request body may have reached the server, so that a create whose outcome is
    unknown is looked up before it is sent again.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        sent: bool = True,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.request_id = request_id
        self.sent = sent


class RetryableError(EntryError):
    """Worth another attempt: throttling, a server error, a timeout or a dropped connection."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        sent: bool = True,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status=status, code=code, request_id=request_id, sent=sent)
        self.retry_after = retry_after

    @property
    def throttled(self) -> bool:
        """True for the answers that mean "slow down" (429 and 503)."""
        return self.status in (429, 503)


class PermanentError(EntryError):
    """Not worth another attempt: the API rejected the request for good."""


ProvisionError = EntryError  # deprecated alias: the old name, too close to ProvisionerError
