"""The results file (JSON) and the table in ``bench/README.md`` made from it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final, cast

__all__ = ["render_table", "update_readme", "write_results"]

_START: Final = "<!-- bench-results:start -->"
_END: Final = "<!-- bench-results:end -->"


def write_results(path: Path, results: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def _dict(value: object) -> dict[str, object]:
    return cast(dict[str, object], value) if isinstance(value, dict) else {}


def _num(value: object, fmt: str) -> str:
    return format(value, fmt) if isinstance(value, int | float) else "n/a"


def _range(case: dict[str, object], program: str) -> str:
    """`` (low-high)`` of a program's CPU per entry over the runs, when there are several."""
    span = _dict(case.get("cpu_ms_per_entry_range")).get(program)
    if not isinstance(span, list) or len(span) != 2 or span[0] == span[1]:
        return ""
    return f" ({_num(span[0], '.3f')}-{_num(span[1], '.3f')})"


def _throughput_rows(case: dict[str, object]) -> list[str]:
    med = _dict(case.get("median"))
    rows = []
    for program, figures in med.items():
        m = _dict(figures)
        rows.append(
            f"| {program} | {_num(m.get('wall_s'), '.2f')} s | "
            f"{_num(m.get('throughput_per_s'), '.0f')}/s "
            f"({_num(m.get('share_of_ideal'), '.0%')} of ideal) | "
            f"{_num(m.get('cpu_ms_per_entry'), '.3f')} ms{_range(case, program)} | "
            f"{_num(m.get('maxrss_mib'), '.1f')} MiB | "
            f"{_num(m.get('requests_per_entry'), '.4f')} |"
        )
    return rows


def _cpu_split_lines(split: dict[str, object]) -> list[str]:
    ours, theirs = _dict(split.get("provisioner")), _dict(split.get("handrolled"))
    ratios = _dict(split.get("ratio_provisioner_to_handrolled"))
    if not ours or not theirs:
        return []
    return [
        "**CPU split** (reported, no target; a run of one entry, same repetitions): start-up "
        f"{_num(ours.get('start_up_cpu_ms'), '.0f')} ms against "
        f"{_num(theirs.get('start_up_cpu_ms'), '.0f')} ms "
        f"({_num(ratios.get('start_up_cpu_ms'), '.2f')}x); each further entry "
        f"{_num(ours.get('cpu_ms_per_further_entry'), '.3f')} ms against "
        f"{_num(theirs.get('cpu_ms_per_further_entry'), '.3f')} ms "
        f"({_num(ratios.get('cpu_ms_per_further_entry'), '.2f')}x).",
        "",
    ]


def _outcomes(summary: dict[str, object]) -> str:
    shown = [f"{count} {name}" for name, count in summary.items() if name != "total" and count]
    return ", ".join(shown) or "none"


def _source_line(source: dict[str, object]) -> str:
    commit = str(source.get("commit", ""))[:10]
    dirty = " with uncommitted changes" if source.get("dirty") else ""
    return f"Measured: {source.get('measured')} ({commit}{dirty})." if commit else ""


def _timeline_text(case: dict[str, object]) -> str:
    timeline = _dict(case.get("timeline"))
    first = _dict(timeline.get("first_second"))
    later = _dict(timeline.get("after_first_second"))
    if not first:
        return ""
    return (
        f" ({first.get('throttled')} of {first.get('requests')} requests in the first second, "
        f"{later.get('throttled')} of {later.get('requests')} after it: "
        f"{_num(timeline.get('steady_share_429'), '.1%')})"
    )


def _machine_line(machine: dict[str, object]) -> str:
    return (
        f"Machine: {machine.get('nproc')} CPUs ({machine.get('cpu_model')}), "
        f"{_num(machine.get('memory_mib'), ',')} MiB RAM, {machine.get('os')}, "
        f"Python {machine.get('python')}; measured {machine.get('measured_at', '')}."
    )


