"""Command line: argparse -> Settings -> asyncio.run(...) -> exit code.

The only place errors become text and exit codes: 0 all ok, 1 some entries failed or were
skipped, 2 invalid manifest/configuration/usage (nothing sent), 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from provisioner import (
    __version__,
    importers,  # the conversion: imported when an import runs
)
from provisioner.cli import _gctune as gctune
from provisioner.cli._commands import (
    apply_command,
    explore_command,
    plan_command,
    rollback_command,
    state_copy_command,
)
from provisioner.cli._exits import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from provisioner.cli._logs import LEVELS, configure_logging, default_log_format
from provisioner.emulator import Region, add_emulator_arguments, plan_from_args
from provisioner.errors import EntryError, ManifestError, ProvisionerError
from provisioner.importers import add_import_arguments
from provisioner.manifest import describe_manifest, load_manifest, manifest_schema
from provisioner.reports import EXPLORE_FORMATS, FORMATS, load_report, write_report
from provisioner.settings import (
    AUTH_MODES,
    DEFAULT_BACKOFF_BASE,
    DEFAULT_BACKOFF_CAP,
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_RATE,
    DEFAULT_SANDBOX,
    DEFAULT_SETTLE,
    DEFAULT_TIMEOUT,
    environment,
)

__all__ = ["build_parser", "main"]


def _target_options(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--emulator", action="store_true", help="target an emulator started in-process")
    add("--emulator-region", choices=[r.value for r in Region], default=None,
        help="with --emulator: where the emulated org is hosted (azure offers the "
        "ConnectionString auth form, aws Basic Authentication) [azure]")  # fmt: skip
    add("--concurrency", type=int, default=DEFAULT_CONCURRENCY, metavar="N")
    add("--rate", type=float, default=DEFAULT_RATE, metavar="R", help="requests/s at most")
    add("--max-attempts", type=int, default=DEFAULT_MAX_ATTEMPTS, metavar="N")
    add("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="S", help="per HTTP request")
    add("--entry-deadline", type=float, default=None, metavar="S", help="per entry, all tries")
    add("--backoff-base", type=float, default=DEFAULT_BACKOFF_BASE, metavar="S")
    add("--backoff-cap", type=float, default=DEFAULT_BACKOFF_CAP, metavar="S")
    add("--state", default=None, metavar="PATH|URL", help="a SQLite file or a postgresql:// "
        "URL (default: env PROVISIONER_STATE, else .provisioner/state.db)")  # fmt: skip
    add("--wait-lock", type=float, default=0.0, metavar="S", help="wait up to S seconds for "
        "another run's lock (default: exit 2 at once)")  # fmt: skip
    add("--log-format", choices=("console", "json"), default=None)
    add("--log-level", choices=LEVELS, default="info")


def _manifest_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("manifest", type=Path, help="the YAML manifest")
    _target_options(parser)
    parser.add_argument("--only", action="append", default=[], metavar="NAME")
    parser.add_argument("--retry-failed", action="store_true")
    parser.add_argument(
        "--auth",
        choices=AUTH_MODES,
        default="auto",
        help="auth form of the Oracle spec to send; auto reads the org's spec [%(default)s]",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=DEFAULT_SETTLE,
        metavar="S",
        help="seconds a listing may lag a create: a create whose answer was lost is looked "
        "for that long before it is sent again [%(default)s]",
    )


def _add_explore(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    explore = sub.add_parser("explore", help="list the tables each entry's connection shows; "
                             "sends no write")  # fmt: skip
    explore.add_argument("manifest", type=Path, help="the YAML manifest")
    _target_options(explore)
    add = explore.add_argument
    add("--only", action="append", default=[], metavar="NAME", help="explore these entries only")
    add("--columns", action="store_true", help="also read each table's columns (JSON shows them)")
    add("--format", choices=EXPLORE_FORMATS, default="csv", help="output format [%(default)s]")
    add("--output", type=Path, default=None, metavar="PATH", help="write here, not to stdout")
    add("--no-progress", action="store_true")
    add("--auth", choices=AUTH_MODES, default="auto",
        help="accepted as for apply; explore sends no credentials: no effect")  # fmt: skip


def _metrics_options(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--metrics-file", type=Path, default=None, metavar="PATH",
        help="write Prometheus metrics (node_exporter textfile format)")  # fmt: skip
    add("--pushgateway", default=None, metavar="URL",
        help="push the metrics to this Pushgateway (env PROVISIONER_PUSHGATEWAY)")  # fmt: skip


def _add_run_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    plan = sub.add_parser("plan", help="dry run: what apply would do; sends no write")
    _manifest_options(plan)
    plan.add_argument("--no-progress", action="store_true", help="accepted as for apply; "
                      "plan draws no bar")  # fmt: skip
    _metrics_options(plan)
    apply = sub.add_parser("apply", help="create the base connections and write the report")
    _manifest_options(apply)
    apply.add_argument("--report", type=Path, default=None, metavar="PATH")
    apply.add_argument("--report-format", choices=tuple(FORMATS), default="json")
    apply.add_argument("--no-progress", action="store_true")
    _metrics_options(apply)
    apply.add_argument("--prune", action="store_true", help="delete connections this tool made "
                       "whose entries left the manifest")  # fmt: skip
    apply.add_argument("--verify", action="store_true", help="test each connection after it "
                       "is created or updated")  # fmt: skip
    _add_explore(sub)
    rollback = sub.add_parser("rollback", help="delete the connections a report says were created")
    rollback.add_argument("report_file", type=Path, metavar="REPORT")
    rollback.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    rollback.add_argument("--report", type=Path, default=None, metavar="PATH", help="its report")
    rollback.add_argument("--no-progress", action="store_true")
    _metrics_options(rollback)
    _target_options(rollback)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="provisioner",
        description="Bulk-create Adobe Experience Platform base connections for Oracle databases.",
    )
    parser.add_argument("--version", action="version", version=f"provisioner {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    validate = sub.add_parser("validate", help="check the manifest; sends nothing")
    validate.add_argument("manifest", type=Path)
    _add_run_commands(sub)
    report = sub.add_parser("report", help="render a report written earlier")
    report.add_argument("report", type=Path)
    report.add_argument("--format", choices=tuple(FORMATS), default="text")
    emulator = sub.add_parser("emulator", help="serve a local Flow Service + IMS")
    add_emulator_arguments(emulator)
    emulator.add_argument("--log-format", choices=("console", "json"), default=None)
    sub.add_parser("schema", help="print the manifest's JSON Schema")
    state = sub.add_parser("state", help="manage the state").add_subparsers(
        dest="state_command", required=True, metavar="ACTION"
    )
    copy = state.add_parser("copy", help="copy a state between SQLite and PostgreSQL")
    copy.add_argument("source", metavar="FROM", help="SQLite path or postgresql:// URL")
    copy.add_argument("destination", metavar="TO", nargs="?", default=None,
                      help="as FROM (default: env PROVISIONER_STATE)")  # fmt: skip
    importer = sub.add_parser("import", help="write a manifest from an inventory CSV/tnsnames.ora")
    add_import_arguments(importer)
    return parser


def _dispatch(args: argparse.Namespace) -> int:
    env = environment()
    command = args.command
    if command == "schema":
        sys.stdout.write(json.dumps(manifest_schema(), indent=2) + "\n")
    elif command == "report":
        write_report(load_report(args.report), sys.stdout, args.format)
    elif command == "import":
        result = importers.convert_inventory(
            args.source, password_env_prefix=args.password_env_prefix, fmt=args.format
        )
        for warning in result.warnings:
            sys.stderr.write(f"warning: {warning}\n")
        sys.stdout.write(result.text)
    elif command == "emulator":
        from provisioner.emulator import serve  # aiohttp.web only when serving

        plan = plan_from_args(args)
        asyncio.run(serve(args.host, args.port, plan, args.db))
    elif command == "state":
        return state_copy_command(args, env)
    elif command == "rollback":
        return asyncio.run(rollback_command(args, env))
    else:
        manifest = load_manifest(args.manifest, env=env)
        gctune.settle()
        if command == "validate":
            sandbox = env.get("AEP_SANDBOX", "").strip() or DEFAULT_SANDBOX
            sys.stdout.write(describe_manifest(manifest, default_sandbox=sandbox) + "\n")
            return EXIT_OK
        runners = {"apply": apply_command, "explore": explore_command}
        runner = runners.get(command, plan_command)
        return asyncio.run(runner(args, manifest, env))
    return EXIT_OK


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
    except EntryError as exc:  # the API failed outside any entry (e.g. plan's listing)
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_FAILED
    except ProvisionerError as exc:  # configuration, lock, credentials: nothing was sent
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_USAGE
    except (KeyboardInterrupt, asyncio.CancelledError):
        sys.stderr.write("interrupted\n")
        return EXIT_INTERRUPTED


def run() -> NoReturn:
    """The console script and ``python -m provisioner``: a process of our own, whose garbage
    collector is tuned for a batch run (``gctune``)."""
    gctune.for_batch()
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    run()
