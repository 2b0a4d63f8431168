"""Small helpers shared by the interop tests."""

import asyncio
import io
import itertools
import json
import os
import re
import time

from livesfu_server import ARTIFACTS
from whep_client import WhepViewer
from whip_client import WhipPublisher


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


# aiortc sources: 320x240 pattern at 30 fps, Opus 20 ms frames (50/s)
AIORTC_SIZE = (320, 240)
# Chromium's fake camera (INTEROP.md)
CHROMIUM_SIZE = (640, 480)

V_FRAMES = 30      # decoded video frames an aiortc viewer must reach (~1 s)
A_FRAMES = 50      # decoded audio frames (~1 s)
PAGE_FRAMES = 40   # player page framesDecoded (~2 s at 20 fps)
PAGE_AUDIO = 50    # player page audio packetsReceived (~1 s)
OK_DELETE = (200, 204)

_rooms = itertools.count(1)


def room_name(request) -> str:
    return f"r{next(_rooms)}-{node_slug(request.node.name)[:40]}".replace("[", "-").replace("]", "")


def page_url(sfu, page: str, **query) -> str:
    q = "&".join(f"{k}={v}" for k, v in query.items())
    return f"{sfu.base_url}/web/{page}" + (f"?{q}" if q else "")


async def room_gone(sfu, room: str, timeout: float = 10.0) -> None:
    await eventually(lambda: room not in sfu.rooms(), timeout, f"room {room} removed from /api/rooms")


PLAYING_JS = """(() => {
  const s = window.livesfuState && window.livesfuState.stats;
  const v = s && s.inbound.video, a = s && s.inbound.audio;
  return v && a && v.framesDecoded > %d && a.packets > %d ? s.inbound : null;
})()"""

SENDING_JS = """(() => {
  const s = window.livesfuState && window.livesfuState.state === 'connected' && window.livesfuState.stats;
  const v = s && s.outbound.video;
  return v && v.framesEncoded > 10 && v.codec ? s.outbound : null;
})()"""


async def wait_playing(page, frames: int = PAGE_FRAMES, audio: int = PAGE_AUDIO, timeout: float = 40.0) -> dict:
    return await page.wait_for(PLAYING_JS % (frames, audio), timeout,
                               f"player page: framesDecoded > {frames} and audio packets > {audio}")


async def frames_decoded(page) -> int:
    return await page.evaluate(
        "(window.livesfuState.stats && window.livesfuState.stats.inbound.video "
        "&& window.livesfuState.stats.inbound.video.framesDecoded) || 0")


async def stop_page(page) -> object:
    """Stop button semantics: DELETE then close; returns the DELETE status the page got."""
    await page.evaluate("window.livesfuStop()")
    return await page.evaluate("window.livesfuState.deleteStatus")


async def close_all(*things) -> None:
    """Stops clients, pages and helpers, each bounded in time, ignoring their errors."""
    for t in things:
        if t is None:
            continue
        try:
            await asyncio.wait_for(t.stop() if hasattr(t, "stop") else t.close(), 10)
        except Exception as exc:  # noqa: BLE001 — teardown, often of a failed test
            print(f"close_all: {type(t).__name__}: {type(exc).__name__} {exc}")


async def start_publisher(base_url: str, room: str, **options) -> WhipPublisher:
    """An aiortc publisher, started and connected; stopped again if it does not connect."""
    pub = await WhipPublisher(base_url, room, **options).start()
    try:
        await pub.wait_connected()
    except BaseException:
        await close_all(pub)
        raise
    return pub


async def open_publish_page(browser, sfu, room: str, tab: str = "publish", what: str = "publisher connected",
                            **query):
    """The publish page with autostart, once connected (`query` adds to its URL); closed
    again if it does not connect."""
    page = await browser.open(page_url(sfu, "publish.html", room=room, autostart=1, **query), tab)
    try:
        await page.wait_for("window.livesfuState.state === 'connected'", 30, what)
    except BaseException:
        await close_all(page)
        raise
    return page


async def start_room(base_url: str, room: str, viewers: int | list[str] = 1,
                     bundle: str = "max-bundle") -> tuple[WhipPublisher, list[WhepViewer]]:
    """A connected aiortc publisher, then aiortc viewers started one after the other: `viewers`
    of them on `base_url`, or one per server URL in the list (e.g. through a gateway). If any
    fails to start, those already started are stopped before the error goes on, since the
    caller never gets them to stop."""
    pub = await start_publisher(base_url, room, bundle=bundle)
    started: list[WhepViewer] = []
    try:
        for url in [base_url] * viewers if isinstance(viewers, int) else viewers:
            started.append(await WhepViewer(url, room, bundle=bundle).start())
    except BaseException:
        await close_all(*reversed(started), pub)
        raise
    return pub, started


def save_json(name: str, data) -> None:
    os.makedirs(ARTIFACTS, exist_ok=True)
    with open(os.path.join(ARTIFACTS, name), "w") as f:
        json.dump(data, f, indent=2, default=str)


async def assert_deleted(client) -> None:
    """Stops an aiortc client (DELETE, then close) and checks the DELETE's answer."""
    status = await client.stop()
    assert status in OK_DELETE, f"DELETE {client.location} answered {status} ({client.delete_error})"
