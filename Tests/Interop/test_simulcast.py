"""Simulcast over WHIP (issue 17): headless Chromium publishes three layers (the publish page's
simulcast option: RIDs f, h, q); the server takes each in by its RID, and a viewer moved to
another layer through the API keeps decoding, its picture size changing.
"""

import asyncio
import json
import urllib.request

import pytest

from harness import (close_all, eventually, node_slug, open_publish_page, page_url, room_name, run, save_json,
                     wait_playing)
from livesfu_server import using_standin
from whep_client import WhepViewer

pytestmark = pytest.mark.skipif(using_standin(), reason="simulcast is livesfu's")

FRAME_SIZE_JS = """
(async () => {
  const r = await window.livesfuSession.pc.getStats();
  for (const s of r.values()) {
    if (s.type === 'inbound-rtp' && s.kind === 'video') {
      return { width: s.frameWidth || 0, height: s.frameHeight || 0, decoded: s.framesDecoded || 0,
               keyframes: s.keyFramesDecoded || 0, dropped: s.framesDropped || 0 };
    }
  }
  return null;
})()
"""


def raw_room(sfu, room: str) -> dict:
    return sfu.rooms()[room]["raw"]


def post_layer(sfu, location: str, layer: str) -> tuple[int, str]:
    req = urllib.request.Request(sfu.base_url + location + "/layer", data=layer.encode(), method="POST")
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read().decode().strip()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


@pytest.mark.parametrize("codec", ["vp8", "h264"])
def test_chromium_simulcast_layers_in_and_a_viewer_moved_between_them(browser, sfu, request, codec):
    room = room_name(request)
    name = node_slug(request.node.name)

    async def body():
        pub = play = viewer = None
        try:
            pub = await open_publish_page(browser, sfu, room, simulcast=1, codec=codec)

            # Chromium sends as many layers as its camera's 640x480 allows (two: f and h).
            def layers_flowing():
                tracks = [t for t in raw_room(sfu, room)["tracks"] if t["kind"] == "video"]
                return len(tracks) == 3 and len([t for t in tracks if t.get("rid") and t["packets_in"] > 0]) >= 2
            try:
                await eventually(layers_flowing, 20, "video layers by RID with packets")
            except AssertionError:
                save_json(f"{name}-room.json", {"room": raw_room(sfu, room),
                                                "offer_answer": await pub.evaluate("window.livesfuSession.pc.localDescription.sdp + '\\n----\\n' + window.livesfuSession.pc.remoteDescription.sdp")})
                raise
            tracks = [t for t in raw_room(sfu, room)["tracks"] if t["kind"] == "video"]
            assert [t["rid"] for t in tracks] == ["f", "h", "q"], tracks
            rids = [t["rid"] for t in tracks if t["packets_in"] > 0]

            play = await browser.open(page_url(sfu, "player.html", room=room, autostart=1), "player")
            await wait_playing(play)
            location = await play.evaluate("window.livesfuSession.location")
            path = location[location.index("/api/session/"):]
            # The full layer, the smallest, the full one again: each move within a few
            # seconds (automatic choice may have started the player on either).
            history = []
            for rid in ["f", rids[-1], "f"]:
                status, text = post_layer(sfu, path, rid)
                assert (status, text) == (200, rid), (status, text)

                def moved():
                    mine = [v for v in raw_room(sfu, room)["viewer_details"] if v.get("layer")]
                    return mine and mine[0]["layer"] == rid and mine[0]["target_layer"] is None
                await eventually(moved, 5, f"viewer on layer {rid}")
                await asyncio.sleep(2.0)
                history.append(await play.evaluate(FRAME_SIZE_JS))

            # Refused: a RID not sent, an unknown session, a publisher's session.
            assert post_layer(sfu, path, "zz")[0] == 400
            assert post_layer(sfu, path.rsplit("/", 1)[0] + "/nosuchsession", "f")[0] == 404
            publisher = await pub.evaluate("window.livesfuSession.location")
            assert post_layer(sfu, publisher[publisher.index("/api/session/"):], "f")[0] == 404

            # An aiortc viewer on the same room decodes too (the best layer).
            viewer = await WhepViewer(sfu.base_url, room).start()
            await viewer.wait_frames(video=10, timeout=15)

            figures = {"layers": tracks, "player": history, "after": raw_room(sfu, room)["viewer_details"]}
            save_json(f"{name}-figures.json", figures)
            before, small, full = history
            assert small["width"] < before["width"], figures
            assert full["width"] == before["width"], figures
            assert full["decoded"] > small["decoded"] > before["decoded"], figures
        finally:
            await close_all(viewer, play, pub)

    run(body(), 120)
