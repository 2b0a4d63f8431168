#!/usr/bin/env python3
"""STAND-IN WHIP/WHEP server for proving the interop harness. Test scaffolding only.

This is NOT livesfu and never replaces it in the suite unless LIVESFU_STANDIN=1. It speaks
the same HTTP API (DESIGN.md §5: WHIP/WHEP POST → 201 + answer + Location, DELETE on
Location, GET /api/rooms, /healthz, /metrics, /web/...) and takes the same flags as the
livesfu binary, so the harness, the pages and the Chromium driver can be proven while the
real server is being written.

Unlike livesfu it decodes and re-encodes (aiortc's MediaRelay), one publisher per room.
Viewers hold "follow" tracks that switch to whichever publisher the room has, so a viewer
may join before the publisher and survives a publisher reconnect.
"""

import argparse
import asyncio
import fractions
import logging
import os
import secrets
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import loopback  # noqa: E402,F401  (patches aioice for 127.0.0.1)

from aiohttp import web  # noqa: E402
from aiortc import (  # noqa: E402
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.contrib.media import MediaRelay  # noqa: E402
from aiortc.mediastreams import MediaStreamError  # noqa: E402

log = logging.getLogger("standin")
VIDEO_CLOCK = 90000
EPOCH = time.monotonic()


def answer_codecs(sdp: str) -> dict:
    """kind → first codec name of each m-section of an SDP ("video" → "VP8")."""
    out: dict = {}
    kind = None
    first_pt = None
    for line in sdp.splitlines():
        if line.startswith("m="):
            parts = line[2:].split()
            kind = parts[0]
            first_pt = parts[3] if len(parts) > 3 else None
        elif line.startswith("a=rtpmap:") and kind and first_pt:
            pt, rest = line[len("a=rtpmap:"):].split(" ", 1)
            if pt == first_pt and kind not in out:
                out[kind] = rest.split("/")[0]
    return out


class FollowTrack(MediaStreamTrack):
    """A viewer's outbound track: frames of the room's current publisher, re-stamped."""

    def __init__(self, room: "Room", kind: str):
        super().__init__()
        self.kind = kind
        self.room = room
        self._gen = -1
        self._proxy = None
        self._samples = 0

    async def recv(self):
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            if self._gen != self.room.gen:
                self._gen = self.room.gen
                src = self.room.sources.get(self.kind)
                self._proxy = self.room.relay.subscribe(src, buffered=False) if src else None
            if self._proxy is None:
                await self.room.wait_change(1.0)
                continue
            try:
                frame = await asyncio.wait_for(self._proxy.recv(), 0.5)
            except asyncio.TimeoutError:
                continue
            except MediaStreamError:
                self._proxy = None
                continue
            if self.kind == "audio":
                # own copy: the relay hands the same frame object to every viewer
                import av

                copy = av.AudioFrame(format=frame.format.name, layout=frame.layout.name, samples=frame.samples)
                for dst, src in zip(copy.planes, frame.planes):
                    dst.update(bytes(src)[:dst.buffer_size])
                copy.sample_rate = frame.sample_rate
                copy.pts = self._samples
                copy.time_base = fractions.Fraction(1, frame.sample_rate)
                self._samples += frame.samples
                return copy
            # video: a clock shared by all viewers, so in-place stamping races harmlessly
            frame.pts = int((time.monotonic() - EPOCH) * VIDEO_CLOCK)
            frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
            return frame


class Session:
    def __init__(self, sid: str, role: str, room: "Room", pc: RTCPeerConnection):
        self.id = sid
        self.role = role
        self.room = room
        self.pc = pc
        self.codecs: dict = {}
        self.created = time.time()


class Room:
    def __init__(self, name: str):
        self.name = name
        self.publisher: Session | None = None
        self.viewers: dict = {}
        self.sources: dict = {}
        self.relay = MediaRelay()
        self.gen = 0
        self._changed = asyncio.Event()

    def set_sources(self, sources: dict) -> None:
        self.sources = sources
        self.gen += 1
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_change(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except asyncio.TimeoutError:
            pass

    def summary(self) -> dict:
        pub = None
        if self.publisher:
            pub = {
                "id": self.publisher.id,
                "state": self.publisher.pc.connectionState,
                "tracks": [{"kind": k, "codec": c} for k, c in sorted(self.publisher.codecs.items())],
            }
        return {
            "name": self.name,
            "publisher": pub,
            "viewers": len(self.viewers),
            "tracks": pub["tracks"] if pub else [],
        }


class StandIn:
    def __init__(self, web_root: str | None):
        self.rooms: dict = {}
        self.sessions: dict = {}
        self.web_root = web_root
        self.counters = {"whip_posts": 0, "whep_posts": 0, "deletes": 0}
        self._closing: set = set()

    def room(self, name: str) -> Room:
        if name not in self.rooms:
            self.rooms[name] = Room(name)
        return self.rooms[name]

    def _gc(self, room: Room) -> None:
        if room.publisher is None and not room.viewers and self.rooms.get(room.name) is room:
            del self.rooms[room.name]

    async def end(self, session: Session) -> None:
        if self.sessions.pop(session.id, None) is None:
            return
        room = session.room
        if session.role == "publisher":
            if room.publisher is session:
                room.publisher = None
                room.set_sources({})
        else:
            room.viewers.pop(session.id, None)
        self._gc(room)
        log.info("session %s (%s, room %s) ended", session.id, session.role, room.name)
        # closing can take a while on a busy machine: the session is already gone for the API
        self._closing.add(asyncio.ensure_future(session.pc.close()))
        self._closing = {t for t in self._closing if not t.done()}

    def _new_pc(self, session_holder: list) -> RTCPeerConnection:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))

        @pc.on("connectionstatechange")
        async def _state():
            log.info("pc %s state %s", session_holder[0].id if session_holder else "?", pc.connectionState)
            if pc.connectionState in ("failed", "closed") and session_holder:
                await self.end(session_holder[0])

        return pc

    @staticmethod
    def _check(request: web.Request) -> str:
        if request.content_type != "application/sdp":
            raise web.HTTPUnsupportedMediaType(text="Content-Type must be application/sdp\n")
        room = request.match_info["room"]
        if not room or len(room) > 64 or not all(c.isalnum() or c in "-_." for c in room):
            raise web.HTTPBadRequest(text="bad room name\n")
        token = os.environ.get("AUTH_TOKEN")
        if token and request.headers.get("Authorization", "") != f"Bearer {token}":
            raise web.HTTPUnauthorized(text="missing or bad token\n")
        return room

    def _setup_deadline(self, session: Session, seconds: float = 15.0) -> None:
        """A session not connected in time is ended (its client is gone or unreachable)."""
        async def check() -> None:
            await asyncio.sleep(seconds)
            if session.id in self.sessions and session.pc.connectionState != "connected":
                log.info("session %s not connected after %ss: ending it", session.id, seconds)
                await self.end(session)
        asyncio.ensure_future(check())

    def _created(self, session: Session) -> web.Response:
        loc = f"/api/session/{session.id}"
        return web.Response(
            status=201,
            text=session.pc.localDescription.sdp,
            content_type="application/sdp",
            headers={"Location": loc, "ETag": f'"{session.id}"'},
        )

    async def whip(self, request: web.Request) -> web.Response:
        name = self._check(request)
        offer = (await request.read()).decode("utf-8", errors="replace")
        if not offer.startswith("v=0"):
            raise web.HTTPBadRequest(text="malformed SDP\n")
        self.counters["whip_posts"] += 1
        room = self.room(name)
        if room.publisher is not None:
            raise web.HTTPConflict(text="room already has a publisher\n")
        holder: list = []
        pc = self._new_pc(holder)
        session = Session(secrets.token_hex(12), "publisher", room, pc)
        holder.append(session)
        room.publisher = session  # reserve before awaiting
        self.sessions[session.id] = session
        tracks: dict = {}

        @pc.on("track")
        def _track(track):
            tracks[track.kind] = track

        try:
            await pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as exc:  # bad offers are normal input
            await self.end(session)
            raise web.HTTPBadRequest(text=f"unusable offer: {exc}\n")
        session.codecs = answer_codecs(pc.localDescription.sdp)
        room.set_sources(dict(tracks))
        self._setup_deadline(session)
        log.info("publisher %s in room %s codecs %s", session.id, name, session.codecs)
        return self._created(session)

    async def whep(self, request: web.Request) -> web.Response:
        name = self._check(request)
        offer = (await request.read()).decode("utf-8", errors="replace")
        if not offer.startswith("v=0"):
            raise web.HTTPBadRequest(text="malformed SDP\n")
        self.counters["whep_posts"] += 1
        room = self.room(name)
        holder: list = []
        pc = self._new_pc(holder)
        session = Session(secrets.token_hex(12), "viewer", room, pc)
        holder.append(session)
        room.viewers[session.id] = session
        self.sessions[session.id] = session
        try:
            # transceivers made before the offer is applied, so codec preferences count
            # (aiortc picks codecs in setRemoteDescription): the publisher's video codec
            want = room.publisher.codecs.get("video") if room.publisher else None
            kinds = [line[2:].split()[0] for line in offer.splitlines() if line.startswith("m=")]
            for kind in kinds:
                if kind not in ("audio", "video"):
                    continue
                t = pc.addTransceiver(FollowTrack(room, kind), direction="sendonly")
                if kind == "video" and want:
                    caps = RTCRtpSender.getCapabilities("video").codecs
                    prefs = [c for c in caps if c.mimeType.lower() == f"video/{want.lower()}"]
                    if prefs:
                        t.setCodecPreferences(prefs + [c for c in caps if c.mimeType.lower() == "video/rtx"])
            await pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as exc:
            await self.end(session)
            raise web.HTTPBadRequest(text=f"unusable offer: {exc}\n")
        session.codecs = answer_codecs(pc.localDescription.sdp)
        self._setup_deadline(session)
        log.info("viewer %s in room %s codecs %s", session.id, name, session.codecs)
        return self._created(session)

    async def delete(self, request: web.Request) -> web.Response:
        session = self.sessions.get(request.match_info["sid"])
        if session is None:
            raise web.HTTPNotFound(text="no such session\n")
        self.counters["deletes"] += 1
        await self.end(session)
        return web.Response(status=200, text="")

    async def options(self, request: web.Request) -> web.Response:
        return web.Response(status=204, headers={"Accept-Post": "application/sdp"})

    async def rooms_json(self, request: web.Request) -> web.Response:
        return web.json_response({"rooms": [r.summary() for r in sorted(self.rooms.values(), key=lambda r: r.name)]})

    async def healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def metrics(self, request: web.Request) -> web.Response:
        lines = [f"webrtc_rooms {len(self.rooms)}"]
        for r in self.rooms.values():
            lines.append(f'webrtc_subscribers{{room="{r.name}"}} {len(r.viewers)}')
        for k, v in self.counters.items():
            lines.append(f"standin_{k}_total {v}")
        return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")

    async def root(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("/web/index.html")

    async def close_all(self) -> None:
        for s in list(self.sessions.values()):
            await self.end(s)
        if self._closing:
            await asyncio.wait(self._closing, timeout=5)


CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, If-Match",
    "Access-Control-Allow-Methods": "GET, POST, PATCH, DELETE, OPTIONS",
    "Access-Control-Expose-Headers": "Location, ETag, Link",
}


