import Cluster
import HTTPTypes
import Reactor
@testable import SFU
import Testing

@testable import HTTP

@Suite("Cluster settings, the cluster token, and cross-node answers")
struct ClusterRoutesTests {
    let base = ["CLUSTER_REDIS_URL": "redis://127.0.0.1:6379", "NODE_ID": "a", "NODE_URL": "http://127.0.0.1:8080"]

    @Test("without CLUSTER_REDIS_URL there is no cluster, whatever else is set")
    func off() throws {
        #expect(try Configuration.load(environment: [:]).cluster == nil)
        #expect(try Configuration.load(environment: ["NODE_ID": "a", "CLUSTER_MODE": "nonsense"]).cluster == nil)
    }

    @Test("defaults: redirect, TTL 10 s, heartbeat 3 s, Redis timeout 500 ms, unsigned")
    func defaults() throws {
        let c = try #require(try Configuration.load(environment: base).cluster)
        #expect(c.redis == RedisEndpoint(host: "127.0.0.1"))
        #expect(c.nodeID == "a" && c.nodeURL.text == "http://127.0.0.1:8080")
        #expect(c.mode == .redirect)
        #expect(c.nodeTTL == .seconds(10) && c.heartbeatInterval == .seconds(3) && c.redisTimeout == .milliseconds(500))
        #expect(c.token == nil)
    }

    @Test("every cluster variable is read; flags beat the environment")
    func everything() throws {
        var env = base
        env["CLUSTER_MODE"] = "edge"
        env["CLUSTER_TOKEN"] = "s3cret"
        env["CLUSTER_NODE_TTL_SECONDS"] = "4"
        env["CLUSTER_HEARTBEAT_SECONDS"] = "2"
        env["CLUSTER_REDIS_TIMEOUT_MS"] = "200"
        let flags = try Configuration.parseFlags(["--node-id", "b", "--cluster-redis-url=redis://:pw@10.0.0.9:7000/3"])
        let c = try Configuration.load(environment: env, flags: flags)
        let cluster = try #require(c.cluster)
        #expect(cluster.nodeID == "b")
        #expect(cluster.redis == RedisEndpoint(host: "10.0.0.9", port: 7000, database: 3, password: "pw"))
        #expect(cluster.mode == .edge && cluster.token == "s3cret")
        #expect(cluster.nodeTTL == .seconds(4) && cluster.heartbeatInterval == .seconds(2) && cluster.redisTimeout == .milliseconds(200))
        #expect(c.auth.clusterToken == "s3cret")
    }

