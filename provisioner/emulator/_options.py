"""Command-line options of ``provisioner emulator`` (and ``python -m provisioner.emulator``)."""

from __future__ import annotations

import argparse
import math
from typing import Final

from provisioner.emulator._faults import (
    DEFAULT_HOST,
    DEFAULT_TOKEN_TTL,
    FaultPlan,
    LimitSchedule,
    Region,
    RequestKind,
    parse_limit_schedule,
)
from provisioner.errors import ConfigError

__all__ = ["DEFAULT_PORT", "add_emulator_arguments", "plan_from_args", "serve_from_args"]

DEFAULT_PORT: Final = 8080


def _kind_latency(text: str) -> tuple[str, float]:
    kind, sep, ms = text.partition("=")
    kinds = ", ".join(k.value for k in RequestKind)
    if not sep or kind not in {k.value for k in RequestKind}:
        raise argparse.ArgumentTypeError(f"expected KIND=MS with KIND one of {kinds}, got {text!r}")
    return kind, _non_negative(ms)


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _share(text: str) -> float:
    value = _non_negative(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"expected a share between 0 and 1, got {text!r}")
    return value


def _positive(text: str) -> float:
    value = _non_negative(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def _schedule(text: str) -> LimitSchedule:
    try:
        return parse_limit_schedule(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("emulator: ")) from None


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"expected a port 0-65535, got {text!r}")
    return int(text)


def _ttl(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected whole seconds >= 1, got {text!r}")
    return int(text)


def add_emulator_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the emulator's options. Destinations: host, port, db, and those of plan_from_args."""
    add = parser.add_argument
    add("--host", default=DEFAULT_HOST, help="address to listen on [%(default)s]")
    add("--port", type=_port, default=DEFAULT_PORT, help="port; 0 picks a free one [%(default)s]")
    add("--db", default=":memory:", help="SQLite file for the connections [%(default)s]")
    add("--latency-ms", type=_non_negative, default=0.0, help="delay every request by MS")
    add(
        "--latency",
        type=_kind_latency,
        action="append",
        default=[],
        metavar="KIND=MS",
        help="delay one kind of request (token, create, list, get, patch, delete, test, explore, "
        "spec)",
    )
    add("--rate-limit", type=_positive, default=None, help="Flow requests/s per org, then 429")
    add(
        "--limit-schedule",
        type=_schedule,
        default=(),
        metavar="T:RATE,...",
        help="a moving limit: RATE requests/s per org from second T (counted from the first "
        "Flow request) on, e.g. 0:50,10:15,20:80; instead of --rate-limit",
    )
    add("--rate-burst", type=_positive, default=None, help="token bucket size [rate limit]")
    add("--no-retry-after", dest="retry_after", action="store_false", help="429 sans Retry-After")
    add("--error-rate", type=_share, default=0.0, help="share of Flow requests answered 500/503")
    add("--reset-rate", type=_share, default=0.0, help="share of creates committed, then dropped")
    add("--token-ttl", type=_ttl, default=DEFAULT_TOKEN_TTL, help="token lifetime in seconds")
    add("--client-id", default=None, help="accept only this client id")
    add("--client-secret", default=None, help="accept only this client secret")
    add("--org", default=None, help="accept only this org (x-gw-ims-org-id)")
    add(
        "--unreachable-host",
        action="append",
        default=[],
        help="host whose /test is false and explore an error",
    )
    add(
        "--list-lag",
        type=_non_negative,
        default=0.0,
        metavar="S",
        help="listings show a new (or deleted) connection S seconds late; reads by id at once",
    )
    add(
        "--in-use",
        action="append",
        default=[],
        metavar="NAME",
        help="a connection created under NAME is used by a flow: deleting it answers FLOW-1418-400",
    )
    add("--seed", type=int, default=None, help="seed for --error-rate and --reset-rate")
    add(
        "--region",
        choices=[r.value for r in Region],
        default=Region.AZURE.value,
        help="hosting region: azure offers the ConnectionString auth form, aws Basic "
        "Authentication [%(default)s]",
    )


def plan_from_args(ns: argparse.Namespace) -> FaultPlan:
    """The FaultPlan the parsed options describe.

    Raises:
        ConfigError: a value the plan rejects.
    """
    return FaultPlan(
        latency_ms=ns.latency_ms,
        latency=dict(ns.latency),
        rate_limit=ns.rate_limit,
        limit_schedule=ns.limit_schedule,
        rate_burst=ns.rate_burst,
        retry_after=ns.retry_after,
        error_rate=ns.error_rate,
        reset_rate=ns.reset_rate,
        token_ttl=ns.token_ttl,
        client_id=ns.client_id,
        client_secret=ns.client_secret,
        org=ns.org,
        unreachable_hosts=frozenset(h.lower() for h in ns.unreachable_host),
        seed=ns.seed,
        region=Region(ns.region),
        list_lag=ns.list_lag,
        in_use_names=frozenset(ns.in_use),
    )


async def serve_from_args(ns: argparse.Namespace) -> None:
    """Serve as the parsed options say, until cancelled."""
    from provisioner.emulator._server import serve  # aiohttp.web only when serving

    await serve(ns.host, ns.port, plan_from_args(ns), ns.db)
