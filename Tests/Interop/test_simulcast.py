"""Simulcast over WHIP (issue 17): headless Chromium publishes three layers (the publish page's
simulcast option: RIDs f, h, q) in VP8, H.264 or VP9 (VP9 with `scalabilityMode: "L1T1"` on
each encoding, as the page sets it); the server takes each in by its RID, and a viewer moved to
another layer through the API keeps decoding, its picture size changing, with no keyframe
request of its own (its PLI and FIR counts stay as they were).
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
      const codec = s.codecId && r.get(s.codecId);
      return { width: s.frameWidth || 0, height: s.frameHeight || 0, decoded: s.framesDecoded || 0,
               keyframes: s.keyFramesDecoded || 0, dropped: s.framesDropped || 0, pli: s.pliCount || 0,
               fir: s.firCount || 0, freezes: s.freezeCount || 0, codec: codec ? codec.mimeType : null };
    }
  }
  return null;
})()
"""

# The publisher: each RID's codec and scalability mode as sent.
SENT_JS = """
(async () => {
  const r = await window.livesfuSession.pc.getStats();
  const out = {};
  r.forEach((s) => {
    if (s.type === 'outbound-rtp' && s.kind === 'video' && s.rid) {
      const codec = s.codecId && r.get(s.codecId);
      out[s.rid] = { codec: codec ? codec.mimeType : null, scalability: s.scalabilityMode || null,
                     width: s.frameWidth || 0, ssrc: s.ssrc };
    }
  });
  return out;
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


@pytest.mark.parametrize("codec", ["vp8", "h264", "vp9"])
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

            sent = await pub.evaluate(SENT_JS)
            play = await browser.open(page_url(sfu, "player.html", room=room, autostart=1), "player")
            await wait_playing(play)
            location = await play.evaluate("window.livesfuSession.location")
            path = location[location.index("/api/session/"):]
            await asyncio.sleep(1.0)
            start = await play.evaluate(FRAME_SIZE_JS)
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

            # An aiortc viewer on the same room decodes too (the best layer); aiortc has no VP9.
            if codec != "vp9":
                viewer = await WhepViewer(sfu.base_url, room).start()
                await viewer.wait_frames(video=10, timeout=15)

            figures = {"layers": tracks, "sent": sent, "start": start, "player": history,
                       "after": raw_room(sfu, room)["viewer_details"]}
            save_json(f"{name}-figures.json", figures)
            # Each layer its own SSRC, in the codec asked for; the viewer decodes that codec.
            assert all(e["codec"] == f"video/{codec.upper()}" for e in sent.values()), figures
            assert len({e["ssrc"] for e in sent.values()}) == len(sent) >= 2, figures
            assert start["codec"] == f"video/{codec.upper()}", figures
            before, small, full = history
            assert small["width"] < before["width"], figures
            assert full["width"] == before["width"], figures
            assert full["decoded"] > small["decoded"] > before["decoded"], figures
            # Decoded through every move: it never asked for a keyframe (a PLI or FIR is what
            # a decoder that lost its references sends), and a keyframe decoded per move.
            assert full["pli"] == start["pli"] and full["fir"] == start["fir"], figures
            assert full["keyframes"] >= start["keyframes"] + 2, figures
        finally:
            await close_all(viewer, play, pub)

    run(body(), 120)
