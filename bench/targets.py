"""Targets: a measured figure against a limit, PASS or FAIL. Reported, never asserted."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Target", "format_targets"]

Op = Literal[">=", "<="]


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """``measured op limit``; ``measured`` is None when the case could not measure it."""

    case: str
    name: str
    measured: float | None
    op: Op
    limit: float
    unit: str = ""
    note: str = ""

    @property
    def passed(self) -> bool:
        if self.measured is None:
            return False
        return self.measured >= self.limit if self.op == ">=" else self.measured <= self.limit

    @property
    def status(self) -> str:
        return "PASS" if self.passed else "FAIL"

    def as_json(self) -> dict[str, object]:
        return {
            "case": self.case,
            "name": self.name,
            "measured": None if self.measured is None else round(self.measured, 4),
            "op": self.op,
            "limit": self.limit,
            "unit": self.unit,
            "status": self.status,
            "note": self.note,
        }


def _figure(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3f}{unit}"


def format_targets(targets: list[Target]) -> str:
    """One line per target: ``PASS  name  measured >= limit``."""
    width = max((len(t.name) for t in targets), default=0)
    lines = []
    for t in targets:
        figure = _figure(t.measured, t.unit)
        lines.append(f"{t.status}  {t.name:<{width}}  {figure} {t.op} {t.limit:g}{t.unit}")
    return "\n".join(lines)
