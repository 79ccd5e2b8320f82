"""The human summary of a run: entries, totals, failures grouped by cause, and what to do next."""

from __future__ import annotations

import shlex
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Final, TextIO

from provisioner.reports._model import Outcome, Report, Result

__all__ = ["TEXT_TABLE_LIMIT", "cause_of", "group_by_cause", "one_line", "write_text"]

TEXT_TABLE_LIMIT: Final = 50
"""Above this many entries, the table lists only the entries that did not end ok."""

_ERROR_WIDTH: Final = 60
_NAMES_SHOWN: Final = 3
_TIMES: Final = "\u00d7"  # the multiplication sign: "12 (times) FLOW-2120-403 ..."
_HEADER: Final = ("NAME", "SANDBOX", "STATUS", "CONNECTION ID", "ATTEMPTS", "ERROR")


def one_line(text: str) -> str:
    """The text on one line, with control characters (terminal escapes) shown as ``\\xNN``."""
    text = " ".join(text.split())
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)


def cause_of(result: Result) -> str:
    """The entry's error as one line, led by the API's error code when there is one."""
    message = one_line(result.error or "")
    code = one_line(result.error_code or "")
    if code and not message.startswith(code):
        message = f"{code} {message}".rstrip()
    return message or "(no error message)"


def group_by_cause(results: Iterable[Result]) -> list[tuple[str, list[str]]]:
    """(cause, entry names) pairs, the most frequent cause first."""
    groups: defaultdict[str, list[str]] = defaultdict(list)
    for result in results:
        groups[cause_of(result)].append(one_line(result.name))
    return sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _row(result: Result) -> tuple[str, ...]:
    return (
        one_line(result.name),
        one_line(result.sandbox),
        result.status.value,
        one_line(result.connection_id or "-"),
        str(result.attempts),
        "" if result.ok else _clip(cause_of(result), _ERROR_WIDTH),
    )


def _write_table(rows: Sequence[tuple[str, ...]], out: TextIO) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        out.write("  ".join(cells).rstrip() + "\n")


def _seconds(report: Report) -> str:
    try:
        seconds = (report.finished_at - report.started_at).total_seconds()
    except TypeError:  # one time zone-aware and the other not: no duration to show
        return ""
    if seconds < 60:
        return f" in {seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f" in {minutes} min {rest} s"


def _write_entries(report: Report, out: TextIO) -> None:
    results = report.results
    if not results:
        out.write("No entries.\n")
        return
    shown = results
    if len(results) > TEXT_TABLE_LIMIT:
        shown = tuple(r for r in results if not r.ok)
        out.write(f"Entries that did not end ok ({len(shown)} of {len(results)}):\n")
    if shown:
        _write_table([_HEADER, *(_row(r) for r in shown)], out)
    hidden = len(results) - len(shown)
    if hidden:
        out.write(f"{hidden} entries ended ok and are not listed; the JSON report has them all.\n")


def _write_totals(report: Report, out: TextIO) -> None:
    counts = Counter(r.status for r in report.results)
    parts = [
        f"{counts[outcome]} {outcome.value}"
        for outcome in Outcome
        if outcome not in (Outcome.UPDATED, Outcome.DELETED) or counts[outcome]
    ]
    summary = report.summary
    if summary.not_selected:
        parts.append(f"{summary.not_selected} not selected")
    if summary.removed_duplicates:
        parts.append(f"{summary.removed_duplicates} duplicates removed")
    out.write(f"\nTotals: {', '.join(parts)} ({len(report.results)} entries)\n")


def _write_removed(report: Report, out: TextIO) -> None:
    removed = [r for r in report.results if r.removed_duplicates]
    if not removed:
        return
    out.write("\nDuplicates removed (the oldest copy of each name kept):\n")
    for result in removed:
        ids = ", ".join(one_line(cid) for cid in result.removed_duplicates)
        kept = one_line(result.connection_id or "-")
        out.write(f"  {one_line(result.name)} [{one_line(result.sandbox)}]: {ids} (kept {kept})\n")


def _write_groups(title: str, results: list[Result], out: TextIO) -> None:
    if not results:
        return
    out.write(f"\n{title}:\n")
    for cause, names in group_by_cause(results):
        out.write(f"  {len(names)} {_TIMES} {cause}\n")
        listed = ", ".join(names[:_NAMES_SHOWN])
        more = len(names) - _NAMES_SHOWN
        out.write(f"      {listed}{f' and {more} more' if more > 0 else ''}\n")


def _write_next(report: Report, manifest: str, out: TextIO) -> None:
    summary = report.summary
    if not summary.failed and not summary.skipped:
        return
    quoted = shlex.quote(manifest)
    out.write("\nNext:\n")
    if summary.failed:
        out.write("  fix the causes above, then retry only the failed entries:\n")
        out.write(f"    provisioner apply {quoted} --retry-failed\n")
    if summary.skipped:
        out.write("  run again to finish the skipped entries (done ones are not created twice):\n")
        out.write(f"    provisioner apply {quoted}\n")


def write_text(report: Report, out: TextIO, *, manifest_hint: str | None = None) -> None:
    """Write the summary shown after ``apply``.

    Args:
        report: the run.
        out: where to write.
        manifest_hint: the manifest path as the user typed it, for the commands suggested
            under "Next"; ``report.manifest`` when not given.
    """
    out.write(
        f"Run {one_line(report.run_id)} on {one_line(report.manifest)}: "
        f"{len(report.results)} entries{_seconds(report)}\n"
    )
    if report.auth_form is not None:
        out.write(f"Auth form: {one_line(report.auth_form)}\n")
    out.write("\n")
    _write_entries(report, out)
    _write_totals(report, out)
    _write_removed(report, out)
    _write_groups(
        "Failed, by cause", [r for r in report.results if r.status is Outcome.FAILED], out
    )
    _write_groups(
        "Skipped, by reason", [r for r in report.results if r.status is Outcome.SKIPPED], out
    )
    _write_next(report, manifest_hint or report.manifest, out)