def _pgstate_lines(case: dict[str, object]) -> list[str]:
    """The state backends' sentence, when the case ran."""
    if "median" not in case:
        return []
    m = _dict(case.get("median"))
    pg, sq = _dict(m.get("postgres")), _dict(m.get("sqlite"))
    r = _dict(case.get("ratio_postgres_to_sqlite"))
    return [
        f"**State backends**, the throughput case ({case.get('entries')} entries): apply with a "
        f"PostgreSQL state on loopback {_num(pg.get('wall_s'), '.2f')} s, "
        f"{_num(pg.get('cpu_ms_per_entry'), '.3f')} ms CPU/entry vs SQLite "
        f"{_num(sq.get('wall_s'), '.2f')} s, {_num(sq.get('cpu_ms_per_entry'), '.3f')} ms "
        f"(time {_num(r.get('wall_s'), '.3f')}x, CPU {_num(r.get('cpu_ms_per_entry'), '.3f')}x;"
        f" median of {case.get('repetitions')} runs each).",
        "",
    ]


def _pacing_rows(cases: dict[str, object]) -> list[str]:
    rows = []
    for name, raw in cases.items():
        case = _dict(raw)
        if "series" not in case:
            continue
        schedule = " -> ".join(
            f"{_num(step[1], 'g')}" for step in cast(list[list[float]], case.get("schedule"))
        )
        shares = cast(list[float], case.get("process_shares") or [])
        rows.append(
            f"| {name} | {schedule}/s | {case.get('processes')} | "
            f"{_num(case.get('window_s'), '.1f')} s | "
            f"{_num(case.get('mean_limit_per_s'), '.1f')}/s "
            f"| {_num(case.get('steady_goodput_share'), '.3f')} | "
            f"{' / '.join(f'{x:.2f}' for x in shares) if len(shares) > 1 else ''} | "
            f"{_num(case.get('share_429'), '.1%')} ({case.get('throttled')} of "
            f"{case.get('requests')}) |"
        )
    if not rows:
        return []
    return [
        "**Pacing** (no Retry-After, no added latency, `--rate 400 --concurrency 32`; the "
        "picture: `results/pacing.png`):",
        "",
        "| case | limit (10 s steps) | processes | run | mean limit | goodput | shares | 429s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
    ]


def _scale_rows(case: dict[str, object]) -> list[str]:
    if "rows" not in case:
        return []
    rows = [
        f"| {row.get('program')} | {_num(row.get('entries'), ',')} | "
        f"{_num(row.get('wall_s'), '.2f')} s | {_num(row.get('ms_per_entry'), '.3f')} ms | "
        f"{_num(row.get('cpu_ms_per_entry'), '.3f')} ms | "
        f"{_num(row.get('maxrss_mib'), '.1f')} MiB |"
        for row in (_dict(r) for r in cast(list[object], case["rows"]))
    ]
    return [
        f"**Scale** (no added latency, 32 in flight; medians of {case.get('repetitions')} runs "
        f"each): time per entry at the larger size "
        f"{_num(case.get('time_per_entry_growth'), '.3f')}x that at the smaller (CPU per entry "
        f"{_num(case.get('cpu_per_entry_growth'), '.3f')}x; the script's time per entry "
        f"{_num(case.get('handrolled_time_per_entry_growth'), '.3f')}x).",
        "",
        "| program | entries | wall | wall/entry | CPU/entry | peak RSS |",
        "| --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
    ]


def _instructions_lines(case: dict[str, object]) -> list[str]:
    ours, theirs = _dict(case.get("provisioner")), _dict(case.get("handrolled"))
    if "per_entry" not in ours or "per_entry" not in theirs:
        return []
    entries = cast(list[object], case.get("entries") or [])
    return [
        f"**Instructions** (valgrind's callgrind; runs of {' and '.join(map(str, entries))} "
        f"entries, {case.get('latency_ms')} ms per request; reported, no target): one more entry "
        f"costs provisioner {_num(ours.get('per_entry'), ',')} instructions, the script "
        f"{_num(theirs.get('per_entry'), ',')} ({_num(case.get('per_entry_ratio'), '.3f')}x); "
        f"start-up {_num(ours.get('start_up'), ',')} against {_num(theirs.get('start_up'), ',')}.",
        "",
    ]


def _phases_lines(case: dict[str, object]) -> list[str]:
    steps = _dict(case.get("steps"))
    if not steps:
        return []
    shown = ", ".join(
        f"{label} {_num(_dict(step).get('cpu_ms'), '.0f')} ms" for label, step in steps.items()
    )
    return [
        f"**Phases** (one run of {case.get('entries')} entries, {case.get('latency_ms')} ms per "
        f"request; reported, no target): {_num(case.get('cpu_ms'), '.0f')} ms of CPU; imports "
        f"{_num(case.get('imports_ms'), '.0f')} ms, {shown}. The rest is the requests.",
        "",
    ]


