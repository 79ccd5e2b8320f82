"""Running the CLI as a real process against an emulator served by the test's event loop."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass

from provisioner.emulator._server import RunningEmulator

CLI_ORG_ID = "CLI@AdobeOrg"


@dataclass(frozen=True)
class Finished:
    code: int
    stdout: str
    stderr: str


def cli_env(emu: RunningEmulator | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AEP_")}
    if emu is not None:
        env.update(
            AEP_PLATFORM_URL=emu.base_url,
            AEP_IMS_URL=emu.base_url,
            AEP_CLIENT_ID="cli-client",
            AEP_CLIENT_SECRET="cli-secret",
            AEP_ORG_ID=CLI_ORG_ID,
        )
    env.setdefault("DB_PASSWORD", "db-password")
    env.update(extra)
    return env


async def start_cli(
    *args: str,
    env: dict[str, str],
    stdout: int = asyncio.subprocess.PIPE,
    stderr: int = asyncio.subprocess.PIPE,
) -> asyncio.subprocess.Process:
    """``python -m provisioner ARGS`` started as a process of its own; by default stderr is
    piped (its log lines, to react to as they come)."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "provisioner",
        *args,
        env=env,
        stdout=stdout,
        stderr=stderr,
    )


async def run_cli(*args: str, env: dict[str, str]) -> Finished:
    proc = await start_cli(*args, env=env)
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return Finished(proc.returncode, out.decode(), err.decode())
