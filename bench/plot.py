"""The pacing cases as a picture: successes/s of each process over time against the limit on
offer, 429s/s below them; one panel per case, one PNG (matplotlib's Agg backend, no display)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["plot_pacing"]


def _limit_steps(limit: list[list[float]], end: float) -> tuple[list[float], list[float]]:
    xs: list[float] = []
    ys: list[float] = []
    for i, (at, rate) in enumerate(limit):
        until = limit[i + 1][0] if i + 1 < len(limit) else end
        xs += [at, until]
        ys += [rate, rate]
    return xs, ys


def _panel(ax: Any, name: str, case: Mapping[str, Any]) -> None:
    series = case["series"]
    t = series["t"]
    end = t[-1] if t else 0.0
    xs, ys = _limit_steps(series["limit"], end)
    ax.plot(xs, ys, color="black", linewidth=1.5, label="limit")
    processes = int(case["processes"])
    total = [0.0] * len(t)
    throttled = [0.0] * len(t)
    for proc in range(processes):
        ok = series[f"ok_{proc}"]
        total = [a + b for a, b in zip(total, ok, strict=True)]
        throttled = [a + b for a, b in zip(throttled, series[f"throttled_{proc}"], strict=True)]
        if processes > 1:
            ax.step(t, ok, where="post", linewidth=1, label=f"process {proc + 1}")
    ax.step(t, total, where="post", color="tab:blue", linewidth=1.5,
            label="successes/s" if processes == 1 else "together")  # fmt: skip
    ax.bar(t, throttled, width=series["step_s"], align="edge", color="tab:red", alpha=0.6,
           label="429s/s")  # fmt: skip
    share = case.get("share_429")
    title = (
        f"{name}: goodput {case['steady_goodput_share']:.3f} of the limit, "
        f"429 share {share if share is None else f'{share:.1%}'}"
    )
    if processes > 1:
        title += ", shares " + " / ".join(f"{s:.2f}" for s in case["process_shares"])
    ax.set_title(title, fontsize=9)
    ax.set_ylabel("requests/s")
    ax.legend(fontsize=7, loc="upper right")
    ax.grid(alpha=0.3)


def plot_pacing(cases: Mapping[str, Mapping[str, Any]], out: Path) -> Path | None:
    """Write the figure to ``out``; None when no pacing case has a series."""
    named = {name: case for name, case in cases.items() if "series" in case}
    if not named:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(named), 1, figsize=(10, 2.6 * len(named)), squeeze=False)
    for ax, (name, case) in zip(axes[:, 0], named.items(), strict=True):
        _panel(ax, name, case)
    axes[-1, 0].set_xlabel("seconds since the first Flow request (answers per 0.5 s)")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out
