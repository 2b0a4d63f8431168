"""Simulcast layer per viewer from its bandwidth estimate (issue 17): headless Chromium
publishes three layers at 1280x720 (f 1280x720, h 640x360, q 320x180), VP8 and H.264 (each a
run of its own; H.264 with noise over the camera, see NOISY_CAMERA_JS); two Chromium viewers
play on automatic, one direct, one through `LossyGateway` whose client-facing UDP
port is then shaped to 400 kbit/s by `tc` (HTB in the test's own network namespace, as
test_bandwidth.py does: only that viewer's media crosses the bottleneck). The shaped viewer
settles on q within 10 s and keeps decoding with no freeze over 500 ms (framesDecoded
progress sampled in the page every 50 ms; getStats' freezes on average under 500 ms); the direct one stays on f;
lifting the bottleneck brings the first back to f within 20 s (through probing: its
estimate alone never grows past what it is sent); its getStats frame size follows, and it
asks for no keyframe on the way (a decoder that fails does). The figures line up each of the
shaped viewer's stalls over 200 ms with the probe bursts sent to it, the direct viewer's
stalls and the publisher's encoder waits at the same time, and both viewers' audio and video
jitter buffers per second (`shaped_buffering`, `direct_buffering`; per 250 ms around each
stall), the shaped viewer's layer, target and estimate every 100 ms from the onset until it is
on q (`onset`), and the RTP headers the gateway passed it meanwhile (`*-onset-packets.json`).

Both viewers are live before the bottleneck (`catching_up` gone from /api/rooms): a viewer is
started from f's latest keyframe and sent what followed at 4x, and in 2 of 4 runs that was
still going on when the bottleneck came (another test's case).

What the figures showed (2026-12-07, VP8) and what the server does about each:
- The once-a-second check left the viewer on f 0.7 s after its estimate had fallen, the queue
  full meanwhile, dropping the tail of every frame: a collapsed estimate now acts at once
  (`RoomManager.downswitchOnFeedback`).
- A move f -> h -> q asked for q's keyframe 100 ms after h's, and libwebrtc drops a second
  request within 300 ms: q came a second later (`RoomManager.keyframeRequestSpacing`).
- The new layer's keyframe, sent into the full queue, lost a packet, whose repair waited
  behind the same 600 ms queue: 1.6-2 s without a picture. The old layer is now held back
  from the decision to the move, and the keyframe is paced at the viewer's estimate.
- The queue's delay takes the viewer's audio jitter buffer to a 580-640 ms target; Chromium's
  A/V sync then raises the video target by up to 80 ms a second, while the video's buffering
  stays near 0, until at one frame the video jumps to its target: stalls of 350-500 ms 7-17 s
  after the onset. With the old layer held back the audio target peaks at 400-600 ms and the
  stalls at 150-400 ms (11 runs).

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
# `stalls` lists every wait over STALL_MS (its end in wall-clock ms, and how long frames had
# not arrived complete then, framesReceived), and `freezes` Chromium's own freezes (its
# totalFreezesDuration grew): what the test lines up with what the path carried.
STALL_MS = 200
WATCH_JS = """
(() => {
  if (window.lsfuWatch) return true;
  const w = window.lsfuWatch = { maxGap: 0, lastDecoded: 0, lastAt: performance.now(), sizes: [], samples: 0,
                                  freezeCount: 0, freezeMs: 0, decoded: 0, dropped: 0, width: 0, pli: 0,
                                  lastReceived: 0, receivedAtDecode: 0, stalls: [], freezes: [], jbs: [], series: [],
                                  seriesAt: 0 };
  w.reset = () => { w.maxGap = 0; w.lastAt = performance.now(); w.sizes = []; w.stalls = []; w.freezes = []; };
  // Every 250 ms (up to 100 s): the cumulative jitter-buffer figures of video and audio
  // (delay, target, minimum, emitted) and their estimated playout times, from which the test
  // works out each stream's buffering over time: is video held for audio, and why.
  const jb = (s) => s ? [s.jitterBufferDelay || 0, s.jitterBufferTargetDelay || 0, s.jitterBufferMinimumDelay || 0,
                         s.jitterBufferEmittedCount || 0, s.estimatedPlayoutTimestamp || 0] : null;
  setInterval(async () => {
    const r = await window.livesfuSession.pc.getStats();
    let video = null, audio = null;
    r.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'audio') audio = s;
      if (s.type === 'inbound-rtp' && s.kind === 'video') video = s;
    });
    if (performance.now() - w.seriesAt >= 250 && w.series.length < 400) {
      w.seriesAt = performance.now();
      w.series.push({ at: Date.now(), v: jb(video), a: jb(audio), decoded: video ? video.framesDecoded || 0 : 0,
                      received: video ? video.framesReceived || 0 : 0,
                      w: video ? video.frameWidth || 0 : 0, nack: video ? video.nackCount || 0 : 0,
                      pli: video ? video.pliCount || 0 : 0, lost: video ? video.packetsLost || 0 : 0,
                      kf: video ? video.keyFramesDecoded || 0 : 0 });
    }
    r.forEach((s) => {
      if (s.type !== 'inbound-rtp' || s.kind !== 'video') return;
      const now = performance.now();
      w.samples += 1;
      w.lastReceived = s.framesReceived || 0;
      w.jbs.push([s.jitterBufferTargetDelay || 0, s.jitterBufferMinimumDelay || 0, s.jitterBufferEmittedCount || 0]);
      if (w.jbs.length > 20) w.jbs.shift();
      // Over the last second: the jitter buffer's target delay per frame, and the part of it
      // the jitter alone asks for (the rest: audio/video sync, playout hints), in ms.
      const [t0, m0, e0] = w.jbs[0], e = Math.max((s.jitterBufferEmittedCount || 0) - e0, 1);
      const jbTarget = Math.round(((s.jitterBufferTargetDelay || 0) - t0) / e * 1000);
      const jbMinimum = Math.round(((s.jitterBufferMinimumDelay || 0) - m0) / e * 1000);
      if ((s.framesDecoded || 0) > w.lastDecoded) {
        const gap = now - w.lastAt;
        w.maxGap = Math.max(w.maxGap, gap);
        if (gap > %d && w.stalls.length < 200) {
          // rx: frames that arrived complete while none was decoded (held, not missing);
          // jb: the jitter buffer's target delay then (ms).
          w.stalls.push({ at: Date.now(), gap: Math.round(gap), rx: w.lastReceived - w.receivedAtDecode,
                          jb: jbTarget, jbMin: jbMinimum });
        }
        w.lastDecoded = s.framesDecoded;
        w.lastAt = now;
        w.receivedAtDecode = w.lastReceived;
      }
      const freezeMs = Math.round((s.totalFreezesDuration || 0) * 1000);
      if (w.freezeSeen && (s.freezeCount || 0) > w.freezeCount && w.freezes.length < 200) {
        w.freezes.push({ at: Date.now(), count: s.freezeCount - w.freezeCount, ms: freezeMs - w.freezeMs });
      }
      w.decoded = s.framesDecoded || 0;
      w.dropped = s.framesDropped || 0;
      w.freezeCount = s.freezeCount || 0;
      w.freezeSeen = true;  // freezes from before the first sample are not listed
      w.freezeMs = freezeMs;
      w.pli = s.pliCount || 0;
      w.width = s.frameWidth || 0;
      const size = `${s.frameWidth || 0}x${s.frameHeight || 0}`;
      if (w.sizes[w.sizes.length - 1] !== size) w.sizes.push(size);
    });
  }, 50);
  return true;
})()
""" % STALL_MS

WATCH_READ_JS = """(() => { const w = window.lsfuWatch; return w && { maxGap: Math.round(w.maxGap),
  sinceLast: Math.round(performance.now() - w.lastAt), sizes: w.sizes.slice(), samples: w.samples,
  decoded: w.decoded, dropped: w.dropped, freezeCount: w.freezeCount, freezeMs: w.freezeMs, pli: w.pli,
  width: w.width, stalls: w.stalls.slice(), freezes: w.freezes.slice() }; })()"""
SERIES_READ_JS = "(() => window.lsfuWatch ? window.lsfuWatch.series.slice() : [])()"

# In the publisher's page: the same waits between increases of framesEncoded, per RID (a
# stall the encoder made reaches every viewer of its layer, whatever the path).
PUB_WATCH_JS = """
(() => {
  if (window.lsfuPubWatch) return true;
  const w = window.lsfuPubWatch = { last: {}, at: {}, stalls: [] };
  w.reset = () => { w.stalls = []; };
  setInterval(async () => {
    const r = await window.livesfuSession.pc.getStats();
    const now = performance.now();
    r.forEach((s) => {
      if (s.type !== 'outbound-rtp' || s.kind !== 'video' || !s.rid) return;
      const n = s.framesEncoded || 0;
      if (n > (w.last[s.rid] || 0)) {
        const gap = now - (w.at[s.rid] || now);
        if (gap > %d && w.stalls.length < 300) w.stalls.push({ rid: s.rid, at: Date.now(), gap: Math.round(gap) });
        w.last[s.rid] = n;
        w.at[s.rid] = now;
      }
    });
  }, 50);
  return true;
})()
""" % STALL_MS

# The shaped viewer's payload types: RTX (probes, repairs) and its video codec's.
PTS_JS = """(() => {
  const sdp = window.livesfuSession.pc.remoteDescription.sdp;
  const rtx = [...sdp.matchAll(/a=rtpmap:(\\d+) rtx\\//g)].map((m) => Number(m[1]));
  const video = [...sdp.matchAll(/m=video \\d+ \\S+ ([\\d ]+)/g)].flatMap((m) => m[1].trim().split(' ').map(Number));
  return { rtx, video: video.filter((pt) => !rtx.includes(pt)) };
})()"""


def bursts_of(log: list, rtx_pts: list[int]) -> list[dict]:
    """Runs of RTX packets (probe bursts, and repairs) towards the shaped viewer: packets
    within 100 ms of the previous, three at least; start (wall s), bytes and span."""
    runs, cur = [], []
    for t, size, pt in log:
        if pt not in rtx_pts:
            continue
        if cur and t - cur[-1][0] > 0.1:
            runs.append(cur)
            cur = []
        cur.append((t, size))
    if cur:
        runs.append(cur)
    return [{"at": r[0][0], "bytes": sum(z for _, z in r), "ms": round((r[-1][0] - r[0][0]) * 1000)}
            for r in runs if len(r) >= 3]


def overlapping(st: dict, others: list[dict]) -> list[int]:
    """The waits in `others` (same shape: end in wall ms, length) that overlap `st`."""
    return [o["gap"] for o in others if o["at"] - o["gap"] < st["at"] and st["at"] - st["gap"] < o["at"]]


def video_gap_ms(log: list, video_pts: list[int], start: float, end: float) -> int:
    """The longest time no video packet went towards the shaped viewer within [start, end]
    (wall s), as the gateway passed them on to the bottleneck."""
    times = [start] + [t for t, _, pt in log if pt in video_pts and start <= t <= end] + [end]
    return round(max(b - a for a, b in zip(times, times[1:])) * 1000)


def queue_delays(log: list, kbit: int, bucket: int = 1600) -> list[float]:
    """Each logged packet's wait in the bottleneck, modelled: a token bucket of `kbit` and
    `bucket` bytes (tc's HTB for 400 kbit/s) in front of a FIFO, fed what the gateway passed."""
    rate = kbit * 1000 / 8
    free, tokens, at, out = 0.0, float(bucket), 0.0, []
    for t, size, _ in log:
        start = max(t, free)
        tokens = min(bucket, tokens + (start - at) * rate)
        at = start
        if tokens >= size:
            tokens -= size
            free = start
        else:
            free = start + (size - tokens) / rate
            tokens, at = 0.0, free
        out.append(free - t)
    return out


def line_up(stalls: list[dict], bursts: list[dict], direct: list[dict], encoder: list[dict],
            log: list, video_pts: list[int]) -> list[dict]:
    delays = queue_delays(log, BOTTLENECK_KBIT)
    """Each of the shaped viewer's stalls with what it coincides with: the burst that began
    last before it ended and how long before its start (the stall's end less its length) that
    was (a burst within the stall, or just before it, held the viewer's frames behind it); the
    direct viewer's stalls and the publisher's encoder waits on layer q overlapping it (the
    machine, not the path)."""
    out = []
    for st in stalls:
        end = st["at"] / 1000
        start = end - st["gap"] / 1000
        before = [b for b in bursts if b["at"] <= end]
        b = before[-1] if before else None
        out.append({"gap": st["gap"], "end": round(end, 3), "frames_received_meanwhile": st.get("rx"),
                    "jitter_target_ms": st.get("jb"), "jitter_minimum_ms": st.get("jbMin"),
                    "burst_ms_before_start": round((start - b["at"]) * 1000) if b else None,
                    "burst_bytes": b["bytes"] if b else None,
                    "direct_stalls": overlapping(st, direct),
                    "encoder_q_stalls": overlapping(st, [e for e in encoder if e["rid"] == "q"]),
                    "server_video_gap_ms": video_gap_ms(log, video_pts, start, end),
                    # the longest modelled wait in the bottleneck from 0.5 s before the stall
                    "queue_ms": round(1000 * max([d for (t, _, _), d in zip(log, delays) if start - 0.5 <= t <= end]
                                                 or [0])),
                    "bytes_from_1s_before": sum(z for t, z, _ in log if start - 1 <= t <= end)})
    return out


# H.264: OpenH264 codes the fake camera's plain pattern at about half VP8's bitrate (f 490,
# h 250, q 110 kbit/s measured), so h fits 400 kbit/s and the lowest layer would not be the
# right one. The publisher then sends the camera under a moving noise overlay (a canvas),
# which its encoder cannot code for less, so each layer is at its cap (h 500 kbit/s).
NOISY_CAMERA_JS = """
(() => {
  const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = async (constraints) => {
    const src = await real(constraints);
    const v = document.createElement('video');
    v.muted = true;
    v.srcObject = new MediaStream(src.getVideoTracks());
    await v.play();
    const W = 1280, H = 720, DX = 128, DY = 72;
    const canvas = Object.assign(document.createElement('canvas'), { width: W, height: H });
    const ctx = canvas.getContext('2d');
    const noise = Object.assign(document.createElement('canvas'), { width: W + DX, height: H + DY });
    const n = noise.getContext('2d');
    const img = n.createImageData(noise.width, noise.height);
    const px = new Uint32Array(img.data.buffer);
    for (let i = 0; i < px.length; i++) px[i] = (Math.random() * 0xffffffff) | 0xff000000;
    n.putImageData(img, 0, 0);
    setInterval(() => {
      ctx.globalAlpha = 1;
      ctx.drawImage(v, 0, 0, W, H);
      ctx.globalAlpha = 0.35;
      ctx.drawImage(noise, -Math.floor(Math.random() * DX), -Math.floor(Math.random() * DY));
    }, 33);
    const out = canvas.captureStream(30);
    src.getAudioTracks().forEach((t) => out.addTrack(t));
    return out;
  };
  return true;
})()
"""


async def open_noisy_publisher(browser, sfu, room: str, codec: str):
    """The publish page (simulcast, 1280x720) whose camera is overlaid with noise."""
    page = await browser.open(page_url(sfu, "publish.html", room=room, simulcast=1, codec=codec, width=1280,
                                       height=720), "publish")
    try:
        await page.wait_for("document.readyState === 'complete' && window.livesfuState", 10, "page loaded")
        await page.evaluate(NOISY_CAMERA_JS)
        await page.evaluate("document.getElementById('start').click()")
        await page.wait_for("window.livesfuState.state === 'connected'", 30, "publisher connected")
    except BaseException:
        await close_all(page)
        raise
    return page


def buffering(series: list[dict], step: int = 4) -> list[dict]:
    """The shaped viewer's buffering over time from the page's 250 ms samples, per second
    (`step` samples): for video and audio, the jitter buffer's mean delay, target and minimum
    per emitted frame (audio: sample) over that second, in ms; the frames decoded; and how
    much later video plays out than audio (their estimated playout times, ms). A video
    target far above its minimum while audio's delay is as high: video held for A/V sync."""
    def per(a, b, i):
        if not a or not b or b[3] <= a[3]:
            return None
        return round((b[i] - a[i]) / (b[3] - a[3]) * 1000)
    out = []
    for a, b in zip(series[::step], series[step::step]):
        row = {"at": round(b["at"] / 1000, 3), "decoded": b["decoded"] - a["decoded"], "width": b["w"],
               "received": b["received"] - a["received"], "nacks": b.get("nack", 0) - a.get("nack", 0),
               "plis": b.get("pli", 0) - a.get("pli", 0), "lost": b.get("lost", 0) - a.get("lost", 0),
               "keyframes": b.get("kf", 0) - a.get("kf", 0)}
        for kind in ("v", "a"):
            row[kind] = [per(a[kind], b[kind], i) for i in range(3)]  # delay, target, minimum
        if b["v"] and b["a"] and b["v"][4] and b["a"][4]:
            row["video_minus_audio_playout_ms"] = round(b["v"][4] - b["a"][4])
        out.append(row)
    return out


def around(rows: list[dict], end: float, gap_s: float) -> list[dict]:
    """The rows of `buffering` from 2 s before a stall's start to 1 s after its end."""
    return [r for r in rows if end - gap_s - 2 <= r["at"] <= end + 1]


async def watch_onset(sfu, room: str, since: float, out: list) -> None:
    """Every 100 ms from the bottleneck's onset until the shaped viewer is on q: each viewer's
    layer, target and estimate (where the time to q goes: the estimate falling, or the wait
    for q's keyframe)."""
    while len(out) < 300:
        raw = (await asyncio.to_thread(sfu.rooms)).get(room, {}).get("raw", {})
        viewers = raw.get("viewer_details", []) or []
        out.append({"t": round(time.monotonic() - since, 2),
                    "temporal": {t.get("rid"): t.get("temporal_bitrates_bps") for t in raw.get("tracks", [])
                                 if t.get("kind") == "video"},
                    "caps": [d.get("temporal_cap") for d in viewers],
                    "viewers": [[d.get("layer"), d.get("target_layer"), d.get("bandwidth_estimate_bps"), d.get("nacks"),
                                 d.get("nacks_answered"), d.get("nack_missing"), d.get("plis"), d.get("catching_up")]
                                for d in viewers]})
        await asyncio.sleep(0.1)


def details(sfu, room: str) -> list[dict]:
    return sfu.rooms().get(room, {}).get("raw", {}).get("viewer_details", []) or []


def layers_of(sfu, room: str) -> list[tuple]:
    return sorted((d.get("layer") or "", d.get("target_layer") or "") for d in details(sfu, room))


@pytest.mark.parametrize("codec", ["vp8", "h264"])
def test_chromium_viewer_behind_400kbit_drops_to_lowest_layer_and_probes_back_to_top(browser, sfu, request, codec):
    if not can_shape():
        pytest.skip("needs root and tc inside the test's own network namespace (LIVESFU_IN_NETNS=1)")
    room = room_name(request)
    name = node_slug(request.node.name)[:60] + "-" + codec

    async def body():
        gw = pub = p_direct = p_shaped = None
        figures: dict = {"timeline": []}
        t0 = time.monotonic()

        async def note(what: str, **extra):
            # Off the event loop: the gateway relays the shaped viewer's packets on it.
            viewers = await asyncio.to_thread(details, sfu, room)
            figures["timeline"].append({"t": round(time.monotonic() - t0, 2), "wall": round(time.time(), 3),
                                        "what": what,
                                        "viewers": [{k: d.get(k) for k in ("layer", "target_layer", "pinned",
                                                     "bandwidth_estimate_bps", "probes", "probe_bytes", "probes_up",
                                                     "layer_moves", "move_step_ticks", "move_report_step_ticks", "nacks",
                                                     "nacks_answered", "nack_missing", "nack_over_budget", "rtx_bytes", "plis")}
                                                    for d in viewers], **extra})

        try:
            gw = await LossyGateway(sfu.base_url, seed=17).start()
            if codec == "h264":
                pub = await open_noisy_publisher(browser, sfu, room, codec)
            else:
                pub = await open_publish_page(browser, sfu, room, simulcast=1, codec=codec, width=1280, height=720)

            def three_layers():
                tracks = [t for t in sfu.rooms()[room]["raw"]["tracks"] if t["kind"] == "video"]
                assert all(t.get("codec", codec).lower() == codec for t in tracks), tracks
                rates = {t["rid"]: t["bitrate_bps"] for t in tracks}
                figures["layer_bitrates"] = rates
                # f well above what 400 kbit/s carries, q well below.
                return len(tracks) == 3 and all(rates.get(r, 0) > 0 for r in "fhq") and rates["f"] > 800_000

            await eventually(three_layers, 60, "three layers flowing, f above 800 kbit/s")
            await note("three layers")
            p_direct = await browser.open(page_url(sfu, "player.html", room=room, autostart=1), "player-direct")
            p_shaped = await browser.open(
                page_url(sfu, "player.html", room=room, server=gw.base_url, autostart=1), "player-shaped")
            await asyncio.gather(wait_playing(p_direct, 10, 10), wait_playing(p_shaped, 10, 10, timeout=60))
            assert len(gw.paths) == 1, gw.paths
            for p in (p_direct, p_shaped):
                await p.evaluate(WATCH_JS)
            pts = await p_shaped.evaluate(PTS_JS)
            await pub.evaluate(PUB_WATCH_JS)

            # Both on f before the bottleneck (no estimate says otherwise).
            await eventually(lambda: layers_of(sfu, room) == [("f", ""), ("f", "")], 20, "both viewers on f")
            # And live: a viewer is started from f's latest keyframe, which may be seconds old,
            # and sent what followed at 4x until it has the newest packet (instant start). The
            # bottleneck is for a viewer that is live: a start still catching up behind it is
            # another test's case (test_instant_start.py).
            live_from = time.monotonic()
            await eventually(lambda: not any(d.get("catching_up") for d in details(sfu, room)), 30,
                             "both viewers caught up with live", interval=0.25)
            figures["caught_up_after_s"] = round(time.monotonic() - live_from, 2)
            await note("both on f")

            with Bottleneck(gw.paths[0].client_port, BOTTLENECK_KBIT) as shaped:
                shaped_at = time.monotonic()
                await note("bottleneck on")
                gw.paths[0].to_client_headers = []
                onset = asyncio.create_task(watch_onset(sfu, room, shaped_at, figures.setdefault("onset", [])))
                await eventually(lambda: layers_of(sfu, room) == [("f", ""), ("q", "")],
                                 LOW_WITHIN_S + 20, "one viewer on q, the other on f", interval=0.25)
                figures["to_lowest_s"] = round(time.monotonic() - shaped_at, 2)
                onset.cancel()
                await note("shaped on q")
                # Settled: from here it keeps decoding, no freeze over 500 ms, for 20 s.
                await asyncio.sleep(1.0)
                save_json(f"{name}-onset-packets.json", gw.paths[0].to_client_headers)
                gw.paths[0].to_client_headers = None
                await p_shaped.evaluate("window.lsfuWatch.reset()")
                await p_direct.evaluate("window.lsfuWatch.reset()")
                await pub.evaluate("window.lsfuPubWatch.reset()")
                gw.paths[0].to_client_log = []
                before = await p_shaped.evaluate(WATCH_READ_JS)
                for _ in range(10):
                    await asyncio.sleep(2.0)
                    await note("settled")
                after = await p_shaped.evaluate(WATCH_READ_JS)
                log, gw.paths[0].to_client_log = gw.paths[0].to_client_log, None
                figures["shaped_settled"] = {"before": before, "after": after}
                # What the shaped viewer's stalls coincide with: the RTX runs (probe bursts)
                # that went towards it.
                bursts = bursts_of(log, pts["rtx"])
                figures["settled_bursts"] = [{**b, "at": round(b["at"], 3)} for b in bursts]
                figures["direct_during"] = await p_direct.evaluate(WATCH_READ_JS)
                encoder = await pub.evaluate("window.lsfuPubWatch.stalls.slice()")
                figures["settled_encoder_stalls"] = encoder
                figures["settled_stalls"] = line_up(after["stalls"], bursts, figures["direct_during"]["stalls"], encoder,
                                                    log, pts["video"])
                figures["tc"] = shaped.stats()
                # The shaped viewer's buffering, per second, from before the bottleneck on.
                series = await p_shaped.evaluate(SERIES_READ_JS)
                figures["shaped_buffering"] = buffering(series)
                figures["direct_buffering"] = buffering(await p_direct.evaluate(SERIES_READ_JS))
                fine = buffering(series, step=1)  # per 250 ms around each stall
                for st in figures["settled_stalls"]:
                    st["buffering"] = around(fine, st["end"], st["gap"] / 1000)
            lifted_at = time.monotonic()
            await note("bottleneck off")
            await eventually(lambda: layers_of(sfu, room) == [("f", ""), ("f", "")],
                             TOP_WITHIN_S + 20, "both viewers on f again", interval=0.25)
            figures["to_top_s"] = round(time.monotonic() - lifted_at, 2)
            await note("shaped back on f")
            await asyncio.sleep(3.0)
            figures["shaped_end"] = await p_shaped.evaluate(WATCH_READ_JS)
            figures["direct_end"] = await p_direct.evaluate(WATCH_READ_JS)
            figures["viewers"] = await asyncio.to_thread(details, sfu, room)
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
            # No decode errors through the switches: a decoder that fails asks for a keyframe.
            assert figures["shaped_end"]["pli"] == settled["before"]["pli"], figures
            assert figures["direct_end"]["width"] == 1280, figures
            probes = [d.get("probes", 0) for d in figures["viewers"]]
            assert max(probes) > 0, figures
        finally:
            if "viewers" not in figures:
                save_json(f"{name}.json", figures)
            await close_all(p_shaped, p_direct, pub, gw)

    run(body(), 300)
