import PropertyBased
import Testing

@testable import SFU

// Reference packets from libsrtp 2.5.0 test/srtp_driver.c (srtp_validate, srtp_validate_gcm):
// computed by libsrtp's authors with the default AES-CM-128/HMAC-SHA1-80 policy and with
// AEAD_AES_128_GCM (16-byte tag), SSRC 0xcafebabe, sequence 0x1234, SRTCP index 1.
// The AES-CM key is RFC 3711 appendix B.3's master key and salt, so matching these packets
// also checks B.3's key derivation end to end (libsrtp does not expose the derived keys).
// RFC 7714 §16's vectors start from already-derived session keys, which libsrtp's API cannot
// take, so the GCM reference packet here is libsrtp's own.
private let cmKey = srtpHex(
    "e1f97a0d3e018be0d64fa32c06de4139 0ec675ad498afeebb6960b3aabe6")  // test_key[0..<30]
private let gcmKey = srtpHex("000102030405060708090a0b0c0d0e0f a0a1a2a3a4a5a6a7a8a9aaab")  // test_key_gcm
private let rtpPlain = srtpHex(
    "800f1234decafbadcafebabe abababababababababababababababab")
private let rtcpPlain = srtpHex("81c8000bcafebabe abababababababababababababababab")

private let cmRTPCipher = srtpHex(
    "800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402 b78d6acc99ea179b8dbb")
private let cmRTCPCipher = srtpHex(
    "81c8000bcafebabe7128035be487b9bdbef89041f977a5a8 80000001 993e08cd54d6c1230798")
private let gcmRTPCipher = srtpHex(
    "800f1234decafbadcafebabec5002ede04cfdd2eb91159e0880aa06ed2976826f796b201df3131a127e8a392")
private let gcmRTCPCipher = srtpHex(
    "81c8000bcafebabec98b8b5df0392a55852b6c21ac8e7025c52c6fbea2b3b446ea31123ba88ce61e80000001")

@Suite("SRTP sessions over libsrtp")
struct SRTPSessionTests {
    @Test("AES-CM-128/HMAC-SHA1-80 protects RTP and RTCP to libsrtp's reference packets and back")
    func aesCmReferenceVectors() throws {
        let out = try SRTPSession(profile: .aes128CmSha1_80, key: cmKey, direction: .outbound)
        let inb = try SRTPSession(profile: .aes128CmSha1_80, key: cmKey, direction: .inbound)
        #expect(srtpApply(.protectRTP, out, rtpPlain) == .success(cmRTPCipher))
        #expect(srtpApply(.protectRTCP, out, rtcpPlain) == .success(cmRTCPCipher))
        #expect(srtpApply(.unprotectRTP, inb, cmRTPCipher) == .success(rtpPlain))
        #expect(srtpApply(.unprotectRTCP, inb, cmRTCPCipher) == .success(rtcpPlain))
    }

    @Test("AEAD-AES-128-GCM protects RTP and RTCP to libsrtp's reference packets and back")
    func gcmReferenceVectors() throws {
        let out = try SRTPSession(profile: .aeadAes128Gcm, key: gcmKey, direction: .outbound)
        let inb = try SRTPSession(profile: .aeadAes128Gcm, key: gcmKey, direction: .inbound)
        #expect(srtpApply(.protectRTP, out, rtpPlain) == .success(gcmRTPCipher))
        #expect(srtpApply(.protectRTCP, out, rtcpPlain) == .success(gcmRTCPCipher))
        #expect(srtpApply(.unprotectRTP, inb, gcmRTPCipher) == .success(rtpPlain))
        #expect(srtpApply(.unprotectRTCP, inb, gcmRTCPCipher) == .success(rtcpPlain))
    }

