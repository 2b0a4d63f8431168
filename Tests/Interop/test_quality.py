"""Quality under loss (issue 6): 3% media loss on a viewer's path or on the publisher's path,
through `LossyGateway`. Viewers behind the loss must keep decoding (no gap between decoded
frames much over a second, NACKs visible) and decode nearly as many frames as a loss-free
viewer over the same window. Marked `quality`: deselect with `-m "not quality"`.
"""

import asyncio
import os

import pytest

from harness import node_slug, run
from livesfu_server import using_standin
from lossy_gateway import Impairment, LossyGateway
from harness import close_all, open_publish_page, page_url, room_name, save_json, start_room, wait_playing
from whep_client import WhepViewer

pytestmark = pytest.mark.quality

WINDOW = 10.0        # seconds of measurement
MAX_GAP_MS = 1200    # "no gap between decoded frames longer than about a second"
MIN_RATIO = 0.8      # lossy viewer's frames / reference frames over the window
if using_standin():
    # The stand-in decodes and re-encodes per viewer in Python: under loss and a busy CPU its
    # own encoder drops frames and waits for keyframes, which livesfu (forwarding) does not.
    MAX_GAP_MS, MIN_RATIO = 2500, 0.3

# Samples the page's own peer connection every 100 ms: decoded frames, longest time without
# a new decoded frame (after the first), NACKs sent, packets lost.
PROBE_JS = """(() => {
  const p = { frames: 0, lastAt: performance.now(), maxGapMs: 0, nack: 0, lost: 0, samples: 0 };
  p.timer = setInterval(async () => {
    const s = window.livesfuSession;
    if (!s) return;
    const r = await s.pc.getStats();
    let fd = 0, nack = 0, lost = 0;
    r.forEach((x) => { if (x.type === 'inbound-rtp' && x.kind === 'video') {
      fd += x.framesDecoded || 0; nack += x.nackCount || 0; lost += x.packetsLost || 0; } });
    const now = performance.now();
    if (fd > p.frames) { if (p.frames > 0) p.maxGapMs = Math.max(p.maxGapMs, now - p.lastAt); p.frames = fd; p.lastAt = now; }
    p.nack = nack; p.lost = lost; p.samples += 1;
  }, 100);
  window.__probe = p;
  return true;
})()"""

PROBE_READ = "(() => { const p = window.__probe; return {frames: p.frames, maxGapMs: Math.round(p.maxGapMs), " \
             "nack: p.nack, lost: p.lost, samples: p.samples}; })()"


def server_video_figures(sfu, room: str) -> dict:
    """The room's video track and viewer figures from /api/rooms (repairs, keyframes)."""
    if sfu.standin:
        return {}
    try:
        raw = sfu.rooms().get(room, {}).get("raw", {})
    except Exception as exc:  # noqa: BLE001 — figures only
        return {"error": str(exc)}
    video = [t for t in raw.get("tracks", []) if t.get("kind") == "video"]
    return {"video": video[0] if video else None, "viewers": raw.get("viewer_details"),
            "publisher": raw.get("publisher")}


async def probe(page):
    await page.evaluate(PROBE_JS)


async def probe_read(page) -> dict:
    return await page.evaluate(PROBE_READ)


