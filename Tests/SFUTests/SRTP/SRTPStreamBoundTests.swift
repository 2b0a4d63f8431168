import Testing

@testable import SFU

/// A peer with keys (a real client, or an attacker that completed DTLS) sending many SSRCs.
private func contextPair(_ profile: SRTPProfile) throws -> (peer: SRTPContext, server: SRTPContext) {
    var rng = SplitMixRandom(seed: 11)
    let client = rng.bytes(profile.keyingMaterialLength)
    let server = rng.bytes(profile.keyingMaterialLength)
    let peer = try SRTPContext(keys: SRTPKeys(profile: profile, role: .client, clientWriteKey: client, serverWriteKey: server))
    let ours = try SRTPContext(keys: SRTPKeys(profile: profile, role: .server, clientWriteKey: client, serverWriteKey: server))
    return (peer, ours)
}

/// Unprotects `bytes` with the context (not the bare session, whose streams are unbounded).
private func unprotect(_ context: SRTPContext, _ bytes: [UInt8], rtcp: Bool = false) -> Result<[UInt8], SRTPError> {
    var buffer = bytes + [UInt8](repeating: 0, count: 64)
    let r = buffer.withUnsafeMutableBytes { raw -> Result<Int, SRTPError> in
        do throws(SRTPError) {
            return .success(rtcp ? try context.unprotectRTCP(raw, length: bytes.count) : try context.unprotectRTP(raw, length: bytes.count))
        } catch { return .failure(error) }
    }
    return r.map { Array(buffer[0..<$0]) }
}

/// How many SSRCs of `ssrcs` have a stream in libsrtp's inbound session (each is removed).
private func libsrtpStreams(_ context: SRTPContext, _ ssrcs: some Sequence<UInt32>) -> Int {
    ssrcs.reduce(0) { $0 + (context.inbound.removeStream(ssrc: $1) ? 1 : 0) }
}

@Suite("SRTP streams per peer are bounded")
struct SRTPStreamBoundTests {
    @Test(
        "20 000 authenticated SSRCs from one peer leave at most maxInboundStreams libsrtp streams",
        arguments: [SRTPProfile.aeadAes128Gcm, .aes128CmSha1_80])
    func manySSRCs(profile: SRTPProfile) throws {
        let (peer, server) = try contextPair(profile)
        let normal: UInt32 = 0x1234_5678
        let first = try srtpApply(.protectRTP, peer.outbound, srtpTestRTP(seq: 1, ssrc: normal)).get()
        #expect(unprotect(server, first).isSuccess)
        var refused = 0
        for ssrc in UInt32(1)...20_000 {
            let plain = srtpTestRTP(seq: 1, ssrc: ssrc, payloadLength: 20)
            let wire = try srtpApply(.protectRTP, peer.outbound, plain).get()
            peer.outbound.removeStream(ssrc: ssrc)  // keep the sending side cheap
            if case .failure(.tooManyStreams) = unprotect(server, wire) { refused += 1 }
        }
        #expect(server.inboundStreamCount == SRTPContext.maxInboundStreams)
        #expect(refused == 20_000 - (SRTPContext.maxInboundStreams - 1))
        #expect(server.refusedStreams == UInt64(refused))
        // The normal stream still works after the flood.
        let next = try srtpApply(.protectRTP, peer.outbound, srtpTestRTP(seq: 2, ssrc: normal)).get()
        #expect(unprotect(server, next).isSuccess)
        // libsrtp itself holds no more streams than the bound (counted, not timed).
        #expect(libsrtpStreams(server, [normal] + Array(UInt32(1)...20_000)) == SRTPContext.maxInboundStreams)
    }

    @Test("RTCP sender SSRCs share the bound with RTP")
    func rtcpSSRCs() throws {
        let (peer, server) = try contextPair(.aeadAes128Gcm)
        for ssrc in UInt32(1)...200 {
            let wire = try srtpApply(.protectRTCP, peer.outbound, srtpTestRTCP(ssrc: ssrc)).get()
            _ = unprotect(server, wire, rtcp: true)
        }
        #expect(server.inboundStreamCount == SRTPContext.maxInboundStreams)
        #expect(libsrtpStreams(server, UInt32(1)...200) == SRTPContext.maxInboundStreams)
    }

    @Test("a forgotten SSRC frees its libsrtp stream and its place in the bound")
    func forget() throws {
        let (peer, server) = try contextPair(.aeadAes128Gcm)
        for ssrc in UInt32(1)...UInt32(SRTPContext.maxInboundStreams) {
            let wire = try srtpApply(.protectRTP, peer.outbound, srtpTestRTP(seq: 1, ssrc: ssrc)).get()
            #expect(unprotect(server, wire).isSuccess)
        }
        server.forgetInboundStream(ssrc: 3)
        #expect(server.inboundStreamCount == SRTPContext.maxInboundStreams - 1)
        let stillThere = server.inbound.removeStream(ssrc: 3)
        #expect(!stillThere)
        let wire = try srtpApply(.protectRTP, peer.outbound, srtpTestRTP(seq: 1, ssrc: 999)).get()
        #expect(unprotect(server, wire).isSuccess)
    }

    @Test("a packet that does not authenticate makes no stream")
    func forgedPacket() throws {
        let (peer, server) = try contextPair(.aes128CmSha1_80)
        var wire = try srtpApply(.protectRTP, peer.outbound, srtpTestRTP(seq: 1, ssrc: 77)).get()
        wire[wire.count - 1] ^= 1
        #expect(unprotect(server, wire) == .failure(.authenticationFailed))
        #expect(server.inboundStreamCount == 0)
    }
}

extension Result {
    fileprivate var isSuccess: Bool {
        if case .success = self { return true }
        return false
    }
}