    @Test(
        "1200-byte RTP and RTCP survive protect then unprotect with both profiles",
        arguments: [SRTPProfile.aeadAes128Gcm, .aes128CmSha1_80])
    func roundTrip(profile: SRTPProfile) throws {
        var rng = SplitMixRandom(seed: 7)
        let key = rng.bytes(profile.keyingMaterialLength)
        let out = try SRTPSession(profile: profile, key: key, direction: .outbound)
        let inb = try SRTPSession(profile: profile, key: key, direction: .inbound)
        for seq in UInt16(0)..<50 {
            let rtp = srtpTestRTP(seq: seq, payloadLength: 1200 - 12 - profile.rtpTrailerLength)
            let protected = try srtpApply(.protectRTP, out, rtp).get()
            #expect(protected.count == rtp.count + profile.rtpTrailerLength)
            #expect(protected[12...] != rtp[12...])
            #expect(srtpApply(.unprotectRTP, inb, protected) == .success(rtp))
        }
        var rtcp = srtpTestRTCP()
        rtcp += [0x81, 0xcb, 0x00, 0x01, 0xca, 0xfe, 0xba, 0xbe]  // compound: RR + BYE
        let protectedRTCP = try srtpApply(.protectRTCP, out, rtcp).get()
        #expect(protectedRTCP.count == rtcp.count + profile.rtcpTrailerLength)
        #expect(srtpApply(.unprotectRTCP, inb, protectedRTCP) == .success(rtcp))
    }

    @Test(
        "sequence numbers that wrap past 65535 keep working (rollover counter)",
        arguments: [SRTPProfile.aeadAes128Gcm, .aes128CmSha1_80])
    func rolloverCounter(profile: SRTPProfile) throws {
        let key = [UInt8](repeating: 0x3c, count: profile.keyingMaterialLength)
        let out = try SRTPSession(profile: profile, key: key, direction: .outbound)
        let inb = try SRTPSession(profile: profile, key: key, direction: .inbound)
        var seq: UInt16 = 65_500
        for _ in 0..<100 {
            let rtp = srtpTestRTP(seq: seq, payloadLength: 100)
            let wire = try srtpApply(.protectRTP, out, rtp).get()
            #expect(srtpApply(.unprotectRTP, inb, wire) == .success(rtp), "seq \(seq)")
            seq &+= 1
        }
        // The loop ended at seq 63 of ROC 1; seq 100 is a new index there, accepted once.
        let again = try srtpApply(.protectRTP, out, srtpTestRTP(seq: 100, payloadLength: 100)).get()
        #expect(srtpApply(.unprotectRTP, inb, again) == .success(srtpTestRTP(seq: 100, payloadLength: 100)))
        #expect(srtpApply(.unprotectRTP, inb, again) == .failure(.replay))
    }

    @Test("removing a stream frees its SSRC state; unknown SSRCs report false")
    func removeStream() throws {
        let profile = SRTPProfile.aeadAes128Gcm
        let key = [UInt8](repeating: 0x21, count: profile.keyingMaterialLength)
        let out = try SRTPSession(profile: profile, key: key, direction: .outbound)
        let inb = try SRTPSession(profile: profile, key: key, direction: .inbound)
        let wire = try srtpApply(.protectRTP, out, srtpTestRTP(seq: 5, ssrc: 0x0102_0304)).get()
        #expect(srtpApply(.unprotectRTP, inb, wire) == .success(srtpTestRTP(seq: 5, ssrc: 0x0102_0304)))
        // (#expect cannot borrow a ~Copyable receiver, hence the lets.)
        let removed = inb.removeStream(ssrc: 0x0102_0304)
        let removedTwice = inb.removeStream(ssrc: 0x0102_0304)
        let removedUnknown = inb.removeStream(ssrc: 0xdead_beef)
        let removedOutbound = out.removeStream(ssrc: 0x0102_0304)
        #expect(removed && !removedTwice && !removedUnknown && removedOutbound)
        // A fresh stream for the SSRC: the earlier packet authenticates again.
        #expect(srtpApply(.unprotectRTP, inb, wire) == .success(srtpTestRTP(seq: 5, ssrc: 0x0102_0304)))
    }

