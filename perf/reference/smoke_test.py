#!/usr/bin/env python3
"""Smoke test of a WHIP/WHEP server with aiortc on 127.0.0.1.

One publisher (WHIP) sends a synthetic VP8 video track and an Opus audio
track; N viewers (WHEP) play them. The test passes when every viewer
decodes video frames and audio frames, a PLI sent by the viewers reaches the
publisher, and every session ends with DELETE on its Location.

Made for the Pion reference (perf/reference), usable against any server with
the same paths (livesfu too):

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install aiortc aiohttp
    perf/reference/build.sh
    /tmp/venv/bin/python perf/reference/smoke_test.py \
        --server-cmd ".build-reference/pion-sfu -http 127.0.0.1:8090 -udp-port 40000"

Without --server-cmd it talks to a server already listening at --url.
"""

import argparse
import asyncio
import fractions
import json
import shlex
import subprocess
import sys
import time
from urllib.parse import urljoin

import aiohttp
import aioice.ice
from aiortc import (
    AudioStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.rtcrtpsender import RTCRtpSender
from av import VideoFrame


def loopback_only():
    """aioice leaves 127.0.0.1 out when gathering host candidates: make it
    the only address, so everything stays on loopback."""
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]


# Count the PLIs/FIRs that reach the publisher's senders.
pli_received = {"count": 0}
_orig_handle_rtcp = RTCRtpSender._handle_rtcp_packet


async def _counting_handle_rtcp(self, packet):
    if getattr(packet, "fmt", None) in (1, 4) and type(packet).__name__ == "RtcpPsfbPacket":
        pli_received["count"] += 1  # fmt 1 = PLI, 4 = FIR
    return await _orig_handle_rtcp(self, packet)


RTCRtpSender._handle_rtcp_packet = _counting_handle_rtcp


class MovingVideo(VideoStreamTrack):
    """Small frames whose content changes, so VP8 has something to code."""

    def __init__(self, width=320, height=240):
        super().__init__()
        self.width, self.height, self.n = width, height, 0

    async def recv(self):
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame(width=self.width, height=self.height)
        self.n += 1
        shade = (self.n * 7) % 256
        for i, plane in enumerate(frame.planes):
            plane.update(bytes([shade if i == 0 else 128]) * plane.buffer_size)
        frame.pts, frame.time_base = pts, time_base
        return frame


def new_pc():
    return RTCPeerConnection(
        RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
    )


async def negotiate(http, url, pc):
    """POSTs the complete offer (aiortc gathers before returning from
    setLocalDescription), applies the answer, returns the session URL."""
    await pc.setLocalDescription(await pc.createOffer())
    started = time.monotonic()
    async with http.post(
        url, data=pc.localDescription.sdp, headers={"Content-Type": "application/sdp"}
    ) as resp:
        body = await resp.text()
        if resp.status != 201:
            raise RuntimeError(f"POST {url}: {resp.status} {body.strip()}")
        location = resp.headers.get("Location")
        if not location:
            raise RuntimeError(f"POST {url}: 201 without Location")
    answer_ms = (time.monotonic() - started) * 1000
    await pc.setRemoteDescription(RTCSessionDescription(sdp=body, type="answer"))
    return urljoin(url, location), answer_ms


async def wait_connected(pc, name, timeout):
    done = asyncio.Event()

    @pc.on("connectionstatechange")
    def _():
        if pc.connectionState in ("connected", "failed", "closed"):
            done.set()

    if pc.connectionState != "connected":
        try:
            await asyncio.wait_for(done.wait(), timeout)
        except asyncio.TimeoutError:
            pass
    if pc.connectionState != "connected":
        raise RuntimeError(f"{name}: connection {pc.connectionState} after {timeout} s")


class Viewer:
    def __init__(self, index):
        self.index = index
        self.pc = new_pc()
        self.frames = {"video": 0, "audio": 0}
        self.first_frame_ms = {}
        self.tasks = []
        self.started = time.monotonic()
        self.pc.addTransceiver("video", direction="recvonly")
        self.pc.addTransceiver("audio", direction="recvonly")

        @self.pc.on("track")
        def on_track(track):
            self.tasks.append(asyncio.ensure_future(self.consume(track)))

    async def consume(self, track):
        try:
            while True:
                await track.recv()
                if self.frames[track.kind] == 0:
                    self.first_frame_ms[track.kind] = round((time.monotonic() - self.started) * 1000)
                self.frames[track.kind] += 1
        except Exception:  # the track ended
            pass

    async def send_pli(self):
        for t in self.pc.getTransceivers():
            if t.kind == "video":
                for src in t.receiver.getSynchronizationSources():
                    await t.receiver._send_rtcp_pli(src.source)
                    return True
        return False

    async def packets_received(self):
        stats = await self.pc.getStats()
        out = {}
        for s in stats.values():
            if s.type == "inbound-rtp":
                out[s.kind] = out.get(s.kind, 0) + s.packetsReceived
        return out