def test_viewer_path_loss_3pct_chromium_and_aiortc_keep_decoding(browser, sfu, request):
    room = room_name(request)
    name = node_slug(request.node.name)

    async def body():
        gw = pub = v_loss = v_ref = p_loss = p_ref = None
        try:
            gw = await LossyGateway(sfu.base_url, to_client=Impairment(loss=0.03), seed=6).start()
            pub, (v_ref, v_loss) = await start_room(sfu.base_url, room, viewers=[sfu.base_url, gw.base_url])
            p_ref = await browser.open(page_url(sfu, "player.html", room=room, autostart=1), "player-direct")
            p_loss = await browser.open(
                page_url(sfu, "player.html", room=room, server=gw.base_url, autostart=1), "player-lossy")
            await asyncio.gather(wait_playing(p_ref, 10, 10), wait_playing(p_loss, 10, 10),
                                 v_ref.wait_frames(10, 10, 30), v_loss.wait_frames(10, 10, 30))
            await asyncio.gather(probe(p_ref), probe(p_loss))
            a0, b0 = v_ref.video_frames, v_loss.video_frames
            v_loss.max_video_gap = 0.0
            await asyncio.sleep(WINDOW)
            ref, loss = await asyncio.gather(probe_read(p_ref), probe_read(p_loss))
            a, b = v_ref.video_frames - a0, v_loss.video_frames - b0
            figures = {"chromium_direct": ref, "chromium_lossy": loss, "aiortc_direct_frames": a,
                       "aiortc_lossy_frames": b, "aiortc_lossy_max_gap_s": v_loss.max_video_gap,
                       "aiortc_lossy_total": [v_loss.video_frames, v_loss.audio_frames, v_loss.pc.connectionState],
                       "gateway": gw.figures(), "server": server_video_figures(sfu, room)}
            save_json(f"{name}.json", figures)
            await p_loss.screenshot(f"{name}-player-lossy.png")
            assert gw.to_client.dropped > 0, figures
            assert loss["maxGapMs"] < MAX_GAP_MS, figures
            assert loss["nack"] > 0, figures
            assert loss["frames"] >= MIN_RATIO * ref["frames"], figures
            # aiortc NACKs a packet again only when a new gap shows up, and its jitter buffer
            # holds every later frame meanwhile: a lost repair used to stall it until its next
            # loss, or for seconds. The server's follow-up copy of each repair prevents that.
            # (Loss on the viewer's NACKs too would still stall aiortc now and then: a lost
            # NACK of its is never retried, and no server can repair what it never heard of.)
            assert v_loss.max_video_gap < MAX_GAP_MS / 1000, figures
            assert b >= MIN_RATIO * a, figures
        finally:
            await close_all(p_loss, p_ref, v_loss, v_ref, pub, gw)

    run(body(), 120)


def test_publisher_path_loss_3pct_viewers_keep_decoding(browser, sfu, request):
    """A Chromium publisher behind 3% loss (repaired by the server's NACKs upstream): its
    Chromium and aiortc viewers decode about as many frames as it encodes."""
    room = room_name(request)
    name = node_slug(request.node.name)

    async def body():
        gw = pub = play = v = None
        try:
            gw = await LossyGateway(sfu.base_url, to_server=Impairment(loss=0.03), seed=7).start()
            pub = await open_publish_page(browser, sfu, room, "publish-lossy", server=gw.base_url)
            play = await browser.open(page_url(sfu, "player.html", room=room, autostart=1), "player")
            v = await WhepViewer(sfu.base_url, room).start()
            await asyncio.gather(wait_playing(play, 10, 10), v.wait_frames(10, 10, 30))
            await probe(play)
            e0 = await pub.evaluate(ENCODED_JS)
            v0 = v.video_frames
            v.max_video_gap = 0.0
            await asyncio.sleep(WINDOW)
            got, e1 = await asyncio.gather(probe_read(play), pub.evaluate(ENCODED_JS))
            encoded = e1["frames"] - e0["frames"]
            figures = {"player": got, "publisher_frames_encoded": encoded, "publisher": e1,
                       "aiortc_frames": v.video_frames - v0, "aiortc_max_gap_s": v.max_video_gap,
                       "gateway": gw.figures(), "server": server_video_figures(sfu, room)}
            save_json(f"{name}.json", figures)
            await play.screenshot(f"{name}-player.png")
            assert gw.to_server.dropped > 0, figures
            assert got["maxGapMs"] < MAX_GAP_MS, figures
            assert got["frames"] >= MIN_RATIO * encoded, figures
            assert v.max_video_gap < MAX_GAP_MS / 1000, figures
            assert v.video_frames - v0 >= MIN_RATIO * encoded, figures
            assert e1["nack"] > 0 and e1["retransmitted"] > 0, figures  # upstream NACKs answered
            if not sfu.standin:
                # The publisher RTT, measured from NACK to repair, in /api/rooms and /metrics.
                rtt = (figures["server"].get("publisher") or {}).get("rtt_ms")
                assert rtt is not None and 0 < rtt < 1000, figures
                status, metrics = sfu.get("/metrics")
                assert status == 200 and b"livesfu_publisher_rtt_seconds{" in metrics, metrics[:2000]
        finally:
            await close_all(v, play, pub, gw)

    run(body(), 120)


