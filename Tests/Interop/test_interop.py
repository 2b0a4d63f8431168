"""End-to-end interop: real, independent WebRTC stacks (aiortc from PyPI, Debian's headless
Chromium) publish over WHIP and play over WHEP through the server under test, on 127.0.0.1.

The server is livesfu (`LIVESFU_BIN`), or the aiortc stand-in when LIVESFU_STANDIN=1.
"""

import asyncio
import json

import pytest

from harness import (AIORTC_SIZE, A_FRAMES, CHROMIUM_SIZE, OK_DELETE, assert_deleted, PAGE_AUDIO, PAGE_FRAMES, SENDING_JS,
                     V_FRAMES, close_all, eventually, frames_decoded, node_slug, page_url, room_gone, room_name,
                     open_publish_page, run, save_json, start_publisher, start_room, stop_page, wait_playing)
from whep_client import WhepViewer
from whip_client import WhipPublisher

# ---------------------------------------------------------------------------- aiortc only

def test_aiortc_publisher_reaches_two_aiortc_viewers(sfu, request):
    room = room_name(request)

    async def body():
        pub = v1 = v2 = None
        try:
            pub, (v1, v2) = await start_room(sfu.base_url, room, viewers=2)
            await asyncio.gather(v1.wait_frames(V_FRAMES, A_FRAMES, 30), v2.wait_frames(V_FRAMES, A_FRAMES, 30))
            for v in (v1, v2):
                assert v.video_size == AIORTC_SIZE
            info = sfu.rooms()[room]
            assert info["publisher"] and info["viewers"] == 2, info
            await assert_deleted(v1)
            await assert_deleted(v2)
            await assert_deleted(pub)
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
            pub, [v] = await start_room(sfu.base_url, room, bundle="balanced")
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
            pub, [v] = await start_room(sfu.base_url, room)
            await v.wait_frames(V_FRAMES, 0, 30)
            info = sfu.rooms()[room]
            assert info["publisher"] and info["viewers"] == 1, info

            # DELETE alone (peer connection left open): the server ends the session at once
            from signalled_peer import delete_session
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
            pub = await start_publisher(sfu.base_url, room)
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
            pub, [v] = await start_room(sfu.base_url, room)
            await v.wait_frames(V_FRAMES, A_FRAMES, 30)
            await assert_deleted(pub)
            pub = None
            await asyncio.sleep(1.0)
            seen_v, seen_a = v.video_frames, v.audio_frames
            pub = await start_publisher(sfu.base_url, room)
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
            pub = await start_publisher(sfu.base_url, room)
            from signalled_peer import HttpError
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
            # as a person would: type the room, click Start
            pub = await browser.open(page_url(sfu, "publish.html"), "publish")
            await pub.wait_for("document.readyState === 'complete' && window.livesfuState", 10, "page loaded")
            await pub.evaluate(f"document.getElementById('room').value = {json.dumps(room)};"
                               "document.getElementById('start').click(); true")
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
            await pub.evaluate("document.getElementById('stop').click(); true")
            await pub.wait_for("window.livesfuState.state === 'stopped'", 10, "publisher stopped by its Stop button")
            assert await pub.evaluate("window.livesfuState.deleteStatus") in OK_DELETE
            await room_gone(sfu, room)
        finally:
            await close_all(pub, play, index)

    run(body(), 120)


def test_pages_send_nothing_to_a_server_that_is_not_allowed(browser, sfu, request):
    """A link with ?server= naming a foreign origin, a token and autostart must not reach it:
    whip.js refuses it and the page's Content-Security-Policy would block it too."""
    room = room_name(request)
    import socket
    import urllib.request

    async def body():
        pub = None
        trap = socket.socket()
        trap.bind(("127.0.0.1", 0))
        trap.listen(8)
        trap.setblocking(False)
        try:
            # localhost is another origin than 127.0.0.1 (the allowed one in these tests).
            foreign = f"http://localhost:{trap.getsockname()[1]}"
            pub = await browser.open(
                page_url(sfu, "publish.html", room=room, server=foreign, token="secret", autostart=1), "publish-foreign")
            state = await pub.wait_for(
                "window.livesfuState && window.livesfuState.state === 'error' && window.livesfuState.error", 20,
                "publish page refuses the foreign server")
            assert "not allowed" in state, state
            await asyncio.sleep(0.5)
            with pytest.raises(BlockingIOError):
                trap.accept()  # nothing connected to the foreign server
            with urllib.request.urlopen(sfu.base_url + "/web/publish.html") as resp:
                csp = resp.headers["Content-Security-Policy"]
                assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp, csp
                assert resp.headers["Referrer-Policy"] == "no-referrer"
        finally:
            trap.close()
            await close_all(pub)

    run(body(), 60)


