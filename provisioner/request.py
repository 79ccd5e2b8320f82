"""A job -> the ``POST /connections`` body. The one place a password is revealed."""

from __future__ import annotations

from provisioner.connstring import oracle_connection_string
from provisioner.pool import Job
from provisioner.settings import ORACLE_SPEC_ID, ORACLE_SPEC_VERSION

__all__ = ["connection_body"]


def connection_body(job: Job) -> dict[str, object]:
    spec = job.spec
    body: dict[str, object] = {"name": spec.name}
    if spec.description is not None:
        body["description"] = spec.description
    body["auth"] = {
        "specName": "ConnectionString",
        "params": {
            "connectionString": oracle_connection_string(
                host=spec.host,
                port=spec.port,
                sid=spec.sid,
                service_name=spec.service_name,
                user=spec.user,
                password=spec.password.reveal(),
            )
        },
    }
    body["connectionSpec"] = {"id": ORACLE_SPEC_ID, "version": ORACLE_SPEC_VERSION}
    return body