ENCODED_JS = """(async () => {
  const r = await window.livesfuSession.pc.getStats();
  const o = { frames: 0, nack: 0, retransmitted: 0 };
  r.forEach((x) => { if (x.type === 'outbound-rtp' && x.kind === 'video') {
    o.frames += x.framesEncoded || 0; o.nack += x.nackCount || 0; o.retransmitted += x.retransmittedPacketsSent || 0; } });
  return o;
})()"""


RAMP_SECONDS = 15

SEND_RATE_JS = """(async () => {
  const s = window.livesfuSession;
  if (!s) return null;
  const r = await s.pc.getStats();
  let bytes = 0, bwe = null, limit = null;
  r.forEach((x) => {
    if (x.type === 'outbound-rtp' && x.kind === 'video') { bytes += x.bytesSent || 0; limit = x.qualityLimitationReason; }
    if (x.type === 'candidate-pair' && x.nominated && x.availableOutgoingBitrate) bwe = x.availableOutgoingBitrate;
  });
  return { at: performance.now(), bytes, bwe, limit };
})()"""


def test_chromium_publisher_bitrate_ramps_as_against_aiortc(browser, sfu, request):
    """Two Chromium publishers at once: one to the server under test, one to an aiortc peer
    (the stand-in). After 15 s the first sends at least 80% of what the second does, and
    never collapses (INTEROP.md: ≈30 kbps when transport-cc is accepted but not answered)."""
    from livesfu_server import ServerUnderTest

    room = room_name(request)
    name = node_slug(request.node.name)
    reference = ServerUnderTest(name + "-aiortc-reference", standin=True).start()

    async def body():
        pub = ref = v = rv = None
        try:
            pub = await browser.open(page_url(sfu, "publish.html", room=room, autostart=1), "publish-sfu")
            ref = await browser.open(page_url(reference, "publish.html", room=room, autostart=1), "publish-aiortc")
            for p in (pub, ref):
                await p.wait_for("window.livesfuState.state === 'connected'", 30, "publisher connected")
            # a viewer on each, so both servers really forward
            v = await WhepViewer(sfu.base_url, room).start()
            rv = await WhepViewer(reference.base_url, room).start()
            series = {"sfu": [], "aiortc": []}
            for _ in range(RAMP_SECONDS):
                await asyncio.sleep(1.0)
                a, b = await asyncio.gather(pub.evaluate(SEND_RATE_JS), ref.evaluate(SEND_RATE_JS))
                series["sfu"].append(a)
                series["aiortc"].append(b)

            def kbps(s, i, j):
                return (s[j]["bytes"] - s[i]["bytes"]) * 8 / (s[j]["at"] - s[i]["at"])

            n = len(series["sfu"]) - 1
            figures = {
                "sfu_kbps_last5s": round(kbps(series["sfu"], n - 5, n)),
                "aiortc_kbps_last5s": round(kbps(series["aiortc"], n - 5, n)),
                "sfu_min_kbps_after5s": round(min(kbps(series["sfu"], i, i + 1) for i in range(5, n))),
                "sfu_bwe": series["sfu"][-1]["bwe"], "aiortc_bwe": series["aiortc"][-1]["bwe"],
                "sfu_limited_by": series["sfu"][-1]["limit"], "aiortc_limited_by": series["aiortc"][-1]["limit"],
                "viewer_frames": v.video_frames,
            }
            save_json(f"{name}.json", {"figures": figures, "series": series})
            # 0.7: the two publishers share 2 busy cores, their encoders are often CPU-limited
            assert figures["sfu_kbps_last5s"] >= 0.7 * figures["aiortc_kbps_last5s"], figures
            if not sfu.standin:
                # a collapse goes to ≈30 kbps. (Not asserted on the stand-in: on a starved CPU
                # the Python peer's own REMB falls to 30 kbps too, as its reference run shows.)
                assert figures["sfu_min_kbps_after5s"] > 60, figures
            assert v.video_frames > 0, figures
        finally:
            await close_all(v, rv, pub, ref)

    try:
        run(body(), 120)
    finally:
        reference.stop()


