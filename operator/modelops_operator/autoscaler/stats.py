"""What the autoscaler reads: each ready predictor pod's own stats (in flight, last
answer), fetched concurrently with a short timeout — no Prometheus server needed."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp

from modelops_contracts.serving import STATS_PATH, PodStats

TIMEOUT = aiohttp.ClientTimeout(total=1.0)


@dataclass(frozen=True)
class Reading:
    """The version's pods, summed: what decide() takes as its observation."""

    pods: int
    in_flight: float
    last_request: float


async def read(session: aiohttp.ClientSession, addresses: list[str], port: int) -> Reading:
    """The stats of the pods at ``addresses``; a pod that does not answer counts as ready
    with nothing in flight (it is starting or stopping)."""
    found = await asyncio.gather(*(_one(session, ip, port) for ip in addresses))
    stats = [s for s in found if s is not None and not s.draining]
    return Reading(
        pods=len(addresses),
        in_flight=float(sum(s.in_flight for s in stats)),
        last_request=max((s.last_request for s in stats), default=0.0),
    )


async def _one(session: aiohttp.ClientSession, ip: str, port: int) -> PodStats | None:
    try:
        async with session.get(f"http://{ip}:{port}{STATS_PATH}", timeout=TIMEOUT) as reply:
            if reply.status != 200:
                return None
            return PodStats.from_json(await reply.read())
    except (aiohttp.ClientError, TimeoutError, ValueError, KeyError):
        return None
