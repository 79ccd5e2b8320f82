"""The Oracle connection spec as the tool reads it: which auth forms the org offers, the one
this run sends (``--auth``), and each entry's params checked against that form's JSON Schema
before anything is written.

Messages name the entry and the field, never a value: a param may be a secret.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import structlog

from provisioner.aep._authform import AuthForm
from provisioner.aep._bodies import auth_params
from provisioner.aep._client import FlowClient
from provisioner.aep._schemacheck import SchemaCheck
from provisioner.errors import ConfigError, ManifestError, ManifestIssue
from provisioner.manifest import DatabaseSpec
from provisioner.settings import ORACLE_SPEC_ID, AuthMode

if TYPE_CHECKING:
    from jsonschema import ValidationError

__all__ = [
    "ChosenAuth",
    "OracleSpec",
    "check_entries",
    "choose_auth",
    "parse_oracle_spec",
    "read_auth",
]


log = structlog.get_logger(__name__)

_WANTED: Final[Mapping[AuthMode, AuthForm]] = {
    "connection-string": AuthForm.CONNECTION_STRING,
    "basic": AuthForm.BASIC,
}
#: Which manifest field a param comes from (for messages).
_FIELD_OF: Final = {
    "connectionString": "host/port/sid/service_name/user/password (the connection string)",
    "server": "host",
    "port": "port",
    "database": "sid/service_name",
    "username": "user",
    "password": "password",
    "schema": "schema",
    "sslMode": "tls",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class OracleSpec:
    """The Oracle connection spec's auth forms: the known ones with their JSON Schema, and the
    names of any other ``authSpec`` entry."""

    forms: Mapping[AuthForm, Mapping[str, object]]
    others: tuple[str, ...] = ()

    def offered(self) -> str:
        names = [f"{form.value} (--auth {form.option})" for form in self.forms]
        return ", ".join([*names, *self.others]) or "none"


@dataclass(frozen=True, slots=True, kw_only=True)
class ChosenAuth:
    """The auth form this run sends, and the check of its params against the form's schema."""

    form: AuthForm
    check: SchemaCheck

    @classmethod
    def of(cls, form: AuthForm, schema: Mapping[str, object]) -> ChosenAuth:
        """Raises ConfigError when the schema is not a valid JSON Schema (found now, or when
        an entry's params are rejected)."""
        name = f"the Oracle connection spec's {form.value} auth"
        return cls(form=form, check=SchemaCheck(schema, name=name))


def _auth_entries(body: object) -> list[object]:
    items = body.get("items") if isinstance(body, dict) else None
    item = items[0] if isinstance(items, list) and items else None
    if not isinstance(item, dict) or item.get("id", ORACLE_SPEC_ID) != ORACLE_SPEC_ID:
        raise ConfigError(f"the API answered no Oracle connection spec ({ORACLE_SPEC_ID})")
    auth = item.get("authSpec")
    return auth if isinstance(auth, list) else []


def parse_oracle_spec(body: object) -> OracleSpec:
    """The auth forms of a ``GET /connectionSpecs/{id}`` answer (``{"items": [spec]}``).

    Raises:
        ConfigError: no spec in the answer.
    """
    forms: dict[AuthForm, Mapping[str, object]] = {}
    others: list[str] = []
    for entry in _auth_entries(body):
        name = entry.get("name") if isinstance(entry, dict) else None
        schema = entry.get("spec") if isinstance(entry, dict) else None
        if name in tuple(AuthForm) and isinstance(schema, dict):
            forms.setdefault(AuthForm(str(name)), schema)
        elif isinstance(name, str):
            others.append(name)
    return OracleSpec(forms=forms, others=tuple(others))


async def read_auth(
    client: FlowClient, mode: AuthMode, *, sandbox: str, spec_id: str = ORACLE_SPEC_ID
) -> ChosenAuth:
    """Read the org's Oracle spec once and choose the form (see :func:`choose_auth`).

    Raises:
        ConfigError: the spec is not there, offers neither form or not the forced one.
        ProvisionError: the spec could not be read (after the listing's retries).
    """
    body = await client.get_connection_spec(spec_id, sandbox=sandbox)
    if body is None:
        raise ConfigError(
            f"the org has no Oracle connection spec ({spec_id}): GET /connectionSpecs/{spec_id} "
            "answered 404; nothing was sent"
        )
    chosen = choose_auth(parse_oracle_spec(body), mode)
    log.info("auth_form_chosen", auth_form=chosen.form.value, auth=mode)
    return chosen


