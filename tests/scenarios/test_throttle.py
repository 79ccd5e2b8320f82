"""The adaptive rate against a rate-limited emulator (issue 5): few 429s, all created.

The created rate is reported by the benchmark, never asserted here as a time.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from provisioner.emulator._faults import FaultPlan
from provisioner.engine import ApplyRun, RunOptions
from provisioner.settings import Backoff
from tests.conftest import EmulatorFactory, make_settings
from tests.helpers import manifest, many


@pytest.mark.slow
async def test_rate_far_above_a_40_per_s_limit_without_retry_after_keeps_429s_under_5_percent(
    start_emulator: EmulatorFactory, tmp_path: Path
) -> None:
    plan = FaultPlan(rate_limit=40, retry_after=False)
    async with start_emulator(plan) as emu:
        settings = make_settings(
            emu,
            tmp_path,
            concurrency=32,
            rate=400,
            backoff=Backoff(base=0.05, cap=1.0, max_attempts=8),
        )
        run = ApplyRun(manifest(tmp_path, many(400)), settings, RunOptions())
        report = await run.execute()
        assert report.summary.created == 400
        assert len(emu.store.connections()) == 400
        share = emu.stats.throttled / emu.stats.total
        assert share <= 0.05, (emu.stats.throttled, emu.stats.total, run.pacer.rate)
