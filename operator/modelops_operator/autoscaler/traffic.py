"""What the activator counted per version (requests, 5xx, latency), summed over its pods:
the rollout analysis' input, read only while a Model has a rollout."""

from __future__ import annotations

import asyncio

import aiohttp

from modelops_contracts.serving import STATS_PATH, ActivatorStats, VersionTraffic

TIMEOUT = aiohttp.ClientTimeout(total=2.0)


async def read(
    session: aiohttp.ClientSession, addresses: list[str], port: int
) -> dict[tuple[str, str], VersionTraffic]:
    """Every version's counters, summed over the activator pods that answered."""
    found = await asyncio.gather(*(_one(session, ip, port) for ip in addresses))
    total: dict[tuple[str, str], VersionTraffic] = {}
    for stats in found:
        for v in stats.versions if stats else ():
            key = (v.namespace, v.version)
            seen = total.get(key)
            total[key] = v if seen is None else _sum(seen, v)
    return total


def _sum(a: VersionTraffic, b: VersionTraffic) -> VersionTraffic:
    counts = tuple(x + y for x, y in zip(a.latency_counts, b.latency_counts, strict=False))
    return VersionTraffic(a.namespace, a.version, a.requests + b.requests, a.errors + b.errors,
                          counts or a.latency_counts or b.latency_counts, a.held + b.held,
                          a.wakes + b.wakes)  # fmt: skip


async def _one(session: aiohttp.ClientSession, ip: str, port: int) -> ActivatorStats | None:
    try:
        async with session.get(f"http://{ip}:{port}{STATS_PATH}", timeout=TIMEOUT) as reply:
            if reply.status != 200:
                return None
            return ActivatorStats.from_json(await reply.read())
    except (aiohttp.ClientError, TimeoutError, ValueError, KeyError):
        return None
