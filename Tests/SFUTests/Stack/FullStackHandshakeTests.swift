import Reactor
import Testing

@testable import SFU

/// The client-role and server-role stacks meet in memory, with no socket: ICE (controlling
/// agent → ICE-lite), then DTLS (active → passive) over a link that drops and reorders, then
/// SRTP carrying RTP and RTCP both ways with the exported keys.
@Suite("Whole stack in memory")
struct FullStackHandshakeTests {
    func runStack(loss: Double, seed: UInt64) throws {
        // ICE.
        let ice = IcePair()
        ice.lossRate = loss
        ice.run(until: ice.now + .seconds(10))
        #expect(ice.client.state == .connected)
        #expect(ice.lite.selectedAddress == ice.clientAddress)

        // DTLS over the nominated pair.
        let (client, server) = try dtlsTestPair(
            clientIdentity: try DTLSIdentity.generate(), serverIdentity: try DTLSIdentity.generate())
        let link = DTLSTestLink(client: client, server: server, seed: seed, dropRate: loss, reorderRate: loss)
        client.startHandshake(now: link.now)
        #expect(link.run { link.bothConnected })
        let clientKeys = try #require(link.keys(link.clientEvents))
        let serverKeys = try #require(link.keys(link.serverEvents))
        let clientSRTP = try SRTPContext(keys: clientKeys)
        let serverSRTP = try SRTPContext(keys: serverKeys)

        // RTP client → server and server → client; RTCP (PLI) server → client.
        var delivered = 0
        var rng = SplitMixRandom(seed: seed)
        for seq in UInt16(0)..<200 {
            var packet = [UInt8](repeating: 0, count: 1300)
            let payload = [UInt8](repeating: UInt8(truncatingIfNeeded: seq), count: 1000)
            let length = try packet.withUnsafeMutableBytes { buf in
                var b = RTPPacketBuilder(into: buf, payloadType: 96, sequenceNumber: seq, timestamp: UInt32(seq) * 3000, ssrc: 42)
                let n = try payload.withUnsafeBytes { try b.finish(payload: $0) }
                return try clientSRTP.protectRTP(buf, length: n)
            }
            if Double.random(in: 0..<1, using: &rng) < loss { continue }
            let plain = try packet.withUnsafeMutableBytes { try serverSRTP.unprotectRTP($0, length: length) }
            let view = try packet.withUnsafeMutableBytes { try RTPPacket(parsing: UnsafeMutableRawBufferPointer(rebasing: $0[0..<plain])) }
            #expect(view.sequenceNumber == seq)
            #expect(view.payload.count == 1000 && view.payload[0] == UInt8(truncatingIfNeeded: seq))
            delivered += 1
        }
        #expect(delivered > 150)

        var back = [UInt8](repeating: 0, count: 1300)
        let n = try back.withUnsafeMutableBytes { buf in
            var b = RTPPacketBuilder(into: buf, payloadType: 111, sequenceNumber: 7, timestamp: 960, ssrc: 99)
            let n = try [UInt8](repeating: 1, count: 80).withUnsafeBytes { try b.finish(payload: $0) }
            return try serverSRTP.protectRTP(buf, length: n)
        }
        let m = try back.withUnsafeMutableBytes { try clientSRTP.unprotectRTP($0, length: n) }
        #expect(m == 12 + 80)

        var rtcp = [UInt8](repeating: 0, count: 200)
        let r = try rtcp.withUnsafeMutableBytes { buf in
            var w = RTCPWriter(into: buf)
            w.addPictureLossIndication(senderSSRC: 99, mediaSSRC: 42)
            return try serverSRTP.protectRTCP(buf, length: try w.finish())
        }
        let rp = try rtcp.withUnsafeMutableBytes { try clientSRTP.unprotectRTCP($0, length: r) }
        let compound = try rtcp.withUnsafeBytes { try RTCPCompound(parsing: UnsafeRawBufferPointer(rebasing: $0[0..<rp])) }
        var sawPLI = false
        for case .pli(let pli) in compound { sawPLI = pli.mediaSSRC == 42 }
        #expect(sawPLI)
    }

    @Test("ICE, DTLS and SRTP complete and carry RTP and RTCP both ways on a clean link")
    func clean() throws { try runStack(loss: 0, seed: 1) }

    @Test("the same with 10% of datagrams dropped and some reordered (timers do their job)")
    func lossy() throws { try runStack(loss: 0.1, seed: 3) }
}
