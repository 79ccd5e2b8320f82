"""Prometheus metrics of a run: gauges for node_exporter's textfile collector and a Pushgateway.

Every gauge is labelled ``manifest`` (the manifest file's stem). The exposition text comes from
``prometheus_client`` (a registry of our own per run), never from hand-written lines.
``provisioner_last_success_timestamp_seconds`` moves only when the run exits 0; otherwise the
value the sink already holds is written again (0 until the first success). A sink that fails
is a warning in the log: metrics never change a run's outcome or exit code.

prometheus_client is imported only inside the functions that build, write, push or parse gauges
(``new_registry``, ``manifest_gauge``, ``write_registry``, ``push_registry``,
``metric_families``; plan's gauges use them too): a run that asks for no metrics never imports it.
"""

from __future__ import annotations

import http.client
import json
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

import structlog

from provisioner.errors import ConfigError
from provisioner.reports._model import Outcome, Report

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Gauge, Metric

__all__ = [
    "JOB",
    "PUSH_TIMEOUT",
    "THROTTLED_STATUSES",
    "MetricsSinks",
    "RunMetrics",
    "check_metrics_file",
    "http_responses",
    "manifest_gauge",
    "metric_families",
    "metrics_registry",
    "new_registry",
    "publish_metrics",
    "publish_to",
    "push_metrics",
    "push_registry",
    "single_gauge",
    "write_metrics_file",
    "write_registry",
]

log = structlog.get_logger(__name__)

JOB: Final = "provisioner"  # the Pushgateway job; the group is keyed by ``manifest`` too
THROTTLED_STATUSES: Final = frozenset({429, 503})  # "slow down", as the client treats them
PUSH_TIMEOUT: Final = 10.0  # seconds per Pushgateway request
LAST_SUCCESS: Final = "provisioner_last_success_timestamp_seconds"
_PREFIX: Final = "provisioner_"
_PLAN_PREFIX: Final = _PREFIX + "plan_"  # plan's gauges (``_planmetrics``)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunMetrics:
    """What the gauges say about one run; any command can build one (``of`` for a Report).

    Attributes:
        manifest: the ``manifest`` label (the manifest file's stem).
        entries: this run's entries by (sandbox, status); for ``plan``, its rows by (sandbox,
            action), empty when no plan was made (the run failed: exit code 1).
        http_statuses: the answers the run got, by HTTP status.
    """

    manifest: str
    exit_code: int
    started_at: datetime
    finished_at: datetime
    entries: Mapping[tuple[str, str], int] = field(default_factory=dict, hash=False)
    http_statuses: Mapping[int, int] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "entries", MappingProxyType(dict(self.entries)))
        object.__setattr__(self, "http_statuses", MappingProxyType(dict(self.http_statuses)))

    @classmethod
    def of(cls, report: Report, *, exit_code: int) -> RunMetrics:
        """The metrics of a run's report: every outcome of each sandbox it touched is counted
        (0 included, so that a dashboard shows the zero)."""
        counts = Counter((r.sandbox, r.status.value) for r in report.results)
        entries = {
            (sandbox, outcome.value): counts[sandbox, outcome.value]
            for sandbox in sorted({r.sandbox for r in report.results})
            for outcome in Outcome
        }
        return cls(
            manifest=Path(report.manifest).stem,
            exit_code=exit_code,
            started_at=report.started_at,
            finished_at=report.finished_at,
            entries=entries,
            http_statuses=report.http_statuses,
        )

    @property
    def throttled(self) -> int:
        """How many answers said "slow down" (429 and 503)."""
        return sum(n for code, n in self.http_statuses.items() if code in THROTTLED_STATUSES)


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricsSinks:
    """Where the metrics go: a textfile (``--metrics-file``), a Pushgateway (``--pushgateway``)."""

    file: Path | None = None
    pushgateway: str | None = None


def new_registry() -> CollectorRegistry:
    """An empty registry of our own (not the process-wide default)."""
    from prometheus_client import CollectorRegistry

    return CollectorRegistry(auto_describe=True)


def write_registry(path: Path, registry: CollectorRegistry) -> None:
    """Replace ``path`` with the registry's exposition text (via a temporary file beside it)."""
    from prometheus_client import write_to_textfile

    write_to_textfile(str(path), registry)


