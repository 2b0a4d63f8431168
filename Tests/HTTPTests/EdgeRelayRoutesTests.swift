import Cluster
import HTTPTypes
@testable import SFU
import Testing

@testable import HTTP

@Suite("Edge relays: how an origin decides a relay request, and how /api/rooms shows relays")
struct EdgeRelayRoutesTests {
    func fields(_ token: String?, relay: String? = "edge-1") -> HTTPFields {
        var f = HTTPFields()
        if let token { f[.authorization] = "Bearer \(token)" }
        if let relay { f[Authenticator.relayHeader] = relay }
        return f
    }

    @Test("a relay request is decided by CLUSTER_TOKEN alone: room and global tokens, missing or forged are 401")
    func relayNeedsClusterToken() {
        let auth = Authenticator(
            settings: AuthSettings(authToken: "g", roomTokens: ["show": "room-t"], adminToken: "adm", clusterToken: "node-secret"))
        for room in ["show", "open-room"] {
            #expect(
                auth.evaluate(.room(parameter: "room"), room: room, fields: fields("node-secret"))
                    == .decided(.allowed(AuthIdentity(credential: .clusterToken))))
            for bad in [nil, "g", "room-t", "adm", "node-secreT"] {
                guard case .decided(.denied(let status, _)) = auth.evaluate(.room(parameter: "room"), room: room, fields: fields(bad))
                else {
                    Issue.record("relay with token \(bad ?? "none") was not refused")
                    continue
                }
                #expect(status == .unauthorized)
            }
        }
        // Without the relay header CLUSTER_TOKEN opens no room.
        guard case .decided(.denied(let status, _)) = auth.evaluate(
            .room(parameter: "room"), room: "open-room", fields: fields("node-secret", relay: nil))
        else {
            Issue.record("CLUSTER_TOKEN opened a room to a plain viewer")
            return
        }
        #expect(status == .unauthorized)
    }

    @Test("an origin without CLUSTER_TOKEN refuses relays (403), even where rooms are open")
    func relayWithoutClusterToken() {
        let open = Authenticator(settings: AuthSettings())
        guard case .decided(.denied(let status, _)) = open.evaluate(.room(parameter: "room"), room: "r", fields: fields("x")) else {
            Issue.record("relay served without CLUSTER_TOKEN")
            return
        }
        #expect(status == .forbidden)
    }

    @Test("/api/rooms: an edge's room shows where it is relayed from; an origin's room the edges relaying it")
    func listing() {
        var edgeRoom = RoomSnapshot(
            name: "show", core: 0, publisher: nil, tracks: [], viewers: 3, connectedViewers: 3, packetsIn: 0, bytesIn: 0,
            packetsOut: 0, bytesOut: 0)
        edgeRoom.relay = RoomSnapshot.Relay(
            origin: "a", state: "connected", packets: 10, bytes: 1000, keyframeRequests: 2, nacks: 1, reconnects: 1)
        var originRoom = edgeRoom
        originRoom.relay = nil
        originRoom.relayViewers = ["b", "c"]
        let text = RoomListingJSON.text(rooms: [edgeRoom])
        #expect(
            text.contains(
                #""relayed_from":{"node":"a","state":"connected","packets":10,"bytes":1000,"keyframe_requests":2,"nacks":1,"reconnects":1}"#))
        #expect(!text.contains("\"relays\""))
        let originText = RoomListingJSON.text(rooms: [originRoom])
        #expect(originText.contains(#""relays":["b","c"]"#))
        #expect(!originText.contains("relayed_from"))
    }
}
