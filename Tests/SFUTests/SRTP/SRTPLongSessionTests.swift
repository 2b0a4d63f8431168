import PropertyBased
import Testing

@testable import SFU

// scripts/patches/libsrtp-gcm-ossl3-params.patch sets the AES-GCM IV of every packet after a
// session's first one with a cheaper OpenSSL call than the first packet's full init. A fresh
// session takes the full-init path for its one packet, so comparing a long-lived session
// packet by packet with fresh sessions checks the cheap path against the reference one; a
// round trip between two long-lived sessions alone would not notice an IV that never changed.
@Suite("SRTP AES-GCM: every packet of a long-lived session, not only the first")
struct SRTPLongSessionTests {
    private let profile = SRTPProfile.aeadAes128Gcm

    private func key() -> [UInt8] {
        var rng = SplitMixRandom(seed: 11)
        return rng.bytes(profile.keyingMaterialLength)
    }

    private func packet(_ seq: UInt16) -> [UInt8] {
        srtpTestRTP(seq: seq, payloadLength: 100 + Int(seq % 7) * 50, fill: UInt8(truncatingIfNeeded: seq &* 29))
    }

    @Test("each RTP packet a long-lived outbound session protects equals that packet protected by a fresh session")
    func protectMatchesFreshSessions() throws {
        let out = try SRTPSession(profile: profile, key: key(), direction: .outbound)
        var previous: [UInt8] = []
        for seq in UInt16(1000)..<1040 {
            let fresh = try SRTPSession(profile: profile, key: key(), direction: .outbound)
            let expected = try srtpApply(.protectRTP, fresh, packet(seq)).get()
            let wire = try srtpApply(.protectRTP, out, packet(seq)).get()
            #expect(wire == expected, "seq \(seq)")
            #expect(wire != previous)
            previous = wire
        }
    }

    @Test("a long-lived inbound session opens packets from fresh senders, rejects forged ones and goes on")
    func unprotectAcrossPackets() throws {
        let inb = try SRTPSession(profile: profile, key: key(), direction: .inbound)
        for seq in UInt16(2000)..<2040 {
            let fresh = try SRTPSession(profile: profile, key: key(), direction: .outbound)
            var wire = try srtpApply(.protectRTP, fresh, packet(seq)).get()
            if seq % 5 == 2 {
                wire[12 + Int(seq) % (wire.count - 12)] ^= 0x10  // payload or tag
                #expect(srtpApply(.unprotectRTP, inb, wire) == .failure(.authenticationFailed), "seq \(seq)")
                continue
            }
            #expect(srtpApply(.unprotectRTP, inb, wire) == .success(packet(seq)), "seq \(seq)")
        }
    }

    @Test("RTCP of a long-lived session opens in a fresh session, and a long-lived receiver opens them all")
    func rtcpAcrossPackets() throws {
        let out = try SRTPSession(profile: profile, key: key(), direction: .outbound)
        let inb = try SRTPSession(profile: profile, key: key(), direction: .inbound)
        for index in 0..<30 {
            var rtcp = srtpTestRTCP()
            rtcp += [0x81, 0xcb, 0x00, 0x01, 0xca, 0xfe, 0xba, UInt8(index)]  // compound: RR + BYE
            let wire = try srtpApply(.protectRTCP, out, rtcp).get()
            let fresh = try SRTPSession(profile: profile, key: key(), direction: .inbound)
            #expect(srtpApply(.unprotectRTCP, fresh, wire) == .success(rtcp), "index \(index)")
            if index % 4 == 3 {
                var forged = wire
                forged[9] ^= 0x01
                #expect(srtpApply(.unprotectRTCP, inb, forged) == .failure(.authenticationFailed))
            }
            #expect(srtpApply(.unprotectRTCP, inb, wire) == .success(rtcp), "index \(index)")
        }
    }
}
