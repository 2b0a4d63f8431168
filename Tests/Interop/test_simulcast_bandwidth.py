"""Simulcast layer per viewer from its bandwidth estimate (issue 17): headless Chromium
publishes three VP8 layers at 1280x720 (f 1280x720, h 640x360, q 320x180); two Chromium
viewers play on automatic, one direct, one through `LossyGateway` whose client-facing UDP
port is then shaped to 400 kbit/s by `tc` (HTB in the test's own network namespace, as
test_bandwidth.py does: only that viewer's media crosses the bottleneck). The shaped viewer
settles on q within 10 s and keeps decoding with no freeze over 500 ms (framesDecoded
progress sampled in the page every 50 ms; getStats' freezes on average under 500 ms); the direct one stays on f;
lifting the bottleneck brings the first back to f within 20 s (through probing: its
estimate alone never grows past what it is sent); its getStats frame size follows.

Needs root and `tc` inside the test namespace (run.sh under `unshare --net`), and Chromium;
skipped otherwise. Marked `quality`.
"""

import asyncio
import time

import pytest

from harness import close_all, eventually, node_slug, open_publish_page, page_url, room_name, run, save_json, wait_playing
from livesfu_server import using_standin
from lossy_gateway import LossyGateway
from test_bandwidth import Bottleneck, can_shape

pytestmark = [pytest.mark.quality, pytest.mark.skipif(using_standin(), reason="simulcast is livesfu's")]

BOTTLENECK_KBIT = 400
LOW_WITHIN_S = 10
TOP_WITHIN_S = 20
FREEZE_MS = 500

# In the page: getStats every 50 ms, the longest wait between two increases of framesDecoded
# since `reset`, and the frame sizes seen, so CDP's own latency does not count as a freeze.
WATCH_JS = """
(() => {
  if (window.lsfuWatch) return true;
  const w = window.lsfuWatch = { maxGap: 0, lastDecoded: 0, lastAt: performance.now(), sizes: [], samples: 0,
                                  freezeCount: 0, freezeMs: 0, decoded: 0, dropped: 0, width: 0, pli: 0 };
  w.reset = () => { w.maxGap = 0; w.lastAt = performance.now(); w.sizes = []; };
  setInterval(async () => {
    const r = await window.livesfuSession.pc.getStats();
    r.forEach((s) => {
      if (s.type !== 'inbound-rtp' || s.kind !== 'video') return;
      const now = performance.now();
      w.samples += 1;
      if ((s.framesDecoded || 0) > w.lastDecoded) {
        w.maxGap = Math.max(w.maxGap, now - w.lastAt);
        w.lastDecoded = s.framesDecoded;
        w.lastAt = now;
      }
      w.decoded = s.framesDecoded || 0;
      w.dropped = s.framesDropped || 0;
      w.freezeCount = s.freezeCount || 0;
      w.freezeMs = Math.round((s.totalFreezesDuration || 0) * 1000);
      w.pli = s.pliCount || 0;
      w.width = s.frameWidth || 0;
      const size = `${s.frameWidth || 0}x${s.frameHeight || 0}`;
      if (w.sizes[w.sizes.length - 1] !== size) w.sizes.push(size);
    });
  }, 50);
  return true;
})()
"""

WATCH_READ_JS = """(() => { const w = window.lsfuWatch; return w && { maxGap: Math.round(w.maxGap),
  sinceLast: Math.round(performance.now() - w.lastAt), sizes: w.sizes.slice(), samples: w.samples,
  decoded: w.decoded, dropped: w.dropped, freezeCount: w.freezeCount, freezeMs: w.freezeMs, pli: w.pli,
  width: w.width }; })()"""


def details(sfu, room: str) -> list[dict]:
    return sfu.rooms().get(room, {}).get("raw", {}).get("viewer_details", []) or []


def layers_of(sfu, room: str) -> list[tuple]:
    return sorted((d.get("layer") or "", d.get("target_layer") or "") for d in details(sfu, room))


