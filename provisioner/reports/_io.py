"""The report's JSON form: Report <-> dict, reading a report file back, and writing one atomically.

The shape is the one in docs/contract.md ("Report"), plus ``summary.updated``,
``summary.not_selected``, ``summary.removed_duplicates`` and the result fields ``error_code``,
``verified``, ``request_id`` and ``removed_duplicates`` (a list of connection ids). Unknown
keys are ignored so that a newer report renders.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Final, TextIO

from provisioner.errors import ConfigError
from provisioner.reports._model import Outcome, Report, Result, Summary

__all__ = [
    "check_writable",
    "load_report",
    "report_from_dict",
    "report_to_dict",
    "write_atomically",
    "write_json",
    "write_report_file",
]

_SUMMARY_KEYS: Final = ("total", "created", "existing", "failed", "skipped")
_OUTCOME_VALUES: Final = frozenset(o.value for o in Outcome)
_OUTCOMES: Final = ", ".join(o.value for o in Outcome)
_MAX_ISSUES: Final = 20


def _result_to_dict(result: Result) -> dict[str, object]:
    return {
        "name": result.name,
        "sandbox": result.sandbox,
        "status": result.status.value,
        "connection_id": result.connection_id,
        "attempts": result.attempts,
        "http_status": result.http_status,
        "error": result.error,
        "duration_ms": result.duration_ms,
        "error_code": result.error_code,
        "verified": result.verified,
        "request_id": result.request_id,
        "removed_duplicates": list(result.removed_duplicates),
    }


def report_to_dict(report: Report) -> dict[str, object]:
    """The report as JSON-ready values, keys in the contract's order (``auth_form``, when
    known, is an addition of the second edition)."""
    data: dict[str, object] = {
        "run_id": report.run_id,
        "manifest": report.manifest,
        "started_at": report.started_at.isoformat(),
        "finished_at": report.finished_at.isoformat(),
    }
    if report.auth_form is not None:
        data["auth_form"] = report.auth_form
    data["summary"] = report.summary.as_dict()
    data["results"] = [_result_to_dict(r) for r in report.results]
    return data


# Between two results of the one-line list: a result is an object holding no other object,
# its first key is "name", and an unescaped quote never stands inside a JSON string, so this
# text is found nowhere else.
_BETWEEN: Final = '}, {"name": '
_ON_LINES: Final = '},\n    {"name": '


def write_json(report: Report, out: TextIO) -> None:
    """Write the report as JSON followed by a newline: the header indented, one result per
    line (readable and diffable). The results are encoded by one call of the C encoder (a
    call per result made a new encoder each time: twice the cost), then put on lines."""
    data = report_to_dict(report)
    results = data.pop("results")
    assert isinstance(results, list)
    head = json.dumps(data, indent=2, ensure_ascii=False)
    out.write(head[:-2] + ',\n  "results": [')
    if results:
        lines = json.dumps(results, ensure_ascii=False)[1:-1]
        out.write("\n    " + lines.replace(_BETWEEN, _ON_LINES))
    out.write("\n  ]\n}\n" if results else "]\n}\n")


def _describe(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "an array"
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


class _Checker:
    """Collects every problem found in one pass, each prefixed with the file and field."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.issues: list[str] = []

    def fail(self, where: str, expected: str, value: object) -> None:
        self.issues.append(f"{self.source}: {where}: expected {expected}, got {_describe(value)}")

    def mapping(self, value: object, where: str) -> Mapping[str, object] | None:
        if isinstance(value, Mapping):
            return value
        self.fail(where, "an object", value)
        return None

    def text(self, obj: Mapping[str, object], key: str, where: str, *, nullable: bool) -> str:
        value = obj.get(key)
        if isinstance(value, str) and (value or nullable):
            return value
        self.fail(f"{where}{key}", "a string" if nullable else "a non-empty string", value)
        return ""

    def count(self, obj: Mapping[str, object], key: str, where: str, *, default: int | None) -> int:
        value = obj.get(key, default)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        self.fail(f"{where}{key}", "a whole number >= 0", value)
        return 0

    def timestamp(self, obj: Mapping[str, object], key: str) -> datetime | None:
        value = obj.get(key)
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value)
            except ValueError:
                pass
        self.fail(key, "an ISO-8601 date and time", value)
        return None


def _optional_text(chk: _Checker, obj: Mapping[str, object], key: str, where: str) -> str | None:
    return chk.text(obj, key, where, nullable=True) if obj.get(key) is not None else None


def _http_status(chk: _Checker, obj: Mapping[str, object], where: str) -> int | None:
    value = obj.get("http_status")
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
        return value
    chk.fail(f"{where}http_status", "an HTTP status (100-599) or null", value)
    return None


def _verified(chk: _Checker, obj: Mapping[str, object], where: str) -> bool | None:
    value = obj.get("verified")
    if value is None or isinstance(value, bool):
        return value
    chk.fail(f"{where}verified", "true, false or null", value)
    return None


def _removed(chk: _Checker, obj: Mapping[str, object], where: str) -> tuple[str, ...]:
    value = obj.get("removed_duplicates", [])
    if isinstance(value, list) and all(isinstance(v, str) and v for v in value):
        return tuple(str(v) for v in value)
    chk.fail(f"{where}removed_duplicates", "an array of connection ids", value)
    return ()


def _status(chk: _Checker, obj: Mapping[str, object], where: str) -> Outcome:
    value = obj.get("status")
    if isinstance(value, str) and value in _OUTCOME_VALUES:
        return Outcome(value)
    chk.fail(f"{where}status", f"one of {_OUTCOMES}", value)
    return Outcome.SKIPPED