def render_table(results: dict[str, object]) -> str:
    """Markdown: the machine, the throughput table, the other cases, the targets."""
    cases = _dict(results.get("cases"))
    lines = [
        _machine_line(_dict(results.get("machine"))),
        _source_line(_dict(results.get("source"))),
        "",
    ]
    tp = _dict(cases.get("throughput"))
    if "median" in tp:
        lines += [
            f"**Throughput**: {tp.get('entries')} entries, {tp.get('concurrency')} in flight, "
            f"{tp.get('latency_ms')} ms per request "
            f"(ideal {_num(tp.get('ideal_per_s'), '.0f')}/s); "
            f"median of {tp.get('repetitions')} whole-process runs each.",
            "",
            "| program | wall | throughput | CPU/entry (runs: low-high) | peak RSS "
            "| requests/entry |",
            "| --- | --- | --- | --- | --- | --- |",
            *_throughput_rows(tp),
            "",
            *_cpu_split_lines(_dict(tp.get("cpu_split"))),
        ]
    lines += _instructions_lines(_dict(cases.get("instructions")))
    lines += _phases_lines(_dict(cases.get("phases")))
    for key in ("throttled", "throttled_latency"):
        th = _dict(cases.get(key))
        if "goodput_per_s" not in th:
            continue
        lines += [
            f"**429 case, {th.get('latency_ms')} ms latency**"
            f"{'' if key == 'throttled' else ' (reported, not a target)'}: "
            f"{th.get('entries')} entries, limit {th.get('rate_limit_per_s')}/s "
            f"without Retry-After: {_num(th.get('goodput_per_s'), '.1f')} created/s over the run "
            f"({_num(th.get('goodput_share_of_limit'), '.2f')} of the limit; "
            f"{_num(th.get('steady_goodput_share_of_limit'), '.2f')} without the initial burst), "
            f"429 share {_num(th.get('share_429'), '.1%')}{_timeline_text(th)}; "
            f"outcomes: {_outcomes(_dict(th.get('summary')))}.",
            "",
        ]
    lines += _pacing_rows(cases)
    lines += _scale_rows(_dict(cases.get("scale")))
    va = _dict(cases.get("validate"))
    if "net" in va:
        raw, net = _dict(va.get("median_raw")), _dict(va.get("net"))
        v, b = _dict(raw.get("validate")), _dict(raw.get("bare_parse"))
        nv, nb = _dict(net.get("validate")), _dict(net.get("bare_parse"))
        lines += [
            f"**validate**, {va.get('entries')} entries ({va.get('manifest_mib')} MiB): "
            f"raw {_num(v.get('wall_s'), '.3f')} s / {_num(v.get('maxrss_mib'), '.1f')} MiB vs "
            f"bare parse {_num(b.get('wall_s'), '.3f')} s / "
            f"{_num(b.get('maxrss_mib'), '.1f')} MiB; "
            f"net of start-up {_num(nv.get('wall_s'), '.3f')} s / "
            f"{_num(nv.get('maxrss_mib'), '.1f')} MiB vs {_num(nb.get('wall_s'), '.3f')} s / "
            f"{_num(nb.get('maxrss_mib'), '.1f')} MiB.",
            "",
        ]
    lines += _pgstate_lines(_dict(cases.get("pgstate")))
    lines += ["| target | measured | limit | result |", "| --- | --- | --- | --- |"]
    for raw_target in cast(list[object], results.get("targets") or []):
        t = _dict(raw_target)
        lines.append(
            f"| {t.get('name')} | {_num(t.get('measured'), '.3f')}{t.get('unit', '')} | "
            f"{t.get('op')} {t.get('limit')}{t.get('unit', '')} | {t.get('status')} |"
        )
    return "\n".join(lines)


def update_readme(readme: Path, table: str) -> bool:
    """Replace the text between the result markers; False when the markers are missing."""
    text = readme.read_text(encoding="utf-8")
    head, sep, rest = text.partition(_START)
    _, sep2, tail = rest.partition(_END)
    if not sep or not sep2:
        return False
    readme.write_text(f"{head}{_START}\n{table}\n{_END}{tail}", encoding="utf-8")
    return True