@web.middleware
async def cors(request: web.Request, handler):
    try:
        resp = await handler(request)
    except web.HTTPException as exc:
        exc.headers.update(CORS)
        raise
    resp.headers.update(CORS)
    return resp


def main() -> int:
    ap = argparse.ArgumentParser(description="aiortc stand-in for livesfu (test scaffolding only)")
    ap.add_argument("--http-addr", default="127.0.0.1:8080")
    ap.add_argument("--udp-port", type=int, default=0, help="accepted for compatibility; aiortc picks its own ports")
    ap.add_argument("--web-root", default=None)
    ap.add_argument("--log-level", default="info")
    args, unknown = ap.parse_known_args()
    logging.basicConfig(level=getattr(logging, args.log_level.upper(), logging.INFO),
                        format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)
    logging.getLogger("aioice").setLevel(logging.WARNING)
    logging.getLogger("aiortc").setLevel(logging.WARNING)
    if unknown:
        log.info("ignoring flags %s", unknown)
    host, port = args.http_addr.rsplit(":", 1)
    sfu = StandIn(args.web_root)
    app = web.Application(middlewares=[cors], client_max_size=256 * 1024)
    app.router.add_post("/api/whip/publish/{room}", sfu.whip)
    app.router.add_post("/api/whep/play/{room}", sfu.whep)
    app.router.add_route("OPTIONS", "/api/whip/publish/{room}", sfu.options)
    app.router.add_route("OPTIONS", "/api/whep/play/{room}", sfu.options)
    app.router.add_delete("/api/session/{sid}", sfu.delete)
    app.router.add_route("OPTIONS", "/api/session/{sid}", sfu.options)
    app.router.add_get("/api/rooms", sfu.rooms_json)
    app.router.add_get("/healthz", sfu.healthz)
    app.router.add_get("/metrics", sfu.metrics)
    app.router.add_get("/", sfu.root)
    if args.web_root and os.path.isdir(args.web_root):
        app.router.add_static("/web", args.web_root)

    async def run() -> None:
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        await web.TCPSite(runner, host, int(port)).start()
        log.info("stand-in listening on http://%s:%s", host, port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        log.info("shutting down")
        try:
            await asyncio.wait_for(sfu.close_all(), 5)
            await asyncio.wait_for(runner.cleanup(), 3)
        except asyncio.TimeoutError:
            log.warning("shutdown took too long; exiting anyway")

    asyncio.run(run())
    log.info("stopped")
    logging.shutdown()
    os._exit(0)  # aiortc's codec worker threads must not keep the process alive


if __name__ == "__main__":
    sys.exit(main())