    @Test(
        "a packet with one flipped bit in the tag or payload is rejected",
        arguments: [SRTPProfile.aeadAes128Gcm, .aes128CmSha1_80])
    func badTagRejected(profile: SRTPProfile) throws {
        let key = [UInt8](repeating: 0x42, count: profile.keyingMaterialLength)
        let out = try SRTPSession(profile: profile, key: key, direction: .outbound)
        let inb = try SRTPSession(profile: profile, key: key, direction: .inbound)
        var protected = try srtpApply(.protectRTP, out, srtpTestRTP(seq: 1)).get()
        protected[protected.count - 1] ^= 0x01
        #expect(srtpApply(.unprotectRTP, inb, protected) == .failure(.authenticationFailed))
        var payloadFlip = try srtpApply(.protectRTP, out, srtpTestRTP(seq: 2)).get()
        payloadFlip[20] ^= 0x80
        #expect(srtpApply(.unprotectRTP, inb, payloadFlip) == .failure(.authenticationFailed))
        var rtcp = try srtpApply(.protectRTCP, out, srtpTestRTCP()).get()
        rtcp[rtcp.count - 1] ^= 0x01
        #expect(srtpApply(.unprotectRTCP, inb, rtcp) == .failure(.authenticationFailed))
        // The session still works after rejecting forgeries.
        let good = try srtpApply(.protectRTP, out, srtpTestRTP(seq: 3)).get()
        #expect(srtpApply(.unprotectRTP, inb, good) == .success(srtpTestRTP(seq: 3)))
    }

    @Test(
        "a replayed packet is rejected inbound, RTP and RTCP", arguments: [SRTPProfile.aeadAes128Gcm, .aes128CmSha1_80])
    func replayRejected(profile: SRTPProfile) throws {
        let key = [UInt8](repeating: 0x17, count: profile.keyingMaterialLength)
        let out = try SRTPSession(profile: profile, key: key, direction: .outbound)
        let inb = try SRTPSession(profile: profile, key: key, direction: .inbound)
        let first = try srtpApply(.protectRTP, out, srtpTestRTP(seq: 100)).get()
        #expect(srtpApply(.unprotectRTP, inb, first) == .success(srtpTestRTP(seq: 100)))
        #expect(srtpApply(.unprotectRTP, inb, first) == .failure(.replay))
        let rtcp = try srtpApply(.protectRTCP, out, srtpTestRTCP()).get()
        #expect(srtpApply(.unprotectRTCP, inb, rtcp) == .success(srtpTestRTCP()))
        #expect(srtpApply(.unprotectRTCP, inb, rtcp) == .failure(.replay))
        // Reordered (older but inside the window) is fine; far older than the window is not.
        var late: [[UInt8]] = []
        for seq in UInt16(101)...UInt16(3000) {
            late.append(try srtpApply(.protectRTP, out, srtpTestRTP(seq: seq)).get())
        }
        #expect(srtpApply(.unprotectRTP, inb, late[late.count - 1]) == .success(srtpTestRTP(seq: 3000)))
        #expect(srtpApply(.unprotectRTP, inb, late[late.count - 500]) == .success(srtpTestRTP(seq: 2501)))
        #expect(srtpApply(.unprotectRTP, inb, late[0]) == .failure(.tooOld))
    }

    @Test("an outbound resend of the same sequence number is allowed (NACK retransmission)")
    func outboundResendAllowed() throws {
        for profile in [SRTPProfile.aeadAes128Gcm, .aes128CmSha1_80] {
            let key = [UInt8](repeating: 0x99, count: profile.keyingMaterialLength)
            let out = try SRTPSession(profile: profile, key: key, direction: .outbound)
            let inb = try SRTPSession(profile: profile, key: key, direction: .inbound)
            let first = try srtpApply(.protectRTP, out, srtpTestRTP(seq: 7)).get()
            _ = try srtpApply(.protectRTP, out, srtpTestRTP(seq: 8)).get()
            let resend = try srtpApply(.protectRTP, out, srtpTestRTP(seq: 7)).get()
            #expect(resend == first)
            // The receiver takes it if the first copy was lost.
            #expect(srtpApply(.unprotectRTP, inb, resend) == .success(srtpTestRTP(seq: 7)))
        }
    }

