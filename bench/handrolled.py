"""The baseline: the least a script can do to create one connection per manifest entry.

``python bench/handrolled.py MANIFEST [--concurrency 32]``, with the same ``AEP_*`` variables
as ``provisioner apply``. It fetches one IMS token, then sends one ``POST /connections`` per
entry (same body shape as the tool) under a semaphore, and nothing else: no listing, no state,
no retries, no report, no logging. It prints one JSON line: ``{"created": N, "failed": N}``.

Only the manifest features the benchmark manifests use are understood: ``defaults``, a
``${VAR}`` password and a ``{name}`` description template.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
from typing import Final

import aiohttp
import yaml

ORACLE_SPEC: Final = {"id": "d6b52d86-f0f8-475f-89d4-ce54c8527328", "version": "1.0"}
SCOPES: Final = "openid,AdobeID,read_organizations,additional_info.projectedProductContext,session"
_VAR: Final = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expand(value: str) -> str:
    return _VAR.sub(lambda m: os.environ[m.group(1)], value)


def bodies(path: str) -> list[tuple[str, dict[str, object]]]:
    """(sandbox, body) per entry."""
    with open(path, encoding="utf-8") as handle:
        doc = yaml.load(handle.read(), Loader=yaml.CSafeLoader)
    defaults = doc.get("defaults") or {}
    out: list[tuple[str, dict[str, object]]] = []
    for raw in doc["databases"]:
        entry = {**defaults, **raw}
        target = f"Sid={entry['sid']}" if "sid" in entry else f"ServiceName={entry['service_name']}"
        conn = (
            f"Host={entry['host']};Port={entry['port']};{target};"
            f"User Id={entry['user']};Password={_expand(str(entry['password']))}"
        )
        body: dict[str, object] = {"name": entry["name"]}
        if "description" in entry:
            body["description"] = str(entry["description"]).format(**entry)
        body["auth"] = {"specName": "ConnectionString", "params": {"connectionString": conn}}
        body["connectionSpec"] = dict(ORACLE_SPEC)
        sandbox = entry.get("sandbox") or doc.get("sandbox") or "prod"
        out.append((sandbox, body))
    return out


async def fetch_token(session: aiohttp.ClientSession) -> str:
    form = {
        "grant_type": "client_credentials",
        "client_id": os.environ["AEP_CLIENT_ID"],
        "client_secret": os.environ["AEP_CLIENT_SECRET"],
        "scope": SCOPES,
    }
    url = os.environ["AEP_IMS_URL"] + "/ims/token/v3"
    async with session.post(url, data=form) as resp:
        resp.raise_for_status()
        token = (await resp.json())["access_token"]
    assert isinstance(token, str)
    return token


async def run(path: str, concurrency: int) -> dict[str, int]:
    jobs = bodies(path)
    url = os.environ["AEP_PLATFORM_URL"] + "/data/foundation/flowservice/connections"
    counts = {"created": 0, "failed": 0}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        headers = {
            "Authorization": "Bearer " + await fetch_token(session),
            "x-api-key": os.environ["AEP_CLIENT_ID"],
            "x-gw-ims-org-id": os.environ["AEP_ORG_ID"],
        }
        gate = asyncio.Semaphore(concurrency)

        async def create(sandbox: str, body: dict[str, object]) -> None:
            async with (
                gate,
                session.post(
                    url, json=body, headers={**headers, "x-sandbox-name": sandbox}
                ) as resp,
            ):
                await resp.read()
                counts["created" if resp.status == 201 else "failed"] += 1

        await asyncio.gather(*(create(sandbox, body) for sandbox, body in jobs))
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("manifest")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    counts = asyncio.run(run(args.manifest, args.concurrency))
    sys.stdout.write(json.dumps(counts) + "\n")
    return 0 if counts["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
