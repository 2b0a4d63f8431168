"""Several livesfu nodes with a real Debian redis-server as their directory (issue 16, the
directory half): a second publisher on another node gets 409, CLUSTER_MODE=redirect sends a
WHEP to the room's node (307) and an aiortc viewer following it plays, a node killed with -9
leaves the directory within its TTL, Redis stopped and started again leaves local rooms alone
(cross-node requests get 503 meanwhile, the node registers again), and garbage or forged
node entries in Redis are never used as a Location. Edges (CLUSTER_MODE=edge, issue 16 item 2):
an edge pulls a room from its origin once for all its viewers, which decode and resume after
the publisher reconnects or moves to another node; relay requests need CLUSTER_TOKEN and a
relay loop is refused; an origin that never answers costs one bounded attempt, then 503; a
redirect goes to a less loaded edge that already carries the room.

The nodes are processes on 127.0.0.1 with ports of their own (the directory does not care
whether they share a host, and the relay is WHEP and UDP between two addresses, here two ports
of 127.0.0.1; test_cluster_hosts.py runs the main cases on separate hosts). Short TTL
and heartbeat (3 s / 1 s) keep the test quick; the bounds below allow for a loaded machine."""
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from harness import close_all, eventually, run, save_json, start_publisher
from livesfu_server import ARTIFACTS, ServerUnderTest, free_port, using_standin
from whep_client import WhepViewer

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(os.path.dirname(REPO), "shared", "fixtures", "sdp")
TTL = 3
TOKEN = "cluster-test-secret"

pytestmark = [
    pytest.mark.skipif(using_standin(), reason="the directory is livesfu's"),
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed (apt-get install redis-server)"),
]


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return f.read()


def request(method, url, body=None, headers=None):
    """One request, redirects not followed (urllib refuses to follow a 307 POST)."""
    req = urllib.request.Request(url, data=body.encode() if body is not None else None, method=method,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def offer(node, kind, room, sdp="chromium-offer.sdp"):
    path = "whip/publish" if kind == "whip" else "whep/play"
    return request("POST", f"{node.base_url}/api/{path}/{room}", fixture(sdp), {"Content-Type": "application/sdp"})


class Redis:
    """A private redis-server on a free port, no persistence (a restart forgets everything,
    which the nodes must survive)."""

    def __init__(self):
        self.port = free_port()
        self.proc = None
        self.log = open(os.path.join(ARTIFACTS, "redis-cluster-test.log"), "ab")

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)

    def cli(self, *args):
        out = subprocess.run(["redis-cli", "-p", str(self.port), *args], capture_output=True, text=True, timeout=10)
        return out.stdout.strip()


def node(name, redis, **extra):
    env = {"CLUSTER_REDIS_URL": f"redis://127.0.0.1:{redis.port}", "NODE_ID": name, "CLUSTER_NODE_TTL_SECONDS": str(TTL),
           "CLUSTER_HEARTBEAT_SECONDS": "1", "CLUSTER_REDIS_TIMEOUT_MS": "300", "CORES": "1", "CLUSTER_TOKEN": TOKEN,
           "PUBLISHER_GRACE_SECONDS": "0", **extra}
    server = ServerUnderTest(f"cluster-{name}", env=env)
    server.env["NODE_URL"] = server.base_url
    return server


@pytest.fixture
def cluster(request):
    os.makedirs(ARTIFACTS, exist_ok=True)
    redis = Redis().start()
    nodes = []
    try:
        for name in ("a", "b", "c")[: getattr(request, "param", 2)]:
            nodes.append(node(name, redis).start())
        for n in nodes:
            wait_registered(n)
        yield redis, nodes
    finally:
        for n in nodes:
            n.stop(expect_clean=n.proc is not None and n.proc.poll() is None)
        redis.stop()


def cluster_status(n):
    status, _, body = request("GET", f"{n.base_url}/api/cluster/node", headers={"Authorization": f"Bearer {TOKEN}"})
    return json.loads(body) if status == 200 else {"status": status, "body": body}


