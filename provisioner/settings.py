"""Frozen run settings, layered: command-line arguments over environment over defaults.

This is the only module that reads ``os.environ``.
"""

from __future__ import annotations

import ipaddress
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal
from urllib.parse import urlsplit

from provisioner.errors import ConfigError
from provisioner.secrets import Secret

__all__ = [
    "AUTH_MODES",
    "DEFAULT_BACKOFF_BASE",
    "DEFAULT_BACKOFF_CAP",
    "DEFAULT_CONCURRENCY",
    "DEFAULT_ENTRY_DEADLINE",
    "DEFAULT_GRACE",
    "DEFAULT_IMS_URL",
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_PLATFORM_URL",
    "DEFAULT_RATE",
    "DEFAULT_SANDBOX",
    "DEFAULT_SCOPES",
    "DEFAULT_SETTLE",
    "DEFAULT_TIMEOUT",
    "FLOW_SERVICE_PATH",
    "ORACLE_SPEC_ID",
    "ORACLE_SPEC_VERSION",
    "PUSHGATEWAY_ENV",
    "AuthMode",
    "Backoff",
    "Credentials",
    "Limits",
    "LogFormat",
    "Settings",
    "Timeouts",
    "check_url",
    "credentials_from_env",
    "environment",
    "pushgateway_url",
]

DEFAULT_PLATFORM_URL: Final = "https://platform.adobe.io"
DEFAULT_IMS_URL: Final = "https://ims-na1.adobelogin.com"
DEFAULT_SCOPES: Final = (
    "openid,AdobeID,read_organizations,additional_info.projectedProductContext,session"
)
DEFAULT_SANDBOX: Final = "prod"
DEFAULT_CONCURRENCY: Final = 8
DEFAULT_RATE: Final = 10.0
DEFAULT_MAX_ATTEMPTS: Final = 5
DEFAULT_TIMEOUT: Final = 30.0
DEFAULT_ENTRY_DEADLINE: Final = 600.0
DEFAULT_GRACE: Final = 15.0
DEFAULT_SETTLE: Final = 30.0  # seconds a listing may lag a create (see Timeouts.settle)
DEFAULT_BACKOFF_BASE: Final = 1.0
DEFAULT_BACKOFF_CAP: Final = 20.0
FLOW_SERVICE_PATH: Final = "/data/foundation/flowservice"
ORACLE_SPEC_ID: Final = "d6b52d86-f0f8-475f-89d4-ce54c8527328"
ORACLE_SPEC_VERSION: Final = "1.0"
#: ``--auth``: which auth form of the Oracle spec to send (auto: the one the org offers).
AuthMode = Literal["auto", "connection-string", "basic"]
AUTH_MODES: Final[tuple[AuthMode, ...]] = ("auto", "connection-string", "basic")

