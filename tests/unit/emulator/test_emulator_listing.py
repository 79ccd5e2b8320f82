"""GET /connections on the emulator: property filters, ordering, count and paging."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from multidict import MultiDict

from provisioner.emulator import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    FaultPlan,
    RequestKind,
    RunningEmulator,
)
from provisioner.emulator._listing import (
    ListQuery,
    QueryError,
    decode_token,
    encode_token,
    parse_list_query,
    parse_property,
)
from provisioner.emulator._store import Cursor, Filter, Order
from tests.emulator_caller import EmulatorCaller, Reply, oracle_body, serving
from tests.helpers import js

CONNECTIONS = "/connections"
ODD_NAMES = ("a,b", "a", "b", "with space", "x&y=z", "1+1", "100%", 'it\'s "quoted"', "zoë ☃")


Served = tuple[RunningEmulator, EmulatorCaller, str]


@pytest.fixture
async def served_with_token() -> AsyncIterator[Served]:
    async with serving(FaultPlan()) as (emu, caller):
        yield emu, caller, await caller.access_token()


async def create_all(
    caller: EmulatorCaller, token: str, names: tuple[str, ...] | list[str]
) -> None:
    for name in names:
        reply = await caller.flow("POST", CONNECTIONS, token=token, json=oracle_body(name))
        assert reply.status == 201


async def names_of(caller: EmulatorCaller, token: str, *params: tuple[str, str]) -> list[str]:
    reply = await caller.flow("GET", CONNECTIONS, token=token, params=list(params))
    assert reply.status == 200, reply.body
    items = reply.field("items")
    assert isinstance(items, list)
    return [item["name"] for item in items]


def code_of(reply: Reply) -> str:
    return str(reply.field("type")).rsplit("/", 1)[-1]


async def test_filters_on_exact_names_with_unusual_characters(served_with_token: Served) -> None:
    _, caller, token = served_with_token
    await create_all(caller, token, ODD_NAMES)
    for name in ODD_NAMES:
        if "," in name:
            continue
        assert await names_of(caller, token, ("property", f"name=={name}")) == [name]


async def test_a_comma_means_or(served_with_token: Served) -> None:
    _, caller, token = served_with_token
    await create_all(caller, token, ODD_NAMES)
    found = await names_of(caller, token, ("property", "name==a,b"))
    assert found == ["a", "b"]  # the name "a,b" cannot be matched by a filter: it splits


async def test_not_equal_and_anded_properties(served_with_token: Served) -> None:
    _, caller, token = served_with_token
    await create_all(caller, token, ["one", "two", "three"])
    assert await names_of(caller, token, ("property", "name!=one,two")) == ["three"]
    both = await names_of(
        caller, token, ("property", "name==one,two"), ("property", "state==enabled")
    )
    assert both == ["one", "two"]
    none = await names_of(
        caller, token, ("property", "name==one"), ("property", "connectionSpec.id==other")
    )
    assert none == []


async def test_listing_is_scoped_to_the_sandbox(served_with_token: Served) -> None:
    _, caller, token = served_with_token
    await create_all(caller, token, ["mine"])
    reply = await caller.flow("GET", CONNECTIONS, token=token, headers={"x-sandbox-name": "dev"})
    assert reply.body == {"items": []}


async def test_orderby_name_both_ways(served_with_token: Served) -> None:
    _, caller, token = served_with_token
    await create_all(caller, token, ["b", "c", "a"])
    assert await names_of(caller, token) == ["b", "c", "a"]
    assert await names_of(caller, token, ("orderby", "name")) == ["a", "b", "c"]
    assert await names_of(caller, token, ("orderby", "+name")) == ["a", "b", "c"]
    assert await names_of(caller, token, ("orderby", "-name")) == ["c", "b", "a"]


async def test_count_only_and_not_with_limit(served_with_token: Served) -> None:
    _, caller, token = served_with_token
    await create_all(caller, token, ["a", "b", "b"])
    reply = await caller.flow(
        "GET", CONNECTIONS, token=token, params=[("count", "true"), ("property", "name==b")]
    )
    assert reply.body == {"count": 2}
    both = await caller.flow(
        "GET", CONNECTIONS, token=token, params=[("count", "true"), ("limit", "1")]
    )
    assert (both.status, code_of(both)) == (400, "FLOW-1401-400")


@pytest.mark.parametrize(
    "params",
    [
        [("property", "name")],
        [("property", "secret==x")],
        [("orderby", "size")],
        [("limit", "0")],
        [("limit", "many")],
        [("count", "maybe")],
        [("continuationToken", "not-a-token!")],
    ],
)
async def test_malformed_queries_are_400(
    served_with_token: Served, params: list[tuple[str, str]]
) -> None:
    _, caller, token = served_with_token
    reply = await caller.flow("GET", CONNECTIONS, token=token, params=params)
    assert (reply.status, code_of(reply)) == (400, "FLOW-1402-400")


async def test_paging_follows_relative_links_to_the_end(served_with_token: Served) -> None:
    emu, caller, token = served_with_token
    names = [f"db-{i:02d}" for i in range(7)] + ["other"]
    await create_all(caller, token, names)
    seen: list[str] = []
    params: list[tuple[str, str]] | None = [
        ("limit", "3"),
        ("orderby", "-name"),
        ("property", f"name=={','.join(names[:7])}"),
    ]
    path = CONNECTIONS
    pages = 0
    while True:
        reply = await caller.flow("GET", path, token=token, params=params)
        assert reply.status == 200
        items = reply.field("items")
        assert isinstance(items, list)
        seen += [item["name"] for item in items]
        pages += 1
        links = reply.field("_links")
        if links is None:
            break
        href = js(reply)["_links"]["next"]["href"]
        assert href.startswith("/connections?continuationToken=")
        path, params = href, None
    assert pages == 3
    assert seen == sorted(names[:7], reverse=True)
    assert emu.stats.requests[RequestKind.LIST] == 3


async def test_paging_is_stable_when_rows_are_added_between_pages(
    served_with_token: Served,
) -> None:
    _, caller, token = served_with_token
    await create_all(caller, token, ["a", "b", "c"])
    first = await caller.flow("GET", CONNECTIONS, token=token, params=[("limit", "2")])
    await create_all(caller, token, ["d"])
    href = js(first)["_links"]["next"]["href"]
    rest = await caller.flow("GET", href, token=token)
    assert [i["name"] for i in js(rest)["items"]] == ["c", "d"]
    assert rest.field("_links") is None


async def test_default_page_size_and_last_page_has_no_links(served_with_token: Served) -> None:
    _, caller, token = served_with_token
    await create_all(caller, token, ["only"])
    reply = await caller.flow("GET", CONNECTIONS, token=token)
    assert set(js(reply)) == {"items"}
    assert DEFAULT_PAGE_SIZE == 100


def test_property_splits_at_the_first_operator() -> None:
    assert parse_property("name==a==b,c") == Filter(field="name", values=("a==b", "c"))
    assert parse_property("state!=disabled") == Filter(
        field="state", values=("disabled",), negate=True
    )
    with pytest.raises(QueryError):
        parse_property("createdAt>=5")


def test_token_round_trips_the_query() -> None:
    query = ListQuery(
        filters=(Filter(field="name", values=("zoë", "a,b")),), order=Order.NAME_DESC, limit=7
    )
    token = encode_token(query, Cursor(seq=5, name="m"))
    assert token.replace("-", "").replace("_", "").isalnum()
    back = decode_token(token)
    assert (back.filters, back.order, back.limit) == (query.filters, query.order, 7)
    assert back.after == Cursor(seq=5, name="m")


async def test_unencoded_plus_in_orderby_means_ascending(served_with_token: Served) -> None:
    _, caller, token = served_with_token
    await create_all(caller, token, ["b", "a"])
    reply = await caller.flow("GET", CONNECTIONS + "?orderby=+name", token=token)
    assert [item["name"] for item in js(reply)["items"]] == ["a", "b"]


async def test_an_explicit_limit_overrides_the_token_page_size(served_with_token: Served) -> None:
    _, caller, token = served_with_token
    await create_all(caller, token, ["a", "b", "c", "d"])
    first = await caller.flow("GET", CONNECTIONS, token=token, params=[("limit", "1")])
    href = js(first)["_links"]["next"]["href"]
    rest = await caller.flow("GET", href + "&limit=10", token=token)
    assert [item["name"] for item in js(rest)["items"]] == ["b", "c", "d"]


def test_limit_is_capped_at_the_maximum_page_size() -> None:
    query = parse_list_query(MultiDict([("limit", "5000"), ("count", "FALSE")]))
    assert (query.limit, query.count) == (MAX_PAGE_SIZE, False)
    assert parse_list_query(MultiDict()).limit == DEFAULT_PAGE_SIZE


def test_tokens_with_unknown_fields_are_refused() -> None:
    forged = ListQuery(filters=(Filter(field="password", values=("x",)),))
    with pytest.raises(QueryError):
        decode_token(encode_token(forged, Cursor(seq=1)))