async def wait_healthy(http, base, timeout):
    deadline = time.monotonic() + timeout
    while True:
        try:
            async with http.get(urljoin(base, "/healthz")) as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{base}/healthz not answering after {timeout} s")
        await asyncio.sleep(0.1)


async def run(args):
    report = {"viewers": [], "url": args.url, "room": args.room}
    failures = []
    async with aiohttp.ClientSession() as http:
        await wait_healthy(http, args.url, 10)

        pub = new_pc()
        pub.addTrack(MovingVideo())
        pub.addTrack(AudioStreamTrack())
        pub_url, pub_ms = await negotiate(http, urljoin(args.url, f"/api/whip/publish/{args.room}"), pub)
        await wait_connected(pub, "publisher", args.timeout)
        report["publisher"] = {"answer_ms": round(pub_ms, 1), "location": pub_url}

        viewers = [Viewer(i) for i in range(args.viewers)]
        urls = []
        for v in viewers:
            url, ms = await negotiate(http, urljoin(args.url, f"/api/whep/play/{args.room}"), v.pc)
            urls.append(url)
            report["viewers"].append({"answer_ms": round(ms, 1), "location": url})
        await asyncio.gather(*(wait_connected(v.pc, f"viewer {v.index}", args.timeout) for v in viewers))

        # Half the time plain playing, then a PLI from every viewer, then the rest.
        await asyncio.sleep(args.seconds / 2)
        plis_before = pli_received["count"]
        sent = [await v.send_pli() for v in viewers]
        await asyncio.sleep(args.seconds / 2)
        report["pli"] = {
            "viewers_sent": sum(sent),
            "publisher_received_before": plis_before,
            "publisher_received_after": pli_received["count"],
        }
        if not any(sent) or pli_received["count"] <= plis_before:
            failures.append("no viewer PLI reached the publisher")

        pub_stats = await pub.getStats()
        report["publisher"]["packets_sent"] = {
            s.kind: s.packetsSent for s in pub_stats.values() if s.type == "outbound-rtp"
        }
        for v, entry in zip(viewers, report["viewers"]):
            entry["frames"] = dict(v.frames)
            entry["first_frame_ms"] = v.first_frame_ms
            entry["packets_received"] = await v.packets_received()
            for kind in ("video", "audio"):
                if v.frames[kind] < args.min_frames:
                    failures.append(f"viewer {v.index}: {v.frames[kind]} {kind} frames < {args.min_frames}")

        try:
            async with http.get(urljoin(args.url, "/api/rooms")) as resp:
                if resp.status == 200:
                    report["rooms"] = await resp.json(content_type=None)
        except aiohttp.ClientError:
            pass

        # End every session the WHIP/WHEP way: DELETE, then close.
        for url in urls + [pub_url]:
            async with http.delete(url) as resp:
                if resp.status not in (200, 204):
                    failures.append(f"DELETE {url}: {resp.status}")
        async with http.delete(urls[0] if urls else pub_url) as resp:
            report["delete_again_status"] = resp.status
            if resp.status != 404:
                failures.append(f"second DELETE answered {resp.status}, want 404")
        for v in viewers:
            await v.pc.close()
            for t in v.tasks:
                t.cancel()
        await pub.close()
    report["failures"] = failures
    return report


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", default="http://127.0.0.1:8090", help="server base URL")
    p.add_argument("--room", default="smoke")
    p.add_argument("--viewers", type=int, default=3)
    p.add_argument("--seconds", type=float, default=6.0, help="how long viewers play")
    p.add_argument("--min-frames", type=int, default=30, help="per viewer, per kind")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to connect")
    p.add_argument("--server-cmd", help="start this server first and stop it at the end")
    args = p.parse_args()

    loopback_only()
    server = None
    if args.server_cmd:
        server = subprocess.Popen(shlex.split(args.server_cmd))
    try:
        report = asyncio.run(run(args))
    except Exception as exc:  # a failed step: say which, exit non-zero
        print(f"smoke_test: FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        if server:
            server.terminate()
            try:
                server.wait(5)
            except subprocess.TimeoutExpired:
                server.kill()

    print(json.dumps(report, indent=2))
    for i, v in enumerate(report["viewers"]):
        print(
            f"viewer {i}: answer {v['answer_ms']} ms, first frame {v['first_frame_ms']} ms, "
            f"frames {v['frames']}, packets {v['packets_received']}"
        )
    print(f"publisher sent {report['publisher']['packets_sent']}, PLIs {report['pli']}")
    if report["failures"]:
        for f in report["failures"]:
            print(f"FAIL: {f}")
        print(f"0 passed, {len(report['failures'])} failed")
        return 1
    print("smoke_test: 1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