def push_registry(
    url: str, registry: CollectorRegistry, grouping: Mapping[str, str], *, timeout: float
) -> None:
    """Replace the Pushgateway group (job ``provisioner`` and ``grouping``) with the registry."""
    from prometheus_client import push_to_gateway

    push_to_gateway(url, job=JOB, registry=registry, grouping_key=dict(grouping), timeout=timeout)


def metric_families(text: str) -> Iterable[Metric]:
    """The metric families of exposition ``text``, parsed as they are iterated (which raises
    ValueError where the text is not the exposition format: the parser's only complaint)."""
    from prometheus_client.parser import text_string_to_metric_families

    return text_string_to_metric_families(text)


def manifest_gauge(registry: CollectorRegistry, name: str, doc: str, *labels: str) -> Gauge:
    from prometheus_client import Gauge

    return Gauge(_PREFIX + name, doc, ["manifest", *labels], registry=registry)


def single_gauge(
    registry: CollectorRegistry, name: str, doc: str, manifest: str, value: float
) -> None:
    manifest_gauge(registry, name, doc).labels(manifest).set(value)


def http_responses(
    registry: CollectorRegistry, name: str, manifest: str, statuses: Mapping[int, int]
) -> None:
    """The gauge ``name`` of a run's HTTP answers, labelled by status ``code``."""
    responses = manifest_gauge(registry, name, "The last run's HTTP answers by status.", "code")
    for code, count in sorted(statuses.items()):
        responses.labels(manifest, str(code)).set(count)


def metrics_registry(run: RunMetrics, *, last_success: float | None) -> CollectorRegistry:
    """A registry holding the run's gauges. ``last_success`` is the value the sink holds now
    (None: none yet); it is replaced by this run's end when the run exited 0."""
    registry = new_registry()
    name = run.manifest
    finished = run.finished_at.timestamp()
    success = finished if run.exit_code == 0 else (last_success or 0.0)
    duration = max(0.0, (run.finished_at - run.started_at).total_seconds())
    single_gauge(registry, "last_run_timestamp_seconds", "When the last run ended.", name, finished)
    single_gauge(registry, "last_success_timestamp_seconds", "When the last run that exited 0 "
            "ended (0: none yet).", name, success)  # fmt: skip
    single_gauge(registry, "run_duration_seconds", "How long the last run took.", name, duration)
    single_gauge(registry, "run_exit_code", "The last run's exit code.", name, run.exit_code)
    entries = manifest_gauge(
        registry, "entries", "The last run's entries by status.", "sandbox", "status"
    )
    for (sandbox, status), count in sorted(run.entries.items()):
        entries.labels(name, sandbox, status).set(count)
    http_responses(registry, "http_responses", name, run.http_statuses)
    single_gauge(registry, "throttled_responses", "The last run's 429 and 503 answers.", name,
            run.throttled)  # fmt: skip
    return registry


def _success_in_text(text: str, manifest: str) -> float | None:
    for family in metric_families(text):
        for sample in family.samples:
            if sample.name == LAST_SUCCESS and sample.labels.get("manifest") == manifest:
                return float(sample.value)
    return None


