"""provisioner: bulk-onboard Oracle databases into Adobe Experience Platform.

The command line (``provisioner``) is the main interface; the names below are the library's
public API for embedding a run in other Python code.
"""

from __future__ import annotations

from provisioner import _startup  # noqa: F401  # first: structlog before rich (see _startup)

# isort: split
from provisioner.aep import FlowClient
from provisioner.engine import ApplyRun, RunOptions
from provisioner.errors import (
    AuthError,
    ConfigError,
    EntryError,
    LockedError,
    ManifestError,
    PermanentError,
    ProvisionerError,
    ProvisionError,  # deprecated alias of EntryError
    RetryableError,
)
from provisioner.manifest import DatabaseSpec, Manifest, load_manifest
from provisioner.reports import Outcome, Report, Result, Summary
from provisioner.secrets import Secret
from provisioner.settings import Backoff, Credentials, Limits, Settings, Timeouts

__all__ = [
    "ApplyRun",
    "AuthError",
    "Backoff",
    "ConfigError",
    "Credentials",
    "DatabaseSpec",
    "EntryError",
    "FlowClient",
    "Limits",
    "LockedError",
    "Manifest",
    "ManifestError",
    "Outcome",
    "PermanentError",
    "ProvisionError",  # deprecated alias of EntryError
    "ProvisionerError",
    "Report",
    "Result",
    "RetryableError",
    "RunOptions",
    "Secret",
    "Settings",
    "Summary",
    "Timeouts",
    "__version__",
    "load_manifest",
]

__version__ = "0.1.0"
