"""The Flow Service's objects as the client reads them: a connection, a create's answer,
a listing page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from provisioner.errors import PermanentError

__all__ = ["Connection", "Created", "connection_of", "page_of"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Connection:
    id: str
    name: str
    etag: str | None = None
    state: str | None = None
    description: str | None = None
    created_client: str | None = None  # the client id that created it (Platform's createdClient)
    auth_form: str | None = None  # auth.specName as the API shows it
    created_at: int | None = None  # epoch ms (Platform's createdAt)


class Created(NamedTuple):
    """A create's answer (a tuple: made once per entry, cheaply)."""

    id: str
    etag: str | None
    status: int
    request_id: str | None = None


def connection_of(item: object) -> Connection | None:
    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        return None
    name = item.get("name")
    return Connection(
        id=item["id"],
        name=name if isinstance(name, str) else "",
        etag=item.get("etag") if isinstance(item.get("etag"), str) else None,
        state=item.get("state") if isinstance(item.get("state"), str) else None,
        description=item.get("description") if isinstance(item.get("description"), str) else None,
        created_client=_text_or_none(item.get("createdClient")),
        auth_form=_auth_form(item.get("auth")),
        created_at=_int_or_none(item.get("createdAt")),
    )


def _auth_form(auth: object) -> str | None:
    return _text_or_none(auth.get("specName")) if isinstance(auth, dict) else None


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def page_of(body: object) -> tuple[list[object], str | None]:
    if not isinstance(body, dict):
        raise PermanentError("listing answered without an items list")
    items = body.get("items")
    if not isinstance(items, list):
        raise PermanentError("listing answered without an items list")
    links = body.get("_links")
    nxt = links.get("next") if isinstance(links, dict) else None
    href = nxt.get("href") if isinstance(nxt, dict) else None
    return items, href if isinstance(href, str) and href else None
