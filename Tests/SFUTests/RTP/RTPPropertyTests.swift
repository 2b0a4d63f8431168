import PropertyBased
import Reactor
import Testing

@testable import SFU

@Suite("RTP/RTCP properties (PropertyBased)")
struct RTPPropertyTests {
    @Test("any RTP header and payload survives build then parse")
    func rtpHeader() async {
        await propertyCheck(
            count: 300, input: Gen.uint8(in: 0...127), Gen.uint16(), Gen.uint32(), Gen.uint32(),
            Gen.uint8().array(of: 0...300)
        ) { pt, seq, ts, ssrc, payload in
            var bytes = try buildRTP(pt: pt, seq: seq, ts: ts, ssrc: ssrc, form: .oneByte,
                                     extensions: [(3, [UInt8(truncatingIfNeeded: seq), 1])], payload: payload)
            try withRTP(&bytes) { p in
                #expect(p.payloadType == pt && p.sequenceNumber == seq && p.timestamp == ts && p.ssrc == ssrc)
                #expect(p.transportSequenceNumber(id: 3) == UInt16(truncatingIfNeeded: seq) << 8 | 1)
                #expect(Array(p.payload) == payload)
            }
        }
    }

    @Test("any ascending set of lost sequence numbers survives a NACK")
    func nack() async {
        await propertyCheck(count: 300, input: Gen.uint16(), Gen.uint16(in: 1...40).array(of: 1...60)) { start, gaps in
            var lost: [UInt16] = []
            var s = start
            for g in gaps {
                lost.append(s)
                s &+= g
            }
            var bytes = try buildRTCP { $0.addNack(senderSSRC: 1, mediaSSRC: 2, lost: lost) }
            let got = try withRTCP(&bytes) { p -> [UInt16] in
                guard case .nack(let n) = p else { return [] }
                var l: [UInt16] = []
                n.forEachLostSequence { l.append($0) }
                return l
            }
            #expect(got == [lost])
        }
    }

    @Test("any bytes are rejected or parsed by STUN, RTP and RTCP, never a crash")
    func garbage() async {
        await propertyCheck(count: 2000, input: Gen.uint8().array(of: 0...200)) { bytes in
            var b = bytes
            b.withUnsafeMutableBytes { raw in
                let ro = UnsafeRawBufferPointer(raw)
                _ = PacketKind.classify(ro)
                if let m = try? StunMessage(parsing: ro) { _ = try? m.validateFingerprint() }
                if let p = try? RTPPacket(parsing: raw) { p.rewriteExtensionIDs { $0 } }
                if let c = try? RTCPCompound(parsing: ro) { for _ in c {} }
            }
        }
    }
}
