"""Small helpers shared by the interop tests."""

import asyncio
import re
import time


def run(coro, timeout: float = 90.0):
    """Runs one test body in a fresh event loop, bounded in time."""
    async def bounded():
        return await asyncio.wait_for(coro, timeout)
    return asyncio.run(bounded())


def node_slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:80]


async def eventually(check, timeout: float, what: str, interval: float = 0.2):
    """Polls `check()` (sync) until it returns a truthy value; fails with `what` otherwise."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = await asyncio.to_thread(check)
        except AssertionError as exc:
            last = exc
        else:
            if last:
                return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s: {what} (last: {last!r})")
        await asyncio.sleep(interval)
