"""A job -> the request bodies that carry its credentials, in either auth form. The one place
a password is revealed, and only into a body that goes straight to the HTTP client."""

from __future__ import annotations

from provisioner.aep._authform import AuthForm
from provisioner.aep._connstring import oracle_connection_string
from provisioner.manifest import DatabaseSpec
from provisioner.settings import ORACLE_SPEC_ID, ORACLE_SPEC_VERSION

__all__ = ["AUTH_SPEC_NAME", "auth_params", "connection_body", "patch_ops"]

AUTH_SPEC_NAME = AuthForm.CONNECTION_STRING.value


def _basic_params(spec: DatabaseSpec) -> dict[str, object]:
    params: dict[str, object] = {
        "server": spec.host,
        "port": spec.port,
        "database": spec.sid if spec.sid is not None else spec.service_name,
        "username": spec.user,
        "password": spec.password.reveal(),
    }
    if spec.schema is not None:
        params["schema"] = spec.schema
    params["sslMode"] = spec.tls
    return params


def auth_params(
    spec: DatabaseSpec, form: AuthForm = AuthForm.CONNECTION_STRING
) -> dict[str, object]:
    """``auth.params`` of ``form`` for an entry."""
    if form is AuthForm.BASIC:
        return _basic_params(spec)
    return {
        "connectionString": oracle_connection_string(
            host=spec.host,
            port=spec.port,
            sid=spec.sid,
            service_name=spec.service_name,
            user=spec.user,
            password=spec.password.reveal(),
        )
    }


def connection_body(
    spec: DatabaseSpec,
    form: AuthForm = AuthForm.CONNECTION_STRING,
    *,
    params: dict[str, object] | None = None,
) -> dict[str, object]:
    """``POST /connections`` body for an Oracle base connection: with ``params`` when given
    (the entry's, as the spec check checked them), else the entry's ``auth_params``."""
    body: dict[str, object] = {"name": spec.name}
    if spec.description is not None:
        body["description"] = spec.description
    if params is None:
        params = auth_params(spec, form)
    body["auth"] = {"specName": form.value, "params": params}
    body["connectionSpec"] = {"id": ORACLE_SPEC_ID, "version": ORACLE_SPEC_VERSION}
    return body


def patch_ops(
    spec: DatabaseSpec, form: AuthForm = AuthForm.CONNECTION_STRING
) -> list[dict[str, object]]:
    """JSON-Patch (lowercase ops, as the docs send them) replacing the credentials and text."""
    ops: list[dict[str, object]] = [
        {"op": "replace", "path": "/auth/params", "value": auth_params(spec, form)}
    ]
    if spec.description is not None:
        ops.append({"op": "replace", "path": "/description", "value": spec.description})
    return ops