def wait_registered(n, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cluster_status(n).get("registered"):
            return
        time.sleep(0.1)
    raise AssertionError(f"node {n.name} did not register: {cluster_status(n)}")


def listing(n):
    status, _, body = request("GET", f"{n.base_url}/api/rooms")
    assert status == 200, (status, body)
    return json.loads(body)


def test_second_publisher_on_another_node_gets_409(cluster):
    redis, (a, b) = cluster
    status, _, body = offer(a, "whip", "only-one")
    assert status == 201, body
    status, _, body = offer(b, "whip", "only-one")
    assert status == 409, (status, body)
    assert "node a" in body
    assert redis.cli("GET", "livesfu:room:only-one") == "a"
    # A room of B's own is B's, and A's origin shows in B's listing.
    assert offer(b, "whip", "bees")[0] == 201
    rooms = {r["name"]: r for r in listing(b)["rooms"]}
    assert rooms["only-one"]["origin"] == "a" and rooms["only-one"]["local"] is False
    assert rooms["only-one"]["origin_url"] == a.base_url
    assert rooms["bees"]["origin"] == "b" and rooms["bees"]["local"] is True
    assert {n["id"] for n in listing(b)["cluster"]["nodes"]} == {"a", "b"}


def test_redirect_gives_307_to_origin_and_a_whep_client_following_it_plays(cluster):
    _, (a, b) = cluster

    async def body():
        pub = await start_publisher(a.base_url, "moved")
        viewer = None
        try:
            status, headers, text = offer(b, "whep", "moved", "chromium-whep-offer.sdp")
            assert status == 307, (status, text)
            assert headers["Location"] == f"{a.base_url}/api/whep/play/moved"
            viewer = await WhepViewer(b.base_url, "moved").start()
            assert viewer.location.startswith(a.base_url + "/api/session/moved/"), viewer.location
            await viewer.wait_connected()
            await viewer.wait_frames(video=30, audio=50)
            # The viewer is on A (the origin), none on B.
            assert listing(a)["rooms"][0]["viewers"] >= 1
            assert all(r.get("local") is False for r in listing(b)["rooms"])
        finally:
            await close_all(viewer, pub)

    run(body())


def test_unknown_room_plays_here_as_on_one_node(cluster):
    _, (a, _) = cluster
    status, _, text = offer(a, "whep", "nobody-yet", "chromium-whep-offer.sdp")
    assert status == 201, text


@pytest.mark.parametrize("cluster", [3], indirect=True)
def test_node_killed_with_sigkill_leaves_the_directory_within_its_ttl(cluster):
    redis, (a, b, c) = cluster
    assert offer(c, "whip", "on-c")[0] == 201
    assert {r["name"]: r["origin"] for r in listing(a)["rooms"]}.get("on-c") == "c"
    c.proc.kill()
    c.proc.wait(5)
    killed_at = time.monotonic()

    def gone():
        data = listing(a)
        return "on-c" not in {r["name"] for r in data["rooms"]} and "c" not in {n["id"] for n in data["cluster"]["nodes"]}

    deadline = killed_at + TTL + 2
    while not gone():
        assert time.monotonic() < deadline, f"c still listed {time.monotonic() - killed_at:.1f}s after kill -9: {listing(a)}"
        time.sleep(0.2)
    # Its room is free: a publisher on B gets it.
    assert offer(b, "whip", "on-c")[0] == 201


def test_redis_stopped_and_started_again(cluster):
    redis, (a, b) = cluster

    async def body():
        pub = await start_publisher(a.base_url, "steady")
        viewer = None
        try:
            viewer = await WhepViewer(a.base_url, "steady").start()
            await viewer.wait_frames(video=10)
            redis.stop()
            await eventually(lambda: not cluster_status(a).get("connected"), 10, "a notices Redis is gone")
            # Local room unaffected: the viewer keeps decoding, a new local viewer joins.
            before = viewer.video_frames
            await viewer.wait_frames(video=before + 30)
            status, _, text = offer(a, "whep", "steady", "chromium-whep-offer.sdp")
            assert status == 201, text
            # What needs the directory gets 503 with a reason.
            status, _, text = offer(b, "whep", "steady", "chromium-whep-offer.sdp")
            assert status == 503 and "directory" in text, (status, text)
            status, _, text = offer(a, "whip", "new-room")
            assert status == 503 and "directory" in text, (status, text)
            rooms = listing(a)
            assert rooms["cluster"]["directory"].startswith("unavailable")
            assert "steady" in {r["name"] for r in rooms["rooms"]}
            # Redis back (empty: no persistence): both register again, A claims its room again.
            redis.start()
            await eventually(lambda: cluster_status(a).get("registered") and cluster_status(b).get("registered"), 10,
                             "nodes registered again")
            await eventually(lambda: redis.cli("GET", "livesfu:room:steady") == "a", 10, "room claimed again")
            status, headers, _ = offer(b, "whep", "steady", "chromium-whep-offer.sdp")
            assert status == 307 and headers["Location"].startswith(a.base_url)
            before = viewer.video_frames
            await viewer.wait_frames(video=before + 10)
        finally:
            await close_all(viewer, pub)

    run(body(), timeout=120)


def test_garbage_and_forged_node_entries_are_never_a_location(cluster):
    redis, (a, _) = cluster
    # A room "held" by a node whose URL is garbage.
    redis.cli("SET", "livesfu:room:junk", "ghost")
    redis.cli("HSET", "livesfu:node:ghost", "url", "javascript:alert(1)", "load", "0", "viewers", "0", "sig", "")
    status, headers, text = offer(a, "whep", "junk", "chromium-whep-offer.sdp")
    assert status == 503 and "Location" not in headers, (status, headers, text)
    assert "not a usable" in text
    # A well-formed URL whose entry is not signed with CLUSTER_TOKEN (someone who can write to
    # Redis, without the token).
    redis.cli("SET", "livesfu:room:forged", "mallory")
    redis.cli("HSET", "livesfu:node:mallory", "url", "http://127.0.0.1:1", "load", "0", "viewers", "0", "sig", "00" * 32)
    status, headers, text = offer(a, "whep", "forged", "chromium-whep-offer.sdp")
    assert status == 503 and "Location" not in headers, (status, headers, text)
    assert "CLUSTER_TOKEN" in text
    # A holder whose entry expired (node gone): 503, not a redirect to nowhere.
    redis.cli("SET", "livesfu:room:orphan", "vanished")
    status, headers, text = offer(a, "whep", "orphan", "chromium-whep-offer.sdp")
    assert status == 503 and "Location" not in headers, (status, text)
    # An oversized ID stored as holder: refused within its bound.
    redis.cli("SET", "livesfu:room:huge", "x" * 100000)
    status, headers, text = offer(a, "whep", "huge", "chromium-whep-offer.sdp")
    assert status == 503 and "Location" not in headers, (status, text)


def test_cluster_token_missing_or_forged_is_refused(cluster):
    _, (a, _) = cluster
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {TOKEN}x"}):
        status, _, text = request("GET", f"{a.base_url}/api/cluster/node", headers=headers)
        assert status == 401, (headers, status, text)
    status, _, text = request("GET", f"{a.base_url}/api/cluster/node", headers={"Authorization": f"Bearer {TOKEN}"})
    assert status == 200 and json.loads(text)["node"] == "a"


def test_metrics_show_the_directory(cluster):
    _, (a, _) = cluster
    offer(a, "whip", "counted")
    _, _, text = request("GET", f"{a.base_url}/metrics")
    assert "livesfu_directory_registered 1" in text
    assert 'livesfu_directory_redis_seconds_bucket{le="+Inf"}' in text
    assert 'livesfu_directory_requests_total{request="claim",result="claimed"} 1' in text
    assert 'livesfu_directory_errors_total{kind="io"} 0' in text


@pytest.fixture
def edge_cluster(request):
    """Redis, origin A, edge B (CLUSTER_MODE=edge) and, with param 3, a third node C."""
    os.makedirs(ARTIFACTS, exist_ok=True)
    redis = Redis().start()
    nodes = []
    try:
        nodes.append(node("a", redis, ADMIN_TOKEN="adm").start())
        nodes.append(node("b", redis, CLUSTER_MODE="edge").start())
        if getattr(request, "param", 2) == 3:
            nodes.append(node("c", redis).start())
        for n in nodes:
            wait_registered(n)
        yield redis, nodes
    finally:
        for n in nodes:
            n.stop(expect_clean=n.proc is not None and n.proc.poll() is None)
        redis.stop()


def rooms_of(n):
    return {r["name"]: r for r in listing(n)["rooms"] if r.get("local", True)}


def metric(n, name):
    _, _, text = request("GET", f"{n.base_url}/metrics")
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return None


def test_edge_pulls_the_room_once_for_all_its_viewers_and_they_resume_after_the_publisher_reconnects(edge_cluster):
    _, (a, b) = edge_cluster

    async def body():
        pub = await start_publisher(a.base_url, "relayed")
        viewers = []
        try:
            for _ in range(3):
                viewers.append(await WhepViewer(b.base_url, "relayed").start())
            for v in viewers:
                # Played on the edge itself, not redirected.
                assert v.location.startswith(b.base_url + "/api/session/relayed/"), v.location
                await v.wait_connected()
                await v.wait_frames(video=30, audio=50)
            # A serves B one relay session, however many viewers B has.
            on_a = rooms_of(a)["relayed"]
            assert on_a.get("relays") == ["b"] and on_a["viewers"] == 1, on_a
            on_b = rooms_of(b)["relayed"]
            assert on_b["relayed_from"]["node"] == "a" and on_b["relayed_from"]["state"] == "connected", on_b
            assert on_b["connected_viewers"] == 3 and on_b["origin"] == "a", on_b
            assert metric(b, "livesfu_relay_sessions") == 1
            assert metric(b, "livesfu_relay_bytes_total") > 0
            assert metric(a, "livesfu_relay_viewers") == 1
            # The publisher leaves and comes back on A: the edge's viewers resume, no new POST.
            await close_all(pub)
            pub = None
            pub = await start_publisher(a.base_url, "relayed")
            for v, n in [(v, v.video_frames) for v in viewers]:
                await v.wait_frames(video=n + 30, timeout=30)
            assert rooms_of(a)["relayed"].get("relays") == ["b"]
        finally:
            await close_all(*viewers, pub)

    run(body(), timeout=150)


def test_a_relay_the_origin_closes_is_set_up_again_and_the_edge_viewers_resume(edge_cluster):
    redis, (a, b) = edge_cluster

    async def body():
        pub = await start_publisher(a.base_url, "closing")
        viewer = None
        try:
            viewer = await WhepViewer(b.base_url, "closing").start()
            await viewer.wait_frames(video=30)
            # The origin ends every session of the room, the relay's with a DTLS close_notify.
            status, _, text = request("POST", f"{a.base_url}/api/admin/rooms/closing/close",
                                      headers={"Authorization": "Bearer adm"})
            assert status == 200, (status, text)
            await close_all(pub)
            pub = None
            await eventually(lambda: "relayed_from" not in rooms_of(b).get("closing", {"relayed_from": 1}), 10,
                             "B's relay ended")
            assert rooms_of(b)["closing"]["viewers"] == 1  # its viewer waits, as for a publisher
            await eventually(lambda: redis.cli("GET", "livesfu:room:closing") == "", 10, "A released the room")
            pub = await start_publisher(a.base_url, "closing")
            before = viewer.video_frames
            await viewer.wait_frames(video=before + 30, timeout=40)
            assert rooms_of(b)["closing"]["relayed_from"]["reconnects"] >= 1
            assert metric(b, "livesfu_relay_reconnects_total") >= 1
        finally:
            await close_all(viewer, pub)

    run(body(), timeout=150)


@pytest.mark.parametrize("edge_cluster", [3], indirect=True)
def test_publisher_moving_to_another_node_is_pulled_from_there(edge_cluster):
    redis, (a, b, c) = edge_cluster

    async def body():
        pub = await start_publisher(a.base_url, "moving")
        viewer = None
        try:
            viewer = await WhepViewer(b.base_url, "moving").start()
            await viewer.wait_frames(video=30)
            await close_all(pub)  # its DELETE releases the room at A's next (immediate) beat
            pub = None
            await eventually(lambda: redis.cli("GET", "livesfu:room:moving") == "", 10, "A released the room")
            pub = await start_publisher(c.base_url, "moving")
            before = viewer.video_frames
            await viewer.wait_frames(video=before + 30, timeout=40)
            await eventually(lambda: rooms_of(c).get("moving", {}).get("relays") == ["b"], 10, "C relays to B")
            await eventually(lambda: not rooms_of(a).get("moving", {}).get("relays"), 10, "A's relay session gone")
            on_b = rooms_of(b)["moving"]
            assert on_b["relayed_from"]["node"] == "c" and on_b["relayed_from"]["reconnects"] >= 1, on_b
            assert metric(b, "livesfu_relay_reconnects_total") >= 1
        finally:
            await close_all(viewer, pub)

    run(body(), timeout=150)


def test_an_edge_viewer_that_came_before_the_publisher_gets_the_room_once_another_node_holds_it(edge_cluster):
    _, (a, b) = edge_cluster

    async def body():
        viewer = pub = None
        try:
            # Nobody holds the room: the viewer waits on the edge, as on one node.
            viewer = await WhepViewer(b.base_url, "early").start()
            assert viewer.location.startswith(b.base_url), viewer.location
            pub = await start_publisher(a.base_url, "early")
            await viewer.wait_frames(video=30, audio=50, timeout=30)
            assert rooms_of(a)["early"].get("relays") == ["b"]
        finally:
            await close_all(viewer, pub)

    run(body(), timeout=120)


def test_late_viewers_on_the_edge_get_a_keyframe_without_a_pli_storm_upstream(edge_cluster):
    _, (a, b) = edge_cluster

    async def body():
        pub = await start_publisher(a.base_url, "late")
        viewers = []
        try:
            viewers.append(await WhepViewer(b.base_url, "late").start())
            await viewers[0].wait_frames(video=30)
            before = rooms_of(a)["late"]["tracks"]
            asked_before = next(t["keyframe_requests"] for t in before if t["kind"] == "video")
            late = [await WhepViewer(b.base_url, "late").start() for _ in range(5)]
            viewers += late
            for v in late:
                await v.wait_frames(video=10, timeout=30)
            plis_on_b = sum(v["plis"] for v in rooms_of(b)["late"]["viewer_details"])
            asked = next(t["keyframe_requests"] for t in rooms_of(a)["late"]["tracks"] if t["kind"] == "video")
            relay = rooms_of(b)["late"]["relayed_from"]
            # The edge collapses its viewers' requests into its relay's (its throttle: at most
            # one per 500 ms), and the origin's throttle collapses those again.
            figures = {"plis_from_edge_viewers": plis_on_b, "relay_keyframe_requests": relay["keyframe_requests"],
                       "origin_keyframe_requests": asked - asked_before}
            save_json("edge-late-viewers.json", figures)
            assert relay["keyframe_requests"] <= max(2, plis_on_b // 2), figures
            assert asked - asked_before <= relay["keyframe_requests"] + 1, figures
        finally:
            await close_all(*viewers, pub)

    run(body(), timeout=120)


@pytest.mark.parametrize("edge_cluster", [3], indirect=True)
def test_an_edge_whose_origin_is_killed_pulls_the_room_from_the_next_node_that_holds_it(edge_cluster):
    redis, (a, b, c) = edge_cluster

    async def body():
        pub = await start_publisher(a.base_url, "orphaned")
        viewer = None
        try:
            viewer = await WhepViewer(b.base_url, "orphaned").start()
            await viewer.wait_frames(video=30)
            a.proc.kill()  # -9: no DTLS close, no DELETE; its claim expires with its TTL
            a.proc.wait(5)
            await close_all(pub)
            pub = None
            await eventually(lambda: redis.cli("GET", "livesfu:room:orphaned") == "", TTL + 5, "A's claim expired")
            pub = await start_publisher(c.base_url, "orphaned")
            before = viewer.video_frames
            await viewer.wait_frames(video=before + 30, timeout=40)
            on_b = rooms_of(b)["orphaned"]
            assert on_b["relayed_from"]["node"] == "c", on_b
        finally:
            await close_all(viewer, pub)

    run(body(), timeout=150)


@pytest.mark.parametrize("edge_cluster", [3], indirect=True)
def test_redirect_sends_viewers_to_a_less_loaded_edge_that_already_carries_the_room(edge_cluster):
    redis, (a, b, c) = edge_cluster  # C is in redirect mode

    async def body():
        pub = await start_publisher(a.base_url, "spread")
        viewers = []
        try:
            # A serves two viewers of its own and B's relay; B, an edge, one viewer.
            for base in (a.base_url, a.base_url, b.base_url):
                viewers.append(await WhepViewer(base, "spread").start())
            for v in viewers:
                await v.wait_frames(video=10)

            def redirected_to_b():
                status, headers, _ = offer(c, "whep", "spread", "chromium-whep-offer.sdp")
                return status == 307 and headers["Location"] == f"{b.base_url}/api/whep/play/spread"

            await eventually(redirected_to_b, 10, "C sends the viewer to the edge B, which carries the room")
            assert redis.cli("ZRANGE", "livesfu:edges:spread", "0", "-1") == "b"
            follower = await WhepViewer(c.base_url, "spread").start()
            viewers.append(follower)
            assert follower.location.startswith(b.base_url + "/api/session/spread/"), follower.location
            await follower.wait_frames(video=10)
            assert rooms_of(a)["spread"].get("relays") == ["b"]
        finally:
            await close_all(*viewers, pub)

    run(body(), timeout=120)


def test_relay_requests_need_the_cluster_token_and_a_relay_loop_is_refused(edge_cluster):
    _, (a, b) = edge_cluster
    assert offer(a, "whip", "held")[0] == 201
    whep = fixture("chromium-whep-offer.sdp")
    relay = {"Content-Type": "application/sdp", "X-Livesfu-Relay": "b"}
    # Missing or forged CLUSTER_TOKEN: refused like any bad token.
    for auth in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {TOKEN}x"}):
        status, _, text = request("POST", f"{a.base_url}/api/whep/play/held", whep, {**relay, **auth})
        assert status == 401, (auth, status, text)
    ok = {**relay, "Authorization": f"Bearer {TOKEN}"}
    status, _, text = request("POST", f"{a.base_url}/api/whep/play/held", whep, ok)
    assert status == 201, (status, text)
    # A node relays only rooms it holds: B (an edge, not the origin) refuses, so A pulling the
    # room from B, which pulls it from A, cannot happen.
    status, _, text = request("POST", f"{b.base_url}/api/whep/play/held", whep, {**ok, "X-Livesfu-Relay": "a"})
    assert status == 508 and "does not hold" in text, (status, text)
    status, _, text = request("POST", f"{a.base_url}/api/whep/play/nobody-here", whep, ok)
    assert status == 508, (status, text)


def test_an_origin_that_never_answers_costs_one_bounded_attempt_then_503(edge_cluster):
    _, (a, b) = edge_cluster
    assert offer(a, "whip", "frozen")[0] == 201
    a.proc.send_signal(signal.SIGSTOP)  # A's HTTP never answers (its entry lives until the TTL)
    try:
        # One exchange bounded by 2 s (the client here would give up at 10 s), then the 503.
        status, _, text = offer(b, "whep", "frozen", "chromium-whep-offer.sdp")
        assert status == 503 and "edge relay" in text and "origin a" in text, (status, text)
    finally:
        a.proc.send_signal(signal.SIGCONT)


class FakeRedis:
    """A TCP server on loopback that is not Redis: `silent` accepts and never answers, else it
    answers every read with bytes that are not RESP."""

    def __init__(self, silent: bool):
        import threading
        self.silent = silent
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.conns.append(conn)
            if not self.silent:
                conn.settimeout(0.2)
                try:
                    if conn.recv(4096):
                        conn.sendall(b"?garbage that is not RESP\r\n")
                except OSError:
                    pass

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        for c in self.conns:
            c.close()
        self.sock.close()


@pytest.mark.parametrize("silent", [True, False], ids=["never-answers", "answers-garbage"])
def test_a_redis_that_never_answers_or_answers_garbage_costs_one_bounded_attempt(silent):
    os.makedirs(ARTIFACTS, exist_ok=True)
    fake = FakeRedis(silent)
    a = node("a", fake)
    a.env["CLUSTER_REDIS_URL"] = f"redis://127.0.0.1:{fake.port}"
    a.start()
    try:
        status, _, text = offer(a, "whip", "nowhere")
        # The directory's own 503 naming Redis's failure (an attempt without a bound would hang
        # until HTTP_HANDLER_TIMEOUT_SECONDS and get the handler's generic 503 instead).
        assert status == 503 and "cluster directory" in text and "redis" in text, (status, text)
        assert offer(a, "whep", "nowhere", "chromium-whep-offer.sdp")[0] == 503
        assert not cluster_status(a).get("registered")
        _, _, metrics = request("GET", f"{a.base_url}/metrics")
        assert "livesfu_directory_registered 0" in metrics
    finally:
        a.stop()
        fake.stop()