LogFormat = Literal["console", "json"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeouts:
    """``request``: seconds per HTTP request; ``entry``: deadline per entry across its retries;
    ``settle``: how long a create whose answer was lost may stay unseen in listings before it
    is sent again (listings are not read-after-write consistent); 0 trusts the first look."""

    request: float = DEFAULT_TIMEOUT
    connect: float = 10.0
    entry: float = DEFAULT_ENTRY_DEADLINE
    grace: float = DEFAULT_GRACE  # how long in-flight work may finish after SIGINT/SIGTERM
    settle: float = DEFAULT_SETTLE

    def __post_init__(self) -> None:
        for name in ("request", "connect", "entry", "grace"):
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0:
                raise ConfigError(f"timeout {name} must be a positive number, got {value}")
        if not math.isfinite(self.settle) or self.settle < 0:
            raise ConfigError(f"--settle must be a number of seconds >= 0, got {self.settle}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    concurrency: int = DEFAULT_CONCURRENCY
    rate: float = DEFAULT_RATE

    def __post_init__(self) -> None:
        if not 1 <= self.concurrency <= 1024:
            raise ConfigError(f"--concurrency must be 1-1024, got {self.concurrency}")
        if not 0 < self.rate <= 100_000:
            raise ConfigError(f"--rate must be above 0 and at most 100000, got {self.rate}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    base: float = DEFAULT_BACKOFF_BASE
    cap: float = DEFAULT_BACKOFF_CAP
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    retry_after_cap: float = 120.0

    def __post_init__(self) -> None:
        if not 1 <= self.max_attempts <= 100:
            raise ConfigError(f"--max-attempts must be 1-100, got {self.max_attempts}")
        if not all(math.isfinite(v) for v in (self.base, self.cap, self.retry_after_cap)):
            raise ConfigError("backoff base, cap and Retry-After cap must be finite numbers")
        if self.base < 0 or self.cap < self.base:
            raise ConfigError("backoff needs 0 <= base <= cap")


@dataclass(frozen=True, slots=True, kw_only=True)
class Credentials:
    """Who we are to Platform. Secrets are held as Secret, so repr is safe."""

    client_id: str
    client_secret: Secret | None = None
    org_id: str
    scopes: tuple[str, ...] = tuple(DEFAULT_SCOPES.split(","))
    access_token: Secret | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    platform_url: str = DEFAULT_PLATFORM_URL
    ims_url: str = DEFAULT_IMS_URL
    credentials: Credentials
    default_sandbox: str = DEFAULT_SANDBOX
    limits: Limits = field(default_factory=Limits)
    timeouts: Timeouts = field(default_factory=Timeouts)
    backoff: Backoff = field(default_factory=Backoff)
    state_path: Path
    state_url: Secret | None = None  # a PostgreSQL state (postgresql://...): used over state_path
    lock_wait: float = 0.0  # seconds to wait for the run lock before giving up (--wait-lock)
    report_path: Path | None = None
    target_key: str | None = None  # overrides (platform_url, org) as the state's target
    auth: AuthMode = "auto"
    # sandbox -> its target, made on first use (a run asks for each entry's, twice)
    _targets: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def flow_url(self) -> str:
        return self.platform_url.rstrip("/") + FLOW_SERVICE_PATH

    @property
    def token_url(self) -> str:
        return self.ims_url.rstrip("/") + "/ims/token/v3"

    @property
    def target_base(self) -> str:
        """The state's key for this platform and org (or emulator data file)."""
        return self.target_key or f"{self.platform_url.rstrip('/')}|{self.credentials.org_id}"

    def target(self, sandbox: str) -> str:
        """The state database's key for a sandbox of this target."""
        found = self._targets.get(sandbox)
        if found is None:
            found = self._targets[sandbox] = f"{self.target_base}|{sandbox}"
        return found


def environment() -> Mapping[str, str]:
    """A snapshot of the process environment (for ``${VAR}`` in manifests)."""
    return dict(os.environ)


def check_url(name: str, url: str) -> str:
    """Refuse anything but https, except http to a loopback host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{name}: expected an http(s) URL, got {url!r}")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigError(f"{name}: http:// is refused unless the host is loopback: {url!r}")
    return url.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _required(env: Mapping[str, str], name: str, missing: list[str]) -> str:
    value = env.get(name, "").strip()
    if not value:
        missing.append(name)
    return value


def credentials_from_env(env: Mapping[str, str]) -> Credentials:
    """Credentials from ``AEP_*`` variables; ConfigError naming every missing variable."""
    missing: list[str] = []
    client_id = _required(env, "AEP_CLIENT_ID", missing)
    org_id = _required(env, "AEP_ORG_ID", missing)
    token = env.get("AEP_ACCESS_TOKEN", "").strip()
    secret = env.get("AEP_CLIENT_SECRET", "").strip()
    if not token and not secret:
        missing.append("AEP_CLIENT_SECRET (or AEP_ACCESS_TOKEN)")
    if missing:
        raise ConfigError("missing environment variables: " + ", ".join(missing))
    raw_scopes = env.get("AEP_SCOPES", "").strip() or DEFAULT_SCOPES
    scopes = tuple(s.strip() for s in raw_scopes.split(",") if s.strip())
    return Credentials(
        client_id=client_id,
        client_secret=Secret(secret) if secret else None,
        org_id=org_id,
        scopes=scopes,
        access_token=Secret(token) if token else None,
    )


PUSHGATEWAY_ENV: Final = "PROVISIONER_PUSHGATEWAY"


def pushgateway_url(value: str | None, env: Mapping[str, str]) -> str | None:
    """The Pushgateway to push metrics to: ``--pushgateway`` over ``PROVISIONER_PUSHGATEWAY``;
    None when neither is set. http:// is fine here (metrics hold no secret), but the URL must
    be ``http(s)://host[:port][/path]`` without credentials (they would show in the logs)."""
    name = "--pushgateway" if value is not None else PUSHGATEWAY_ENV
    url = (value if value is not None else env.get(PUSHGATEWAY_ENV, "")).strip()
    if not url:
        return None
    parts = urlsplit(url)
    # messages show the scheme and host at most: the rest of a URL may hold a token
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{name}: expected an http(s) URL, got a {parts.scheme or 'bare'} one")
    if parts.username is not None or parts.password is not None:
        raise ConfigError(f"{name}: credentials in the URL are not supported")
    if parts.query or parts.fragment:
        raise ConfigError(
            f"{name}: expected no query or fragment ({parts.scheme}://{parts.hostname}…)"
        )
    return url.rstrip("/")