def choose_auth(spec: OracleSpec, mode: AuthMode) -> ChosenAuth:
    """The form to send: ``auto`` takes the connection string where both are offered.

    Raises:
        ConfigError: the spec offers neither form, or not the one ``mode`` forces.
    """
    if not spec.forms:
        raise ConfigError(
            "the org's Oracle connection spec offers neither the ConnectionString nor the "
            f"Basic Authentication form (it offers: {spec.offered()}); nothing was sent"
        )
    if mode == "auto":
        form = next(f for f in AuthForm if f in spec.forms)
    else:
        form = _WANTED[mode]
        if form not in spec.forms:
            raise ConfigError(
                f"--auth {mode}: the org's Oracle connection spec does not offer the {form.value} "
                f"form; it offers: {spec.offered()}; nothing was sent"
            )
    return ChosenAuth.of(form, spec.forms[form])


def _field(error: ValidationError) -> str:
    instance = error.instance if isinstance(error.instance, dict) else {}
    if error.validator == "required" and isinstance(error.validator_value, list):
        missing = [k for k in error.validator_value if k not in instance]
        return str(missing[0]) if missing else "?"
    if error.validator == "additionalProperties":
        known = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        extra = [k for k in instance if k not in known]
        return str(extra[0]) if extra else "?"
    return ".".join(str(part) for part in error.absolute_path)


def _reason(error: ValidationError) -> str:
    """Why, in words that never quote the value."""
    value = error.validator_value
    match error.validator:
        case "required":
            return "required by the spec, and this form has no value for it"
        case "additionalProperties":
            return "not accepted by the spec"
        case "maxLength":
            return f"longer than the {value} characters the spec allows"
        case "minLength":
            return f"shorter than the {value} characters the spec requires"
        case "type":
            return f"the spec wants a value of type {value}"
        case "pattern":
            return "does not match the pattern the spec requires"
        case "minimum" | "maximum" | "exclusiveMinimum" | "exclusiveMaximum":
            return f"out of the range the spec allows ({error.validator} {value})"
        case _:
            return f"does not satisfy the spec's {error.validator!r} rule"


def _issues(
    file: str, spec: DatabaseSpec, chosen: ChosenAuth, params: Mapping[str, object]
) -> Iterable[ManifestIssue]:
    if chosen.check.is_valid(params):
        return
    for error in chosen.check.errors(params):
        param = _field(error)
        field = _FIELD_OF.get(param, param)
        yield ManifestIssue(
            file=file,
            line=spec.line,
            column=None,
            where=f"{spec.name}: {field}",
            message=f"the org's Oracle spec ({chosen.form.value}) rejects param {param!r}: "
            f"{_reason(error)}",
        )


def _form_issue(file: str, spec: DatabaseSpec, chosen: ChosenAuth) -> ManifestIssue | None:
    if chosen.form is AuthForm.CONNECTION_STRING and spec.tls:
        return ManifestIssue(
            file=file,
            line=spec.line,
            column=None,
            where=f"{spec.name}: tls",
            message="tls: true cannot be sent in the ConnectionString form: Adobe documents "
            "no keyword for it (use --auth basic where the org offers Basic Authentication, "
            "or remove tls)",
        )
    return None


def check_entries(
    file: str, specs: Sequence[DatabaseSpec], chosen: ChosenAuth
) -> list[dict[str, object]]:
    """Every entry's params in the chosen form, against that form's schema in the org's spec.
    Returns the params checked, one per entry in order: what a create then sends.

    Raises:
        ManifestError: every mismatch, each naming the entry and the field.
    """
    checked: list[dict[str, object]] = []
    issues: list[ManifestIssue] = []
    ignored = [s.name for s in specs if s.schema is not None]
    if chosen.form is AuthForm.CONNECTION_STRING and ignored:  # one line, however many
        log.warning(
            "schema_ignored", entries=len(ignored), first=ignored[0], auth_form=chosen.form.value
        )
    for spec in specs:
        issue = _form_issue(file, spec, chosen)
        if issue is not None:
            issues.append(issue)
            continue
        params = auth_params(spec, chosen.form)
        issues.extend(_issues(file, spec, chosen, params))
        checked.append(params)
    if issues:
        raise ManifestError(issues)
    return checked
