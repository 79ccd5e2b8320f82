"""One attempt at one job against the Flow Service: create (looking first when an earlier
attempt's answer was lost), update under If-Match, delete; optionally test the connection."""

from __future__ import annotations

import dataclasses

import structlog

from provisioner.aep import AuthForm, FlowClient, connection_body, patch_ops
from provisioner.engine._authform import form_conflict
from provisioner.engine._discover import lookup_name
from provisioner.engine._domain import (
    Action,
    EntryKey,
    Job,
    JobKind,
    ambiguous_message,
    decide,
)
from provisioner.engine._pool import Provisioned
from provisioner.errors import EntryError, PermanentError, RetryableError
from provisioner.manifest import DatabaseSpec
from provisioner.reports import Outcome

__all__ = ["ConnectionProvisioner", "reachable"]

log = structlog.get_logger(__name__)


def _spec(job: Job) -> DatabaseSpec:
    if job.spec is None:
        raise ValueError(f"job {job.name!r} ({job.kind}) carries no spec")
    return job.spec


def _target(job: Job) -> str:
    if job.connection_id is None:
        raise ValueError(f"job {job.name!r} ({job.kind}) names no connection")
    return job.connection_id


class ConnectionProvisioner:
    """Implements the pool's Provisioner protocol with a FlowClient."""

    def __init__(
        self,
        client: FlowClient,
        *,
        verify: bool = False,
        auth_form: AuthForm = AuthForm.CONNECTION_STRING,
    ) -> None:
        self._client = client
        self._verify = verify
        self._form = auth_form
        self._uncertain: set[EntryKey] = set()  # creates that may have landed unseen

    async def provision(self, job: Job, attempt: int) -> Provisioned:
        if job.kind is JobKind.DELETE:
            return await self._delete(job)
        if job.kind is JobKind.UPDATE:
            done = await self._update(job)
        else:
            done = await self._create(job)
        if self._verify and done.connection_id is not None:
            verified = await self._test(job, done.connection_id)
            done = dataclasses.replace(done, verified=verified)
        return done

    async def _create(self, job: Job) -> Provisioned:
        if job.key in self._uncertain:
            found = await lookup_name(self._client, sandbox=job.sandbox, name=job.name)
            decision = decide(found)
            if decision.action is Action.AMBIGUOUS:
                raise PermanentError(ambiguous_message(decision))
            if decision.action is Action.EXISTS:
                log.info("create_found_after_lost_answer", connection_id=decision.ids[0])
                return Provisioned(status=Outcome.CREATED, connection_id=decision.ids[0])
            self._uncertain.discard(job.key)
        try:
            created = await self._client.create_connection(
                connection_body(_spec(job), self._form), sandbox=job.sandbox
            )
        except RetryableError as exc:
            if exc.sent and exc.status != 429:
                self._uncertain.add(job.key)  # it may have landed: look before sending again
            raise
        return Provisioned(
            status=Outcome.CREATED,
            connection_id=created.id,
            http_status=created.status,
            request_id=created.request_id,
        )

    async def _update(self, job: Job) -> Provisioned:
        """PATCH under a fresh etag; on 412 (changed meanwhile) read it again and try once more."""
        connection_id = _target(job)
        for round_ in (1, 2):
            current = await self._client.get_connection(connection_id, sandbox=job.sandbox)
            if current is None or current.etag is None:
                raise PermanentError(f"connection {connection_id} is gone; cannot update it")
            conflict = form_conflict(current, self._form)
            if conflict is not None:  # PATCH sends the params of the connection's own form
                raise PermanentError(conflict, sent=False)
            ops = patch_ops(_spec(job), self._form)
            try:
                await self._client.patch_connection(
                    connection_id, sandbox=job.sandbox, etag=current.etag, ops=ops
                )
            except PermanentError as exc:
                if exc.status != 412 or round_ == 2:
                    raise
                log.info("etag_stale", connection_id=connection_id)
                continue
            break
        log.debug("entry_updated", connection_id=connection_id)
        return Provisioned(status=Outcome.UPDATED, connection_id=connection_id, http_status=200)

    async def _delete(self, job: Job) -> Provisioned:
        connection_id = _target(job)
        existed = await self._client.delete_connection(connection_id, sandbox=job.sandbox)
        if not existed:
            log.info("already_deleted", connection_id=connection_id)
        return Provisioned(
            status=Outcome.DELETED, connection_id=connection_id, http_status=204 if existed else 404
        )

    async def _test(self, job: Job, connection_id: str) -> bool | None:
        return await reachable(self._client, connection_id, sandbox=job.sandbox)


async def reachable(client: FlowClient, connection_id: str, *, sandbox: str) -> bool | None:
    """Whether Platform reaches the connection's database (``/test``), or None when the test
    itself failed: ``apply --verify`` asks it of each connection it made, ``explore`` of each
    connection whose tables it could not list. A failed test never fails the entry."""
    try:
        return await client.test_connection(connection_id, sandbox=sandbox)
    except EntryError as exc:
        log.warning("verify_failed", connection_id=connection_id, error=exc.message)
        return None
