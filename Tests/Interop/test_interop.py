"""End-to-end interop: real, independent WebRTC stacks (aiortc from PyPI, Debian's headless
Chromium) publish over WHIP and play over WHEP through the server under test, on 127.0.0.1.

The server is livesfu (`LIVESFU_BIN`), or the aiortc stand-in when LIVESFU_STANDIN=1.
"""

import asyncio
import itertools
import json
import os

import pytest

from harness import eventually, node_slug, run
from livesfu_server import ARTIFACTS
from whep_client import WhepViewer
from whip_client import WhipPublisher

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
    for t in things:
        if t is None:
            continue
        try:
            if hasattr(t, "stop"):
                await t.stop()
            else:
                await t.close()
        except Exception:  # noqa: BLE001 — teardown of a failed test
            pass


def save_json(name: str, data) -> None:
    os.makedirs(ARTIFACTS, exist_ok=True)
    with open(os.path.join(ARTIFACTS, name), "w") as f:
        json.dump(data, f, indent=2, default=str)


# ---------------------------------------------------------------------------- aiortc only

def test_aiortc_publisher_reaches_two_aiortc_viewers(sfu, request):
    room = room_name(request)

    async def body():
        pub = v1 = v2 = None
        try:
            pub = await WhipPublisher(sfu.base_url, room).start()
            await pub.wait_connected()
            v1 = await WhepViewer(sfu.base_url, room).start()
            v2 = await WhepViewer(sfu.base_url, room).start()
            await asyncio.gather(v1.wait_frames(V_FRAMES, A_FRAMES, 30), v2.wait_frames(V_FRAMES, A_FRAMES, 30))
            for v in (v1, v2):
                assert v.video_size == AIORTC_SIZE
            info = sfu.rooms()[room]
            assert info["publisher"] and info["viewers"] == 2, info
            assert await v1.stop() in OK_DELETE
            assert await v2.stop() in OK_DELETE
            assert await pub.stop() in OK_DELETE
            pub = v1 = v2 = None
            await room_gone(sfu, room)
        finally:
            await close_all(v1, v2, pub)

    run(body(), 90)


def test_balanced_bundle_policy_publisher_and_viewer(sfu, request):
    """aiortc's default bundle policy offers one transport per m-line; it must still work."""
    room = room_name(request)

    async def body():
        pub = v = None
        try:
            pub = await WhipPublisher(sfu.base_url, room, bundle="balanced").start()
            await pub.wait_connected()
            v = await WhepViewer(sfu.base_url, room, bundle="balanced").start()
            await v.wait_frames(V_FRAMES, A_FRAMES, 30)
            assert v.video_size == AIORTC_SIZE
        finally:
            await close_all(v, pub)

    run(body(), 90)


def test_delete_ends_sessions_and_room_disappears(sfu, request):
    room = room_name(request)

    async def body():
        pub = v = None
        try:
            pub = await WhipPublisher(sfu.base_url, room).start()
            await pub.wait_connected()
            v = await WhepViewer(sfu.base_url, room).start()
            await v.wait_frames(V_FRAMES, 0, 30)
            info = sfu.rooms()[room]
            assert info["publisher"] and info["viewers"] == 1, info

            # DELETE alone (peer connection left open): the server ends the session at once
            from whip_client import delete_session
            assert await delete_session(v.location) in OK_DELETE
            await eventually(lambda: sfu.rooms().get(room, {}).get("viewers") == 0, 5,
                             "viewer gone from /api/rooms after DELETE")
            await asyncio.sleep(1.0)
            before = v.video_frames
            await asyncio.sleep(2.0)
            assert v.video_frames - before <= 5, "media still flows to a deleted viewer"
            await v.stop(delete=False)
            v = None

            assert await delete_session(pub.location) in OK_DELETE
            await room_gone(sfu, room)
            await pub.stop(delete=False)
            pub = None
        finally:
            await close_all(v, pub)

    run(body(), 90)


def test_viewer_joining_before_publisher_gets_media(sfu, request):
    room = room_name(request)

    async def body():
        pub = v = None
        try:
            v = await WhepViewer(sfu.base_url, room).start()
            await asyncio.sleep(1.5)
            assert v.video_frames == 0
            pub = await WhipPublisher(sfu.base_url, room).start()
            await pub.wait_connected()
            await v.wait_frames(V_FRAMES, A_FRAMES, 30)
            assert v.video_size == AIORTC_SIZE
        finally:
            await close_all(v, pub)

    run(body(), 90)