    @Test("lengths that lie, buffers without room and wrong keys are errors, not crashes")
    func badLengths() throws {
        let profile = SRTPProfile.aeadAes128Gcm
        let key = [UInt8](repeating: 1, count: profile.keyingMaterialLength)
        #expect(throws: SRTPError.badKey(expected: 28, got: 30)) {
            _ = try SRTPSession(profile: profile, key: key + [0, 0], direction: .inbound)
        }
        let out = try SRTPSession(profile: profile, key: key, direction: .outbound)
        let inb = try SRTPSession(profile: profile, key: key, direction: .inbound)
        #expect(
            srtpApply(.protectRTP, out, srtpTestRTP(seq: 1), spare: 15)
                == .failure(.noRoomForTrailer(needed: 16, available: 15)))
        #expect(
            srtpApply(.protectRTCP, out, srtpTestRTCP(), spare: 19)
                == .failure(.noRoomForTrailer(needed: 20, available: 19)))
        #expect(srtpApply(.protectRTP, out, [0x80, 0x60, 0, 1]) == .failure(.badLength))
        #expect(srtpApply(.unprotectRTP, inb, []) == .failure(.badLength))
        #expect(srtpApply(.unprotectRTP, inb, Array(srtpTestRTP(seq: 1).prefix(11))) == .failure(.badLength))
        // CSRC count 15 in a 20-byte packet: the header claims more than there is.
        var lying = srtpTestRTP(seq: 1, payloadLength: 8)
        lying[0] = 0x8f
        #expect(srtpApply(.unprotectRTP, inb, lying) == .failure(.badLength))
        // Extension bit with a length word far past the end.
        var ext = srtpTestRTP(seq: 1, payloadLength: 8)
        ext[0] = 0x90
        ext[14] = 0xff
        ext[15] = 0xff
        #expect(srtpApply(.unprotectRTP, inb, ext) == .failure(.badLength))
        #expect(srtpApply(.unprotectRTCP, inb, [0x80, 0xc9, 0, 1]) == .failure(.badLength))
        // length larger than the buffer
        var small = [UInt8](repeating: 0x80, count: 20)
        let r = small.withUnsafeMutableBytes { raw -> SRTPError? in
            do throws(SRTPError) {
                _ = try inb.unprotectRTP(raw, length: 200)
                return nil
            } catch { return error }
        }
        #expect(r == .badLength)
    }

    @Test("random bytes never crash unprotect and are always rejected")
    func randomBytesRejected() async throws {
        let key = [UInt8](repeating: 5, count: SRTPProfile.aes128CmSha1_80.keyingMaterialLength)
        let gcmKey = [UInt8](repeating: 5, count: SRTPProfile.aeadAes128Gcm.keyingMaterialLength)
        await propertyCheck(count: 300, input: Gen.uint8().array(of: 0...1500)) { bytes in
            guard let cm = try? SRTPSession(profile: .aes128CmSha1_80, key: key, direction: .inbound),
                let gcm = try? SRTPSession(profile: .aeadAes128Gcm, key: gcmKey, direction: .inbound)
            else {
                Issue.record("session setup failed")
                return
            }
            for op in [SRTPOp.unprotectRTP, .unprotectRTCP] {
                #expect(throws: SRTPError.self) { try srtpApply(op, cm, bytes).get() }
                #expect(throws: SRTPError.self) { try srtpApply(op, gcm, bytes).get() }
            }
        }
    }

    @Test("exported keying material splits into client and server key‖salt per RFC 5764 §4.2")
    func keySplit() throws {
        let exported = (0..<56).map { UInt8($0) }
        let keys = try #require(SRTPKeys(profile: .aeadAes128Gcm, role: .server, exported: exported))
        #expect(keys.clientWriteKey == [UInt8](0..<16) + [UInt8](32..<44))
        #expect(keys.serverWriteKey == [UInt8](16..<32) + [UInt8](44..<56))
        #expect(keys.localKeyingMaterial == keys.serverWriteKey)
        #expect(keys.remoteKeyingMaterial == keys.clientWriteKey)
        #expect(SRTPKeys(profile: .aes128CmSha1_80, role: .client, exported: exported) == nil)
        #expect(keys.description.contains("redacted"))
    }
}