def test_chromium_viewer_behind_400kbit_drops_to_lowest_layer_and_probes_back_to_top(browser, sfu, request):
    if not can_shape():
        pytest.skip("needs root and tc inside the test's own network namespace (LIVESFU_IN_NETNS=1)")
    room = room_name(request)
    name = node_slug(request.node.name)

    async def body():
        gw = pub = p_direct = p_shaped = None
        figures: dict = {"timeline": []}
        t0 = time.monotonic()

        def note(what: str, **extra):
            figures["timeline"].append({"t": round(time.monotonic() - t0, 2), "what": what,
                                        "viewers": [{k: d.get(k) for k in ("layer", "target_layer", "pinned",
                                                     "bandwidth_estimate_bps", "probes", "probe_bytes", "probes_up")}
                                                    for d in details(sfu, room)], **extra})

        try:
            gw = await LossyGateway(sfu.base_url, seed=17).start()
            pub = await open_publish_page(browser, sfu, room, simulcast=1, codec="vp8", width=1280, height=720)

            def three_layers():
                tracks = [t for t in sfu.rooms()[room]["raw"]["tracks"] if t["kind"] == "video"]
                rates = {t["rid"]: t["bitrate_bps"] for t in tracks}
                figures["layer_bitrates"] = rates
                # f well above what 400 kbit/s carries, q well below.
                return len(tracks) == 3 and all(rates.get(r, 0) > 0 for r in "fhq") and rates["f"] > 800_000

            await eventually(three_layers, 60, "three layers flowing, f above 800 kbit/s")
            note("three layers")
            p_direct = await browser.open(page_url(sfu, "player.html", room=room, autostart=1), "player-direct")
            p_shaped = await browser.open(
                page_url(sfu, "player.html", room=room, server=gw.base_url, autostart=1), "player-shaped")
            await asyncio.gather(wait_playing(p_direct, 10, 10), wait_playing(p_shaped, 10, 10, timeout=60))
            assert len(gw.paths) == 1, gw.paths
            for p in (p_direct, p_shaped):
                await p.evaluate(WATCH_JS)

            # Both on f before the bottleneck (no estimate says otherwise).
            await eventually(lambda: layers_of(sfu, room) == [("f", ""), ("f", "")], 20, "both viewers on f")
            note("both on f")

            with Bottleneck(gw.paths[0].client_port, BOTTLENECK_KBIT) as shaped:
                shaped_at = time.monotonic()
                note("bottleneck on")
                await eventually(lambda: layers_of(sfu, room) == [("f", ""), ("q", "")],
                                 LOW_WITHIN_S + 20, "one viewer on q, the other on f", interval=0.25)
                figures["to_lowest_s"] = round(time.monotonic() - shaped_at, 2)
                note("shaped on q")
                # Settled: from here it keeps decoding, no freeze over 500 ms, for 20 s.
                await asyncio.sleep(1.0)
                await p_shaped.evaluate("window.lsfuWatch.reset()")
                before = await p_shaped.evaluate(WATCH_READ_JS)
                for _ in range(10):
                    await asyncio.sleep(2.0)
                    note("settled")
                after = await p_shaped.evaluate(WATCH_READ_JS)
                figures["shaped_settled"] = {"before": before, "after": after}
                figures["direct_during"] = await p_direct.evaluate(WATCH_READ_JS)
                figures["tc"] = shaped.stats()
            lifted_at = time.monotonic()
            note("bottleneck off")
            await eventually(lambda: layers_of(sfu, room) == [("f", ""), ("f", "")],
                             TOP_WITHIN_S + 20, "both viewers on f again", interval=0.25)
            figures["to_top_s"] = round(time.monotonic() - lifted_at, 2)
            note("shaped back on f")
            await asyncio.sleep(3.0)
            figures["shaped_end"] = await p_shaped.evaluate(WATCH_READ_JS)
            figures["direct_end"] = await p_direct.evaluate(WATCH_READ_JS)
            figures["viewers"] = details(sfu, room)
            figures["gateway"] = gw.figures()
            save_json(f"{name}.json", figures)

            assert figures["to_lowest_s"] <= LOW_WITHIN_S, figures
            assert figures["to_top_s"] <= TOP_WITHIN_S, figures
            settled = figures["shaped_settled"]
            assert settled["after"]["decoded"] > settled["before"]["decoded"] + 100, figures
            assert settled["after"]["maxGap"] <= FREEZE_MS, figures
            # Chromium's freezeCount also counts shorter stalls (a frame late by 3 × the mean
            # interval): kept in the figures; the bar is the issue's, no stall over 500 ms.
            new_freezes = settled["after"]["freezeCount"] - settled["before"]["freezeCount"]
            new_freeze_ms = settled["after"]["freezeMs"] - settled["before"]["freezeMs"]
            assert new_freezes == 0 or new_freeze_ms / new_freezes <= FREEZE_MS, figures
            assert figures["direct_during"]["width"] == 1280, figures
            # The shaped viewer's picture went 1280 → 320 → 1280, decoding on throughout.
            sizes = figures["shaped_end"]["sizes"]
            assert "320x180" in sizes and sizes[-1] == "1280x720", figures
            assert figures["shaped_end"]["decoded"] > settled["after"]["decoded"], figures
            assert figures["direct_end"]["width"] == 1280, figures
            probes = [d.get("probes", 0) for d in figures["viewers"]]
            assert max(probes) > 0, figures
        finally:
            if figures.get("timeline") and "viewers" not in figures:
                save_json(f"{name}.json", figures)
            await close_all(p_shaped, p_direct, pub, gw)

    run(body(), 300)
