import Reactor
import Testing

@testable import SFU

/// A connected viewer's media moves to a new address only once the peer has answered the
/// server's own check from there: a nominating check from a forged source (a replay, or any
/// check from an address the peer does not hold) must not aim the room's media at a victim.
@Suite("Media moves to a new peer address only once it is confirmed", .serialized)
struct AddressMoveTests {
    /// A socket that counts what reaches it; with `agent` set it answers the server's checks
    /// as the client would from there (the client's new NAT binding).
    final class Endpoint: UDPReceiver {
        var agent: IceClientAgent?
        private(set) var rtp = 0
        private(set) var checksReceived = 0

        func received(
            _ datagram: UnsafeMutableRawBufferPointer, from source: SocketAddress, on socket: UDPSocket, now: Instant
        ) {
            let bytes = UnsafeRawBufferPointer(datagram)
            switch PacketKind.classify(bytes) {
            case .rtp:
                rtp += 1
            case .stun:
                guard let m = try? StunMessage(parsing: bytes), m.type == .bindingRequest else { return }
                checksReceived += 1
                guard let agent else { return }
                _ = socket.send(to: source, capacity: 512) { agent.handle(stun: bytes, from: source, now: now, reply: $0) }
                socket.flush()
            default:
                break
            }
        }

        func batchEnded(on socket: UDPSocket, now: Instant) {}
    }

    /// A valid nominating check for `session`, as its peer would send it.
    static func nominatingCheck(for session: PeerSession, serverPassword: String, id: UInt64) throws -> [UInt8] {
        try buildStun(.bindingRequest, StunTransactionID(hi: 0xABCD, lo: id)) { b in
            b.addUsername("\(session.ice.localUfrag):\(session.remoteUfrag)")
            b.addPriority(IceClientAgent.peerReflexivePriority)
            b.addIceControlling(7)
            b.addUseCandidate()
            b.addMessageIntegrity(key: Array(serverPassword.utf8))
            b.addFingerprint()
        }
    }

    @Test("a spoofed USE-CANDIDATE from a new address moves no media; the peer's confirmed move does")
    func spoofedThenConfirmed() throws {
        let server = try LoopbackRoomServer()
        defer { server.close() }
        let publisher = try server.publisher(room: "move")
        let viewer = try server.viewer(room: "move")
        try #require(server.connect([publisher, viewer]))
        let session = try #require(server.session(of: viewer))
        let original = try #require(session.address)
        let password = viewer.peer.negotiation.icePassword

        // From the victim's address: answered, and the server checks that address, but the
        // victim does not answer, so the media stays with the viewer.
        let victim = Endpoint()
        let victimSocket = try server.loop.openUDP(bind: SocketAddress(ip: "127.0.0.1", port: 0)!, receiver: victim)
        let spoofed = try Self.nominatingCheck(for: session, serverPassword: password, id: 1)
        _ = spoofed.withUnsafeBytes { victimSocket.send($0, to: server.serverAddress) }
        victimSocket.flush()
        try #require(server.loop.run(until: { victim.checksReceived >= 1 }))
        #expect(session.ice.probeAddress == victimSocket.localAddress)
        #expect(session.address == original)
        #expect(server.publish(5, from: publisher))
        #expect(server.loop.run(until: { viewer.recorder.media.count == 5 }))
        // Until the server gives up on that address: still nothing there.
        #expect(server.loop.run(until: { session.ice.probeAddress == nil }))
        #expect(victim.checksReceived <= IceLiteAgent.probeAttempts)
        #expect(server.publish(5, from: publisher))
        #expect(server.loop.run(until: { viewer.recorder.media.count == 10 }))
        server.settle(.milliseconds(30))
        #expect(victim.rtp == 0)
        #expect(session.address == original)
        #expect(server.manager.counters.iceAddressMoves == 0)

        // The viewer's own new binding answers the server's check with its credentials: the
        // media follows it there.
        let moved = Endpoint()
        moved.agent = viewer.peer.ice
        let movedSocket = try server.loop.openUDP(bind: SocketAddress(ip: "127.0.0.1", port: 0)!, receiver: moved)
        let check = try Self.nominatingCheck(for: session, serverPassword: password, id: 2)
        _ = check.withUnsafeBytes { movedSocket.send($0, to: server.serverAddress) }
        movedSocket.flush()
        #expect(server.loop.run(until: { session.address == movedSocket.localAddress }))
        #expect(server.manager.counters.iceAddressMoves == 1)
        #expect(server.publish(5, from: publisher))
        #expect(server.loop.run(until: { moved.rtp >= 5 }))
        #expect(victim.rtp == 0)
    }

    @Test("a peer that finished DTLS without nominating cannot have a forged first nomination send media elsewhere")
    func forgedFirstNominationAfterDTLS() throws {
        let server = try LoopbackRoomServer()
        defer { server.close() }
        let publisher = try server.publisher(room: "first")
        let viewer = try server.viewer(room: "first")
        viewer.peer.ice.nominates = false
        viewer.peer.ice.consentInterval = .milliseconds(100)
        try #require(server.loop.run(until: { viewer.peer.isConnected && publisher.peer.isConnected }))
        let session = try #require(server.session(of: viewer))
        let own = viewer.socket.localAddress
        #expect(session.ice.reachableAddress == own)
        #expect(session.state == .connecting)

        let victim = Endpoint()
        let victimSocket = try server.loop.openUDP(bind: SocketAddress(ip: "127.0.0.1", port: 0)!, receiver: victim)
        let forged = try Self.nominatingCheck(for: session, serverPassword: viewer.peer.negotiation.icePassword, id: 3)
        _ = forged.withUnsafeBytes { victimSocket.send($0, to: server.serverAddress) }
        victimSocket.flush()
        try #require(server.loop.run(until: { victim.checksReceived >= 1 }))
        #expect(session.address == nil && session.state == .connecting, "not connected to the forged address")

        // The peer's own nomination, from the address DTLS ran with, connects it there.
        viewer.peer.ice.nominates = true
        #expect(server.loop.run(until: { session.state == .connected }))
        #expect(session.address == own)
        #expect(server.publish(3, from: publisher))
        #expect(server.loop.run(until: { viewer.recorder.media.count == 3 }))
        #expect(victim.rtp == 0)
    }
}
