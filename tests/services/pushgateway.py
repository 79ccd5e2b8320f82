"""A real Prometheus Pushgateway on loopback for the session (Debian's
``prometheus-pushgateway``), registered from tests/conftest.py with ``pytest_plugins``."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from typing import Any, Final

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.services.programs import missing, require_program

__all__ = [
    "Gauges",
    "free_port",
    "manifest_gauges",
    "pushed_groups",
    "pushgateway",
    "scraped_text",
]

PUSHGATEWAY: Final = "/usr/bin/prometheus-pushgateway"
START_TIMEOUT: Final = 20.0  # seconds for the gateway to answer /-/ready
_POLL: Final = 0.05


def free_port() -> int:
    """A loopback port nothing listens on (just now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/-/ready", timeout=1.0) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def _wait_ready(proc: subprocess.Popen[bytes], url: str) -> str | None:
    """None once the gateway answers; else why it did not (it exited, or took too long).
    Polls a real process start: bounded, no fixed sleep stands in for an event."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return f"exited with {proc.returncode}"
        if _ready(url):
            return None
        time.sleep(_POLL)
    return f"not ready after {START_TIMEOUT:.0f} s"


@pytest.fixture(scope="session")
def pushgateway() -> Iterator[str]:
    """The base URL of a Pushgateway started for this test session (fails in CI when it
    cannot start, skips elsewhere)."""
    program = require_program("prometheus-pushgateway", path=PUSHGATEWAY)
    url = f"http://127.0.0.1:{free_port()}"
    listen = url.removeprefix("http://")
    proc = subprocess.Popen(
        # Debian's build persists to /var/lib/prometheus by default: keep this one in memory.
        [program, f"--web.listen-address={listen}", "--persistence.file="],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        why = _wait_ready(proc, url)
        if why is not None:
            missing(f"the Pushgateway did not start ({why})")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


def pushed_groups(url: str) -> list[dict[str, Any]]:
    """The gateway's groups (``GET /api/v1/metrics``'s ``data``)."""
    with urllib.request.urlopen(url + "/api/v1/metrics", timeout=5.0) as resp:
        groups: list[dict[str, Any]] = json.load(resp)["data"]
        return groups


def scraped_text(url: str) -> str:
    """What Prometheus would scrape from the gateway (``/metrics``)."""
    with urllib.request.urlopen(url + "/metrics", timeout=5.0) as resp:
        return str(resp.read().decode("utf-8"))


Gauges = dict[tuple[str, frozenset[tuple[str, str]]], float]


def manifest_gauges(text: str, manifest: str) -> Gauges:
    """Our samples for ``manifest`` in exposition ``text``, by (name, labels), without the
    labels a scrape adds (job, instance)."""
    return {
        (s.name, frozenset((k, v) for k, v in s.labels.items() if k not in ("job", "instance"))): (
            s.value
        )
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("provisioner_") and s.labels.get("manifest") == manifest
    }