def test_publisher_reconnect_is_seen_by_existing_viewer(sfu, request):
    room = room_name(request)

    async def body():
        pub = v = None
        try:
            pub = await WhipPublisher(sfu.base_url, room).start()
            await pub.wait_connected()
            v = await WhepViewer(sfu.base_url, room).start()
            await v.wait_frames(V_FRAMES, A_FRAMES, 30)
            assert await pub.stop() in OK_DELETE
            pub = None
            await asyncio.sleep(1.0)
            seen_v, seen_a = v.video_frames, v.audio_frames
            pub = await WhipPublisher(sfu.base_url, room).start()
            await pub.wait_connected()
            await v.wait_frames(seen_v + V_FRAMES, seen_a + A_FRAMES, 30)
            assert v.pc.connectionState == "connected"
        finally:
            await close_all(v, pub)

    run(body(), 90)


def test_second_publisher_is_refused_while_first_is_live(sfu, request):
    room = room_name(request)

    async def body():
        pub = pub2 = None
        try:
            pub = await WhipPublisher(sfu.base_url, room).start()
            await pub.wait_connected()
            from whip_client import HttpError
            with pytest.raises(HttpError) as err:
                pub2 = await WhipPublisher(sfu.base_url, room).start()
            assert err.value.status == 409, err.value
        finally:
            await close_all(pub2, pub)

    run(body(), 60)


# ---------------------------------------------------------------------------- Chromium

def test_chromium_publish_page_to_chromium_player_page(browser, sfu, request):
    room = room_name(request)
    name = node_slug(request.node.name)

    async def body():
        pub = play = index = None
        try:
            pub = await browser.open(page_url(sfu, "publish.html", room=room, autostart=1), "publish")
            await pub.wait_for("window.livesfuState.state === 'connected'", 30, "publisher connected")
            play = await browser.open(page_url(sfu, "player.html", room=room, autostart=1), "player")
            inbound = await wait_playing(play)
            sent = await pub.wait_for(SENDING_JS, 15, "publisher stats")
            save_json(f"{name}-stats.json", {"player": inbound, "publisher": sent})
            assert (inbound["video"]["frameWidth"], inbound["video"]["frameHeight"]) == CHROMIUM_SIZE
            await pub.screenshot(f"{name}-publish.png")
            await play.screenshot(f"{name}-player.png")

            index = await browser.open(page_url(sfu, "index.html"), "index")
            rooms = await index.wait_for(
                f"window.livesfuState.rooms.find(r => r.name === {json.dumps(room)} && r.live)", 10,
                "index lists the live room")
            assert rooms["viewers"] == 1, rooms
            href = await index.evaluate(
                f"document.querySelector('tr[data-room=\"{room}\"] a.watch').href")
            assert "player.html" in href and f"room={room}" in href
            await index.screenshot(f"{name}-index.png")

            assert await stop_page(play) in OK_DELETE
            assert await stop_page(pub) in OK_DELETE
            await room_gone(sfu, room)
        finally:
            await close_all(pub, play, index)

    run(body(), 120)


def test_aiortc_publisher_to_chromium_player(browser, sfu, request):
    room = room_name(request)
    name = node_slug(request.node.name)

    async def body():
        pub = play = None
        try:
            pub = await WhipPublisher(sfu.base_url, room).start()
            await pub.wait_connected()
            play = await browser.open(page_url(sfu, "player.html", room=room, autostart=1), "player")
            inbound = await wait_playing(play)
            save_json(f"{name}-stats.json", inbound)
            assert (inbound["video"]["frameWidth"], inbound["video"]["frameHeight"]) == AIORTC_SIZE
            await play.screenshot(f"{name}-player.png")
            assert await stop_page(play) in OK_DELETE
        finally:
            await close_all(play, pub)

    run(body(), 120)


def test_chromium_publisher_to_aiortc_viewer(browser, sfu, request):
    room = room_name(request)
    name = node_slug(request.node.name)

    async def body():
        pub = v = None
        try:
            pub = await browser.open(page_url(sfu, "publish.html", room=room, autostart=1), "publish")
            await pub.wait_for("window.livesfuState.state === 'connected'", 30, "publisher connected")
            v = await WhepViewer(sfu.base_url, room).start()
            await v.wait_frames(V_FRAMES, A_FRAMES, 40)
            assert v.video_size == CHROMIUM_SIZE
            await pub.screenshot(f"{name}-publish.png")
            assert await v.stop() in OK_DELETE
            v = None
            assert await stop_page(pub) in OK_DELETE
        finally:
            await close_all(v, pub)

    run(body(), 120)


