"""Command line: argparse -> Settings -> asyncio.run(...) -> exit code.

The only place errors become text and exit codes: 0 all ok, 1 some entries failed or were
skipped, 2 invalid manifest/configuration/usage (nothing sent), 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Final

import structlog

from provisioner import __version__
from provisioner.apply import ApplyRun, Selection
from provisioner.emulator.faults import FaultPlan
from provisioner.emulator.options import add_emulator_arguments, plan_from_args
from provisioner.emulator.server import running_emulator, serve
from provisioner.errors import ManifestError, ProvisionerError
from provisioner.logs import LEVELS, configure_logging, default_log_format
from provisioner.manifest import Manifest, describe_manifest, load_manifest, manifest_schema
from provisioner.plan import run_plan, write_plan
from provisioner.progress import make_observer
from provisioner.report_formats import FORMATS, write_report
from provisioner.reportio import load_report, write_report_file
from provisioner.secrets import Secret
from provisioner.settings import (
    DEFAULT_BACKOFF_BASE,
    DEFAULT_BACKOFF_CAP,
    DEFAULT_CONCURRENCY,
    DEFAULT_IMS_URL,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_PLATFORM_URL,
    DEFAULT_RATE,
    DEFAULT_SANDBOX,
    DEFAULT_TIMEOUT,
    Backoff,
    Credentials,
    Limits,
    Settings,
    Timeouts,
    check_url,
    credentials_from_env,
    environment,
)

__all__ = ["main"]

log = structlog.get_logger(__name__)

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
EXIT_INTERRUPTED: Final = 130
_EMULATOR_CLIENT: Final = "provisioner-emulator"
_EMULATOR_ORG: Final = "EMULATOR0000000000000000@AdobeOrg"


def _run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("manifest", type=Path, help="the YAML manifest")
    parser.add_argument("--emulator", action="store_true", help="target an in-process emulator")
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY, metavar="N")
    parser.add_argument("--rate", type=float, default=DEFAULT_RATE, metavar="R")
    parser.add_argument("--max-attempts", type=int, default=DEFAULT_MAX_ATTEMPTS, metavar="N")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="S")
    parser.add_argument("--entry-deadline", type=float, default=None, metavar="S")
    parser.add_argument("--backoff-base", type=float, default=DEFAULT_BACKOFF_BASE, metavar="S")
    parser.add_argument("--backoff-cap", type=float, default=DEFAULT_BACKOFF_CAP, metavar="S")
    parser.add_argument("--state", type=Path, default=None, metavar="PATH")
    parser.add_argument("--only", action="append", default=[], metavar="NAME")
    parser.add_argument("--retry-failed", action="store_true")


def _output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log-format", choices=("console", "json"), default=None)
    parser.add_argument("--log-level", choices=LEVELS, default="info")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="provisioner",
        description="Bulk-create Adobe Experience Platform base connections for Oracle databases.",
    )
    parser.add_argument("--version", action="version", version=f"provisioner {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    validate = sub.add_parser("validate", help="check the manifest; sends nothing")
    validate.add_argument("manifest", type=Path)
    _output_options(validate)
    plan = sub.add_parser("plan", help="dry run: what apply would do; sends no write")
    _run_options(plan)
    _output_options(plan)
    apply = sub.add_parser("apply", help="create the base connections and write the report")
    _run_options(apply)
    _output_options(apply)
    apply.add_argument("--report", type=Path, default=None, metavar="PATH")
    apply.add_argument("--report-format", choices=tuple(FORMATS), default="json")
    apply.add_argument("--no-progress", action="store_true")
    report = sub.add_parser("report", help="render a report written earlier")
    report.add_argument("report", type=Path)
    report.add_argument("--format", choices=tuple(FORMATS), default="text")
    emulator = sub.add_parser("emulator", help="serve a local Flow Service + IMS")
    add_emulator_arguments(emulator)
    _output_options(emulator)
    sub.add_parser("schema", help="print the manifest's JSON Schema")
    return parser


def _selection(args: argparse.Namespace) -> Selection:
    return Selection(only=tuple(args.only), retry_failed=args.retry_failed)


def _settings(
    args: argparse.Namespace,
    manifest: Manifest,
    env: Mapping[str, str],
    *,
    platform_url: str,
    ims_url: str,
    credentials: Credentials,
    target_key: str | None = None,
) -> Settings:
    state = args.state or manifest.path.parent / ".provisioner" / "state.db"
    timeouts = Timeouts(request=args.timeout)
    if args.entry_deadline is not None:
        timeouts = Timeouts(request=args.timeout, entry=args.entry_deadline)
    return Settings(
        default_sandbox=env.get("AEP_SANDBOX", "").strip() or DEFAULT_SANDBOX,
        limits=Limits(concurrency=args.concurrency, rate=args.rate),
        timeouts=timeouts,
        backoff=Backoff(
            base=args.backoff_base, cap=args.backoff_cap, max_attempts=args.max_attempts
        ),
        state_path=state,
        report_path=getattr(args, "report", None),
        platform_url=platform_url,
        ims_url=ims_url,
        credentials=credentials,
        target_key=target_key,
    )


def _url(env: Mapping[str, str], name: str, default: str) -> str:
    return check_url(name, env.get(name, "").strip() or default)


@asynccontextmanager
async def _target(
    args: argparse.Namespace, manifest: Manifest, env: Mapping[str, str]
) -> AsyncIterator[Settings]:
    """Settings for the real Platform, or for an emulator started here for the run."""
    if not args.emulator:
        yield _settings(
            args,
            manifest,
            env,
            platform_url=check_url(
                "AEP_PLATFORM_URL", env.get("AEP_PLATFORM_URL") or DEFAULT_PLATFORM_URL
            ),
            ims_url=check_url("AEP_IMS_URL", env.get("AEP_IMS_URL") or DEFAULT_IMS_URL),
            credentials=credentials_from_env(env),
        )
        return
    db = (manifest.path.parent / ".provisioner" / "emulator.db").resolve()
    db.parent.mkdir(parents=True, exist_ok=True)
    async with running_emulator(FaultPlan(), db) as emulator:
        log.info("emulator_started", url=emulator.base_url, db=str(db))
        yield _settings(
            args,
            manifest,
            env,
            platform_url=emulator.base_url,
            ims_url=emulator.base_url,
            credentials=Credentials(
                client_id=_EMULATOR_CLIENT,
                client_secret=Secret("emulator-secret"),
                org_id=_EMULATOR_ORG,
            ),
            target_key=f"emulator:{db}",
        )


@contextmanager
def _signals(run: ApplyRun) -> Iterator[None]:
    """First SIGINT/SIGTERM: graceful stop. Second: cancel at once."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()

    def handle(signum: int) -> None:
        if run.interrupted and task is not None:
            log.warning("stop_forced", signal=signal.Signals(signum).name)
            task.cancel()
            return
        log.warning("stop_signal", signal=signal.Signals(signum).name)
        run.stop()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, handle, signum)
    try:
        yield
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


