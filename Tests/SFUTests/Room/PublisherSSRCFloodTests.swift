import Reactor
import Testing

@testable import SFU

/// A publisher that authenticates (it has the keys) but sends thousands of SSRCs: libsrtp
/// must not keep a stream for each, and the room's own stream keeps working.
@Suite("Publisher SSRC flood", .serialized)
struct PublisherSSRCFloodTests {
    @Test("2 000 SSRCs from a connected publisher leave it a bounded number of libsrtp streams, and its video still flows")
    func flood() throws {
        let server = try LoopbackRoomServer()
        defer { server.close() }
        let publisher = try server.publisher(room: "flood")
        let viewer = try server.viewer(room: "flood")
        try #require(server.connect([publisher, viewer]))
        let video = try #require(publisher.video)
        viewer.startRecording()
        #expect(server.publish(8, from: publisher))  // its real stream first, as a real publisher's
        for i in UInt32(0)..<2_000 {
            // Half on the negotiated payload type (PeerSession learns at most 8 streams), half
            // on one nobody negotiated: both are refused by the room once authenticated.
            let pt: UInt8 = i % 2 == 0 ? video.payloadType : 50
            _ = publisher.peer.sendRTP { slot in
                var b = RTPPacketBuilder(
                    into: slot, payloadType: pt, marker: false, sequenceNumber: 1, timestamp: 1, ssrc: 0x5000_0000 + i)
                return [UInt8](repeating: 1, count: 100).withUnsafeBytes { (try? b.finish(payload: $0)) ?? 0 }
            }
            if i % 64 == 63 { publisher.socket.flush() }
        }
        publisher.socket.flush()
        server.settle(.milliseconds(300))
        let session = try #require(server.room("flood")?.publisher)
        let srtp = try #require(session.srtp)
        #expect(srtp.inboundStreamCount <= SRTPContext.maxInboundStreams)
        // Streams the room did not accept were removed: what is left is what it uses.
        #expect(srtp.inboundStreamCount == session.inbound.count)
        #expect(server.manager.counters.droppedUnknownSSRC > 0)
        #expect(server.publish(8, from: publisher))
        #expect(server.loop.run(until: { viewer.recorder.media.count >= 16 }, timeout: .seconds(10)))
    }
}
