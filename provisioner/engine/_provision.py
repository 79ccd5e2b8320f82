"""One attempt at one job against the Flow Service: create (looking first when an earlier
attempt's answer was lost), update under If-Match, delete; optionally test the connection."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Final

import structlog

from provisioner.aep import (
    AuthForm,
    FlowClient,
    JsonBody,
    Sleep,
    connection_body,
    encode_json,
    patch_ops,
)
from provisioner.engine._authform import form_conflict
from provisioner.engine._converge import foreign_message, judge_copies
from provisioner.engine._discover import lookup_name
from provisioner.engine._domain import EntryKey, Job, JobKind
from provisioner.engine._pool import Provisioned
from provisioner.errors import EntryError, PermanentError, RetryableError
from provisioner.manifest import DatabaseSpec
from provisioner.reports import Outcome

__all__ = ["ConnectionProvisioner", "answer_lost", "reachable"]

log = structlog.get_logger(__name__)

_GATEWAY_GAVE_UP: Final = frozenset({502, 504})  # the service may have gone on without it
_LOOKS_PER_SETTLE: Final = 10  # how often a lost create is looked for within the window


def answer_lost(exc: EntryError) -> bool:
    """The create may have landed although no answer said so: no answer at all (timeout,
    connection reset) or a gateway that stopped waiting. Such a create is looked for until the
    settle window has passed before it is sent again."""
    return exc.sent and (exc.status is None or exc.status in _GATEWAY_GAVE_UP)


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
        client_id: str = "",
        settle: float = 0.0,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._verify = verify
        self._form = auth_form
        self._client_id = client_id
        self._settle = settle
        self._sleep = sleep
        self._clock = clock
        # (sandbox, name) of creates that may have landed unseen -> when the answer was lost
        # (on the clock; -inf: an error answer, looked for once without waiting)
        self._uncertain: dict[EntryKey, float] = {}
        self._bodies: dict[EntryKey, JsonBody] = {}  # by ``encode_creates``

    def encode_creates(
        self, jobs: Iterable[Job], params: Mapping[EntryKey, dict[str, object]]
    ) -> None:
        """Encode the creates' bodies before the first create, in one pass, from each entry's
        ``params`` as the spec check checked them (every create must have been checked: a
        missing one is a KeyError). Each create then sends its body as is, however many
        attempts it takes."""
        form = self._form
        self._bodies = {
            job.key: encode_json(connection_body(job.spec, form, params=params[job.key]))
            for job in jobs
            if job.kind is JobKind.CREATE and job.spec is not None
        }

    async def provision(self, job: Job, attempt: int) -> Provisioned:
        if job.kind is JobKind.DELETE:
            return await self._delete(job)
        if job.kind is JobKind.UPDATE:
            done = await self._update(job)
        else:
            done = await self._create(job)
        if self._verify and done.connection_id is not None:
            verified = await self._test(job, done.connection_id)
            done = done._replace(verified=verified)
        return done

    def uncertain(self, sandbox: str, name: str) -> None:
        """A create of this entry may have landed unseen just now (an earlier run's, whose
        outcome was never recorded): look for it until the settle window has passed."""
        self._uncertain[EntryKey(sandbox, name)] = self._clock()

    async def _create(self, job: Job) -> Provisioned:
        """Create the job's connection, or find it (after an answer that may have been lost).
        Its encoded body is kept for another attempt after a retryable error, and dropped
        once the entry is done with it."""
        key = job.key
        try:
            since = self._uncertain.get(key)
            if since is not None:
                found = await self._look_until_settled(job, since)
                if found is not None:
                    self._bodies.pop(key, None)
                    return found
                del self._uncertain[key]
            body = self._bodies.get(key)  # None: not encoded beforehand (not from apply)
            try:
                created = await self._client.create_connection(
                    connection_body(_spec(job), self._form) if body is None else body,
                    sandbox=job.sandbox,
                )
            except RetryableError as exc:
                if exc.sent and exc.status != 429:  # it may have landed: look before resending
                    self._uncertain[key] = self._clock() if answer_lost(exc) else float("-inf")
                raise
        except RetryableError:
            raise
        except BaseException:
            self._bodies.pop(key, None)
            raise
        self._bodies.pop(key, None)
        return Provisioned(
            status=Outcome.CREATED,
            connection_id=created.id,
            http_status=created.status,
            request_id=created.request_id,
        )

    async def _look_until_settled(self, job: Job, since: float) -> Provisioned | None:
        """Look for the entry's connection (a listing by name) until one is found or the
        settle window since ``since`` has passed: a listing may lag a create by seconds, so
        one look that finds nothing proves nothing. None: not found, send it again."""
        poll = max(1.0, self._settle / _LOOKS_PER_SETTLE)
        while True:
            found = await lookup_name(self._client, sandbox=job.sandbox, name=job.name)
            if found:
                verdict = judge_copies(found, client_id=self._client_id)
                if verdict.foreign:
                    raise PermanentError(foreign_message(len(found), verdict.foreign))
                log.info("create_found_after_lost_answer", connection_id=verdict.keep)
                return Provisioned(status=Outcome.CREATED, connection_id=verdict.keep)
            remaining = since + self._settle - self._clock()
            if remaining <= 0:
                return None
            log.info("create_not_listed_yet", wait_s=round(min(remaining, poll), 3))
            await self._sleep(min(remaining, poll))

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
