"""A simulcast layer that changes resolution mid-stream (issue 17, bad input): headless
Chromium publishes three layers (VP8, H.264 or VP9) at 1280x720 (f 1280x720, h 640x360, q 320x180), then shrinks
its top layer f by 1.6 (`RTCRtpSender.setParameters` with a new `scaleResolutionDownBy`: the
encoder starts that layer anew at 800x450 with a keyframe). Viewers:

- one on automatic (on f) and one pinned to f through the API: their picture follows the new
  size and they keep decoding with no freeze over 500 ms through the change;
- one moved between layers around the change (q before it, then f, h and f again): its
  picture is each layer's size as the publisher sends it now, with no freeze over 500 ms;
- a late viewer that joins after the change: its first frame (instant start from the layer's
  keyframe cache) is already the new size, and it never shows the old one.

Waits in the pages as in test_simulcast_bandwidth.py (framesDecoded sampled every 50 ms);
the publisher's own getStats says what size each layer is sent at.
"""

import asyncio
import time

import pytest

from harness import close_all, eventually, node_slug, open_publish_page, page_url, room_name, run, save_json, wait_playing
from livesfu_server import using_standin
from test_simulcast import post_layer, raw_room

pytestmark = pytest.mark.skipif(using_standin(), reason="simulcast is livesfu's")

FREEZE_MS = 500
NEW_SCALE = 1.6  # 800x450: even sides, as H.264 codes them

# Every 50 ms: the longest wait between two increases of framesDecoded since `reset`, and the
# frame sizes seen (the first is the first decoded frame's). Waits for the session to exist, so
# it can be put in a page before its first frame.
WATCH_JS = """
(() => {
  if (window.lsfuWatch) return true;
  const w = window.lsfuWatch = { maxGap: 0, lastDecoded: 0, lastAt: null, sizes: [], decoded: 0, width: 0,
                                  height: 0, pli: 0, keyframes: 0 };
  w.reset = () => { w.maxGap = 0; w.lastAt = performance.now(); w.sizes = w.sizes.slice(-1); };
  setInterval(async () => {
    if (!window.livesfuSession || !window.livesfuSession.pc) return;
    const r = await window.livesfuSession.pc.getStats();
    r.forEach((s) => {
      if (s.type !== 'inbound-rtp' || s.kind !== 'video') return;
      const now = performance.now();
      if ((s.framesDecoded || 0) > w.lastDecoded) {
        if (w.lastAt !== null) w.maxGap = Math.max(w.maxGap, now - w.lastAt);
        w.lastDecoded = s.framesDecoded;
        w.lastAt = now;
      }
      w.decoded = s.framesDecoded || 0;
      w.width = s.frameWidth || 0;
      w.height = s.frameHeight || 0;
      w.pli = s.pliCount || 0;
      w.keyframes = s.keyFramesDecoded || 0;
      if (!w.width) return;
      const size = `${w.width}x${w.height}`;
      if (w.sizes[w.sizes.length - 1] !== size) w.sizes.push(size);
    });
  }, 50);
  return true;
})()
"""

WATCH_READ_JS = """(() => { const w = window.lsfuWatch; return w && { maxGap: Math.round(w.maxGap),
  sizes: w.sizes.slice(), decoded: w.decoded, width: w.width, height: w.height, pli: w.pli,
  keyframes: w.keyframes }; })()"""

# The publisher: each RID's frame size as sent now.
SENT_SIZES_JS = """
(async () => {
  const out = {};
  (await window.livesfuSession.pc.getStats()).forEach((s) => {
    if (s.type === 'outbound-rtp' && s.kind === 'video' && s.rid && s.frameWidth) {
      out[s.rid] = `${s.frameWidth}x${s.frameHeight}`;
    }
  });
  return out;
})()
"""

RESCALE_JS = """
(async () => {
  const sender = window.livesfuSession.pc.getSenders().find((s) => s.track && s.track.kind === 'video');
  const p = sender.getParameters();
  p.encodings.find((e) => e.rid === 'f').scaleResolutionDownBy = %s;
  await sender.setParameters(p);
  return sender.getParameters().encodings.map((e) => [e.rid, e.scaleResolutionDownBy || 1]);
})()
""" % NEW_SCALE

# The late viewer: the first frame presented, with its size (requestVideoFrameCallback).
FIRST_FRAME_JS = """
(() => {
  const v = document.getElementById('remote');
  window.firstFrame = null;
  v.requestVideoFrameCallback((now, md) => { window.firstFrame = { width: md.width, height: md.height }; });
  return true;
})()
"""


def session_path(location: str) -> str:
    return location[location.index("/api/session/"):]


