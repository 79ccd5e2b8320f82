"""GET /connections: ``property`` filters, ``orderby``, ``limit``, ``count`` and paging.

The continuation token is opaque to clients: base64url JSON holding the filters, the order,
the page size and where the last page ended (keyset), so ``/connections?continuationToken=…``
alone continues the same query, as the spec's PageLink example shows.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Final

from aiohttp import web
from multidict import MultiMapping

from provisioner.emulator._connections import render_item
from provisioner.emulator._gateway import CALLER
from provisioner.emulator._responses import BAD_QUERY, LIMIT_WITH_COUNT, Refused, flow_error
from provisioner.emulator._runtime import EMULATOR_STATE
from provisioner.emulator._store import FILTER_FIELDS, Cursor, Filter, Order

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "ListQuery",
    "QueryError",
    "decode_token",
    "encode_token",
    "list_connections",
    "parse_list_query",
    "parse_property",
]

DEFAULT_PAGE_SIZE: Final = 100
MAX_PAGE_SIZE: Final = 1000
_ORDERS: Final = {
    "name": Order.NAME,
    "+name": Order.NAME,
    "-name": Order.NAME_DESC,
    "createdAt": Order.CREATED,
    "+createdAt": Order.CREATED,
    "-createdAt": Order.CREATED_DESC,
}


class QueryError(ValueError):
    """A list query that cannot be understood."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ListQuery:
    """One page request, after the continuation token (if any) was unpacked."""

    filters: tuple[Filter, ...] = ()
    order: Order = Order.CREATED
    limit: int = DEFAULT_PAGE_SIZE
    after: Cursor | None = None
    count: bool = False


def parse_property(text: str) -> Filter:
    """``field==a,b`` or ``field!=a,b``; the first operator splits (a value may hold ``==``)."""
    positions = [(text.find(op), op) for op in ("==", "!=") if op in text]
    if not positions:
        raise QueryError(f"property {text!r}: expected field==value or field!=value")
    at, op = min(positions)
    field = text[:at]
    if field not in FILTER_FIELDS:
        known = ", ".join(FILTER_FIELDS)
        raise QueryError(f"property {text!r}: cannot filter on {field!r} (known: {known})")
    return Filter(field=field, values=tuple(text[at + 2 :].split(",")), negate=op == "!=")


def _order(text: str) -> Order:
    # A literal '+' in a query string decodes to a space: accept "+name" sent unencoded.
    key = "+" + text[1:] if text.startswith(" ") else text
    order = _ORDERS.get(key)
    if order is None:
        raise QueryError(f"orderby {text!r}: expected name, +name, -name or (+/-)createdAt")
    return order


def _limit(text: str) -> int:
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise QueryError(f"limit {text!r}: expected a positive integer")
    return min(int(text), MAX_PAGE_SIZE)


def _count(text: str) -> bool:
    lowered = text.lower()
    if lowered not in ("true", "false"):
        raise QueryError(f"count {text!r}: expected true or false")
    return lowered == "true"


def encode_token(query: ListQuery, last: Cursor) -> str:
    """The opaque token for the page after ``last`` (URL-safe, no padding)."""
    data = {
        "f": [[f.field, f.negate, list(f.values)] for f in query.filters],
        "o": query.order.value,
        "l": query.limit,
        "s": last.seq,
        "n": last.name,
    }
    raw = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> ListQuery:
    """Unpack a token made by :func:`encode_token`; QueryError when it is not one."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        filters = tuple(
            Filter(field=str(field), negate=bool(negate), values=tuple(str(v) for v in values))
            for field, negate, values in data["f"]
        )
        if any(f.field not in FILTER_FIELDS for f in filters):
            raise QueryError("continuationToken: unknown filter field")
        after = Cursor(seq=int(data["s"]), name=str(data["n"]))
        limit = min(max(1, int(data["l"])), MAX_PAGE_SIZE)
        return ListQuery(filters=filters, order=Order(data["o"]), limit=limit, after=after)
    except (binascii.Error, ValueError, TypeError, KeyError) as exc:
        raise QueryError("continuationToken: not a token this service issued") from exc


def parse_list_query(query: MultiMapping[str]) -> ListQuery:
    """Read the query string; a continuation token carries the filters and order it was made for.

    Raises:
        QueryError: a malformed parameter.
    """
    count = _count(query["count"]) if "count" in query else False
    limit = _limit(query["limit"]) if "limit" in query else None
    token = query.get("continuationToken")
    if token:
        base = decode_token(token)
        return ListQuery(
            filters=base.filters,
            order=base.order,
            limit=limit or base.limit,
            after=base.after,
            count=count,
        )
    filters = tuple(parse_property(text) for text in query.getall("property", []))
    order = _order(query["orderby"]) if "orderby" in query else Order.CREATED
    return ListQuery(filters=filters, order=order, limit=limit or DEFAULT_PAGE_SIZE, count=count)


async def list_connections(request: web.Request) -> web.Response:
    """GET /connections: a page of items with ``_links.next`` while more remain."""
    if "limit" in request.query and request.query.get("count", "").lower() == "true":
        message = "Query parameters limit and count cannot be used together"
        raise Refused(flow_error(request, LIMIT_WITH_COUNT, message))
    try:
        query = parse_list_query(request.query)
    except QueryError as exc:
        raise Refused(flow_error(request, BAD_QUERY, str(exc))) from None
    caller = request[CALLER]
    state = request.app[EMULATOR_STATE]
    store = state.store
    filters = query.filters
    unlisted = state.listing.unlisted()
    if unlisted:  # --list-lag: creates too recent to be listed yet
        filters = (*filters, Filter(field="id", values=unlisted, negate=True))
    if query.count:
        total = store.count(caller.org, caller.sandbox, filters=filters)
        return web.json_response({"count": total})
    rows = store.page(
        caller.org,
        caller.sandbox,
        filters=filters,
        order=query.order,
        after=query.after,
        limit=query.limit + 1,
    )
    body: dict[str, object] = {"items": [render_item(row) for row in rows[: query.limit]]}
    if len(rows) > query.limit:
        last = rows[query.limit - 1]
        token = encode_token(query, Cursor(seq=last.seq, name=last.name))
        body["_links"] = {"next": {"href": f"/connections?continuationToken={token}"}}
    return web.json_response(body)
