"""One room on every core (issue 15): a room's viewers spread over two cores of one server.

The server runs two cores with SHARD_MIN_VIEWERS=1, so from its second viewer on a room's
viewers go to the lighter core, where a shard of the room is fed by the owner core through a
ring. Instant start is off, so every viewer that joins needs a keyframe from the publisher:
a shard viewer decodes only if its keyframe request crossed back to the owner core and on to
the publisher. Real clients: an aiortc publisher; aiortc viewers and a headless Chromium
player page.
"""

import asyncio
import json
import re
import urllib.error
import urllib.request

import pytest

from harness import close_all, eventually, frames_decoded, page_url, room_name, run, save_json, start_publisher, \
    stop_page, wait_playing, node_slug
from livesfu_server import using_standin
from whep_client import WhepViewer

pytestmark = pytest.mark.skipif(using_standin(), reason="shards are livesfu's")

SHARDED = {"CORES": "2", "SHARD_MIN_VIEWERS": "1", "INSTANT_START_MAX_BYTES": "0", "ADMIN_TOKEN": "adm"}


def http_request(method, url, headers=None):
    req = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def raw_room(sfu, room: str) -> dict | None:
    status, body = sfu.get("/api/rooms")
    assert status == 200
    return next((r for r in json.loads(body)["rooms"] if r["name"] == room), None)


def metric(sfu, name: str, **labels) -> float:
    """The sum of `name`'s samples whose labels include `labels`."""
    status, body = sfu.get("/metrics")
    assert status == 200
    total = 0.0
    for line in body.decode().splitlines():
        m = re.match(r"^([a-z_]+)(\{[^}]*\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        have = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            total += float(m.group(3))
    return total


@pytest.mark.parametrize("sfu", [SHARDED], indirect=True)
def test_one_room_served_by_two_cores(browser, sfu, request):
    room = room_name(request)
    name = node_slug(request.node.name)

    async def body():
        pub = page = None
        viewers: list[WhepViewer] = []
        try:
            pub = await start_publisher(sfu.base_url, room)
            # First viewer: on the room's own core. Then the player page and another aiortc
            # viewer: the owner (a publisher and a viewer) is heavier, so both go to the other core.
            viewers.append(await WhepViewer(sfu.base_url, room).start())
            await viewers[0].wait_frames(video=10, timeout=20)
            page = await browser.open(page_url(sfu, "player.html", room=room), "player")
            await page.wait_for("document.readyState === 'complete' && window.livesfuState", 10, "page loaded")
            await page.evaluate("document.getElementById('play').click(), true")
            viewers.append(await WhepViewer(sfu.base_url, room).start())
            for v in viewers:
                await v.wait_frames(video=30, timeout=30)
            await wait_playing(page)

            r = raw_room(sfu, room)
            owner = r["core"]
            other = 1 - owner
            per_core = {int(k): v for k, v in r["viewers_per_core"].items()}
            assert per_core == {owner: 1, other: 2}, r
            assert r["viewers"] == 3, r
            # Each shard viewer's first keyframe came from the publisher, asked for through the ring.
            assert metric(sfu, "livesfu_shard_keyframe_requests_total") >= 1
            assert metric(sfu, "livesfu_core_ring_messages_total", **{"from": str(owner), "to": str(other)}) > 0
            assert metric(sfu, "livesfu_core_ring_drops_total") == 0
            assert metric(sfu, "livesfu_room_core_viewers", room=room, core=str(other)) == 2
            figures = {"room": r, "shard_packets": metric(sfu, "livesfu_shard_packets_total"),
                       "frames": [v.video_frames for v in viewers], "page_frames": await frames_decoded(page)}

            # A new publisher reaches both cores: every viewer decodes its frames.
            await close_all(pub)
            pub = None
            await eventually(lambda: raw_room(sfu, room)["publisher"] is None, 10, "the publisher left")
            before = [v.video_frames for v in viewers]
            page_before = await frames_decoded(page)
            pub = await start_publisher(sfu.base_url, room)
            for v, b in zip(viewers, before):
                await v.wait_frames(video=b + 30, timeout=30)
            await page.wait_for(f"(window.livesfuState.stats && window.livesfuState.stats.inbound.video "
                                f"&& window.livesfuState.stats.inbound.video.framesDecoded) > {page_before + 30}",
                                30, "the page decodes the new publisher")

            # The page's DELETE reaches its session on the shard core.
            assert await stop_page(page) == 200
            await eventually(lambda: raw_room(sfu, room)["viewers_per_core"].get(str(other)) == 1, 10,
                             "the page's session ended on its core")

            # Closing the room ends its viewers on both cores, and nothing is left anywhere.
            status, text = http_request("POST", f"{sfu.base_url}/api/admin/rooms/{room}/close",
                                   headers={"Authorization": "Bearer adm"})
            assert status == 200, (status, text)
            await eventually(lambda: all(v.pc.connectionState in ("closed", "failed") for v in viewers), 15,
                             "every viewer's connection closed")
            await eventually(lambda: raw_room(sfu, room) is None, 10, "the room is gone")
            await eventually(lambda: metric(sfu, "livesfu_sessions") == 0, 10, "no session on any core")
            figures["after_close_shard_packets"] = metric(sfu, "livesfu_shard_packets_total")
            save_json(f"{name}-figures.json", figures)
        finally:
            await close_all(*viewers, page, pub)

    run(body(), 150)