PLI_JS = """(async () => {
  const r = await window.livesfuSession.pc.getStats();
  let n = 0;
  r.forEach((x) => { if (x.type === 'outbound-rtp' && x.kind === 'video') n += (x.pliCount || 0) + (x.firCount || 0); });
  return n;
})()"""


def test_viewers_joining_at_once_start_fast_with_few_keyframe_requests(browser, sfu, request):
    """N aiortc viewers join a running Chromium-published room at once: each decodes its
    first frame soon after its answer (one keyframe round trip, plus decoding on a busy
    machine), and the publisher sees only a few PLI/FIR for all of them."""
    room = room_name(request)
    name = node_slug(request.node.name)
    n = int(os.environ.get("INTEROP_JOIN_VIEWERS", "5" if using_standin() else "20"))

    async def body():
        pub = None
        viewers: list = []
        try:
            pub = await open_publish_page(browser, sfu, room)
            await asyncio.sleep(3.0)  # past the start-up keyframes
            pli0 = await pub.evaluate(PLI_JS)
            viewers = [WhepViewer(sfu.base_url, room) for _ in range(n)]
            await asyncio.gather(*(v.start() for v in viewers))
            await asyncio.gather(*(v.wait_frames(1, 0, 30) for v in viewers))
            await asyncio.sleep(2.0)
            pli = await pub.evaluate(PLI_JS) - pli0
            delays = sorted(round(v.first_frame_delay(), 3) for v in viewers)
            figures = {"viewers": n, "first_frame_delays_s": delays, "median_s": delays[n // 2],
                       "publisher_pli_fir": pli}
            save_json(f"{name}.json", figures)
            assert delays[n // 2] < 1.0, figures
            assert delays[-1] < 3.0, figures
            assert pli <= 3, figures
        finally:
            await close_all(*viewers, pub)

    run(body(), 120)


SYNC_JS = """(async () => {
  const r = await window.livesfuSession.pc.getStats();
  const o = {};
  r.forEach((x) => { if (x.type === 'inbound-rtp') o[x.kind] = {
    playout: x.estimatedPlayoutTimestamp, jitterBufferDelay: x.jitterBufferDelay,
    emitted: x.jitterBufferEmittedCount }; });
  return o;
})()"""


SYNC_MS = 1000


def test_chromium_player_keeps_audio_and_video_in_sync(browser, sfu, request):
    """Chromium publisher → Chromium player: the player's estimated playout timestamps of
    audio and video (which need the forwarded sender reports to map RTP time to NTP) agree
    within SYNC_MS. Direct Chromium→Chromium on this busy 2-core machine measured 290–470 ms
    while its sync converges (audio jitter buffer ≈0.38 s), so the bound catches what a wrong
    sender-report rewrite does (offsets of seconds to hours), not fine lip sync."""
    room = room_name(request)
    name = node_slug(request.node.name)

    async def body():
        pub = play = None
        try:
            pub = await open_publish_page(browser, sfu, room)
            play = await browser.open(page_url(sfu, "player.html", room=room, autostart=1), "player")
            await wait_playing(play)
            await asyncio.sleep(4.0)  # a few sender reports
            samples = []
            for _ in range(5):
                samples.append(await play.evaluate(SYNC_JS))
                await asyncio.sleep(1.0)
            offsets = []
            for s in samples:
                a, v = s.get("audio", {}).get("playout"), s.get("video", {}).get("playout")
                if a and v:
                    offsets.append(round(v - a))
            save_json(f"{name}.json", {"samples": samples, "video_minus_audio_ms": offsets})
            assert offsets, f"no estimatedPlayoutTimestamp for both kinds (sender reports?): {samples}"
            offsets.sort()
            assert abs(offsets[len(offsets) // 2]) < SYNC_MS, offsets
        finally:
            await close_all(play, pub)

    run(body(), 120)