@pytest.mark.parametrize("codec", ["vp8", "h264", "vp9"])
def test_layer_that_changes_resolution_midstream_keeps_viewers_decoding_at_its_new_size(browser, sfu, request,
                                                                                       codec):
    room = room_name(request)
    name = node_slug(request.node.name)[:60] + "-" + codec

    async def body():
        pub = auto = pinned = mover = late = None
        figures: dict = {"codec": codec, "moves": []}
        try:
            pub = await open_publish_page(browser, sfu, room, simulcast=1, codec=codec, width=1280, height=720)

            async def sent_sizes() -> dict:
                return await pub.evaluate(SENT_SIZES_JS)

            async def three_layers():
                return len(await sent_sizes()) == 3 and all(
                    t["packets_in"] > 0 for t in raw_room(sfu, room)["tracks"] if t["kind"] == "video")
            deadline = time.monotonic() + 60
            while not await three_layers():
                assert time.monotonic() < deadline, ("three layers sent", await sent_sizes())
                await asyncio.sleep(0.5)
            figures["sent_before"] = old = await sent_sizes()

            auto = await browser.open(page_url(sfu, "player.html", room=room, autostart=1), "player-auto")
            pinned = await browser.open(page_url(sfu, "player.html", room=room, autostart=1), "player-pinned")
            mover = await browser.open(page_url(sfu, "player.html", room=room, autostart=1), "player-mover")
            await asyncio.gather(*(wait_playing(p, 10, 10) for p in (auto, pinned, mover)))
            paths = {}
            for tab, p in (("pinned", pinned), ("mover", mover)):
                paths[tab] = session_path(await p.evaluate("window.livesfuSession.location"))
            assert post_layer(sfu, paths["pinned"], "f") == (200, "f")
            assert post_layer(sfu, paths["mover"], "q") == (200, "q")

            def settled():
                layers = sorted(v.get("layer") or "" for v in raw_room(sfu, room)["viewer_details"])
                return layers == ["f", "f", "q"] and all(v.get("target_layer") is None
                                                          for v in raw_room(sfu, room)["viewer_details"])
            await eventually(settled, 10, "two viewers on f, the mover on q")
            for p in (auto, pinned, mover):
                await p.evaluate(WATCH_JS)
            for p in (auto, pinned, mover):
                await p.wait_for(f"window.lsfuWatch.width > 0", 10, "watch running")
            for tab, p in (("auto", auto), ("pinned", pinned)):
                w = await p.evaluate(WATCH_READ_JS)
                assert f"{w['width']}x{w['height']}" == old["f"], (tab, w, old)
            await mover.wait_for(f"window.lsfuWatch.width + 'x' + window.lsfuWatch.height === '{old['q']}'", 10,
                                 f"mover at q's size {old['q']}")
            for p in (auto, pinned, mover):
                await p.evaluate("window.lsfuWatch.reset()")

            # The change: f at 1/1.6 of the capture.
            figures["encodings"] = await pub.evaluate(RESCALE_JS)
            changed_at = time.monotonic()
            deadline = changed_at + 20
            while (await sent_sizes()).get("f") == old["f"]:
                assert time.monotonic() < deadline, ("f sent at a new size", await sent_sizes())
                await asyncio.sleep(0.2)
            figures["sent_after"] = new = await sent_sizes()
            figures["publisher_switched_s"] = round(time.monotonic() - changed_at, 2)
            assert new["f"] != old["f"] and new["h"] == old["h"] and new["q"] == old["q"], figures

            # Viewers on f follow; the mover goes to f (the new size), h, and f again.
            for tab, p in (("auto", auto), ("pinned", pinned)):
                await p.wait_for(f"window.lsfuWatch.width + 'x' + window.lsfuWatch.height === '{new['f']}'", 15,
                                 f"{tab} at the new size {new['f']}")
            for rid in ("f", "h", "f"):
                assert post_layer(sfu, paths["mover"], rid) == (200, rid)
                want = new[rid]
                await mover.wait_for(f"window.lsfuWatch.width + 'x' + window.lsfuWatch.height === '{want}'", 15,
                                     f"mover at {rid}'s size {want}")
                await asyncio.sleep(1.0)
                figures["moves"].append({"to": rid, "watch": await mover.evaluate(WATCH_READ_JS)})

            # A late viewer: its first frame is already the new size.
            late = await browser.open(page_url(sfu, "player.html", room=room), "player-late")
            await late.wait_for("document.readyState === 'complete' && window.livesfuState", 10, "page loaded")
            await late.evaluate(FIRST_FRAME_JS)
            await late.evaluate(WATCH_JS)
            await late.evaluate("document.getElementById('play').click()")
            first = await late.wait_for("window.firstFrame", 15, "late viewer's first frame")
            await wait_playing(late, 10, 10)
            await asyncio.sleep(2.0)

            figures["auto"] = await auto.evaluate(WATCH_READ_JS)
            figures["pinned"] = await pinned.evaluate(WATCH_READ_JS)
            figures["mover"] = await mover.evaluate(WATCH_READ_JS)
            figures["late"] = {"first_frame": first, "watch": await late.evaluate(WATCH_READ_JS)}
            figures["room"] = raw_room(sfu, room)
            save_json(f"{name}-figures.json", figures)

            for tab in ("auto", "pinned", "mover"):
                w = figures[tab]
                assert w["maxGap"] <= FREEZE_MS, (tab, figures)
            # Those on f went from the old size to the new one, nothing in between.
            for tab in ("auto", "pinned"):
                assert figures[tab]["sizes"] == [old["f"], new["f"]], (tab, figures)
            assert figures["mover"]["sizes"] == [old["q"], new["f"], new["h"], new["f"]], figures
            assert f"{first['width']}x{first['height']}" == new["f"], figures
            assert figures["late"]["watch"]["sizes"] == [new["f"]], figures
        finally:
            if "room" not in figures:
                save_json(f"{name}-figures.json", figures)
            await close_all(late, mover, pinned, auto, pub)

    run(body(), 180)