def test_aiortc_publisher_to_chromium_player(browser, sfu, request):
    room = room_name(request)
    name = node_slug(request.node.name)

    async def body():
        pub = play = None
        try:
            pub = await start_publisher(sfu.base_url, room)
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
            pub = await open_publish_page(browser, sfu, room)
            v = await WhepViewer(sfu.base_url, room).start()
            await v.wait_frames(V_FRAMES, A_FRAMES, 40)
            assert v.video_size == CHROMIUM_SIZE
            await pub.screenshot(f"{name}-publish.png")
            await assert_deleted(v)
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
            pub = await open_publish_page(browser, sfu, room, what="H.264 publisher connected", codec="h264")
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
            pub = await start_publisher(sfu.base_url, room)
            await wait_playing(play)
            await assert_deleted(pub)
            pub = None
            await asyncio.sleep(1.5)
            before = await frames_decoded(play)
            pub = await start_publisher(sfu.base_url, room)
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
            from signalled_peer import HttpError
            with pytest.raises(HttpError) as err:
                await WhipPublisher(sfu.base_url, room).start()
            assert err.value.status == 401, err.value

            pub = await browser.open(page_url(sfu, "publish.html", room=room, autostart=1), "publish-no-token")
            await pub.wait_for("window.livesfuState.state === 'error' && window.livesfuState.error", 20,
                               "publish page without token shows the refusal")
            assert "401" in await pub.evaluate("window.livesfuState.error")
            await pub.screenshot(f"{name}-publish-refused.png")
            await pub.close()

            pub = await open_publish_page(browser, sfu, room, what="publisher with token connected", token=TOKEN)
            play = await browser.open(page_url(sfu, "player.html", room=room, token=TOKEN, autostart=1), "player")
            await wait_playing(play)
            assert await stop_page(play) in OK_DELETE
            assert await stop_page(pub) in OK_DELETE
        finally:
            await close_all(play, pub)

    run(body(), 120)


# ---------------------------------------------------------------------------- bad input

def test_bad_offers_get_clear_4xx_and_leave_nothing_behind(sfu, request):
    import urllib.error
    import urllib.request

    room = room_name(request)

    def post(path: str, body: bytes, ctype: str) -> tuple[int, str]:
        req = urllib.request.Request(sfu.base_url + path, data=body, method="POST", headers={"Content-Type": ctype})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status, r.read().decode(errors="replace")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace")

    cases = [
        ("wrong content type", f"/api/whip/publish/{room}", b"v=0\r\n", "text/plain", (415,)),
        ("garbage SDP", f"/api/whip/publish/{room}", b"\x00\xffnot an sdp", "application/sdp", (400, 422)),
        ("garbage SDP (WHEP)", f"/api/whep/play/{room}", b"m=video 9 RTP/AVP\r\n", "application/sdp", (400, 422)),
        ("bad room name", "/api/whip/publish/" + "x" * 300, b"v=0\r\n", "application/sdp", (400, 404, 414)),
    ]
    results = {}
    for what, path, body, ctype, want in cases:
        status, text = post(path, body, ctype)
        results[what] = (status, text.strip()[:120])
        assert status in want, f"{what}: got {status} {text!r}, want {want}"
        assert text.strip(), f"{what}: {status} without a reason"
    save_json(f"{node_slug(request.node.name)}.json", results)
    status, health = sfu.get("/healthz")
    assert status == 200 and health.strip() == b"ok", (status, health)
    assert room not in sfu.rooms(), "a refused offer left a room behind"


def test_offers_that_never_connect_are_cleaned_up_without_disturbing_a_live_room(sfu, request):
    """WHEP sessions whose client vanishes right after the answer (no ICE, no DTLS) are
    removed by the server's set-up timeout; a live room next to them keeps playing."""
    room = room_name(request)
    ghost_room = room + "-ghosts"
    n = 20

    async def body():
        from signalled_peer import post_sdp, rtc_config
        from aiortc import RTCPeerConnection

        pub = v = None
        try:
            pub, [v] = await start_room(sfu.base_url, room)
            await v.wait_frames(10, 10, 30)
            for _ in range(n):
                pc = RTCPeerConnection(rtc_config())
                pc.addTransceiver("video", direction="recvonly")
                pc.addTransceiver("audio", direction="recvonly")
                await pc.setLocalDescription(await pc.createOffer())
                offer = pc.localDescription.sdp
                await pc.close()  # gone: its candidate's port is closed
                await post_sdp(f"{sfu.base_url}/api/whep/play/{ghost_room}", offer)
            seen = sfu.rooms().get(ghost_room, {}).get("viewers", 0)
            f0 = v.video_frames
            await eventually(lambda: ghost_room not in sfu.rooms(), 60,
                             f"{n} never-connected viewers removed (room {ghost_room} gone)", interval=1.0)
            assert v.video_frames > f0 + 30, "the live room stalled meanwhile"
            assert sfu.rooms()[room]["viewers"] == 1
            assert seen <= n
        finally:
            await close_all(v, pub)

    run(body(), 120)
