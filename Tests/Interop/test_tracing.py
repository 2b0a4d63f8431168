"""Traces (issue 18): a real OTLP/HTTP receiver, decoding with the official OpenTelemetry
protobuf definitions (PyPI `opentelemetry-proto`, ExportTraceServiceRequest), checks the
spans of a WHIP publish and a WHEP play whose requests carry W3C `traceparent` headers: span
names and attributes, parent/child links, the propagated trace ids, the session events in
order, and that no token reaches the collector."""

import http.server
import threading

import aiohttp
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

import signalled_peer
from harness import V_FRAMES, close_all, eventually, room_name, run, start_publisher
from livesfu_server import ServerUnderTest, using_standin
from whep_client import WhepViewer

pytestmark = pytest.mark.skipif(using_standin(), reason="checks livesfu's traces")

TOKEN = "tok-never-in-a-trace-7f3a"
PUBLISH_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PLAY_TRACE = "0af7651916cd43dd8448eb211c80319c"
PUBLISH_PARENT = "00f067aa0ba902b7"
PLAY_PARENT = "b7ad6b7169203331"


class Collector:
    """An OTLP/HTTP traces endpoint on 127.0.0.1: keeps every decoded span and raw body."""

    def __init__(self):
        self.bodies: list[bytes] = []
        self.spans: list = []
        self.resources: list[dict] = []
        collector = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                collector.bodies.append(body)
                collector.content_type = self.headers.get("Content-Type")
                collector.auth = self.headers.get("X-Collector-Key")
                for rs in request.resource_spans:
                    collector.resources.append({kv.key: kv.value.string_value for kv in rs.resource.attributes})
                    for ss in rs.scope_spans:
                        collector.spans.extend(ss.spans)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()

    def named(self, name: str) -> list:
        return [s for s in self.spans if s.name == name]


def attrs(span) -> dict:
    out = {}
    for kv in span.attributes:
        v = kv.value
        out[kv.key] = v.string_value if v.HasField("string_value") else v.int_value if v.HasField("int_value") else v.bool_value
    return out


@pytest.fixture
def collector():
    c = Collector()
    yield c
    c.stop()


def test_spans_of_a_whip_publish_and_whep_play(request, collector, monkeypatch):
    server = ServerUnderTest(request.node.name, env={
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{collector.port}",
        "OTEL_SERVICE_NAME": "livesfu-interop", "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=interop",
        "OTEL_EXPORTER_OTLP_HEADERS": "X-Collector-Key=k%3D1", "AUTH_TOKEN": TOKEN}).start()
    room = room_name(request)

    async def post_with_traceparent(url, offer, token=None):
        trace, parent = (PUBLISH_TRACE, PUBLISH_PARENT) if "/whip/" in url else (PLAY_TRACE, PLAY_PARENT)
        headers = {"Content-Type": "application/sdp", "Authorization": f"Bearer {token}",
                   "traceparent": f"00-{trace}-{parent}-01"}
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http_client:
            async with http_client.post(url, data=offer.encode(), headers=headers) as resp:
                body = await resp.text()
                assert resp.status == 201, (resp.status, body)
                return body, signalled_peer.urljoin(url, resp.headers["Location"])

    monkeypatch.setattr(signalled_peer, "post_sdp", post_with_traceparent)

    async def body():
        pub = await start_publisher(server.base_url, room, token=TOKEN)
        viewer = None
        try:
            viewer = await WhepViewer(server.base_url, room, token=TOKEN).start()
            await viewer.wait_frames(video=V_FRAMES)
        finally:
            await close_all(viewer, pub)  # DELETE, then close: the sessions end "deleted"
        await eventually(lambda: len(collector.named("session publish")) == 1
                         and len(collector.named("session play")) == 1, 15, "both session spans exported")

    try:
        run(body())
    finally:
        server.stop()

    # The requests: server spans in the client's traces, children of its traceparent.
    publish = [s for s in collector.named("POST /api/whip/publish/:room") if s.trace_id.hex() == PUBLISH_TRACE]
    play = [s for s in collector.named("POST /api/whep/play/:room") if s.trace_id.hex() == PLAY_TRACE]
    assert len(publish) == 1 and len(play) == 1, [s.name for s in collector.spans]
    for span, parent in ((publish[0], PUBLISH_PARENT), (play[0], PLAY_PARENT)):
        assert span.parent_span_id.hex() == parent
        assert span.kind == 2  # SPAN_KIND_SERVER
        a = attrs(span)
        assert a["http.request.method"] == "POST" and a["http.response.status_code"] == 201, a
        assert a["livesfu.room"] == room and a["http.route"].endswith("/:room"), a
        assert span.end_time_unix_nano >= span.start_time_unix_nano > 0

    # The sessions: children of their offer's request span, events in order, end reason.
    for name, req, first_media in (("session publish", publish[0], "media.first_in"),
                                   ("session play", play[0], "media.first_out")):
        (session,) = collector.named(name)
        assert session.trace_id == req.trace_id
        assert session.parent_span_id == req.span_id
        a = attrs(session)
        assert a["livesfu.room"] == room and a["livesfu.end_reason"] == "deleted", a
        assert a["livesfu.role"] == ("publisher" if "publish" in name else "viewer")
        events = [e.name for e in session.events]
        assert events[0] == "offer.answered" and events[-1] == "session.ended", events
        for milestone in ("ice.connected", "dtls.connected", "connected", first_media):
            assert milestone in events, (milestone, events)
        assert events.index("connected") > max(events.index("ice.connected"), events.index("dtls.connected")), events
        assert events.index(first_media) > events.index("connected"), events
        times = [e.time_unix_nano for e in session.events]
        assert times == sorted(times) and times[0] >= session.start_time_unix_nano, times
        assert session.end_time_unix_nano == times[-1]

    # The DELETEs are traced too (new traces: they carry no traceparent).
    assert collector.named("DELETE /api/session/:room/:id")
    assert collector.resources and all(r.get("service.name") == "livesfu-interop"
                                       and r.get("deployment.environment") == "interop" for r in collector.resources)
    assert collector.content_type == "application/x-protobuf" and collector.auth == "k=1"
    assert not any(TOKEN.encode() in b for b in collector.bodies), "a token reached the collector"
