"""Small helpers shared by the interop tests."""

import asyncio
import io
import re
import time


def run(coro, timeout: float = 90.0):
    """Runs one test body in a fresh event loop, bounded in time. On timeout the body's
    await stack (and any other pending task's) goes into the failure message; the body is
    then cancelled, with a bound on its clean-up too."""
    async def bounded():
        task = asyncio.ensure_future(coro)
        done, _ = await asyncio.wait({task}, timeout=timeout)
        if task in done:
            return task.result()
        buf = io.StringIO()
        task.print_stack(file=buf)
        for other in asyncio.all_tasks():
            if other is not task and other is not asyncio.current_task():
                other.print_stack(limit=3, file=buf)
        task.cancel()
        await asyncio.wait({task}, timeout=15)
        raise AssertionError(f"test body timed out after {timeout}s; it was at:\n{buf.getvalue()[-6000:]}")
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