async def _apply(args: argparse.Namespace, manifest: Manifest, env: Mapping[str, str]) -> int:
    async with _target(args, manifest, env) as settings:
        observer = make_observer(not args.no_progress, stream=sys.stderr)
        run = ApplyRun(manifest, settings, _selection(args), observer=observer)
        with _signals(run):
            report = await run.execute()
    path = run.report_path
    if args.report_format == "json" or args.report is None:
        write_report_file(report, path)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8", newline="") as out:
            write_report(report, out, args.report_format)
    write_report(report, sys.stdout, "text", manifest_hint=str(args.manifest))
    sys.stdout.write(f"Report: {path}\n")
    if run.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if report.ok else EXIT_FAILED


async def _plan(args: argparse.Namespace, manifest: Manifest, env: Mapping[str, str]) -> int:
    async with _target(args, manifest, env) as settings:
        rows, _ = await run_plan(manifest, settings, _selection(args))
    write_plan(rows, sys.stdout)
    return EXIT_OK


def _load(args: argparse.Namespace, env: Mapping[str, str]) -> Manifest:
    return load_manifest(args.manifest, env=env)


def _dispatch(args: argparse.Namespace) -> int:
    env = environment()
    command = args.command
    if command == "schema":
        sys.stdout.write(json.dumps(manifest_schema(), indent=2) + "\n")
        return EXIT_OK
    if command == "report":
        write_report(load_report(args.report), sys.stdout, args.format)
        return EXIT_OK
    if command == "emulator":
        asyncio.run(serve(args.host, args.port, plan_from_args(args), args.db))
        return EXIT_OK
    manifest = _load(args, env)
    if command == "validate":
        sandbox = env.get("AEP_SANDBOX", "").strip() or DEFAULT_SANDBOX
        sys.stdout.write(describe_manifest(manifest, default_sandbox=sandbox) + "\n")
        return EXIT_OK
    runner = _apply if command == "apply" else _plan
    return asyncio.run(runner(args, manifest, env))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help/--version (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    fmt = getattr(args, "log_format", None) or default_log_format(sys.stderr)
    configure_logging(fmt=fmt, level=getattr(args, "log_level", "info"))
    try:
        return _dispatch(args)
    except ManifestError as exc:
        sys.stderr.write(f"{exc}\n{len(exc.issues)} problem(s); nothing was sent.\n")
        return EXIT_USAGE
    except ProvisionerError as exc:  # configuration, lock, credentials: nothing was sent
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_USAGE
    except (KeyboardInterrupt, asyncio.CancelledError):
        sys.stderr.write("interrupted\n")
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