def _success_in_file(path: Path, manifest: str) -> float | None:
    """The success time the textfile holds for ``manifest``; None when there is none (no file
    yet, or one that does not parse: it is replaced)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        return _success_in_text(text, manifest)
    except ValueError:  # not the exposition format: replaced (``check_metrics_file`` warned)
        return None


def write_metrics_file(run: RunMetrics, path: Path) -> None:
    """Write the run's gauges to ``path`` in node_exporter's textfile format: a temporary file
    beside it, then renamed over it (the collector never reads half a file).

    Raises:
        OSError: the file cannot be read back or written.
    """
    write_registry(path, metrics_registry(run, last_success=_success_in_file(path, run.manifest)))


def _group_value(group: object, manifest: str) -> float | None:
    if not isinstance(group, dict) or group.get("labels") != {"job": JOB, "manifest": manifest}:
        return None
    family = group.get(LAST_SUCCESS)
    samples = family.get("metrics") if isinstance(family, dict) else None
    if not isinstance(samples, list) or not samples or not isinstance(samples[0], dict):
        return None
    try:
        return float(samples[0].get("value", "0"))
    except (TypeError, ValueError):  # not the number the gateway documents: no known value
        return None


def _success_in_gateway(url: str, manifest: str, *, timeout: float) -> float | None:
    """The success time the Pushgateway's group (job, manifest) holds (its ``/api/v1/metrics``);
    None when the group or the gauge is not there."""
    with urllib.request.urlopen(url.rstrip("/") + "/api/v1/metrics", timeout=timeout) as resp:
        data = json.load(resp)
    groups = data.get("data") if isinstance(data, dict) else None
    for group in groups if isinstance(groups, list) else ():
        value = _group_value(group, manifest)
        if value is not None:
            return value
    return None


def push_metrics(run: RunMetrics, url: str, *, timeout: float = PUSH_TIMEOUT) -> None:
    """Replace the Pushgateway group (job ``provisioner``, ``manifest``) with the run's gauges.

    Raises:
        OSError: the Pushgateway cannot be reached or refused the push.
        ValueError: its answer to the read-back is not the JSON it documents.
    """
    last = _success_in_gateway(url, run.manifest, timeout=timeout)
    registry = metrics_registry(run, last_success=last)
    grouping = {"manifest": run.manifest}  # escaped by prometheus_client (base64 for a "/")
    push_registry(url, registry, grouping, timeout=timeout)


def _families_in(path: Path) -> Iterator[Metric]:
    """The metric families a textfile holds, as far as it parses; none when there is no file.
    A file that does not parse (all or part of it) is a ``metrics_file_unparsable`` warning:
    the run replaces it."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:  # none yet (one that cannot be read is a warning when it is written)
        return
    try:
        yield from metric_families(text)
    except ValueError:  # not the exposition format (the parser's only complaint)
        log.warning("metrics_file_unparsable", path=str(path))


def check_metrics_file(path: Path, *, command: str) -> None:
    """Refuse a ``--metrics-file`` that holds what the run would wipe out when it replaces
    the file: another exporter's metrics, or the other command's gauges (plan's in the file
    of apply or rollback, apply's in plan's). What a file holds before a line that does not
    parse is judged all the same. (Another manifest's gauges of the same command are replaced:
    one file per manifest, as the docs say.)

    Raises:
        ConfigError: naming the path and what it holds.
    """
    plan = command == "plan"
    for family in _families_in(path):
        name = family.name
        if not name.startswith(_PREFIX):
            why = "another exporter's metric"
        elif name.startswith(_PLAN_PREFIX) != plan:
            why = "an apply gauge" if plan else "a plan gauge"
        else:
            continue
        raise ConfigError(
            f"{path}: holds {name}, {why}; give {command}'s --metrics-file a file of its own"
            " (this run would replace what it holds)"
        )


def _reason(exc: Exception) -> str:
    reason = getattr(exc, "reason", None)  # urllib's URLError: the socket's complaint
    if reason is not None:
        return str(reason)
    return (exc.strerror if isinstance(exc, OSError) else None) or str(exc)


def publish_metrics(run: RunMetrics, sinks: MetricsSinks, *, timeout: float = PUSH_TIMEOUT) -> None:
    """Write the run's gauges to each sink. A failing sink is a ``metrics_*_failed`` warning;
    nothing is raised, so the run's outcome and exit code stay what they were."""
    publish_to(
        sinks,
        write=lambda path: write_metrics_file(run, path),
        push=lambda url: push_metrics(run, url, timeout=timeout),
    )


def publish_to(
    sinks: MetricsSinks, *, write: Callable[[Path], None], push: Callable[[str], None]
) -> None:
    """``write`` the textfile and ``push`` to the Pushgateway, each when it is asked for; a
    sink that fails is a ``metrics_*_failed`` warning, never an exception."""
    if sinks.file is not None:
        try:
            write(sinks.file)
        except OSError as exc:
            log.warning("metrics_file_failed", path=str(sinks.file), error=_reason(exc))
        else:
            log.info("metrics_written", path=str(sinks.file))
    if sinks.pushgateway is not None:
        try:
            push(sinks.pushgateway)
        except (OSError, ValueError, http.client.HTTPException) as exc:  # a broken answer too
            log.warning("metrics_push_failed", pushgateway=sinks.pushgateway, error=_reason(exc))
        else:
            log.info("metrics_pushed", pushgateway=sinks.pushgateway)