def _result_from(chk: _Checker, value: object, index: int) -> Result | None:
    where = f"results[{index}]"
    obj = chk.mapping(value, where)
    if obj is None:
        return None
    before = len(chk.issues)
    where += "."
    result = Result(
        name=chk.text(obj, "name", where, nullable=False),
        sandbox=chk.text(obj, "sandbox", where, nullable=False),
        status=_status(chk, obj, where),
        connection_id=_optional_text(chk, obj, "connection_id", where),
        attempts=chk.count(obj, "attempts", where, default=None),
        http_status=_http_status(chk, obj, where),
        error=_optional_text(chk, obj, "error", where),
        error_code=_optional_text(chk, obj, "error_code", where),
        duration_ms=chk.count(obj, "duration_ms", where, default=0),
        verified=_verified(chk, obj, where),
        request_id=_optional_text(chk, obj, "request_id", where),
        removed_duplicates=_removed(chk, obj, where),
    )
    return result if len(chk.issues) == before else None


def _check_summary(chk: _Checker, value: object, results: tuple[Result, ...]) -> int:
    """Check the counts against the results; return ``not_selected`` (which only the summary
    holds)."""
    obj = chk.mapping(value, "summary")
    if obj is None:
        return 0
    not_selected = chk.count(obj, "not_selected", "summary.", default=0)
    # Counts are compared only when every result was read: otherwise they cannot agree.
    comparable = not chk.issues
    actual = Summary.of(results, not_selected=not_selected).as_dict()
    optional = ("updated", "deleted", "removed_duplicates")
    keys = [*_SUMMARY_KEYS, *(k for k in optional if k in obj)]
    for key in keys:
        before = len(chk.issues)
        stated = chk.count(obj, key, "summary.", default=None)
        held = actual.get(key, 0)
        if comparable and len(chk.issues) == before and stated != held:
            chk.issues.append(
                f"{chk.source}: summary.{key}: says {stated} but the results hold {held}"
            )
    return not_selected


def _results_from(chk: _Checker, value: object) -> tuple[Result, ...]:
    if not isinstance(value, list):
        chk.fail("results", "an array", value)
        return ()
    found = (_result_from(chk, item, i) for i, item in enumerate(value))
    return tuple(r for r in found if r is not None)


def report_from_dict(data: object, *, source: str) -> Report:
    """Build a Report from decoded JSON, checking every field.

    Args:
        data: what ``json.load`` returned.
        source: the file name, used to say where a problem is.

    Raises:
        ConfigError: listing each bad field as ``source: results[3].status: expected …, got …``.
    """
    chk = _Checker(source)
    obj = chk.mapping(data, "report")
    if obj is None:
        raise ConfigError(chk.issues[0])
    run_id = chk.text(obj, "run_id", "", nullable=False)
    manifest = chk.text(obj, "manifest", "", nullable=False)
    auth_form = chk.text(obj, "auth_form", "", nullable=False) if "auth_form" in obj else None
    started_at = chk.timestamp(obj, "started_at")
    finished_at = chk.timestamp(obj, "finished_at")
    if started_at and finished_at and (started_at.tzinfo is None) != (finished_at.tzinfo is None):
        chk.issues.append(f"{source}: finished_at: one time has a time zone and the other not")
    results = _results_from(chk, obj.get("results"))
    not_selected = _check_summary(chk, obj.get("summary"), results)
    if chk.issues or started_at is None or finished_at is None:
        shown = chk.issues[:_MAX_ISSUES]
        if len(chk.issues) > _MAX_ISSUES:
            shown.append(f"{source}: … and {len(chk.issues) - _MAX_ISSUES} more problems")
        raise ConfigError("\n".join(shown))
    return Report(
        run_id=run_id,
        manifest=manifest,
        started_at=started_at,
        finished_at=finished_at,
        results=results,
        auth_form=auth_form,
        not_selected=not_selected,
    )


def load_report(path: Path) -> Report:
    """Read a report file written by ``write_report_file``.

    Raises:
        ConfigError: the file cannot be read, is not JSON, or is not a valid report.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"{path}: cannot read the report: {reason}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from exc
    return report_from_dict(data, source=str(path))


def check_writable(path: Path, *, what: str = "the report", option: str = "--report") -> None:
    """Fail before a run, not after it: ``path``'s folder can be made and written to.
    ``what`` and ``option`` name the file and its option in the message.

    Raises:
        ConfigError: naming the path and the reason.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        probe = path.with_name(f".{path.name}.{uuid.uuid4().hex}.probe")
        probe.touch(exist_ok=False)
        probe.unlink()
    except OSError as exc:
        reason = exc.strerror or exc
        raise ConfigError(f"{path}: cannot write {what} there: {reason}") from exc
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder; {option} takes a file path")


def write_report_file(report: Report, path: Path) -> None:
    """Write the report as JSON to ``path`` so that readers never see half a file
    (``write_atomically``).

    Raises:
        OSError: the directory or file cannot be written.
    """
    write_atomically(path, lambda out: write_json(report, out))


def write_atomically(
    path: Path,
    write: Callable[[TextIO], None],
    *,
    encoding: str = "utf-8",
    newline: str | None = None,
) -> None:
    """Write a text file so that readers never see half of it.

    The parent directories are created. ``write`` writes to a temporary file beside ``path``,
    which is flushed to disk and then renamed over ``path``. ``encoding`` and ``newline`` are
    ``open``'s (``utf-8-sig`` starts the file with a BOM; ``newline=""`` keeps ``\r\n``).

    Raises:
        OSError: the directory or file cannot be written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    # os.open with 0o666 lets the umask decide the mode, as for any file the user writes.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding=encoding, newline=newline) as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
