"""The bodies of ``plan``, ``apply``, ``explore`` and ``rollback``: pick the target (Platform,
or an emulator started for the run), run, write the report and the metrics (``explore``: its
findings). Part of the command-line layer."""

from __future__ import annotations

import argparse
import asyncio
import io
import signal
import sys
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

import structlog

from provisioner import engine, reports  # the other commands' names: imported on first use
from provisioner.cli._exits import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from provisioner.cli._progress import make_observer
from provisioner.cli._sinks import metrics_sinks, publish_plan, publish_run
from provisioner.engine import ApplyRun, Run, RunOptions, is_postgres_url
from provisioner.errors import ConfigError, EntryError
from provisioner.manifest import Manifest
from provisioner.reports import (
    Report,
    check_writable,
    load_report,
    write_report,
    write_report_file,
)
from provisioner.secrets import Secret
from provisioner.settings import (
    DEFAULT_IMS_URL,
    DEFAULT_PLATFORM_URL,
    DEFAULT_SANDBOX,
    DEFAULT_SETTLE,
    Backoff,
    Credentials,
    Limits,
    Settings,
    Timeouts,
    check_url,
    credentials_from_env,
)

__all__ = [
    "apply_command",
    "explore_command",
    "plan_command",
    "rollback_command",
    "state_copy_command",
]

log = structlog.get_logger(__name__)

STATE_ENV: Final = "PROVISIONER_STATE"  # the state's path or URL when --state is not given
_EMULATOR_CLIENT: Final = "provisioner-emulator"
_EMULATOR_ORG: Final = "EMULATOR0000000000000000@AdobeOrg"


class Stoppable(Protocol):
    interrupted: bool

    @property
    def started_sending(self) -> bool: ...

    def stop(self, *, now: bool = False) -> None: ...


