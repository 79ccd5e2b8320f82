"""auth.py: the IMS token cache (single flight, early refresh, invalidation) and headers."""

from __future__ import annotations

import asyncio

import pytest

from provisioner.aep._auth import ImsTokenCache, StaticToken, TokenGrant, request_headers
from provisioner.secrets import Secret
from provisioner.settings import Credentials


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeIms:
    """Hands out ``token-1``, ``token-2``, … and counts how often it was asked."""

    def __init__(self, *, expires_in: float = 3600.0) -> None:
        self.expires_in = expires_in
        self.calls = 0

    async def __call__(self) -> TokenGrant:
        self.calls += 1
        return TokenGrant(token=Secret(f"token-{self.calls}"), expires_in=self.expires_in)


async def test_many_concurrent_callers_share_one_fetch() -> None:
    waiters = 50
    arrived = 0
    all_waiting = asyncio.Event()
    fetches = 0

    async def fetch() -> TokenGrant:
        nonlocal fetches
        fetches += 1
        await all_waiting.wait()
        return TokenGrant(token=Secret("shared"), expires_in=3600.0)

    cache = ImsTokenCache(fetch, clock=FakeClock())

    async def caller() -> Secret:
        nonlocal arrived
        arrived += 1
        if arrived == waiters:
            all_waiting.set()
        # token() runs up to its lock (or the fetch) before yielding, so by the time the
        # last caller sets the event every earlier one is already waiting inside token().
        return await cache.token()

    tokens = await asyncio.gather(*(caller() for _ in range(waiters)))
    assert fetches == 1
    assert cache.fetches == 1
    assert {t.reveal() for t in tokens} == {"shared"}


async def test_cached_token_is_reused_without_fetching() -> None:
    ims = FakeIms()
    cache = ImsTokenCache(ims, clock=FakeClock())
    first = await cache.token()
    second = await cache.token()
    assert first == second
    assert ims.calls == 1


async def test_token_is_refreshed_shortly_before_it_expires() -> None:
    clock = FakeClock()
    ims = FakeIms(expires_in=3600.0)  # margin: min(300 s, 10% of 3600 s) = 300 s
    cache = ImsTokenCache(ims, clock=clock)
    assert (await cache.token()).reveal() == "token-1"
    clock.now += 3299.0
    assert (await cache.token()).reveal() == "token-1"
    clock.now += 1.0
    assert (await cache.token()).reveal() == "token-2"
    assert ims.calls == 2


async def test_short_lived_token_is_refreshed_at_ninety_percent_of_its_life() -> None:
    clock = FakeClock()
    ims = FakeIms(expires_in=100.0)
    cache = ImsTokenCache(ims, clock=clock)
    await cache.token()
    clock.now += 89.9
    assert (await cache.token()).reveal() == "token-1"
    clock.now += 0.1
    assert (await cache.token()).reveal() == "token-2"


async def test_day_long_token_is_refreshed_five_minutes_early() -> None:
    clock = FakeClock()
    ims = FakeIms(expires_in=86399.0)
    cache = ImsTokenCache(ims, clock=clock)
    await cache.token()
    clock.now += 86399.0 - 300.0 - 0.5
    assert (await cache.token()).reveal() == "token-1"
    clock.now += 0.5
    assert (await cache.token()).reveal() == "token-2"


async def test_invalidating_the_current_token_forces_a_new_fetch() -> None:
    ims = FakeIms()
    cache = ImsTokenCache(ims, clock=FakeClock())
    rejected = await cache.token()
    cache.invalidate(rejected)
    assert (await cache.token()).reveal() == "token-2"
    assert ims.calls == 2


async def test_invalidating_an_already_replaced_token_keeps_the_new_one() -> None:
    ims = FakeIms()
    cache = ImsTokenCache(ims, clock=FakeClock())
    old = await cache.token()
    cache.invalidate(old)
    new = await cache.token()
    cache.invalidate(old)  # a late 401 for a request that carried the old token
    assert await cache.token() == new
    assert ims.calls == 2


async def test_many_401s_for_the_same_token_cause_one_refresh() -> None:
    ims = FakeIms()
    cache = ImsTokenCache(ims, clock=FakeClock())
    rejected = await cache.token()

    async def after_401() -> Secret:
        cache.invalidate(rejected)
        return await cache.token()

    tokens = await asyncio.gather(*(after_401() for _ in range(20)))
    # Late 401s for the old token must not drop the token the first refresh brought.
    assert ims.calls == 2
    assert {t.reveal() for t in tokens} == {"token-2"}


async def test_failed_fetch_is_raised_and_not_cached() -> None:
    attempts = 0

    async def flaky() -> TokenGrant:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise RuntimeError("IMS down")
        return TokenGrant(token=Secret("ok"), expires_in=3600.0)

    cache = ImsTokenCache(flaky, clock=FakeClock())
    with pytest.raises(RuntimeError, match="IMS down"):
        await cache.token()
    assert (await cache.token()).reveal() == "ok"
    assert cache.fetches == 1


async def test_static_token_is_returned_as_is_and_never_dropped() -> None:
    token = Secret("ready-made")
    provider = StaticToken(token)
    provider.invalidate(token)
    assert await provider.token() is token


def test_request_headers_carry_token_client_org_and_sandbox() -> None:
    creds = Credentials(client_id="client-1", client_secret=Secret("s"), org_id="ORG@AdobeOrg")
    headers = request_headers(creds, Secret("tok-abc"), "hr-dev")
    assert headers == {
        "Authorization": "Bearer tok-abc",
        "x-api-key": "client-1",
        "x-gw-ims-org-id": "ORG@AdobeOrg",
        "x-sandbox-name": "hr-dev",
        "Accept": "application/json",
    }


def test_token_grant_does_not_show_the_token() -> None:
    grant = TokenGrant(token=Secret("tok-canary-91"), expires_in=10.0)
    assert "tok-canary-91" not in repr(grant)


async def test_a_failed_fetch_is_shared_by_every_waiter_not_repeated() -> None:
    from provisioner.errors import RetryableError

    calls = 0
    entered, release = asyncio.Event(), asyncio.Event()

    async def failing() -> TokenGrant:
        nonlocal calls
        calls += 1
        entered.set()
        await release.wait()
        raise RetryableError("IMS answered 503", status=503)

    cache = ImsTokenCache(failing)
    waiters = [asyncio.create_task(cache.token()) for _ in range(20)]
    await entered.wait()  # the first is fetching; the others queued on the lock before it
    release.set()
    outcomes = await asyncio.gather(*waiters, return_exceptions=True)
    assert calls == 1
    assert all(isinstance(o, RetryableError) for o in outcomes)

    async def working() -> TokenGrant:
        return TokenGrant(token=Secret("fresh"), expires_in=3600.0)

    cache._fetch = working  # the next call, after the failure, tries again
    assert (await cache.token()).reveal() == "fresh"