def test_chromium_h264_publisher_to_chromium_and_aiortc(browser, sfu, request):
    room = room_name(request)
    name = node_slug(request.node.name)

    async def body():
        pub = play = v = None
        try:
            pub = await browser.open(page_url(sfu, "publish.html", room=room, codec="h264", autostart=1), "publish")
            await pub.wait_for("window.livesfuState.state === 'connected'", 30, "H.264 publisher connected")
            sent = await pub.wait_for(SENDING_JS, 20, "publisher stats")
            assert sent["video"]["codec"].lower() == "video/h264", sent["video"]
            play = await browser.open(page_url(sfu, "player.html", room=room, autostart=1), "player")
            v = await WhepViewer(sfu.base_url, room).start()
            inbound = await wait_playing(play)
            save_json(f"{name}-stats.json", {"player": inbound, "publisher": sent})
            assert inbound["video"]["codec"].lower() == "video/h264", inbound["video"]
            await v.wait_frames(V_FRAMES, A_FRAMES, 40)
            assert v.video_size == CHROMIUM_SIZE
            await play.screenshot(f"{name}-player.png")
        finally:
            await close_all(v, play, pub)

    run(body(), 120)


def test_chromium_player_waiting_before_publisher_then_reconnect(browser, sfu, request):
    """A player page opened on an empty room plays once an aiortc publisher arrives, and
    keeps playing (same peer connection) when the publisher leaves and comes back."""
    room = room_name(request)
    name = node_slug(request.node.name)

    async def body():
        pub = play = None
        try:
            play = await browser.open(page_url(sfu, "player.html", room=room, autostart=1), "player")
            await play.wait_for("window.livesfuState.location", 15, "player session created")
            pub = await WhipPublisher(sfu.base_url, room).start()
            await pub.wait_connected()
            await wait_playing(play)
            assert await pub.stop() in OK_DELETE
            pub = None
            await asyncio.sleep(1.5)
            before = await frames_decoded(play)
            pub = await WhipPublisher(sfu.base_url, room).start()
            await pub.wait_connected()
            await wait_playing(play, frames=before + PAGE_FRAMES, audio=PAGE_AUDIO)
            await play.screenshot(f"{name}-player.png")
            assert await play.evaluate("window.livesfuState.pcState") == "connected"
        finally:
            await close_all(play, pub)

    run(body(), 120)


TOKEN = "s3cret-token"


@pytest.mark.parametrize("sfu", [{"AUTH_TOKEN": TOKEN}], indirect=True, ids=["AUTH_TOKEN"])
def test_pages_send_the_bearer_token(browser, sfu, request):
    """With AUTH_TOKEN set, publishing needs `Authorization: Bearer`; the pages' token field
    (here ?token=) sends it, and a publisher without it gets 401."""
    room = room_name(request)
    name = node_slug(request.node.name)

    async def body():
        pub = play = None
        try:
            from whip_client import HttpError
            with pytest.raises(HttpError) as err:
                await WhipPublisher(sfu.base_url, room).start()
            assert err.value.status == 401, err.value

            pub = await browser.open(page_url(sfu, "publish.html", room=room, autostart=1), "publish-no-token")
            await pub.wait_for("window.livesfuState.state === 'error' && window.livesfuState.error", 20,
                               "publish page without token shows the refusal")
            assert "401" in await pub.evaluate("window.livesfuState.error")
            await pub.screenshot(f"{name}-publish-refused.png")
            await pub.close()

            pub = await browser.open(page_url(sfu, "publish.html", room=room, token=TOKEN, autostart=1), "publish")
            await pub.wait_for("window.livesfuState.state === 'connected'", 30, "publisher with token connected")
            play = await browser.open(page_url(sfu, "player.html", room=room, token=TOKEN, autostart=1), "player")
            await wait_playing(play)
            assert await stop_page(play) in OK_DELETE
            assert await stop_page(pub) in OK_DELETE
        finally:
            await close_all(play, pub)

    run(body(), 120)