def _options(args: argparse.Namespace) -> RunOptions:
    return RunOptions(
        only=tuple(args.only),
        retry_failed=args.retry_failed,
        prune=getattr(args, "prune", False),
        verify=getattr(args, "verify", False),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class _Endpoint:
    platform_url: str
    ims_url: str
    credentials: Credentials
    target_key: str | None = None


def _settings(
    args: argparse.Namespace, base_dir: Path, env: Mapping[str, str], endpoint: _Endpoint
) -> Settings:
    state = (args.state or env.get(STATE_ENV, "")).strip()
    state_url = Secret(state) if is_postgres_url(state) else None
    if "://" in state and state_url is None:  # only the scheme is shown: the rest may be secret
        scheme = state.split("://", 1)[0]
        raise ConfigError(
            f"--state: {scheme}:// is not a state backend; use a SQLite path or a postgresql:// URL"
        )
    settle = getattr(args, "settle", DEFAULT_SETTLE)  # rollback has no --settle
    timeouts = Timeouts(request=args.timeout, settle=settle)
    if args.entry_deadline is not None:
        timeouts = Timeouts(request=args.timeout, entry=args.entry_deadline, settle=settle)
    return Settings(
        default_sandbox=env.get("AEP_SANDBOX", "").strip() or DEFAULT_SANDBOX,
        limits=Limits(concurrency=args.concurrency, rate=args.rate),
        timeouts=timeouts,
        backoff=Backoff(
            base=args.backoff_base, cap=args.backoff_cap, max_attempts=args.max_attempts
        ),
        state_path=Path(state)
        if state and not state_url
        else base_dir / ".provisioner" / "state.db",
        state_url=state_url,
        lock_wait=_lock_wait(args),
        report_path=getattr(args, "report", None),
        platform_url=endpoint.platform_url,
        ims_url=endpoint.ims_url,
        credentials=endpoint.credentials,
        target_key=endpoint.target_key,
        auth=getattr(args, "auth", "auto"),
    )


def _lock_wait(args: argparse.Namespace) -> float:
    wait: float = args.wait_lock
    if not 0 <= wait < float("inf"):
        raise ConfigError(f"--wait-lock must be a number of seconds >= 0, got {wait}")
    return wait


def state_copy_command(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """``state copy FROM [TO]``: every row and the fingerprint key, both directions; TO is
    ``PROVISIONER_STATE`` when not given (a URL there stays off the command line)."""
    destination = (args.destination or env.get(STATE_ENV, "")).strip()
    if not destination:
        raise ConfigError(f"state copy: give TO, or set {STATE_ENV}")
    done = engine.copy_state(args.source.strip(), destination)
    log.info(
        "state_copied",
        source=done.source,
        destination=done.destination,
        entries=done.entries,
        intents=done.intents,
    )
    sys.stdout.write(
        f"copied {done.entries} entries and {done.intents} intents"
        f" from {done.source} to {done.destination}\n"
    )
    return EXIT_OK


def _url(env: Mapping[str, str], name: str, default: str) -> str:
    return check_url(name, env.get(name, "").strip() or default)


@asynccontextmanager
async def _target(
    args: argparse.Namespace, base_dir: Path, env: Mapping[str, str]
) -> AsyncIterator[Settings]:
    """Settings for Platform, or for an emulator started here for the run (its data file,
    ``.provisioner/emulator.db`` beside the manifest, is the state's target)."""
    if not args.emulator:
        if args.emulator_region is not None:
            raise ConfigError("--emulator-region: only with --emulator (Platform has its region)")
        endpoint = _Endpoint(
            platform_url=_url(env, "AEP_PLATFORM_URL", DEFAULT_PLATFORM_URL),
            ims_url=_url(env, "AEP_IMS_URL", DEFAULT_IMS_URL),
            credentials=credentials_from_env(env),
        )
        yield _settings(args, base_dir, env, endpoint)
        return
    from provisioner.emulator import FaultPlan, Region, running_emulator  # only when asked for

    db = (base_dir / ".provisioner" / "emulator.db").resolve()
    db.parent.mkdir(parents=True, exist_ok=True)
    plan = FaultPlan(region=Region(args.emulator_region or Region.AZURE))
    async with running_emulator(plan, db) as emulator:
        log.info("emulator_started", url=emulator.base_url, db=str(db))
        endpoint = _Endpoint(
            platform_url=emulator.base_url,
            ims_url=emulator.base_url,
            credentials=Credentials(
                client_id=_EMULATOR_CLIENT,
                client_secret=Secret("emulator-secret"),
                org_id=_EMULATOR_ORG,
            ),
            target_key=f"emulator:{db}",
        )
        yield _settings(args, base_dir, env, endpoint)


@contextmanager
def _signals(run: Stoppable) -> Iterator[None]:
    """First SIGINT/SIGTERM: graceful stop. Second: cancel at once."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()

    def handle(signum: int) -> None:
        name = signal.Signals(signum).name
        if not run.interrupted:
            log.warning("stop_signal", signal=name)
            run.stop()
            return
        log.warning("stop_forced", signal=name)
        if run.started_sending:
            run.stop(now=True)  # cancel in-flight entries now; the report is still written
        elif task is not None:
            task.cancel()  # still listing: nothing was sent

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, handle, signum)
    try:
        yield
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def _write_outputs(report: Report, path: Path, fmt: str, hint: str) -> None:
    """The report file (in ``fmt``) and the text summary on stdout."""
    if fmt == "json":
        write_report_file(report, path)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8", newline="") as out:
            write_report(report, out, fmt)
    write_report(report, sys.stdout, "text", manifest_hint=hint)
    sys.stdout.write(f"Report: {path}\n")


async def apply_command(
    args: argparse.Namespace, manifest: Manifest, env: Mapping[str, str]
) -> int:
    sinks = metrics_sinks(args, env, command="apply")
    async with _target(args, manifest.path.parent, env) as settings:
        observer = make_observer(not args.no_progress, stream=sys.stderr)
        run = ApplyRun(manifest, settings, _options(args), observer=observer)
        check_writable(run.report_path)  # before anything is sent
        with _signals(run):
            report = await run.execute()
    _write_outputs(report, run.report_path, args.report_format, str(args.manifest))
    if run.interrupted:
        return await publish_run(report, EXIT_INTERRUPTED, sinks)
    return await publish_run(report, EXIT_OK if report.ok else EXIT_FAILED, sinks)


async def plan_command(args: argparse.Namespace, manifest: Manifest, env: Mapping[str, str]) -> int:
    sinks = metrics_sinks(args, env, command="plan")
    async with _target(args, manifest.path.parent, env) as settings:
        run = Run(engine.PlanStrategy(manifest, _options(args)), settings)
        try:
            rows = await run.execute()
        except EntryError:  # exit 1 (main says why); the gauges say so too
            await publish_plan(manifest, run, None, sinks)
            raise
    engine.write_plan(rows, sys.stdout)
    await publish_plan(manifest, run, rows, sinks)
    return EXIT_OK


def _explored(found: list[reports.Exploration], args: argparse.Namespace) -> None:
    """The findings to ``--output`` (atomically) or stdout; a one-line summary on stderr."""
    if args.output is not None:
        reports.write_exploration_file(found, args.output, args.format)
    else:
        if isinstance(sys.stdout, io.TextIOWrapper):  # UTF-8 whatever the locale says
            sys.stdout.reconfigure(encoding="utf-8")
        reports.write_exploration(found, sys.stdout, args.format)
        sys.stdout.flush()
    missed = [e for e in found if not e.explored]
    tables = sum(len(e.tables) for e in found)
    line = f"Explored {len(found) - len(missed)} of {len(found)} entries: {tables} tables"
    if missed:
        line += f"; not explored: {', '.join(e.name for e in missed[:3])}"
        line += f" and {len(missed) - 3} more" if len(missed) > 3 else ""
    where = f" -> {args.output}" if args.output is not None else ""
    sys.stderr.write(line + where + "\n")


async def explore_command(
    args: argparse.Namespace, manifest: Manifest, env: Mapping[str, str]
) -> int:
    if args.output is not None:
        check_writable(args.output, option="--output", what="the output")  # before any request
    options = engine.ExploreOptions(only=tuple(args.only), columns=args.columns)
    async with _target(args, manifest.path.parent, env) as settings:
        observer = make_observer(not args.no_progress, stream=sys.stderr, description="explore")
        run = engine.ExploreRun(manifest, settings, options, observer=observer)
        with _signals(run):
            found = await run.execute()
    _explored(found, args)
    if run.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if all(e.explored for e in found) else EXIT_FAILED


def _confirm(count: int, *, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise ConfigError("rollback deletes connections: add --yes to confirm (no terminal to ask)")
    sys.stdout.write(f"Delete these {count} connection(s)? [y/N] ")
    sys.stdout.flush()
    if sys.stdin.readline().strip().lower() not in ("y", "yes"):
        raise ConfigError("rollback cancelled; nothing was deleted")


async def rollback_command(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    report = load_report(args.report_file)
    jobs = engine.rollback_jobs(report)
    sys.stdout.write(f"Run {report.run_id} created {len(jobs)} connection(s):\n")
    for job in jobs:
        sys.stdout.write(f"  {job.name}  [{job.sandbox}]  {job.connection_id}\n")
    if not jobs:
        return EXIT_OK
    _confirm(len(jobs), yes=args.yes)
    base_dir = Path(report.manifest).parent
    if args.report is not None:
        check_writable(args.report)
    sinks = metrics_sinks(args, env, command="rollback")
    async with _target(args, base_dir, env) as settings:
        observer = make_observer(not args.no_progress, stream=sys.stderr, description="rollback")
        run = engine.rollback_run(report, settings, observer=observer)
        with _signals(run):
            undone = await run.execute()
    path = settings.report_path or base_dir / "reports" / f"{undone.run_id}.json"
    _write_outputs(undone, path, "json", report.manifest)
    code = EXIT_INTERRUPTED if run.interrupted else (EXIT_OK if undone.ok else EXIT_FAILED)
    return await publish_run(undone, code, sinks)
