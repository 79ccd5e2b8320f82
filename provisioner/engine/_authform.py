"""The auth form of a run: the org's Oracle spec is read once (before the listing) and every
selected entry is checked against the chosen form's schema before the first write; a found
connection of another form is reported, never rewritten into this run's form."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import structlog

from provisioner.aep import AuthForm, Connection, FlowClient, check_entries, read_auth
from provisioner.engine._domain import EntryKey, Job
from provisioner.engine._statebase import State
from provisioner.manifest import Manifest
from provisioner.settings import Settings

__all__ = [
    "CheckedForm",
    "choose_form",
    "form_conflict",
    "only",
    "wanted_fingerprint",
    "warn_other_forms",
]

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckedForm:
    """The form this run sends, and each checked entry's params in it (by entry key; they
    hold passwords, so the repr leaves them out)."""

    form: AuthForm
    params: Mapping[EntryKey, dict[str, object]] = field(repr=False)


async def choose_form(
    client: FlowClient, settings: Settings, manifest: Manifest, jobs: Sequence[Job]
) -> CheckedForm:
    """The form this run sends, and each entry's params in it, checked.

    Raises:
        ConfigError: the spec is absent, offers neither form, or not the one ``--auth`` forces.
        ManifestError: an entry's params break the form's schema (entry and field named).
        ProvisionError: the spec could not be read, after the listing's retries.
    """
    chosen = await read_auth(client, settings.auth, sandbox=settings.default_sandbox)
    entries = [(job.key, job.spec) for job in jobs if job.spec is not None]
    checked = check_entries(str(manifest.path), [spec for _, spec in entries], chosen)
    return CheckedForm(
        form=chosen.form,
        params={key: params for (key, _), params in zip(entries, checked, strict=True)},
    )


def form_conflict(found: Connection | None, form: AuthForm) -> str | None:
    """Why a found connection cannot take this run's params (its auth form is another one)."""
    if found is None or found.auth_form is None or found.auth_form == form.value:
        return None
    hint = "delete and recreate it to change its form"
    if found.auth_form in tuple(AuthForm):
        hint = f"run with --auth {AuthForm(found.auth_form).option} to update it, or {hint}"
    return (
        f"connection {found.id} uses the {found.auth_form} auth form and this run sends "
        f"{form.value}; not rewritten: {hint}"
    )


def only(found: Sequence[Connection]) -> Connection | None:
    """The connection named like an entry, when there is exactly one."""
    return found[0] if len(found) == 1 else None


def wanted_fingerprint(
    state: State, job: Job, found: Sequence[Connection], form: AuthForm, usual: str | None
) -> str | None:
    """The fingerprint an entry's connection should have: ``usual`` (in the run's form), or
    in the connection's own form when it has another, so that an unchanged entry of the other
    form stays ``existing`` and only a changed one is reported."""
    conflict = form_conflict(only(found), form)
    if conflict is None or job.spec is None:
        return usual
    own = only(found)
    return state.fingerprint(job.spec, own.auth_form if own is not None else None)


def warn_other_forms(found: Sequence[Connection], form: AuthForm) -> int:
    """Log each found connection whose form is not this run's; how many there were."""
    count = 0
    for connection in found:
        if form_conflict(connection, form) is not None:
            log.warning(
                "auth_form_differs",
                entry=connection.name,
                connection_id=connection.id,
                auth_form=connection.auth_form,
                run_auth_form=form.value,
            )
            count += 1
    return count