    @Test("bad cluster settings name their variable", arguments: [
        (["NODE_ID": ""], "NODE_ID"), (["NODE_ID": "a/b"], "NODE_ID"), (["NODE_URL": ""], "NODE_URL"),
        (["NODE_URL": "http://h/path"], "NODE_URL"), (["CLUSTER_REDIS_URL": "http://x"], "CLUSTER_REDIS_URL"),
        (["CLUSTER_MODE": "proxy"], "CLUSTER_MODE"), (["CLUSTER_NODE_TTL_SECONDS": "1"], "CLUSTER_NODE_TTL_SECONDS"),
        (["CLUSTER_HEARTBEAT_SECONDS": "6"], "CLUSTER_HEARTBEAT_SECONDS"),
        (["CLUSTER_REDIS_TIMEOUT_MS": "3000"], "CLUSTER_REDIS_TIMEOUT_MS"),
    ])
    func refused(change: [String: String], variable: String) {
        let env = base.merging(change) { _, new in new }
        #expect {
            _ = try Configuration.load(environment: env)
        } throws: { error in
            guard case ConfigurationError.invalid(let name, _) = error else { return false }
            return name == variable
        }
    }

    @Test("--help and the option table list every cluster variable")
    func help() {
        for name in ["CLUSTER_REDIS_URL", "NODE_ID", "NODE_URL", "CLUSTER_MODE", "CLUSTER_TOKEN", "CLUSTER_NODE_TTL_SECONDS",
            "CLUSTER_HEARTBEAT_SECONDS", "CLUSTER_REDIS_TIMEOUT_MS"]
        {
            #expect(Configuration.helpText.contains("[env \(name)]"))
        }
    }

    func fields(_ token: String?) -> HTTPFields {
        var f = HTTPFields()
        if let token { f[.authorization] = "Bearer \(token)" }
        return f
    }

    @Test("/api/cluster/… opens with CLUSTER_TOKEN only: missing or forged is 401, unset is 403")
    func clusterToken() {
        let auth = Authenticator(settings: AuthSettings(authToken: "g", adminToken: "adm", clusterToken: "node-secret"))
        #expect(auth.evaluate(.cluster, room: nil, fields: fields("node-secret")) == .decided(.allowed(AuthIdentity(credential: .clusterToken))))
        for bad in [nil, "g", "adm", "node-secreT", "node-secret-longer"] {
            guard case .decided(.denied(let status, _)) = auth.evaluate(.cluster, room: nil, fields: fields(bad)) else {
                Issue.record("token \(bad ?? "none") was not refused")
                continue
            }
            #expect(status == .unauthorized)
        }
        let closed = Authenticator(settings: AuthSettings(adminToken: "adm"))
        guard case .decided(.denied(let status, _)) = closed.evaluate(.cluster, room: nil, fields: fields("adm")) else {
            Issue.record("cluster endpoint open without CLUSTER_TOKEN")
            return
        }
        #expect(status == .forbidden)
    }

    func whep(_ target: String) -> HTTPServerRequest {
        HTTPServerRequest(head: HTTPRequest(method: .post, scheme: nil, authority: nil, path: target))
    }

    @Test("redirect mode: 307 to the origin's NODE_URL with the same path and query")
    func redirect() {
        let origin = NodeEntry(id: "b", url: NodeURL(validating: "http://127.0.0.2:9000"))
        let r = RoomRoutes.redirect(to: origin, request: whep("/api/whep/play/show?x=1"))
        #expect(r.status == .temporaryRedirect)
        #expect(r.head.headerFields[.location] == "http://127.0.0.2:9000/api/whep/play/show?x=1")
    }

    @Test("a garbage or unsigned origin URL is never a Location: 503 with the reason")
    func garbageOrigin() {
        let origin = NodeEntry(id: "b", url: nil, refusal: "node b's URL in the directory is not a usable http(s) base URL")
        let r = RoomRoutes.redirect(to: origin, request: whep("/api/whep/play/show"))
        #expect(r.status == .serviceUnavailable)
        #expect(r.head.headerFields[.location] == nil)
        #expect(String(decoding: r.body, as: UTF8.self).contains("not a usable"))
    }

    @Test("edge mode needs CLUSTER_TOKEN: what edges present to their origins")
    func edgeNeedsToken() throws {
        var env = base
        env["CLUSTER_MODE"] = "edge"
        #expect(throws: ConfigurationError.self) { try Configuration.load(environment: env) }
        env["CLUSTER_TOKEN"] = "s3cret"
        #expect(try Configuration.load(environment: env).cluster?.mode == .edge)
    }

    @Test("/api/rooms on a node of a cluster: local rooms with their origin, remote rooms, the nodes")
    func listing() {
        let local = RoomSnapshot(
            name: "here", core: 0, publisher: nil, tracks: [], viewers: 2, connectedViewers: 2, packetsIn: 0, bytesIn: 0,
            packetsOut: 0, bytesOut: 0)
        var view = RoomListingJSON.ClusterView(node: "a")
        view.listing = DirectoryListing(
            origins: ["here": "a", "there": "b"],
            nodes: [NodeEntry(id: "a", url: NodeURL(validating: "http://h1:1")), NodeEntry(id: "b", url: NodeURL(validating: "http://h2:2"), load: 0.5, viewers: 3)])
        let text = RoomListingJSON.text(rooms: [local], cluster: view)
        #expect(text.contains(#""name":"here","core":0,"local":true,"origin":"a""#))
        #expect(text.contains(#"{"name":"there","local":false,"origin":"b","origin_url":"http://h2:2","publisher":null"#))
        #expect(text.contains(#""cluster":{"node":"a","directory":"ok","nodes":[{"id":"a","url":"http://h1:1""#))
        var down = RoomListingJSON.ClusterView(node: "a")
        down.unavailable = "redis unreachable"
        let downText = RoomListingJSON.text(rooms: [local], cluster: down)
        #expect(downText.contains(#""local":true,"origin":null"#))
        #expect(downText.contains(#""directory":"unavailable: redis unreachable""#))
    }

    @Test("/api/rooms on any node: each room's viewers per node, the origin first, this node's own figure live")
    func viewersPerNode() {
        // An edge's room here: 3 viewers of its own (the directory still says 1 from the last beat).
        let edgeRoom = RoomSnapshot(
            name: "show", core: 0, publisher: nil, tracks: [], viewers: 3, connectedViewers: 3, packetsIn: 0, bytesIn: 0,
            packetsOut: 0, bytesOut: 0)
        // An origin's room here: 2 sessions, one of them the relay to edge c (not a viewer).
        var originRoom = RoomSnapshot(
            name: "talk", core: 0, publisher: nil, tracks: [], viewers: 2, connectedViewers: 2, packetsIn: 0, bytesIn: 0,
            packetsOut: 0, bytesOut: 0)
        originRoom.relayViewers = ["c"]
        var view = RoomListingJSON.ClusterView(node: "b")
        view.listing = DirectoryListing(
            origins: ["show": "a", "talk": "b", "far": "a"],
            viewers: [
                "show": ["a": 0, "b": 1, "c": 4], "talk": ["b": 7, "c": 2], "far": ["c": 5, "a": 1],
                "gone": ["b": 9], "waiting": ["c": 2],
            ])
        let text = RoomListingJSON.text(rooms: [edgeRoom, originRoom], cluster: view)
        #expect(
            text.contains(
                #""name":"show","core":0,"local":true,"origin":"a","nodes":[{"node":"a","viewers":0,"origin":true},{"node":"b","viewers":3,"origin":false},{"node":"c","viewers":4,"origin":false}]"#))
        #expect(
            text.contains(
                #""name":"talk","core":0,"local":true,"origin":"b","nodes":[{"node":"b","viewers":1,"origin":true},{"node":"c","viewers":2,"origin":false}]"#))
        // Rooms elsewhere: held by another node, or by none while viewers wait on some.
        #expect(text.contains(#""nodes":[{"node":"a","viewers":1,"origin":true},{"node":"c","viewers":5,"origin":false}]"#))
        #expect(text.contains(#"{"name":"waiting","local":false,"origin":null,"origin_url":null"#))
        #expect(text.contains(#""nodes":[{"node":"c","viewers":2,"origin":false}]"#))
        // This node's stale figure for a room it no longer has is not shown.
        #expect(text.contains(#"{"name":"gone","local":false,"origin":null"#))
        #expect(!text.contains(#"{"node":"b","viewers":9"#))
    }

    @Test("the Redis latency histogram renders cumulative buckets, sum and count")
    func histogram() {
        var s = MetricsSnapshot()
        s.addHistogram("x_seconds", help: "h", bounds: [0.1, 1], counts: [2, 1, 1], sum: 3.5)
        let text = s.renderPrometheus()
        #expect(text.contains("# TYPE x_seconds histogram\n"))
        #expect(text.contains("x_seconds_bucket{le=\"0.1\"} 2\nx_seconds_bucket{le=\"1\"} 3\nx_seconds_bucket{le=\"+Inf\"} 4\n"))
        #expect(text.contains("x_seconds_sum 3.5\nx_seconds_count 4\n"))
    }
}
